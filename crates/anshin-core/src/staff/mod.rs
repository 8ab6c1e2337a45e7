//! Staff accounts, their second factor and their console sessions (C21,
//! C27). Every door calls these: the staff console, `anshin staff …`.
//!
//! - One account per person (`add`), never shared, disabled and never
//!   deleted when someone leaves (`disable`, which ends every session of
//!   it in the same transaction).
//! - A new account gets a one-time enrolment link (its token's SHA-256 is
//!   stored, never the token). The link's page offers a TOTP secret
//!   (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) as an `otpauth://`
//!   URI and as text; it is derived from the link's token under a key of
//!   the ring, so nothing is stored until the person confirms a code.
//!   Then the secret is sealed (AES-256-GCM under the staff key derived
//!   from the ring, with table, column and staff id as associated data)
//!   and the link is used up.
//! - Login is e-mail plus a passkey ([`passkeys`], WebAuthn) or, as the
//!   fallback, a current TOTP code; there is no session without the
//!   second factor. TOTP: Window policy: the code of the current 30-second
//!   step, the previous one or the next one is accepted (RFC 6238 §5.2's
//!   one step of clock drift and typing delay; two steps away is refused),
//!   and each step works once per account (`totp_last_step`, a guarded
//!   write in the session's own transaction), so an overheard code cannot
//!   be replayed.
//! - Failures count like members' logins (C8): a per-account lock after
//!   `limits.lock_threshold` consecutive failures, and a per-address
//!   ceiling (`limits.max_failures_per_ip` per `limits.window_secs`).
//!   Unknown, disabled, unenrolled, locked and wrong all answer the same.
//! - Sessions live in the database (any instance serves them), end after
//!   `staff.idle_timeout_secs` unused, and remember when the second
//!   factor was last proved, which the access policy's step-up condition
//!   reads (`access::decide`).

pub mod passkeys;

use std::net::IpAddr;

use anshin_domain::{EmailAddress, StaffId, StaffRole, StaffStatus, Timestamp};
use anshin_store::audit::{Actor, AuditAction, AuditTarget};
use anshin_store::{
    Changes, NewStaff, NewStaffSession, Reservation, ShiftRecord, StaffRecord, StaffSessionRecord,
    StoreError, Write, guards,
};
use anshin_vault::{FieldContext, SessionToken};
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use totp_rs::{Builder, Totp};
use zeroize::Zeroizing;

pub use crate::access::{AreaSettings, StaffSettings};

use crate::Services;
use crate::accounts::limits::client_keys;

mod alerts;
mod audit_log;
mod support;
pub mod vdp;

pub use alerts::{
    ALERT_HISTORY, AlertRecord, AlertsView, SELFSCAN_HISTORY, SelfScanRecord, alerts_by,
    selfscans_by,
};
pub use audit_log::{
    AUDIT_PAGE_SIZE, AuditFilter, AuditPage, AuditRow, audit_log_by, day_end, day_start,
};
pub use support::{MemberView, view_member, withdraw_member};

/// The reason an audit entry records for a staff act the access policy
/// allowed (`access::decide` said `Allow`).
pub const POLICY_ALLOW: &str = "policy_allow";

/// Seconds per TOTP step (RFC 6238's default, what every app shows).
pub const TOTP_STEP_SECS: u64 = 30;
/// The issuer an authenticator app shows next to the account.
pub const TOTP_ISSUER: &str = "anshin staff";
const SECRET_BYTES: usize = 20;

