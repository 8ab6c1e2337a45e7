//! The tamper-evident audit log (C22): what an entry holds, how it is
//! hashed into the RFC 6962 Merkle tree, and the repository that reads it.
//!
//! Entries are written only through [`crate::Changes::audit`], in the same
//! transaction as the act they record; the store gives each the next
//! gap-free index and records the tree head after it (see migration
//! `0015_audit`). Hashing lives here, not in the core, because the index
//! (and so the leaf bytes and the head) is only known inside the writing
//! transaction. It is plain SHA-256; nothing here holds a key: the keyed
//! hash of an entry's details ([`AuditEntry::details_mac`]) and the
//! checkpoint signatures are made by the core.
//!
//! The canonical entry bytes ([`AuditEntry::leaf_bytes`]) are a short text
//! that an independent verifier can rebuild from an export
//! (`scripts/audit-verify.py`):
//!
//! ```text
//! anshin-audit-entry/v1
//! index 41
//! at 1767225600000000
//! actor member:0190…
//! action login_succeeded
//! target member:0190…
//! origin 203.0.113.0/24
//! reason own_account
//! details 6f1e…(64 hex digits)
//! ```
//!
//! (an absent value is `-`). Leaf hash = SHA-256(0x00 ‖ bytes); node hash =
//! SHA-256(0x01 ‖ left ‖ right); the tree hash of n leaves splits at the
//! largest power of two below n (RFC 6962 §2.1).

use std::borrow::Cow;

use anshin_domain::{MemberId, Timestamp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::StoreError;

/// A 32-byte SHA-256 hash.
pub type Hash = [u8; 32];

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The tree hash of no leaves: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// RFC 6962 Merkle tree hash of `leaves` (already leaf-hashed), computed
/// recursively as the RFC defines it: the reference the [`Frontier`] is
/// tested against.
pub fn tree_hash(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let n = leaves.len();
            // The largest power of two smaller than n.
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            let (l, r) = leaves.split_at(k);
            node_hash(&tree_hash(l), &tree_hash(r))
        }
    }
}

/// The right edge of a tree: the roots of its perfect subtrees, largest
/// first (one per set bit of `size`). Enough to append a leaf and to get
/// the tree hash, in O(log n) each, without the leaves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from its size and its stored peaks (32 bytes
    /// each, largest first); `None` if they do not fit together.
    pub fn from_parts(size: u64, bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(32) || bytes.len() / 32 != size.count_ones() as usize {
            return None;
        }
        let peaks = bytes
            .chunks_exact(32)
            .map(|c| <Hash>::try_from(c).unwrap_or([0; 32]))
            .collect();
        Some(Self { size, peaks })
    }

    /// The peaks, concatenated (what the store keeps in `audit_head`).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.peaks.iter().flatten().copied().collect()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        // Each trailing one bit of the old size is a peak of the same
        // height as `carry`: merge them, smallest first.
        let mut merges = self.size.trailing_ones();
        while merges > 0 {
            match self.peaks.pop() {
                Some(left) => carry = node_hash(&left, &carry),
                None => break,
            }
            merges -= 1;
        }
        self.peaks.push(carry);
        self.size += 1;
    }

    /// The tree hash of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, peak| node_hash(peak, &acc))
    }
}

/// Declares a closed set stored as text.
macro_rules! audit_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stored (and exported) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

