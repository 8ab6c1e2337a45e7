//! What the account use cases take and give: who is asking ([`Client`]),
//! a new login ([`LoggedIn`]), and what can go wrong ([`AuthError`]).

use std::net::IpAddr;

use anshin_domain::MemberId;
use anshin_store::StoreError;
use anshin_vault::SessionToken;

use super::device;
use super::password::PasswordRule;
use crate::member_data::MemberDataError;

/// What can go wrong, as the client may learn it. Wrong codes and wrong
/// passwords are one variant each, whatever the reason.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid or expired code")]
    InvalidCode,
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account is locked, and the browser is one that has logged in
    /// to it before (its device cookie): the owner is told to use the
    /// mailed unlock link or a code. Everyone else gets
    /// [`AuthError::InvalidCredentials`], so the lock stays invisible to
    /// strangers (C8).
    #[error("account locked")]
    LockedKnownDevice,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("re-authentication required")]
    ReauthRequired,
    #[error("current password wrong")]
    CurrentPasswordWrong,
    /// An e-mail change to the address the account already has.
    #[error("new address is the current one")]
    EmailUnchanged,
    #[error("password rule: {0:?}")]
    Password(PasswordRule),
    /// The request needed a solved bot challenge (C7) and had none or a
    /// bad one.
    #[error("bot challenge: {0}")]
    Challenge(#[from] crate::challenge::ChallengeError),
    /// A sign-up without consent to the terms of use.
    #[error("terms of use not accepted")]
    TermsNotAccepted,
    /// The session's member no longer exists (deleted meanwhile).
    #[error("not authenticated")]
    NotAuthenticated,
    /// Stored personal data does not decrypt (moved, tampered with, key
    /// gone); the cause is for the log only.
    #[error("stored data unreadable: {0}")]
    DataUnreadable(anyhow::Error),
    #[error("unexpected: {0}")]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Unexpected(e.into())
    }
}

impl From<crate::mail::compose::SealError> for AuthError {
    fn from(e: crate::mail::compose::SealError) -> Self {
        AuthError::Unexpected(e.into())
    }
}

impl From<MemberDataError> for AuthError {
    fn from(e: MemberDataError) -> Self {
        match e {
            e @ (MemberDataError::Unreadable { .. } | MemberDataError::Malformed { .. }) => {
                AuthError::DataUnreadable(e.into())
            }
            e => AuthError::Unexpected(e.into()),
        }
    }
}

/// Who is asking: their address and browser, for limits, the history and
/// mail. The web layer fills it (the address through trusted proxies only).
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    /// At most 512 characters of the User-Agent.
    pub user_agent: Option<String>,
    /// The long-lived device cookie, if the browser sent one.
    pub device_token: Option<SessionToken>,
}

impl Client {
    /// "Firefox on Linux": what the history and mail show of the browser.
    pub fn device(&self) -> String {
        device::summarize(self.user_agent.as_deref())
    }
}

/// A new member session.
#[derive(Debug)]
pub struct LoggedIn {
    pub member_id: MemberId,
    pub session_id: anshin_domain::SessionId,
    pub token: SessionToken,
    /// A device cookie to set, when the browser had none.
    pub new_device_token: Option<SessionToken>,
    pub created_member: bool,
}