/// Why a staff account change failed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("not an e-mail address")]
    InvalidEmail,
    #[error("a staff account has this e-mail already")]
    EmailTaken,
    #[error("no such staff account")]
    NotFound,
    /// Nobody disables their own account in the console: another admin
    /// (or the shell) does, so an admin cannot lock everyone out by a
    /// slip.
    #[error("one's own account is disabled by someone else")]
    OwnAccount,
    /// Nobody changes their own role (no raising oneself, no locking
    /// oneself out by a slip): another admin, or the shell, does.
    #[error("one's own role is changed by someone else")]
    OwnRole,
    /// The account is the last active administrator: demoting it would
    /// leave nobody to manage staff in the console.
    #[error("the last active administrator keeps the role (make another administrator first)")]
    LastAdmin,
    /// A disabled account keeps the role it had.
    #[error("the staff account is disabled; its role cannot be changed")]
    NotActive,
    /// The account has this role already: nothing to change.
    #[error("the staff account has this role already")]
    SameRole,
    /// The role was changed by someone else between reading and
    /// writing: nothing was changed; look again.
    #[error("the staff member's role was changed meanwhile by someone else; look again")]
    ChangedMeanwhile,
    /// No member has this id or e-mail address.
    #[error("no such member")]
    MemberNotFound,
    /// A filter of the audit log view is not a pseudonymous id.
    #[error("a filter is not an id")]
    InvalidFilter,
    /// The view's audit entry could not be written, so the view was
    /// refused (C22): nothing was read.
    #[error("the view could not be recorded in the audit log: {0}")]
    NotRecorded(StoreError),
    #[error(transparent)]
    MemberData(#[from] crate::member_data::MemberDataError),
    /// A withdrawal on request waits, or the member left already (C18).
    #[error(transparent)]
    Withdraw(#[from] crate::withdrawal::WithdrawError),
    /// The access policy refused the acting staff member
    /// (`Decision::reason` says why).
    #[error("refused by the access policy: {}", .0.reason())]
    Refused(crate::access::Decision),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("key error: {0}")]
    Vault(#[from] anshin_vault::VaultError),
}

/// A staff account as lists show it (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAccount {
    pub id: StaffId,
    pub email: EmailAddress,
    pub role: StaffRole,
    pub status: StaffStatus,
    pub enrolled: bool,
    pub created_at: Timestamp,
}

impl From<&StaffRecord> for StaffAccount {
    fn from(r: &StaffRecord) -> Self {
        Self {
            id: r.id,
            email: r.email.clone(),
            role: r.role,
            status: r.status,
            enrolled: r.is_enrolled(),
            created_at: r.created_at,
        }
    }
}

/// A new account and its one-time enrolment link's token (shown once).
#[derive(Debug)]
pub struct Enrolment {
    pub staff: StaffId,
    pub token: SessionToken,
}

impl Enrolment {
    /// The link's path on the staff listener.
    pub fn path(&self) -> String {
        format!("/enrol?token={}", self.token.expose())
    }
}

/// Who did a staff-account act, for the audit log: a staff member in the
/// console (and from where), or the operator at the shell.
fn actor_of(by: Option<(&CurrentStaff, IpAddr)>) -> (Actor, Option<IpAddr>, &'static str) {
    match by {
        Some((s, ip)) => (Actor::Staff(s.account.id.as_uuid()), Some(ip), POLICY_ALLOW),
        None => (Actor::System, None, "command_line"),
    }
}

/// Creates a staff account with a one-time enrolment link (the command
/// line's door: the audit log names the system as the actor).
pub async fn add(svc: &Services, email: &str, role: StaffRole) -> Result<Enrolment, StaffError> {
    add_as(svc, None, email, role).await
}

async fn add_as(
    svc: &Services,
    by: Option<(&CurrentStaff, IpAddr)>,
    email: &str,
    role: StaffRole,
) -> Result<Enrolment, StaffError> {
    let email = EmailAddress::parse(email).ok_or(StaffError::InvalidEmail)?;
    let now = svc.now();
    let id: StaffId = svc.new_id();
    let token = SessionToken::generate(&mut svc.random.rng());
    let changes = Changes::new().with(Write::CreateStaff(NewStaff {
        id,
        email,
        role,
        created_at: now,
        enrol_token_hash: *token.hash().as_bytes(),
        enrol_expires_at: now
            + anshin_domain::Duration::from_secs(svc.settings.staff.enrolment_ttl_secs),
    }));
    let (actor, from, reason) = actor_of(by);
    let changes = changes.audited(crate::audit::entry(
        svc,
        actor,
        AuditAction::StaffAdded,
        Some(AuditTarget::staff(id.as_uuid())),
        from,
        reason,
        serde_json::json!({ "role": role.as_str() }),
    ));
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(StaffError::EmailTaken),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(staff = %id, role = %role, "staff account created");
    Ok(Enrolment { staff: id, token })
}

/// [`crate::access::decide`] for a staff member (or nobody) acting now from `ip`: what
/// the console's guard calls for every route, and what a core use case
/// staff call checks again before it acts ([`add_by`], …).
pub fn decide_for(
    svc: &Services,
    actor: Option<&CurrentStaff>,
    action: crate::access::Action,
    ip: IpAddr,
) -> crate::access::Decision {
    decide_about(svc, actor, action, ip, None)
}

