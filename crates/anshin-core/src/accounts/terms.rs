//! Consent to the terms of use: the version in force, and the record of
//! who accepted which version when. A sign-up cannot start without
//! consent ([`super::CodeRequest::Signup`]); the code flow carries the
//! version to the member it creates. A member whose recorded version is
//! not the current one (or who signed up before consent was recorded) is
//! asked on the terms page, and [`accept_terms`] records the new consent.

use anshin_domain::MemberId;
use anshin_store::{Changes, TermsConsent, Write};

use super::profile::find_member;
use super::types::AuthError;
use crate::Services;

/// The version of the terms of use in force, as the terms page states it
/// (its date of effect). Change it together with the terms' text in the
/// legal catalogs (`locales/legal.*.toml`): members are then asked again.
pub const TERMS_VERSION: &str = "2026-12-01";

/// Whether `consent` is to the terms in force.
pub fn is_current(consent: Option<&TermsConsent>) -> bool {
    consent.is_some_and(|c| c.version == TERMS_VERSION)
}

/// Records that the signed-in member accepted the terms in force, now.
pub async fn accept_terms(svc: &Services, member: MemberId) -> Result<TermsConsent, AuthError> {
    let m = find_member(svc, member).await?;
    let terms = TermsConsent {
        version: TERMS_VERSION.to_owned(),
        accepted_at: svc.now(),
    };
    svc.store
        .commit(&Changes::new().with(Write::AcceptTerms {
            member: m.id,
            terms: terms.clone(),
        }))
        .await?;
    tracing::info!(member = %m.id, version = TERMS_VERSION, "terms of use accepted");
    Ok(terms)
}
