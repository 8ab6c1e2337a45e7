//! The member's account as they see it, and the display name they
//! change themselves.

use anshin_domain::{DisplayName, EmailAddress, Lang, MemberId, Timestamp};
use anshin_store::{Changes, MemberRecord, TermsConsent, Write, guards};

use super::types::AuthError;
use crate::Services;
use crate::member_data::BankAccount;

/// What the member sees of their account: `/api/v1/me` and the account
/// page. Phone and bank account only masked.
#[derive(Debug)]
pub struct Profile {
    pub id: MemberId,
    pub email: EmailAddress,
    pub display_name: DisplayName,
    pub language: Lang,
    pub has_password: bool,
    pub created_at: Timestamp,
    /// `090-****-5678`
    pub phone_masked: Option<String>,
    pub bank_account: Option<BankAccount>,
    /// The terms of use the member accepted last.
    pub terms: Option<TermsConsent>,
}

/// The member's account as they see it.
pub async fn profile(svc: &Services, member: MemberId) -> Result<Profile, AuthError> {
    let m = find_member(svc, member).await?;
    let phone = crate::member_data::phone(svc, member).await?;
    let bank_account = crate::member_data::bank_account(svc, member).await?;
    Ok(Profile {
        id: m.id,
        has_password: m.password_hash.is_some(),
        email: m.email,
        display_name: m.display_name,
        language: m.language,
        created_at: m.created_at,
        phone_masked: phone.map(|p| p.masked()),
        bank_account,
        terms: m.terms,
    })
}

/// The account without its sealed personal data (the account page needs
/// no phone or bank account, so it decrypts none).
#[derive(Debug)]
pub struct Summary {
    pub email: EmailAddress,
    pub display_name: DisplayName,
    pub language: Lang,
    pub has_password: bool,
    /// The terms of use the member accepted last.
    pub terms: Option<TermsConsent>,
}

/// The member's account, without personal data to decrypt.
pub async fn summary(svc: &Services, member: MemberId) -> Result<Summary, AuthError> {
    let m = find_member(svc, member).await?;
    Ok(Summary {
        has_password: m.password_hash.is_some(),
        email: m.email,
        display_name: m.display_name,
        language: m.language,
        terms: m.terms,
    })
}

/// Replaces the member's display name. No recent login is needed: the
/// name is what others see, not a way into the account. The name arrives
/// parsed ([`DisplayName::check`]): one over the limit was refused with
/// its length, never cut.
pub async fn change_display_name(
    svc: &Services,
    member: MemberId,
    name: &DisplayName,
) -> Result<(), AuthError> {
    let changes = Changes::new().with(Write::SetDisplayName {
        member,
        name: name.clone(),
        at: svc.now(),
    });
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(member = %member, "display name changed");
            Ok(())
        }
        Err(e) if e.is_precondition(guards::MEMBER_NOT_FOUND) => Err(AuthError::NotAuthenticated),
        Err(e) => Err(e.into()),
    }
}

/// The member, or [`AuthError::NotAuthenticated`] if the account is gone.
pub(crate) async fn find_member(
    svc: &Services,
    member: MemberId,
) -> Result<MemberRecord, AuthError> {
    svc.store
        .accounts()
        .find_member(member)
        .await?
        .ok_or(AuthError::NotAuthenticated)
}
