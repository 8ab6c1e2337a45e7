//! Members: sign-up, login by e-mail code (C11) or, if they choose, by
//! password (C12, C14), re-authentication for sensitive changes, and the
//! login mail (C9). Every door (pages, JSON API, later the console) calls
//! these functions; they never see HTTP, and they write only through one
//! [`Changes`] bundle per outcome.
//!
//! What an attacker tries, and where it fails (tests in
//! `crates/anshin/tests/api/accounts.rs`):
//! - learn whether an address has an account: code requests and sign-ups
//!   answer with a fresh flow id either way, doing the same work (one flow
//!   row and one mail: a code, or a "you have no account / you already
//!   have one" notice);
//! - guess a code: 6+ digits from a CSPRNG, stored only as
//!   HMAC(code key, flow id ‖ code); each attempt is counted atomically
//!   *before* the comparison, so parallel guesses cannot exceed 5; a new
//!   code inherits the count; codes expire after 10 minutes and work once;
//! - reuse a code in another flow: the hash binds the flow id;
//! - fixate a session: every login makes a new session token and ends the
//!   visitor's previous session;
//! - change the password or e-mail from a stolen session: needs a login or
//!   a fresh code within `auth.recent_auth_secs`, or the current password.

mod codes;
mod credentials;
pub mod device;
mod events;
pub mod limits;
mod login;
pub mod password;
mod password_login;

pub use codes::{CodeRequest, request_code, request_unlock, verify_code};
pub use credentials::{
    recently_authenticated, remove_password, request_reauth, set_password, verify_reauth,
};
pub use login::format_time;
pub use password_login::login_password;

use std::net::IpAddr;

use anshin_domain::{DisplayName, EmailAddress, Lang, MemberId, Timestamp};
use anshin_store::{MemberRecord, StoreError};
use anshin_vault::SessionToken;
use serde::{Deserialize, Serialize};

use crate::Services;
use crate::member_data::{BankAccount, MemberDataError};
use crate::settings::{Invalid, Section, invalid, within};
use password::PasswordRule;

/// `[auth]`: sign-up, e-mail codes (C11), passwords (C12, C14) and
/// re-authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Digits of an e-mail code (6 to 10).
    pub code_digits: u8,
    /// How long a code is valid.
    pub code_ttl_secs: u64,
    /// Verification attempts per code; a new code keeps the count.
    pub code_max_attempts: i64,
    /// Codes that may be requested per address within the window below.
    pub code_requests_per_window: i64,
    pub code_request_window_secs: u64,
    /// Minimum password length in characters (NIST SP 800-63B: 15 when the
    /// password is the only factor).
    pub password_min_chars: usize,
    /// Argon2id cost (OWASP minimum: 19456 KiB, 2 iterations, 1 lane).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; more wait their turn, so a flood
    /// of logins cannot take every core.
    pub max_concurrent_hashes: usize,
    /// Changing e-mail, password or bank details needs a login or fresh
    /// code within this many seconds.
    pub recent_auth_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            code_digits: 6,
            code_ttl_secs: 600,
            code_max_attempts: 5,
            code_requests_per_window: 5,
            code_request_window_secs: 600,
            password_min_chars: 15,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: 2,
            recent_auth_secs: 600,
        }
    }
}

impl Section for AuthSettings {
    fn check(&self) -> Result<(), Invalid> {
        within("auth.code_digits", self.code_digits, 6, 10, "")?;
        within(
            "auth.code_ttl_secs",
            self.code_ttl_secs,
            60,
            3600,
            " seconds",
        )?;
        within("auth.code_max_attempts", self.code_max_attempts, 1, 10, "")?;
        if self.code_requests_per_window < 1 || self.code_request_window_secs == 0 {
            return invalid(
                "auth.code_requests_per_window",
                "must be at least 1 (and the window at least 1 second)",
            );
        }
        if !(15..=64).contains(&self.password_min_chars) {
            return invalid(
                "auth.password_min_chars",
                "must be between 15 (NIST SP 800-63B, single factor) and 64",
            );
        }
        if let Err(e) = self.password_params() {
            return invalid("auth.argon2_memory_kib", e.to_string());
        }
        if self.max_concurrent_hashes == 0 {
            return invalid("auth.max_concurrent_hashes", "must be at least 1");
        }
        Ok(())
    }
}

impl AuthSettings {
    /// The Argon2id parameters.
    pub fn password_params(
        &self,
    ) -> Result<anshin_vault::PasswordParams, anshin_vault::PasswordError> {
        anshin_vault::PasswordParams::new(
            self.argon2_memory_kib,
            self.argon2_iterations,
            self.argon2_parallelism,
        )
    }
}

/// What can go wrong, as the client may learn it. Wrong codes and wrong
/// passwords are one variant each, whatever the reason.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid or expired code")]
    InvalidCode,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("re-authentication required")]
    ReauthRequired,
    #[error("current password wrong")]
    CurrentPasswordWrong,
    #[error("password rule: {0:?}")]
    Password(PasswordRule),
    /// The request needed a solved bot challenge (C7) and had none or a
    /// bad one.
    #[error("bot challenge: {0}")]
    Challenge(#[from] crate::challenge::ChallengeError),
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

/// The time a member sees in their language: JST for Japanese, UTC for
/// English.
pub fn local_time(lang: Lang, at: Timestamp) -> String {
    match lang {
        Lang::Ja => format_time(at, 9 * 3600, "JST"),
        Lang::En => format_time(at, 0, "UTC"),
    }
}