/// [`decide_for`] about a record someone requested (a void request,
/// C25): `requester` is who made it, so the policy can refuse its
/// requester as the decider.
pub fn decide_about(
    svc: &Services,
    actor: Option<&CurrentStaff>,
    action: crate::access::Action,
    ip: IpAddr,
    requester: Option<StaffId>,
) -> crate::access::Decision {
    let ctx = crate::access::Context {
        role: actor.map(|a| a.account.role),
        second_factor_at: actor.map(|a| a.session.second_factor_at),
        ip,
        now: svc.now(),
        staff: actor.map(|a| a.account.id),
        on_shift: actor.is_some_and(CurrentStaff::on_shift),
        requester,
    };
    crate::access::decide(&svc.settings.staff, action, &ctx)
}

/// Refuses unless the policy lets `actor` take `action` now.
fn authorize(
    svc: &Services,
    actor: &CurrentStaff,
    action: crate::access::Action,
    ip: IpAddr,
) -> Result<(), StaffError> {
    match decide_for(svc, Some(actor), action, ip) {
        crate::access::Decision::Allow => Ok(()),
        d => Err(StaffError::Refused(d)),
    }
}

/// Records a refusal of the policy inside a use case (the console's
/// guard records its own: [`record_guard_refusal`]). Best effort: the act
/// is refused either way.
async fn refused(svc: &Services, actor: &CurrentStaff, ip: IpAddr, e: StaffError) -> StaffError {
    if let StaffError::Refused(d) = &e {
        svc.metrics.staff_refusals.inc();
        let entry = crate::audit::entry(
            svc,
            Actor::Staff(actor.account.id.as_uuid()),
            AuditAction::StaffActRefused,
            None,
            Some(ip),
            &format!("{d:?}"),
            serde_json::json!({}),
        );
        if let Err(err) = svc.store.commit(&Changes::new().audited(entry)).await {
            tracing::warn!(error = %err, "a refused staff act could not be recorded");
        }
    }
    e
}

/// Records the console guard's refusal of a signed-in staff member's
/// request (C22, C27): who, which action, the policy's reason, from which
/// network. Refusals of people not signed in are only logged (they have
/// no identity, and recording each would let anyone fill the log). Best
/// effort: the request is refused either way.
pub async fn record_guard_refusal(
    svc: &Services,
    actor: &CurrentStaff,
    action: crate::access::Action,
    decision: crate::access::Decision,
    ip: IpAddr,
) {
    svc.metrics.staff_refusals.inc();
    let entry = crate::audit::entry(
        svc,
        Actor::Staff(actor.account.id.as_uuid()),
        AuditAction::StaffActRefused,
        None,
        Some(ip),
        decision.reason(),
        serde_json::json!({ "action": action.as_str() }),
    );
    if let Err(err) = svc.store.commit(&Changes::new().audited(entry)).await {
        tracing::warn!(error = %err, "a refused staff request could not be recorded");
    }
}