audit_enum!(
    /// What was done. Closed: a new kind of act adds a variant (and its
    /// spelling is then fixed forever, since old leaves hash it).
    AuditAction {
        /// A member logged in (any method).
        LoginSucceeded => "login_succeeded",
        /// A login of a known member failed (wrong code or password).
        LoginFailed => "login_failed",
        /// A member logged out.
        Logout => "logout",
        /// A member set or changed their password (C12).
        PasswordSet => "password_set",
        /// A member removed their password.
        PasswordRemoved => "password_removed",
        /// A member's login address changed.
        EmailChanged => "email_changed",
        /// A member's payout bank account was set or replaced.
        BankAccountSet => "bank_account_set",
        /// A member's payout bank account was removed.
        BankAccountRemoved => "bank_account_removed",
        /// A KEK version was added and data keys rewrapped.
        KeyRotated => "key_rotated",
        /// A KEK version was retired.
        KeyRetired => "key_retired",
        /// The process started with these settings.
        SettingsAtStart => "settings_at_start",
        /// Details of entries were deleted by the retention purge.
        AuditDetailsPurged => "audit_details_purged",
        /// A staff account was created (by an admin, or at the shell).
        StaffAdded => "staff_added",
        /// A staff account was disabled (its sessions ended).
        StaffDisabled => "staff_disabled",
        /// A staff member's role was changed (by an admin, or at the
        /// shell); the details hold the old and the new role. Their
        /// sessions ended with it.
        StaffRoleChanged => "staff_role_changed",
        /// A staff member set up their second factor (TOTP).
        StaffTotpEnrolled => "staff_totp_enrolled",
        /// A staff member logged in to the console.
        StaffLogin => "staff_login",
        /// A staff login failed (wrong or replayed code, unknown or
        /// disabled account, locked).
        StaffLoginFailed => "staff_login_failed",
        /// A staff member logged out.
        StaffLogout => "staff_logout",
        /// The access policy refused a staff member's act.
        StaffActRefused => "staff_act_refused",
        /// A staff member viewed the staff accounts (their e-mail).
        StaffListViewed => "staff_list_viewed",
        /// A staff member viewed a member's account and personal data
        /// (e-mail, shipping addresses, phone) in the console (C22).
        MemberDataViewed => "member_data_viewed",
        /// A staff member read the audit log in the console.
        AuditLogViewed => "audit_log_viewed",
        /// A signed-in staff member's second-factor check (step-up)
        /// failed: a wrong or replayed code, or a refused passkey.
        StaffStepUpFailed => "staff_step_up_failed",
        /// A staff member looked a member up and nobody matched: recorded
        /// so that whether an address is registered cannot be learnt in
        /// the console without a trace.
        MemberLookupMissed => "member_lookup_missed",
        /// An incident record was opened (C28).
        IncidentOpened => "incident_opened",
        /// An incident was closed with its lessons learned.
        IncidentClosed => "incident_closed",
        /// Sessions were ended in an incident (all members', one
        /// member's, and/or every staff session).
        IncidentSessionsEnded => "incident_sessions_ended",
        /// A member was locked in an incident (their sessions ended).
        IncidentMemberLocked => "incident_member_locked",
        /// A member's incident lock was lifted.
        IncidentMemberUnlocked => "incident_member_unlocked",
        /// Passwords were removed in an incident (one member's or all):
        /// the member logs in by e-mail code and sets a new one.
        IncidentPasswordReset => "incident_password_reset",
        /// A key rotation was started in an incident, or finished (the
        /// rotation itself is `key_rotated`).
        IncidentKeysRotated => "incident_keys_rotated",
        /// A batch of incident notices was queued for members.
        IncidentMembersNotified => "incident_members_notified",
        /// A staff member registered a passkey (WebAuthn) for their
        /// account.
        StaffPasskeyAdded => "staff_passkey_added",
        /// A staff member removed one of their passkeys.
        StaffPasskeyRemoved => "staff_passkey_removed",
        /// A shipping manager registered a terminal in the shipping
        /// centre's equipment registry (C24).
        TerminalRegistered => "terminal_registered",
        /// A shipping manager retired a terminal.
        TerminalRetired => "terminal_retired",
        /// A shipping worker checked in to a shift on a terminal (C24).
        ShiftCheckedIn => "shift_checked_in",
        /// A shipping worker checked out, returning the terminal (C24).
        ShiftCheckedOut => "shift_checked_out",
        /// A shipping worker's open shift moved to a new sign-in of theirs
        /// (same terminal).
        ShiftResumed => "shift_resumed",
        /// A shipping manager ended another worker's open shift (the
        /// terminal is free again); the details name the shift and its
        /// worker.
        ShiftEndedByManager => "shift_ended_by_manager",
        /// A shipping worker asked to void a waybill (C25); the reason is
        /// kept with the request, not in the details.
        VoidRequested => "void_requested",
        /// A shipping manager other than the requester approved a void
        /// (C25).
        VoidApproved => "void_approved",
        /// A shipping manager other than the requester rejected a void.
        VoidRejected => "void_rejected",
        /// A shipping worker on shift accepted a parcel by its drop-off
        /// code at the counter (the code used up in the same commit); the
        /// details name the terminal and the shift.
        ParcelAccepted => "parcel_accepted",
        /// A shipping worker on shift was shown a parcel's label (both
        /// parties' addresses, as an image): one entry per view, written
        /// before the image is drawn (C22); the details name the terminal
        /// and the shift.
        LabelViewed => "label_viewed",
        /// A parcel event (in transit, delivered) was entered in the
        /// console or at the shell.
        ParcelEventRecorded => "parcel_event_recorded",
        /// A security alert went on (C29): the rule, its subject, value
        /// and threshold in the details; mailed to the security team in
        /// the same bundle.
        AlertFired => "alert_fired",
        /// A security alert cleared.
        AlertResolved => "alert_resolved",
        /// The self-scan ran (C30): how many findings and their ids in the
        /// details; its report mailed to the security team in the same
        /// bundle.
        SelfScanRan => "selfscan_ran",
        /// A vulnerability report came in through `/security` (C5): the
        /// tracking id in the details, never the text or the address.
        VdpReportReceived => "vdp_report_received",
        /// The security team opened a vulnerability report (its text and
        /// the reporter's address were shown).
        VdpReportViewed => "vdp_report_viewed",
        /// A vulnerability report's status changed (from, to).
        VdpStatusChanged => "vdp_status_changed",
        /// The security team added a triage note (never its text).
        VdpNoteAdded => "vdp_note_added",
        /// A batch of records past their retention period was purged
        /// (C16, C17): the kind, how many and the run's time in the
        /// details; no id of a purged record.
        RecordsPurged => "records_purged",
        /// A member withdrew (or support withdrew them on request) and
        /// everything tied to the account was erased (C18).
        MemberWithdrawn => "member_withdrawn",
        /// A creator asked for a payout of their balance (C16): the
        /// details hold the amount and fee, never the bank account.
        PayoutRequested => "payout_requested",
        /// Finance built a payout batch (the payouts and the total).
        PayoutBatchBuilt => "payout_batch_built",
        /// Finance exported a batch's Zengin transfer file (its SHA-256).
        PayoutBatchExported => "payout_batch_exported",
        /// Finance imported the bank's result file of a batch (counts).
        PayoutResultImported => "payout_result_imported",
        /// A payout was recorded as paid (from the result, or by hand).
        PayoutPaid => "payout_paid",
        /// A payout was recorded as failed; its hold went back to the
        /// balance.
        PayoutFailed => "payout_failed",
        /// `anshin demo seed` filled an empty database with demo data
        /// (the details hold how many members it made).
        DemoSeeded => "demo_seeded",
    }
);

