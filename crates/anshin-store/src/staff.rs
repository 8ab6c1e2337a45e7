//! Staff accounts and staff console sessions (C21, C27): reads here;
//! every change is a [`crate::Write`] committed through the one write path.
//!
//! A staff session is looked up by the SHA-256 of its cookie token, like a
//! member's; it lives apart from members' sessions (its own table, its own
//! cookie, the staff listener only).

use anshin_domain::{EmailAddress, StaffId, StaffRole, StaffSessionId, StaffStatus, Timestamp};

use crate::StoreError;

/// A staff account to create (by `anshin staff add` or an admin).
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub id: StaffId,
    pub email: EmailAddress,
    pub role: StaffRole,
    pub created_at: Timestamp,
    /// SHA-256 of the one-time enrolment link's token.
    pub enrol_token_hash: [u8; 32],
    pub enrol_expires_at: Timestamp,
}

/// A staff account as stored. `totp_secret` is sealed (never in clear
/// here); `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffRecord {
    pub id: StaffId,
    pub email: EmailAddress,
    pub role: StaffRole,
    pub status: StaffStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    /// Until when the enrolment link works; `None` once used.
    pub enrol_expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for StaffRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffRecord")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("status", &self.status)
            .field("enrolled", &self.totp_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl StaffRecord {
    /// Has a second factor: may log in (if active).
    pub fn is_enrolled(&self) -> bool {
        self.totp_secret.is_some()
    }
}

/// A staff session to insert.
#[derive(Debug, Clone)]
pub struct NewStaffSession {
    pub id: StaffSessionId,
    pub token_hash: [u8; 32],
    pub staff_id: StaffId,
    pub created_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    pub idle_expires_at: Timestamp,
    /// The login proved the second factor now.
    pub second_factor_at: Timestamp,
    pub ip: String,
}

/// A staff session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSessionRecord {
    pub id: StaffSessionId,
    pub token_hash: [u8; 32],
    pub staff_id: StaffId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    pub idle_expires_at: Timestamp,
    pub second_factor_at: Timestamp,
    pub ip: String,
}

#[async_trait::async_trait]
pub trait StaffRepo: Send + Sync {
    async fn find_staff(&self, id: StaffId) -> Result<Option<StaffRecord>, StoreError>;

    async fn find_staff_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<StaffRecord>, StoreError>;

    /// The account whose enrolment link has this token hash and still
    /// works at `now`.
    async fn find_staff_by_enrolment(
        &self,
        token_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<StaffRecord>, StoreError>;

    /// Every staff account, by e-mail.
    async fn list_staff(&self) -> Result<Vec<StaffRecord>, StoreError>;

    /// The live staff session with this token hash (expired ones are
    /// absent even before the purge).
    async fn find_live_staff_session(
        &self,
        token_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<StaffSessionRecord>, StoreError>;

    /// Records activity: moves `last_seen_at` and the idle deadline.
    async fn touch_staff_session(
        &self,
        id: StaffSessionId,
        now: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Removes every staff session expired at `now`; returns how many.
    async fn purge_expired_staff_sessions(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// A staff passkey to store (after a finished registration ceremony).
#[derive(Debug, Clone)]
pub struct NewStaffPasskey {
    pub id: anshin_domain::StaffPasskeyId,
    pub staff_id: StaffId,
    /// The authenticator's credential id (unique across all accounts).
    pub credential_id: Vec<u8>,
    /// The person's label for it.
    pub name: String,
    /// webauthn-rs's `Passkey` as JSON (public key, counter, backup state).
    pub passkey: String,
    pub created_at: Timestamp,
}

/// A staff passkey as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffPasskeyRecord {
    pub id: anshin_domain::StaffPasskeyId,
    pub staff_id: StaffId,
    pub credential_id: Vec<u8>,
    pub name: String,
    pub passkey: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// What a WebAuthn ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// A logged-in staff member adds a passkey.
    Register,
    /// Someone logs in with a passkey.
    Login,
    /// A logged-in staff member proves the second factor again.
    StepUp,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::Login => "login",
            CeremonyKind::StepUp => "step_up",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "register" => Some(CeremonyKind::Register),
            "login" => Some(CeremonyKind::Login),
            "step_up" => Some(CeremonyKind::StepUp),
            _ => None,
        }
    }
}

/// A WebAuthn ceremony under way (its state lives in the database: any
/// instance may answer the browser's second request).
#[derive(Debug, Clone)]
pub struct NewStaffCeremony {
    /// SHA-256 of the ceremony token the page holds.
    pub id_hash: [u8; 32],
    pub kind: CeremonyKind,
    /// The account registering; `None` for a login.
    pub staff_id: Option<StaffId>,
    /// webauthn-rs's ceremony state as JSON.
    pub state: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A stored ceremony (live: not used, not expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffCeremonyRecord {
    pub id_hash: [u8; 32],
    pub kind: CeremonyKind,
    pub staff_id: Option<StaffId>,
    pub state: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Reads of staff passkeys and WebAuthn ceremonies (C21).
#[async_trait::async_trait]
pub trait StaffPasskeyRepo: Send + Sync {
    /// A staff member's passkeys, oldest first.
    async fn list_staff_passkeys(
        &self,
        staff: StaffId,
    ) -> Result<Vec<StaffPasskeyRecord>, StoreError>;

    /// The passkey with this credential id, whoever's it is.
    async fn find_staff_passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StaffPasskeyRecord>, StoreError>;

    /// The ceremony with this token hash, if not used and live at `now`.
    async fn find_staff_ceremony(
        &self,
        id_hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<StaffCeremonyRecord>, StoreError>;

    /// Removes ceremonies expired at `now`; returns how many.
    async fn purge_expired_staff_ceremonies(&self, now: Timestamp) -> Result<u64, StoreError>;
}
