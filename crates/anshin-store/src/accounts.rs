//! Members, e-mail code flows (C11), login history (C10) and known devices
//! (C9): what the account use cases read. Their writes are
//! [`crate::Write`]s committed with the mail they cause.

use anshin_domain::{
    DisplayName, EmailAddress, EventId, FlowId, FlowPurpose, Lang, LoginMethod, LoginOutcome,
    MemberId, SessionId, Timestamp,
};

use crate::StoreError;

#[derive(Debug, Clone)]
pub struct NewMember {
    pub id: MemberId,
    pub email: EmailAddress,
    pub display_name: DisplayName,
    pub language: Lang,
    pub created_at: Timestamp,
    /// The terms of use the person accepted when signing up.
    pub terms: TermsConsent,
}

/// Which version of the terms of use a member accepted, and when: the
/// record of consent a sign-up leaves (and a later acceptance of new
/// terms replaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsConsent {
    /// The version as the terms page states it, e.g. `2026-12-01`.
    pub version: String,
    pub accepted_at: Timestamp,
}

#[derive(Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub id: MemberId,
    pub email: EmailAddress,
    pub display_name: DisplayName,
    pub language: Lang,
    /// Argon2id PHC string; `None` for password-less members (C12).
    pub password_hash: Option<String>,
    pub password_changed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// The terms of use accepted last; `None` for members who signed up
    /// before consent was recorded.
    pub terms: Option<TermsConsent>,
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

#[derive(Debug, Clone)]
pub struct NewFlow {
    pub id: FlowId,
    pub purpose: FlowPurpose,
    pub email: EmailAddress,
    /// The member the code logs in; `None` when no account has the address
    /// (the flow exists anyway so the answer looks the same).
    pub member_id: Option<MemberId>,
    pub display_name: Option<DisplayName>,
    pub language: Lang,
    /// The session that started the flow, when only that session may
    /// finish it (an e-mail change); `None` for flows that log in.
    pub session_id: Option<SessionId>,
    /// Sign-up only: the version of the terms of use the person accepted
    /// on the form; the member created by the code records it.
    pub terms_version: Option<String>,
    /// Keyed hash of the code; the code itself is never stored.
    pub code_hash: [u8; 32],
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub id: FlowId,
    pub purpose: FlowPurpose,
    pub email: EmailAddress,
    pub member_id: Option<MemberId>,
    pub display_name: Option<DisplayName>,
    pub language: Lang,
    pub session_id: Option<SessionId>,
    pub terms_version: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub attempts: i64,
    pub consumed_at: Option<Timestamp>,
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
    pub id: EventId,
    pub member_id: MemberId,
    pub at: Timestamp,
    pub ip: String,
    pub device: String,
    pub method: LoginMethod,
    pub outcome: LoginOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEventRecord {
    pub id: EventId,
    pub at: Timestamp,
    pub ip: String,
    pub device: String,
    pub method: LoginMethod,
    pub outcome: LoginOutcome,
}

#[async_trait::async_trait]
pub trait AccountRepo: Send + Sync {
    async fn find_member(&self, id: MemberId) -> Result<Option<MemberRecord>, StoreError>;

    async fn find_member_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<MemberRecord>, StoreError>;

    /// How many flows were started for this address since `since`
    /// (resend limit; counts flows for unknown addresses too).
    async fn count_flows_since(
        &self,
        email: &EmailAddress,
        since: Timestamp,
    ) -> Result<i64, StoreError>;

    /// How many flows for `purpose` the member started since `since`,
    /// whatever address they went to (e-mail changes: one member cannot
    /// make the site mail codes to address after address).
    async fn count_member_flows_since(
        &self,
        member: MemberId,
        purpose: FlowPurpose,
        since: Timestamp,
    ) -> Result<i64, StoreError>;

    async fn find_flow(&self, id: FlowId) -> Result<Option<FlowRecord>, StoreError>;

    /// Counts one attempt against a live flow with fewer than
    /// `max_attempts`, atomically, before the code is compared: parallel
    /// requests cannot get more comparisons than allowed.
    async fn reserve_attempt(
        &self,
        flow_id: FlowId,
        now: Timestamp,
        max_attempts: i64,
    ) -> Result<Attempt, StoreError>;

    /// Newest first: at most `limit`, after skipping the newest `offset`.
    async fn list_login_events(
        &self,
        member_id: MemberId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<LoginEventRecord>, StoreError>;

    /// Deletes every login event (C10's history) older than `before`;
    /// returns how many (the retention job, C26).
    async fn purge_login_events(&self, before: Timestamp) -> Result<u64, StoreError>;

    async fn device_known(
        &self,
        member_id: MemberId,
        device_hash: &[u8; 32],
    ) -> Result<bool, StoreError>;

    /// Replaces the hash only if it is still `old` (rehash at login after
    /// the cost parameters rose; a concurrent password change wins).
    async fn upgrade_password_hash(
        &self,
        member_id: MemberId,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError>;
}
