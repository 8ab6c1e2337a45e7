//! The member's account as they see it.

use anshin_domain::{DisplayName, EmailAddress, Lang, MemberId, Timestamp};
use anshin_store::{MemberRecord, TermsConsent};

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