audit_enum!(
    /// Who acted, as a kind.
    ActorKind {
        Member => "member",
        Staff => "staff",
        System => "system",
        /// Someone not (yet) known: a failed login to an unknown address.
        Anonymous => "anonymous",
    }
);

audit_enum!(
    /// What kind of record an act was about.
    TargetKind {
        Member => "member",
        Session => "session",
        Staff => "staff",
        KekVersion => "kek_version",
        AuditLog => "audit_log",
        Order => "order",
        Shop => "shop",
        Incident => "incident",
        /// A shipping centre terminal (C24).
        Terminal => "terminal",
        /// A shipment (a waybill; issue 15).
        Shipment => "shipment",
        /// A security alert (C29).
        Alert => "alert",
        /// A self-scan's report (C30).
        SelfScan => "selfscan",
        /// A vulnerability report (C5).
        VdpReport => "vdp_report",
        /// A creator's payout (C16).
        Payout => "payout",
        /// A batch of payouts (one transfer file).
        PayoutBatch => "payout_batch",
    }
);

/// Who acted. Staff accounts arrive with the staff console (their id is a
/// UUID like every id); `System` is a job or the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Member(MemberId),
    Staff(Uuid),
    System,
    Anonymous,
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Member(_) => ActorKind::Member,
            Actor::Staff(_) => ActorKind::Staff,
            Actor::System => ActorKind::System,
            Actor::Anonymous => ActorKind::Anonymous,
        }
    }

    /// The pseudonymous id, if the actor has one.
    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Member(m) => Some(m.to_string()),
            Actor::Staff(s) => Some(s.to_string()),
            Actor::System | Actor::Anonymous => None,
        }
    }

    /// From the stored kind and id; `None` if they do not fit together.
    pub fn from_parts(kind: ActorKind, id: Option<&str>) -> Option<Self> {
        match (kind, id) {
            (ActorKind::Member, Some(id)) => MemberId::parse(id).map(Actor::Member),
            (ActorKind::Staff, Some(id)) => Uuid::try_parse(id).ok().map(Actor::Staff),
            (ActorKind::System, None) => Some(Actor::System),
            (ActorKind::Anonymous, None) => Some(Actor::Anonymous),
            _ => None,
        }
    }
}

