//! Members, e-mail code flows (C11), login history (C10) and known devices
//! (C9). Every method that changes several tables does so in one
//! transaction, together with the mail the change causes, so a crash never
//! leaves a login without its mail or a mail without its login.

use uuid::Uuid;

use crate::StoreError;
use crate::mail::NewMail;
use crate::sessions::NewSession;

#[derive(Debug, Clone)]
pub struct NewMember {
    pub id: Uuid,
    /// Normalised address (the app lower-cases and validates it).
    pub email: String,
    pub display_name: String,
    pub language: String,
    pub created_at: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub language: String,
    /// Argon2id PHC string; `None` for password-less members (C12).
    pub password_hash: Option<String>,
    pub password_changed_at: Option<i64>,
    pub created_at: i64,
}

impl std::fmt::Debug for MemberRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data stays out of debug output and therefore out of logs.
        f.debug_struct("MemberRecord")
            .field("id", &self.id)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a code was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowPurpose {
    Signup,
    Login,
    Reauth,
    /// A code requested through the unlock link mailed to the owner of a
    /// locked account: it logs in despite the lock (C8).
    Unlock,
}

impl FlowPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowPurpose::Signup => "signup",
            FlowPurpose::Login => "login",
            FlowPurpose::Reauth => "reauth",
            FlowPurpose::Unlock => "unlock",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "signup" => Some(FlowPurpose::Signup),
            "login" => Some(FlowPurpose::Login),
            "reauth" => Some(FlowPurpose::Reauth),
            "unlock" => Some(FlowPurpose::Unlock),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewFlow {
    pub id: Uuid,
    pub purpose: FlowPurpose,
    pub email: String,
    /// The member the code logs in; `None` when no account has the address
    /// (the flow exists anyway so the answer looks the same).
    pub member_id: Option<Uuid>,
    pub display_name: Option<String>,
    pub language: String,
    /// Keyed hash of the code; the code itself is never stored.
    pub code_hash: [u8; 32],
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub id: Uuid,
    pub purpose: FlowPurpose,
    pub email: String,
    pub member_id: Option<Uuid>,
    pub display_name: Option<String>,
    pub language: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub attempts: i64,
    pub consumed_at: Option<i64>,
}

/// The outcome of reserving one verification attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The attempt is counted; compare the code against this hash.
    Reserved {
        flow: FlowRecord,
        code_hash: [u8; 32],
    },
    /// Unknown, expired, used, superseded or out of attempts.
    Dead,
}

#[derive(Debug, Clone)]
pub struct NewLoginEvent {
    pub id: Uuid,
    pub member_id: Uuid,
    pub at: i64,
    pub ip: String,
    pub device: String,
    pub method: String,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEventRecord {
    pub id: Uuid,
    pub at: i64,
    pub ip: String,
    pub device: String,
    pub method: String,
    pub outcome: String,
}

/// Everything a successful login writes, in one transaction.
#[derive(Debug, Clone)]
pub struct LoginWrite {
    /// The flow to consume (code logins); the login fails if it was
    /// consumed meanwhile (a parallel request used the code first).
    pub consume_flow: Option<Uuid>,
    /// A member to create (sign-up) before the session.
    pub create_member: Option<NewMember>,
    pub session: NewSession,
    /// The visitor's previous session, ended so its id cannot be reused
    /// (no session fixation).
    pub end_session: Option<Uuid>,
    pub event: NewLoginEvent,
    /// Hash of the device cookie, remembered for the next login mail.
    pub device_hash: [u8; 32],
    pub mail: NewMail,
}

#[async_trait::async_trait]
pub trait AccountRepo: Send + Sync {
    async fn find_member(&self, id: Uuid) -> Result<Option<MemberRecord>, StoreError>;

    async fn find_member_by_email(&self, email: &str) -> Result<Option<MemberRecord>, StoreError>;

    /// How many flows were started for this address since `since`
    /// (resend limit; counts flows for unknown addresses too).
    async fn count_flows_since(&self, email: &str, since: i64) -> Result<i64, StoreError>;

    /// Starts a flow and queues its mail, in one transaction. Live flows
    /// for the same address and purpose are superseded, and the new flow
    /// inherits their attempt count, so a new code does not reset it.
    async fn start_flow(&self, flow: &NewFlow, now: i64, mail: &NewMail) -> Result<(), StoreError>;

    async fn find_flow(&self, id: Uuid) -> Result<Option<FlowRecord>, StoreError>;

    /// Counts one attempt against a live flow with fewer than
    /// `max_attempts`, atomically, before the code is compared: parallel
    /// requests cannot get more comparisons than allowed.
    async fn reserve_attempt(
        &self,
        flow_id: Uuid,
        now: i64,
        max_attempts: i64,
    ) -> Result<Attempt, StoreError>;

    /// Writes a successful login; `Ok(false)` if `consume_flow` was
    /// already consumed (nothing is written then).
    async fn complete_login(&self, write: &LoginWrite) -> Result<bool, StoreError>;

    /// Consumes a re-authentication flow and refreshes the session's
    /// `authenticated_at`; `Ok(false)` if the flow was consumed meanwhile.
    async fn complete_reauth(
        &self,
        flow_id: Uuid,
        session_id: Uuid,
        now: i64,
    ) -> Result<bool, StoreError>;

    async fn record_login_event(&self, event: &NewLoginEvent) -> Result<(), StoreError>;

    async fn list_login_events(
        &self,
        member_id: Uuid,
        limit: i64,
    ) -> Result<Vec<LoginEventRecord>, StoreError>;

    async fn device_known(
        &self,
        member_id: Uuid,
        device_hash: &[u8; 32],
    ) -> Result<bool, StoreError>;

    /// Sets or (with `None`) deletes the password hash, and may queue a
    /// notice mail in the same transaction.
    async fn set_password_hash(
        &self,
        member_id: Uuid,
        hash: Option<&str>,
        now: i64,
        mail: Option<&NewMail>,
    ) -> Result<(), StoreError>;

    /// Replaces the hash only if it is still `old` (rehash at login after
    /// the cost parameters rose; a concurrent password change wins).
    async fn upgrade_password_hash(
        &self,
        member_id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError>;
}