/// [`add`] by a staff member in the console: the policy is checked here
/// again, whatever door called.
pub async fn add_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    email: &str,
    role: StaffRole,
) -> Result<Enrolment, StaffError> {
    if let Err(e) = authorize(svc, actor, crate::access::Action::AddStaff, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    add_as(svc, Some((actor, ip)), email, role).await
}

/// [`disable`] by a staff member in the console (policy checked here).
pub async fn disable_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    staff: StaffId,
) -> Result<(), StaffError> {
    if let Err(e) = authorize(svc, actor, crate::access::Action::DisableStaff, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    if staff == actor.account.id {
        return Err(StaffError::OwnAccount);
    }
    disable_as(svc, Some((actor, ip)), staff).await
}

/// [`list`] for a staff member in the console (policy checked here).
pub async fn list_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<Vec<StaffAccount>, StaffError> {
    if let Err(e) = authorize(svc, actor, crate::access::Action::ListStaff, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    // The staff list shows people's work addresses: the view is recorded
    // first, and refused if it cannot be (C22).
    let entry = crate::audit::entry(
        svc,
        Actor::Staff(actor.account.id.as_uuid()),
        AuditAction::StaffListViewed,
        None,
        Some(ip),
        POLICY_ALLOW,
        serde_json::json!({}),
    );
    svc.store.commit(&Changes::new().audited(entry)).await?;
    Ok(list(svc).await?)
}

/// A role change that was made: whose, from which role to which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleChange {
    pub staff: StaffId,
    pub from: StaffRole,
    pub to: StaffRole,
}

/// Changes a staff member's role (the command line's door: the audit log
/// names the system as the actor). See [`change_role_by`].
pub async fn change_role(
    svc: &Services,
    staff: StaffId,
    role: StaffRole,
) -> Result<RoleChange, StaffError> {
    change_role_as(svc, None, staff, role).await
}

/// [`change_role`] by an admin in the console (C21, C22, C27): the
/// policy is checked here again, and nobody changes their own role. The
/// change, the end of every session of the account (the new role applies
/// from a fresh login) and the audit entry (`staff_role_changed`, old and
/// new role) commit together, or none of them does: if the entry cannot
/// be written, the role stays.
pub async fn change_role_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    staff: StaffId,
    role: StaffRole,
) -> Result<RoleChange, StaffError> {
    if let Err(e) = authorize(svc, actor, crate::access::Action::ChangeStaffRole, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    if staff == actor.account.id {
        return Err(StaffError::OwnRole);
    }
    change_role_as(svc, Some((actor, ip)), staff, role).await
}

async fn change_role_as(
    svc: &Services,
    by: Option<(&CurrentStaff, IpAddr)>,
    staff: StaffId,
    role: StaffRole,
) -> Result<RoleChange, StaffError> {
    let record = svc
        .store
        .staff()
        .find_staff(staff)
        .await?
        .ok_or(StaffError::NotFound)?;
    if record.status != StaffStatus::Active {
        return Err(StaffError::NotActive);
    }
    if record.role == role {
        return Err(StaffError::SameRole);
    }
    let change = RoleChange {
        staff,
        from: record.role,
        to: role,
    };
    let (actor, from, reason) = actor_of(by);
    // The details name the two roles, never the person (their id is the
    // entry's target).
    let changes = Changes::new()
        .with(Write::SetStaffRole {
            staff,
            from: change.from,
            to: change.to,
            at: svc.now(),
        })
        .audited(crate::audit::entry(
            svc,
            actor,
            AuditAction::StaffRoleChanged,
            Some(AuditTarget::staff(staff.as_uuid())),
            from,
            reason,
            serde_json::json!({ "from": change.from.as_str(), "to": change.to.as_str() }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        Err(StoreError::Precondition(g)) if g == guards::STAFF_NOT_FOUND => {
            return Err(StaffError::NotFound);
        }
        Err(StoreError::Precondition(g)) if g == guards::STAFF_NOT_ACTIVE => {
            return Err(StaffError::NotActive);
        }
        Err(StoreError::Precondition(g)) if g == guards::LAST_ADMIN => {
            return Err(StaffError::LastAdmin);
        }
        Err(StoreError::Precondition(g)) if g == guards::STAFF_ROLE_CHANGED => {
            return Err(StaffError::ChangedMeanwhile);
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(staff = %staff, from = %change.from, to = %change.to, "staff role changed");
    Ok(change)
}

/// The staff account a command line argument names: its id, or its
/// e-mail address.
pub async fn find_by_id_or_email(svc: &Services, text: &str) -> Result<StaffId, StaffError> {
    let text = text.trim();
    if let Some(id) = StaffId::parse(text) {
        return match svc.store.staff().find_staff(id).await? {
            Some(r) => Ok(r.id),
            None => Err(StaffError::NotFound),
        };
    }
    let email = EmailAddress::parse(text).ok_or(StaffError::InvalidEmail)?;
    Ok(svc
        .store
        .staff()
        .find_staff_by_email(&email)
        .await?
        .ok_or(StaffError::NotFound)?
        .id)
}

/// Disables a staff account and ends its sessions, at once (the command
/// line's door).
pub async fn disable(svc: &Services, staff: StaffId) -> Result<(), StaffError> {
    disable_as(svc, None, staff).await
}

async fn disable_as(
    svc: &Services,
    by: Option<(&CurrentStaff, IpAddr)>,
    staff: StaffId,
) -> Result<(), StaffError> {
    let (actor, from, reason) = actor_of(by);
    let changes = disable_bundle(svc, actor, from, reason, staff, serde_json::json!({}));
    commit_disable(svc, &changes, staff).await
}

/// The bundle that disables a staff account (ending its sessions) with
/// its audit entry: for [`disable`], and for a use case that adds to it
/// (an incident's timeline, `incidents::disable_staff`).
pub(crate) fn disable_bundle(
    svc: &Services,
    actor: Actor,
    from: Option<IpAddr>,
    reason: &str,
    staff: StaffId,
    details: serde_json::Value,
) -> Changes {
    Changes::new()
        .with(Write::SetStaffStatus {
            staff,
            status: StaffStatus::Disabled,
            at: svc.now(),
        })
        // A worker disabled mid-shift: the shift ends with the account,
        // so the terminal is free and the log says why (C24).
        .with(Write::EndOpenShiftOf {
            staff,
            end: anshin_store::ShiftEnd::StaffDisabled,
            at: svc.now(),
        })
        .audited(crate::audit::entry(
            svc,
            actor,
            AuditAction::StaffDisabled,
            Some(AuditTarget::staff(staff.as_uuid())),
            from,
            reason,
            details,
        ))
}

/// Commits a [`disable_bundle`].
pub(crate) async fn commit_disable(
    svc: &Services,
    changes: &Changes,
    staff: StaffId,
) -> Result<(), StaffError> {
    match svc.store.commit(changes).await {
        Ok(()) => {
            tracing::info!(staff = %staff, "staff account disabled");
            Ok(())
        }
        Err(StoreError::Precondition(g)) if g == guards::STAFF_NOT_FOUND => {
            Err(StaffError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`disable`] by e-mail (the command line's door).
pub async fn disable_by_email(svc: &Services, email: &str) -> Result<StaffId, StaffError> {
    let email = EmailAddress::parse(email).ok_or(StaffError::InvalidEmail)?;
    let record = svc
        .store
        .staff()
        .find_staff_by_email(&email)
        .await?
        .ok_or(StaffError::NotFound)?;
    disable(svc, record.id).await?;
    Ok(record.id)
}

/// One staff account.
pub async fn find(svc: &Services, id: StaffId) -> Result<Option<StaffAccount>, StoreError> {
    Ok(svc
        .store
        .staff()
        .find_staff(id)
        .await?
        .as_ref()
        .map(StaffAccount::from))
}

/// Every staff account, by e-mail.
pub async fn list(svc: &Services) -> Result<Vec<StaffAccount>, StoreError> {
    Ok(svc
        .store
        .staff()
        .list_staff()
        .await?
        .iter()
        .map(StaffAccount::from)
        .collect())
}

/// What the enrolment page shows: the secret as an `otpauth://` URI and
/// as base32 text. Redacted in `Debug`; wiped on drop.
pub struct EnrolmentOffer {
    pub email: EmailAddress,
    pub secret_base32: Zeroizing<String>,
    pub otpauth_uri: Zeroizing<String>,
}

impl std::fmt::Debug for EnrolmentOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolmentOffer([redacted])")
    }
}

/// The secret an enrolment link offers: derived from the link's token
/// and the account, under the ring's enrolment key.
fn offered_secret(svc: &Services, staff: StaffId, token: &SessionToken) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0u8; SECRET_BYTES]);
    if let Ok(mut mac) =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(svc.keys.staff_enrol_key().expose_bytes())
    {
        mac.update(b"anshin/staff-totp/v1");
        mac.update(staff.as_bytes());
        mac.update(token.expose().as_bytes());
        let tag = mac.finalize().into_bytes();
        if let (Some(dst), Some(src)) = (out.get_mut(..), tag.get(..SECRET_BYTES)) {
            dst.copy_from_slice(src);
        }
    }
    out
}

fn totp(secret: &[u8], email: &EmailAddress) -> Option<Totp> {
    Builder::new()
        .with_secret(secret.to_vec())
        .with_step_duration(TOTP_STEP_SECS)
        .with_skew(1)
        .with_digits(6)
        .with_account_name(email.as_str())
        .with_issuer(Some(TOTP_ISSUER))
        .build()
        .ok()
}

fn unix_secs(t: Timestamp) -> u64 {
    u64::try_from(t.secs()).unwrap_or(0)
}

/// The time step `code` belongs to at `now` (current, previous or next
/// step), if it is right. Spaces are ignored.
fn check_code(totp: &Totp, code: &str, now: Timestamp) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    totp.check(&code, unix_secs(now))
        .and_then(|s| i64::try_from(s).ok())
}

/// The offer of a working enrolment link; `None` for a used, expired or
/// unknown one, or a disabled account.
pub async fn enrolment_offer(
    svc: &Services,
    token: &SessionToken,
) -> Result<Option<EnrolmentOffer>, StaffError> {
    let Some(r) = svc
        .store
        .staff()
        .find_staff_by_enrolment(token.hash().as_bytes(), svc.now())
        .await?
    else {
        return Ok(None);
    };
    if r.status != StaffStatus::Active {
        return Ok(None);
    }
    let secret = offered_secret(svc, r.id, token);
    let Some(t) = totp(&secret, &r.email) else {
        return Ok(None);
    };
    Ok(Some(EnrolmentOffer {
        secret_base32: Zeroizing::new(t.secret().to_base32()),
        otpauth_uri: Zeroizing::new(t.to_url().unwrap_or_default()),
        email: r.email,
    }))
}

/// Why an enrolment or a login did not work.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The link, the e-mail or the code is not right (one answer for
    /// all, so it tells nothing about accounts).
    #[error("invalid")]
    Invalid,
    /// Too many failures from this address: wait.
    #[error("too many failures")]
    Throttled,
    /// Passkeys cannot work at the console's origin (an IP address, not
    /// a domain name): TOTP still does.
    #[error("passkeys are not available: {0}")]
    Passkeys(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("key error: {0}")]
    Vault(#[from] anshin_vault::VaultError),
}

/// Confirms an enrolment with a code from the offered secret: seals and
/// stores the secret and uses the link up.
pub async fn enrol(svc: &Services, token: &SessionToken, code: &str) -> Result<(), LoginError> {
    let now = svc.now();
    let Some(r) = svc
        .store
        .staff()
        .find_staff_by_enrolment(token.hash().as_bytes(), now)
        .await?
    else {
        return Err(LoginError::Invalid);
    };
    let secret = offered_secret(svc, r.id, token);
    let step = totp(&secret, &r.email)
        .and_then(|t| check_code(&t, code, now))
        .ok_or(LoginError::Invalid)?;
    let sealed = anshin_vault::fields::encrypt(
        svc.keys.staff_key(),
        &FieldContext::new("staff_accounts", "totp_secret", r.id.as_bytes()),
        &secret,
        &mut svc.random.rng(),
    )?;
    let changes = Changes::new()
        .with(Write::EnrolStaffTotp {
            staff: r.id,
            token_hash: *token.hash().as_bytes(),
            secret: sealed,
            step,
            at: now,
        })
        .audited(crate::audit::entry(
            svc,
            Actor::Staff(r.id.as_uuid()),
            AuditAction::StaffTotpEnrolled,
            Some(AuditTarget::staff(r.id.as_uuid())),
            None,
            "enrolment_link",
            serde_json::json!({}),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(()),
        Err(StoreError::Precondition(g)) if g == guards::ENROLMENT_INVALID => {
            Err(LoginError::Invalid)
        }
        Err(e) => Err(e.into()),
    }
}

/// The second factor of `r`, checked against `code` at `now`.
fn verify(svc: &Services, r: &StaffRecord, code: &str, now: Timestamp) -> Option<i64> {
    if r.status != StaffStatus::Active {
        return None;
    }
    let sealed = r.totp_secret.as_ref()?;
    let secret = anshin_vault::fields::decrypt(
        svc.keys.staff_key(),
        &FieldContext::new("staff_accounts", "totp_secret", r.id.as_bytes()),
        sealed,
    )
    .ok()?;
    let t = totp(&secret, &r.email)?;
    check_code(&t, code, now)
}

fn account_key(email: &str) -> String {
    format!("staff:{}", crate::accounts::limits::account_key(email))
}

fn address_key(ip: IpAddr) -> String {
    format!("staff-{}", client_keys(ip).0)
}

/// Records a failed staff login (C22): the account if the e-mail names
/// one, else nobody known; the network; why.
async fn login_failed(
    svc: &Services,
    staff: Option<StaffId>,
    ip: IpAddr,
    reason: &str,
) -> Result<(), StoreError> {
    let (actor, target) = match staff {
        Some(s) => (
            Actor::Staff(s.as_uuid()),
            Some(AuditTarget::staff(s.as_uuid())),
        ),
        None => (Actor::Anonymous, None),
    };
    svc.metrics.staff_login_failures.inc();
    let entry = crate::audit::entry(
        svc,
        actor,
        AuditAction::StaffLoginFailed,
        target,
        Some(ip),
        reason,
        serde_json::json!({}),
    );
    svc.store.commit(&Changes::new().audited(entry)).await
}

/// Records a failed step-up of a signed-in staff member (C22): who, why,
/// from which network. The step-up is refused either way; an entry that
/// cannot be written refuses it with an error instead.
pub(crate) async fn step_up_failed(
    svc: &Services,
    current: &CurrentStaff,
    ip: IpAddr,
    reason: &str,
) -> Result<(), StoreError> {
    let id = current.account.id.as_uuid();
    let entry = crate::audit::entry(
        svc,
        Actor::Staff(id),
        AuditAction::StaffStepUpFailed,
        Some(AuditTarget::staff(id)),
        Some(ip),
        reason,
        serde_json::json!({}),
    );
    svc.store.commit(&Changes::new().audited(entry)).await
}

/// The write that notes the network (IPv4 /24, IPv6 /48,
/// [`crate::audit::network_of`]) a staff member signs in from, put in the
/// login's bundle: its keyed hash (the key ring's blind-index key, domain
/// `staff-network`), so the database tells whether a network is new for
/// the member without holding the network. A network first seen while
/// others were known raises the `staff_new_network` alert (C29,
/// [`crate::monitoring`]).
pub fn network_seen(svc: &Services, staff: StaffId, ip: IpAddr) -> Write {
    let network = crate::audit::network_of(ip);
    Write::NoteStaffNetwork {
        staff,
        network_hash: svc
            .keys
            .ring()
            .blind_index(STAFF_NETWORK_DOMAIN, network.as_bytes()),
        at: svc.now(),
    }
}

/// The blind-index domain of staff members' networks.
const STAFF_NETWORK_DOMAIN: &str = "staff-network";

/// A new staff session's cookie token.
#[derive(Debug)]
pub struct StaffLogin {
    pub staff: StaffId,
    pub token: SessionToken,
}

/// Logs a staff member in with e-mail and a current TOTP code. No session
/// without both.
pub async fn login(
    svc: &Services,
    email: &str,
    code: &str,
    ip: IpAddr,
) -> Result<StaffLogin, LoginError> {
    let now = svc.now();
    let limits = &svc.settings.limits;
    let throttle = svc.store.throttle();
    let addr = address_key(ip);
    if throttle
        .failures_in_window(&addr, now, limits.window())
        .await?
        >= limits.max_failures_per_ip
    {
        // Logged by the caller, not audited: the address is over its
        // failures already, and an entry per refusal would let it fill the
        // audit log.
        return Err(LoginError::Throttled);
    }
    let acct = account_key(email);
    let reservation = throttle
        .reserve_attempt(&acct, now, &limits.policy())
        .await?;
    let record = match EmailAddress::parse(email) {
        Some(e) => svc.store.staff().find_staff_by_email(&e).await?,
        None => None,
    };
    let step = match (&reservation, &record) {
        (Reservation::Allowed { .. }, Some(r)) => verify(svc, r, code, now),
        _ => None,
    };
    let known = record.as_ref().map(|r| r.id);
    let (Some(step), Some(r)) = (step, record) else {
        throttle.note_failure(&[addr], now, limits.window()).await?;
        login_failed(svc, known, ip, "wrong_code_or_account").await?;
        tracing::info!("staff login failed");
        return Err(LoginError::Invalid);
    };
    let token = SessionToken::generate(&mut svc.random.rng());
    let s = &svc.settings.staff;
    let changes = Changes::new()
        .with(Write::UseTotpStep { staff: r.id, step })
        .with(Write::CreateStaffSession(NewStaffSession {
            id: svc.new_id(),
            token_hash: *token.hash().as_bytes(),
            staff_id: r.id,
            created_at: now,
            absolute_expires_at: now + s.absolute_lifetime(),
            idle_expires_at: now + s.idle_timeout(),
            second_factor_at: now,
            ip: ip.to_string(),
        }))
        .with(network_seen(svc, r.id, ip));
    let changes = changes.audited(crate::audit::entry(
        svc,
        Actor::Staff(r.id.as_uuid()),
        AuditAction::StaffLogin,
        Some(AuditTarget::staff(r.id.as_uuid())),
        Some(ip),
        "totp",
        serde_json::json!({}),
    ));
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        Err(StoreError::Precondition(g)) if g == guards::TOTP_USED => {
            throttle
                .note_failure(&[address_key(ip)], now, limits.window())
                .await?;
            login_failed(svc, Some(r.id), ip, "code_replayed").await?;
            return Err(LoginError::Invalid);
        }
        Err(e) => return Err(e.into()),
    }
    throttle.reset(&acct).await?;
    svc.metrics.staff_logins.inc();
    tracing::info!(staff = %r.id, "staff login");
    Ok(StaffLogin { staff: r.id, token })
}

/// The session a staff cookie names and its account, if both are live
/// (a disabled account's sessions are gone; this checks again).
#[derive(Debug, Clone)]
pub struct CurrentStaff {
    pub session: StaffSessionRecord,
    pub account: StaffAccount,
    /// The shipping staff member's open shift (C24), read with the
    /// session on every request; `None` for other roles.
    pub shift: Option<ShiftRecord>,
}

impl CurrentStaff {
    /// On an open shift checked in from this session: the sign-in on the
    /// terminal the shift checked out (C24).
    pub fn on_shift(&self) -> bool {
        self.shift
            .as_ref()
            .is_some_and(|s| s.is_open() && s.session == self.session.id)
    }
}

/// Only write `last_seen_at` when it is older than this.
const TOUCH_EVERY: anshin_domain::Duration = anshin_domain::Duration::from_micros(30_000_000);

pub async fn current(
    svc: &Services,
    token: &SessionToken,
) -> Result<Option<CurrentStaff>, StoreError> {
    let now = svc.now();
    let repo = svc.store.staff();
    let Some(session) = repo
        .find_live_staff_session(token.hash().as_bytes(), now)
        .await?
    else {
        return Ok(None);
    };
    let Some(r) = repo.find_staff(session.staff_id).await? else {
        return Ok(None);
    };
    if r.status != StaffStatus::Active {
        return Ok(None);
    }
    if now.since(session.last_seen_at) >= TOUCH_EVERY {
        let idle = now + svc.settings.staff.idle_timeout();
        repo.touch_staff_session(session.id, now, idle).await?;
    }
    let shift = if matches!(
        r.role,
        StaffRole::ShippingWorker | StaffRole::ShippingManager
    ) {
        svc.store.centre().open_shift_of(r.id).await?
    } else {
        None
    };
    Ok(Some(CurrentStaff {
        session,
        account: StaffAccount::from(&r),
        shift,
    }))
}

/// Proves the second factor again on a live session (step-up).
pub async fn step_up(
    svc: &Services,
    current: &CurrentStaff,
    code: &str,
    ip: IpAddr,
) -> Result<(), LoginError> {
    let now = svc.now();
    let limits = &svc.settings.limits;
    let throttle = svc.store.throttle();
    let acct = account_key(current.account.email.as_str());
    if let Reservation::Locked { .. } = throttle
        .reserve_attempt(&acct, now, &limits.policy())
        .await?
    {
        return Err(LoginError::Invalid);
    }
    let record = svc
        .store
        .staff()
        .find_staff(current.account.id)
        .await?
        .ok_or(LoginError::Invalid)?;
    let Some(step) = verify(svc, &record, code, now) else {
        throttle
            .note_failure(&[address_key(ip)], now, limits.window())
            .await?;
        step_up_failed(svc, current, ip, "wrong_code").await?;
        return Err(LoginError::Invalid);
    };
    let changes = Changes::new()
        .with(Write::UseTotpStep {
            staff: record.id,
            step,
        })
        .with(Write::StaffStepUp {
            session: current.session.id,
            at: now,
        });
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        Err(StoreError::Precondition(g)) if g == guards::TOTP_USED => {
            return Err(LoginError::Invalid);
        }
        Err(e) => return Err(e.into()),
    }
    throttle.reset(&acct).await?;
    Ok(())
}

/// Ends a staff session (logout), recorded in the same bundle.
pub async fn logout(svc: &Services, current: &CurrentStaff, ip: IpAddr) -> Result<(), StoreError> {
    let who = current.account.id.as_uuid();
    svc.store
        .commit(
            &Changes::new()
                .with(Write::EndStaffSession(current.session.id))
                .audited(crate::audit::entry(
                    svc,
                    Actor::Staff(who),
                    AuditAction::StaffLogout,
                    Some(AuditTarget::staff(who)),
                    Some(ip),
                    "own_session",
                    serde_json::json!({}),
                )),
        )
        .await
}

/// The code an authenticator shows for `secret_base32` at `at` (for tests
/// and tools that stand in for the person's app).
pub fn code_at(secret_base32: &str, at: Timestamp) -> Option<String> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).ok()?;
    let t = Builder::new()
        .with_secret(secret)
        .with_step_duration(TOTP_STEP_SECS)
        .with_digits(6)
        .build()
        .ok()?;
    Some(t.generate(unix_secs(at)).to_string())
}