/// The record an act was about, by a pseudonymous id (a UUID, a KEK
/// version number): never an address, a name or an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget {
    pub kind: TargetKind,
    pub id: String,
}

impl AuditTarget {
    pub fn member(id: MemberId) -> Self {
        Self {
            kind: TargetKind::Member,
            id: id.to_string(),
        }
    }

    pub fn incident(id: anshin_domain::IncidentId) -> Self {
        Self {
            kind: TargetKind::Incident,
            id: id.to_string(),
        }
    }

    pub fn terminal(id: anshin_domain::TerminalId) -> Self {
        Self {
            kind: TargetKind::Terminal,
            id: id.to_string(),
        }
    }

    pub fn vdp_report(id: anshin_domain::VdpReportId) -> Self {
        Self {
            kind: TargetKind::VdpReport,
            id: id.to_string(),
        }
    }

    pub fn payout(id: anshin_domain::PayoutId) -> Self {
        Self {
            kind: TargetKind::Payout,
            id: id.to_string(),
        }
    }

    pub fn payout_batch(id: anshin_domain::PayoutBatchId) -> Self {
        Self {
            kind: TargetKind::PayoutBatch,
            id: id.to_string(),
        }
    }

    pub fn shipment(id: anshin_domain::ShipmentId) -> Self {
        Self {
            kind: TargetKind::Shipment,
            id: id.to_string(),
        }
    }

    pub fn staff(id: Uuid) -> Self {
        Self {
            kind: TargetKind::Staff,
            id: id.to_string(),
        }
    }
}

/// An entry of the tamper-evident audit log (C22), as a use case adds it
/// to its [`crate::Changes`] bundle.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: Actor,
    pub action: AuditAction,
    pub target: Option<AuditTarget>,
    pub at: Timestamp,
    /// The network the request came from (an IPv4 /24 or IPv6 /48, not
    /// the full address), if it came over the network.
    pub origin: Option<String>,
    /// Why the act was allowed: the policy decision's reason (a short
    /// code such as `own_account`; staff policy reasons later).
    pub reason: String,
    /// HMAC-SHA-256 of `details` under the audit key (made by the core);
    /// the leaf holds this, never the details.
    pub details_mac: Hash,
    /// The details (JSON text, may name personal data), stored apart and
    /// purged after their retention period. `None` once purged.
    pub details: Option<String>,
}

impl std::fmt::Debug for AuditEntry {
    /// Without the details, which may hold personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditEntry")
            .field("actor", &self.actor)
            .field("action", &self.action)
            .field("target", &self.target)
            .field("at", &self.at)
            .field("reason", &self.reason)
            .field("details", &self.details.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// Whether a text may stand in one line of the canonical bytes: printable,
/// no spaces at the ends, at most 200 bytes. Ids and reasons are codes, so
/// this never refuses a real value.
fn one_line(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 200
        && text.chars().all(|c| !c.is_control())
        && text.trim() == text
}

impl AuditEntry {
    /// Whether every field fits the canonical form; the store refuses the
    /// bundle otherwise ([`crate::guards::AUDIT_ENTRY_INVALID`]).
    pub fn is_well_formed(&self) -> bool {
        one_line(&self.reason)
            && self.origin.as_deref().is_none_or(one_line)
            && self.target.as_ref().is_none_or(|t| one_line(&t.id))
    }

    /// The canonical bytes of this entry at `index` (the module doc shows
    /// the form). The leaf hash of the tree is over these.
    pub fn leaf_bytes(&self, index: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        write_leaf(
            &mut out,
            index,
            self.at.micros(),
            &self.actor,
            self.action,
            self.target.as_ref().map(|t| (t.kind, t.id.as_str())),
            self.origin.as_deref(),
            &self.reason,
            &self.details_mac,
        );
        out
    }
}

/// Appends the canonical bytes of one entry to `out`: the one definition
/// of the form, for [`AuditEntry::leaf_bytes`] and for the verifier's
/// [`ScanRow::write_leaf_bytes`] (which must hash the same bytes from the
/// stored values without building an [`AuditEntry`]).
#[allow(clippy::too_many_arguments)] // the fields of the form, in order
fn write_leaf(
    out: &mut Vec<u8>,
    index: u64,
    at: i64,
    actor: &Actor,
    action: AuditAction,
    target: Option<(TargetKind, &str)>,
    origin: Option<&str>,
    reason: &str,
    mac: &Hash,
) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "anshin-audit-entry/v1\nindex {index}\nat {at}\nactor {}:",
        actor.kind().as_str()
    );
    let _ = match actor {
        Actor::Member(m) => write!(out, "{m}"),
        Actor::Staff(s) => write!(out, "{s}"),
        Actor::System | Actor::Anonymous => write!(out, "-"),
    };
    let _ = write!(out, "\naction {}\ntarget ", action.as_str());
    let _ = match target {
        Some((kind, id)) => write!(out, "{}:{id}", kind.as_str()),
        None => write!(out, "-"),
    };
    let _ = write!(
        out,
        "\norigin {}\nreason {reason}\ndetails ",
        origin.unwrap_or("-")
    );
    push_hex(out, mac);
    out.push(b'\n');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.extend(HEX.get(usize::from(nibble)));
        }
    }
}

/// The 32 bytes a hex text (either case) names; `None` if it does not.
fn hash_from_hex(text: &str) -> Option<Hash> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *o = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Some(out)
}

/// A page of the log as the verifier reads it ([`AuditRepo::scan`]): the
/// stored values of up to `limit` entries, in index order, unparsed. On
/// SQLite one JSON text the database built (an array of `[idx, at,
/// actor_kind, actor_id, action, target_kind, target_id, origin, reason,
/// hex details_mac, hex root, details]`): one value per page instead of
/// twelve per entry, since a million rows read one by one cost more in
/// sqlx's per-row hand-off between threads and allocations than the
/// hashing (bench/README.md, the audit section). On PostgreSQL the same
/// values as rows. The values are the stored ones, unchanged; the
/// verifier parses and checks them as [`AuditRepo::entries`]' would be.
#[derive(Debug, Default)]
pub struct ScanPage {
    body: ScanBody,
    last: Option<u64>,
}

/// One entry's stored values as a row (hashes as hex text), for a backend
/// whose driver reads rows cheaply ([`ScanPage::from_rows`]).
pub type ScanValues = (
    i64,
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
);

#[derive(Debug)]
enum ScanBody {
    /// The page as one JSON text (SQLite: sqlx hands each row from its
    /// worker thread to the reader one at a time, which cost more than
    /// the hashing).
    Json(String),
    /// The page as rows (PostgreSQL: its driver decodes rows in the
    /// reading task, and building JSON in the server was slower).
    Rows(Vec<ScanValues>),
}

impl Default for ScanBody {
    fn default() -> Self {
        ScanBody::Rows(Vec::new())
    }
}

/// One entry's stored values, borrowed from a [`ScanPage`].
#[derive(Debug, serde::Deserialize)]
pub struct ScanRow<'a>(
    i64,
    i64,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Option<Cow<'a, str>>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Option<Cow<'a, str>>,
    #[serde(borrow)] Option<Cow<'a, str>>,
    #[serde(borrow)] Option<Cow<'a, str>>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Option<Cow<'a, str>>,
);

const T: &str = "audit_entries";

fn corrupt(reason: &'static str) -> StoreError {
    StoreError::Corrupt { table: T, reason }
}

fn borrowed(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(Cow::Borrowed)
}

impl ScanPage {
    /// A page from the database's JSON text (`None`: no entries) and the
    /// last index in it.
    pub fn new(text: Option<String>, last: Option<i64>) -> Result<Self, StoreError> {
        let last = last
            .map(|i| u64::try_from(i).map_err(|_| corrupt("negative index")))
            .transpose()?;
        Ok(Self {
            body: ScanBody::Json(text.unwrap_or_default()),
            last,
        })
    }

    /// A page from rows, in index order.
    pub fn from_rows(rows: Vec<ScanValues>) -> Result<Self, StoreError> {
        let last = rows
            .last()
            .map(|r| u64::try_from(r.0).map_err(|_| corrupt("negative index")))
            .transpose()?;
        Ok(Self {
            body: ScanBody::Rows(rows),
            last,
        })
    }

    /// The last index of the page; `None` when it is empty (the end).
    pub fn last_index(&self) -> Option<u64> {
        self.last
    }

    /// The entries, in index order.
    pub fn rows(&self) -> Result<Vec<ScanRow<'_>>, StoreError> {
        let text = match &self.body {
            ScanBody::Rows(rows) => {
                return Ok(rows
                    .iter()
                    .map(|r| {
                        ScanRow(
                            r.0,
                            r.1,
                            Cow::Borrowed(&r.2),
                            borrowed(&r.3),
                            Cow::Borrowed(&r.4),
                            borrowed(&r.5),
                            borrowed(&r.6),
                            borrowed(&r.7),
                            Cow::Borrowed(&r.8),
                            Cow::Borrowed(&r.9),
                            Cow::Borrowed(&r.10),
                            borrowed(&r.11),
                        )
                    })
                    .collect());
            }
            ScanBody::Json(text) if text.is_empty() => return Ok(Vec::new()),
            ScanBody::Json(text) => text,
        };
        let mut rows: Vec<ScanRow<'_>> = serde_json::from_str(text)
            .map_err(|_| corrupt("a scanned page is not the expected JSON"))?;
        // The database aggregates in index order; make sure of it.
        if !rows.is_sorted_by_key(|r| r.0) {
            rows.sort_by_key(|r| r.0);
        }
        Ok(rows)
    }
}

impl ScanRow<'_> {
    pub fn index(&self) -> Result<u64, StoreError> {
        u64::try_from(self.0).map_err(|_| corrupt("negative index"))
    }

    /// Appends the canonical bytes of the stored entry at `index` to
    /// `out`: exactly [`AuditEntry::leaf_bytes`] of the entry
    /// [`AuditRepo::entries`] would return for this row, with the same
    /// refusals of values that do not parse.
    pub fn write_leaf_bytes(&self, index: u64, out: &mut Vec<u8>) -> Result<(), StoreError> {
        let actor_kind = ActorKind::parse(&self.2).ok_or(corrupt("unknown actor kind"))?;
        let actor = Actor::from_parts(actor_kind, self.3.as_deref())
            .ok_or(corrupt("actor id does not fit its kind"))?;
        let action = AuditAction::parse(&self.4).ok_or(corrupt("unknown action"))?;
        let target = match (&self.5, &self.6) {
            (Some(kind), Some(id)) => Some((
                TargetKind::parse(kind).ok_or(corrupt("unknown target kind"))?,
                id.as_ref(),
            )),
            (None, None) => None,
            _ => return Err(corrupt("target kind without id")),
        };
        write_leaf(
            out,
            index,
            self.1,
            &actor,
            action,
            target,
            self.7.as_deref(),
            &self.8,
            &self.details_mac()?,
        );
        Ok(())
    }

    /// The stored HMAC of the details.
    pub fn details_mac(&self) -> Result<Hash, StoreError> {
        hash_from_hex(&self.9).ok_or(corrupt("hash is not 32 bytes"))
    }

    /// The tree head recorded when the entry was written.
    pub fn root(&self) -> Result<Hash, StoreError> {
        hash_from_hex(&self.10).ok_or(corrupt("hash is not 32 bytes"))
    }

    /// The details, unless purged.
    pub fn details(&self) -> Option<&str> {
        self.11.as_deref()
    }
}

/// An entry as stored: its index, the entry (details `None` if purged),
/// and the tree head after it as recorded when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEntry {
    pub index: u64,
    pub entry: AuditEntry,
    pub root: Hash,
}

/// The log's head row: how many entries it has and the tree's right edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub size: u64,
    /// `None` if the stored peaks do not fit the size (a tampered head).
    pub frontier: Option<Frontier>,
}

/// A signed checkpoint as kept in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub at: Timestamp,
    /// The whole signed note (C2SP format).
    pub note: String,
}

/// What the console's audit log view asks for: newest first, filtered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// A person's pseudonymous id (member or staff): entries they did, or
    /// whose record (a member or a staff account) is theirs.
    pub person: Option<String>,
    /// A record's pseudonymous id: entries about it.
    pub record: Option<String>,
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries before this time.
    pub until: Option<Timestamp>,
    /// Entries with an index below this (the next page).
    pub before_index: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

#[async_trait::async_trait]
pub trait AuditRepo: Send + Sync {
    /// The head row.
    async fn head(&self) -> Result<AuditHead, StoreError>;

    /// Up to `limit` entries with index `>= from`, in index order, with
    /// their details if not purged. A row whose stored values do not
    /// parse is [`StoreError::Corrupt`]. (Indexes are not required to be
    /// contiguous here: the verifier is the one to notice a gap.)
    async fn entries(&self, from: u64, limit: u32) -> Result<Vec<StoredAuditEntry>, StoreError>;

    /// The same entries as [`AuditRepo::entries`] for a pass over the
    /// whole log (`audit verify`): one [`ScanPage`], the stored values
    /// unparsed.
    async fn scan(&self, from: u64, limit: u32) -> Result<ScanPage, StoreError>;

    /// The entries `query` asks for, newest first, with their details if
    /// not purged.
    async fn search(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEntry>, StoreError>;

    /// Deletes the details of every entry made before `before`; returns
    /// how many were deleted. The entries stay and still verify.
    async fn purge_details(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Keeps a signed checkpoint; one of the same size kept before is left
    /// as it was (`false`).
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<bool, StoreError>;

    /// Every kept checkpoint, smallest first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(h: &Hash) -> String {
        let mut out = Vec::new();
        push_hex(&mut out, h);
        String::from_utf8(out).unwrap()
    }

    /// The leaf inputs of the RFC 6962 reference test vectors
    /// (certificate-transparency-go `merkle/merkle_tree_test.go`).
    fn vector_leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| {
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
    }

    /// Roots of the first 1..=8 leaves, from the same reference.
    const VECTOR_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn c22_rfc6962_test_vectors() {
        let leaves: Vec<Hash> = vector_leaves().iter().map(|l| leaf_hash(l)).collect();
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut f = Frontier::new();
        for (i, leaf) in leaves.iter().enumerate() {
            f.push(*leaf);
            assert_eq!(
                hex(&tree_hash(&leaves[..=i])),
                VECTOR_ROOTS[i],
                "size {}",
                i + 1
            );
            assert_eq!(
                hex(&f.root()),
                VECTOR_ROOTS[i],
                "frontier at size {}",
                i + 1
            );
        }
    }

    #[test]
    fn c22_frontier_matches_the_recursive_definition_and_round_trips() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut f = Frontier::new();
        for (i, leaf) in leaves.iter().enumerate() {
            f.push(*leaf);
            assert_eq!(f.root(), tree_hash(&leaves[..=i]), "size {}", i + 1);
            let back = Frontier::from_parts(f.size(), &f.to_bytes()).unwrap();
            assert_eq!(back, f);
        }
        assert!(Frontier::from_parts(3, &[0u8; 32]).is_none());
    }

    #[test]
    fn c22_leaf_bytes_are_the_documented_text() {
        let e = AuditEntry {
            actor: Actor::System,
            action: AuditAction::KeyRotated,
            target: Some(AuditTarget {
                kind: TargetKind::KekVersion,
                id: "2".into(),
            }),
            at: Timestamp::from_micros(5),
            origin: None,
            reason: "cli".into(),
            details_mac: [0xab; 32],
            details: Some("{\"x\":1}".into()),
        };
        let text = String::from_utf8(e.leaf_bytes(7)).unwrap();
        assert_eq!(
            text,
            format!(
                "anshin-audit-entry/v1\nindex 7\nat 5\nactor system:-\naction key_rotated\n\
                 target kek_version:2\norigin -\nreason cli\ndetails {}\n",
                "ab".repeat(32)
            )
        );
        assert!(e.is_well_formed());
        let bad = AuditEntry {
            reason: "two\nlines".into(),
            ..e
        };
        assert!(!bad.is_well_formed());
        assert!(!format!("{bad:?}").contains("x\\\":1"));
    }
}
