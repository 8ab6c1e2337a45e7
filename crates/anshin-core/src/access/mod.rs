//! The access control policy of the staff console (C27): one table,
//! deny by default, evaluated by one function ([`decide`]) that the
//! console's guard calls in front of every route and that core use cases
//! staff call can call too. Design: `docs/adr/0010-access-control.md`;
//! the human-readable form, `docs/access-control.md`, is generated from
//! [`POLICY`] (a test fails when the committed file is stale).
//!
//! A rule names an [`Action`], the roles that may take it, the network
//! [`Area`] it belongs to (whose `staff.areas.<area>.allowed_networks`
//! the client must be in, when configured), and whether it needs a recent
//! second factor (step-up, `staff.step_up_secs`): every action that
//! changes data or reveals personal data does. An action without a rule
//! cannot exist (the `match` in [`rule`] is exhaustive), and a request
//! that names no action is refused by the guard.
//!
//! Two conditions of the shipping centre (issue 15) are fields of
//! [`Rule`] and [`Context`] like the two above, checked in [`decide`]
//! after them:
//! - **an open shift on a checked-out terminal** (C24, [`Rule::shift`],
//!   [`Context::on_shift`]): the staff member has an open shift, and it
//!   was checked in from this very console session (the sign-in on the
//!   terminal they checked out). Every shipping action but checking in
//!   and the manager's registry and shift log needs it;
//! - **requester ≠ approver** (C25, [`Rule::not_requester`],
//!   [`Context::requester`]): whoever decides a void request is not the
//!   person who made it. The console's guard does not know the request
//!   yet (`requester: None`); the core use case reads it and decides again
//!   with it filled in.

use std::net::IpAddr;

use anshin_domain::{Duration, StaffId, StaffRole, Timestamp};

mod settings;

pub use settings::{AreaSettings, DEFAULT_LABEL_FONT, StaffSettings};

/// Something a staff member (or a visitor of the staff listener) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The login and enrolment pages and the console's static assets:
    /// anyone the network allowlist let in, with or without a session.
    SignIn,
    /// Log out.
    SignOut,
    /// Prove the second factor again (step-up).
    StepUp,
    /// The console's home page: what the role may do.
    ViewHome,
    /// The list of staff accounts (their e-mail addresses: personal data).
    ListStaff,
    /// Create a staff account with a one-time enrolment link.
    AddStaff,
    /// Disable a staff account (and end its sessions).
    DisableStaff,
    /// Change a staff member's role (and end their sessions); never
    /// one's own, never the last active administrator's.
    ChangeStaffRole,
    /// Look a member up (by id, or by e-mail typed into a form) and see
    /// their account and personal data: e-mail, shipping addresses, phone.
    /// Each view is recorded in the audit log first (C22).
    ViewMemberData,
    /// Read the audit log, filtered by person, record and time (C22).
    ViewAuditLog,
    /// One's own security page: one's passkeys.
    ViewOwnSecurity,
    /// Add or remove one's own passkeys (a second factor: needs a fresh
    /// one).
    ManageOwnPasskeys,
    /// The incidents (C28): the list, one incident's page with its
    /// timeline and notification progress.
    ViewIncidents,
    /// Open an incident record.
    OpenIncident,
    /// End sessions in an incident: every member's, one member's, every
    /// staff member's.
    IncidentEndSessions,
    /// Lock a member in an incident (no login, no session served).
    IncidentLockMember,
    /// Lift a member's lock.
    IncidentUnlockMember,
    /// Remove a member's password (or every member's) and end their
    /// sessions.
    IncidentForcePasswordReset,
    /// Rotate the key encryption key (the existing rotation, audited).
    IncidentRotateKeys,
    /// Disable a staff account in an incident (and end its sessions).
    IncidentDisableStaff,
    /// Mail affected members a notice (a fixed template) through the
    /// outbox; resumable.
    IncidentNotifyMembers,
    /// Close an incident with its lessons learned.
    CloseIncident,
    /// The shift page, and checking in to a shift on a registered,
    /// available terminal (or moving one's open shift to this sign-in).
    CheckIn,
    /// Check out, returning the terminal.
    CheckOut,
    /// The terminal registry: list, register, retire.
    ManageTerminals,
    /// The shift log: who, which terminal, from, to.
    ViewShiftLog,
    /// End another worker's open shift (a manager; recorded).
    EndOthersShift,
    /// Ask for a waybill to be voided (C25).
    RequestVoid,
    /// The void requests waiting for a manager.
    ReviewVoids,
    /// Approve or reject a void request (another person's, C25).
    DecideVoid,
    /// Accept a parcel at the counter: type or scan its drop-off code;
    /// the code is used up and the acceptance audited (C22, C24).
    AcceptParcel,
    /// See (and print) a shipping label: each fetch of the label image is
    /// a view of both parties' addresses, audited first (C19, C22, C23).
    ViewLabel,
    /// Enter a parcel event (in transit, delivered) in the console,
    /// audited.
    RecordParcelEvent,
    /// The security alerts (C29): what is on now and the latest ones.
    ViewAlerts,
    /// Withdraw a member on their request (C18): everything tied to the
    /// account is erased at once.
    WithdrawMember,
    /// The payouts (C16): requested ones, the batches and their items
    /// (amounts and masked accounts).
    ViewPayouts,
    /// Put every requested payout in a new batch.
    BuildPayoutBatch,
    /// Export a batch's Zengin transfer file (bank details in clear, for
    /// the bank).
    ExportPayoutBatch,
    /// Import the bank's result file, or mark a payout paid or failed by
    /// hand.
    SettlePayouts,
    /// The vulnerability reports sent through `/security` (C5): the list,
    /// and one report opened (its text and the reporter's address).
    ViewVdpReports,
    /// Triage a vulnerability report: change its status, add a note.
    TriageVdpReports,
}

impl Action {
    pub const ALL: [Action; 41] = [
        Action::SignIn,
        Action::SignOut,
        Action::StepUp,
        Action::ViewHome,
        Action::ListStaff,
        Action::AddStaff,
        Action::DisableStaff,
        Action::ChangeStaffRole,
        Action::ViewMemberData,
        Action::ViewAuditLog,
        Action::ViewOwnSecurity,
        Action::ManageOwnPasskeys,
        Action::ViewIncidents,
        Action::OpenIncident,
        Action::IncidentEndSessions,
        Action::IncidentLockMember,
        Action::IncidentUnlockMember,
        Action::IncidentForcePasswordReset,
        Action::IncidentRotateKeys,
        Action::IncidentDisableStaff,
        Action::IncidentNotifyMembers,
        Action::CloseIncident,
        Action::CheckIn,
        Action::CheckOut,
        Action::ManageTerminals,
        Action::ViewShiftLog,
        Action::EndOthersShift,
        Action::RequestVoid,
        Action::ReviewVoids,
        Action::DecideVoid,
        Action::AcceptParcel,
        Action::ViewLabel,
        Action::RecordParcelEvent,
        Action::ViewAlerts,
        Action::WithdrawMember,
        Action::ViewPayouts,
        Action::BuildPayoutBatch,
        Action::ExportPayoutBatch,
        Action::SettlePayouts,
        Action::ViewVdpReports,
        Action::TriageVdpReports,
    ];

    /// The name in the generated document and in audit entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignOut => "sign_out",
            Action::StepUp => "step_up",
            Action::ViewHome => "view_home",
            Action::ListStaff => "list_staff",
            Action::AddStaff => "add_staff",
            Action::DisableStaff => "disable_staff",
            Action::ChangeStaffRole => "change_staff_role",
            Action::ViewMemberData => "view_member_data",
            Action::ViewAuditLog => "view_audit_log",
            Action::ViewOwnSecurity => "view_own_security",
            Action::ManageOwnPasskeys => "manage_own_passkeys",
            Action::ViewIncidents => "view_incidents",
            Action::OpenIncident => "open_incident",
            Action::IncidentEndSessions => "incident_end_sessions",
            Action::IncidentLockMember => "incident_lock_member",
            Action::IncidentUnlockMember => "incident_unlock_member",
            Action::IncidentForcePasswordReset => "incident_force_password_reset",
            Action::IncidentRotateKeys => "incident_rotate_keys",
            Action::IncidentDisableStaff => "incident_disable_staff",
            Action::IncidentNotifyMembers => "incident_notify_members",
            Action::CloseIncident => "close_incident",
            Action::CheckIn => "shift_check_in",
            Action::CheckOut => "shift_check_out",
            Action::ManageTerminals => "manage_terminals",
            Action::ViewShiftLog => "view_shift_log",
            Action::EndOthersShift => "end_others_shift",
            Action::RequestVoid => "request_void",
            Action::ReviewVoids => "review_voids",
            Action::DecideVoid => "decide_void",
            Action::AcceptParcel => "accept_parcel",
            Action::ViewLabel => "view_label",
            Action::RecordParcelEvent => "record_parcel_event",
            Action::ViewAlerts => "view_alerts",
            Action::WithdrawMember => "withdraw_member",
            Action::ViewPayouts => "view_payouts",
            Action::BuildPayoutBatch => "build_payout_batch",
            Action::ExportPayoutBatch => "export_payout_batch",
            Action::SettlePayouts => "settle_payouts",
            Action::ViewVdpReports => "view_vdp_reports",
            Action::TriageVdpReports => "triage_vdp_reports",
        }
    }
}

/// A part of the console with its own network allowlist
/// (`staff.areas.<area>.allowed_networks`), inside the listener's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// Login, home, step-up: the listener's allowlist only (unless
    /// `staff.areas.console` narrows it).
    Console,
    /// Staff accounts.
    Admin,
    /// Audit log and incidents (issue 14).
    Security,
    /// Members' accounts and personal data (support).
    Support,
    /// Payouts and the ledger (later).
    Finance,
    /// The shipping centre (C20): shifts, terminals, void requests.
    Shipping,
}

impl Area {
    pub const ALL: [Area; 6] = [
        Area::Console,
        Area::Admin,
        Area::Security,
        Area::Support,
        Area::Finance,
        Area::Shipping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Area::Console => "console",
            Area::Admin => "admin",
            Area::Security => "security",
            Area::Support => "support",
            Area::Finance => "finance",
            Area::Shipping => "shipping",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// Who may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone who reached the listener (no session needed).
    Anyone,
    /// Any logged-in staff member, whatever the role.
    AnyStaff,
    /// Logged-in staff with one of these roles.
    Roles(&'static [StaffRole]),
}

/// One entry of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub who: Who,
    pub area: Area,
    /// Needs a second factor no older than `staff.step_up_secs`.
    pub step_up: bool,
    /// Needs an open shift checked in from this session (C24).
    pub shift: bool,
    /// The doer must not be the requester of the record acted on (C25).
    pub not_requester: bool,
    /// What the action is, for the generated document (English).
    pub summary: &'static str,
}

const ADMIN: &[StaffRole] = &[StaffRole::Admin];
const SUPPORT: &[StaffRole] = &[StaffRole::Support];
const SECURITY: &[StaffRole] = &[StaffRole::Security];
/// Who reads incidents: the incident lead (`security`) and the operator
/// (`admin`), who runs at the shell what the lead decides
/// (docs/incident-response.md) and reads the timeline here. See
/// [`DECISIONS`].
const INCIDENT_READERS: &[StaffRole] = &[StaffRole::Security, StaffRole::Admin];
/// Who works shifts in the shipping centre: workers and managers (a
/// manager approves voids on a shift of their own).
const SHIPPING: &[StaffRole] = &[StaffRole::ShippingWorker, StaffRole::ShippingManager];
const SHIPPING_MANAGER: &[StaffRole] = &[StaffRole::ShippingManager];
const FINANCE: &[StaffRole] = &[StaffRole::Finance];

/// Choices of the policy that its table alone does not explain, for the
/// generated document (English): (subject, decision and why).
pub const DECISIONS: &[(&str, &str)] = &[
    (
        "Incidents (C28)",
        "Every containment act in the console (open, end sessions, lock and unlock, force a \
     password reset, rotate keys, disable a staff account, notify members, close) is the \
     `security` role's alone: the incident lead decides and acts (docs/incident-response.md). \
     `admin` may read the incidents and their timelines, not act: the operator runs at the \
     shell (`anshin incident …`, recorded as the system) what the lead decided, and an admin \
     account taken over cannot lock members, remove passwords, rotate keys or mail every \
     member from the console; in turn the `security` role cannot create staff accounts or \
     change roles, so neither role can give itself the other's power. Every incident page \
     and act needs a recent second factor (the titles and timelines name accounts, if only \
     by pseudonymous id), and the core acts check this policy again for a staff doer. \
     Nobody disables their own account in an incident (another person, or the shell, does).",
    ),
    (
        "Shifts and equipment (C24)",
        "Shipping work needs an open shift on a checked-out terminal: the staff member checked \
         in on a registered, active terminal from this very console session (another sign-in \
         of the same person, on another machine, is not on the shift and is sent to the shift \
         page, where it may move the shift to itself: recorded). Checking in and the \
         managers' terminal registry and shift log need no shift (a manager may fix the \
         registry from the office). One open shift per worker and per terminal is kept by the \
         database. Disabling an account ends its sessions and its open shift at once, so the \
         next request of a worker disabled mid-shift is a stranger's.",
    ),
    (
        "Voiding a waybill (C25)",
        "A worker or a manager on shift asks; only a `shipping_manager` on a shift of their \
         own decides, and never on their own request (requester ≠ approver, checked by the \
         policy with the request read by the core, and again by the database). A decided \
         request is not decided again; the same manager approving twice counts once. Both \
         steps are in the audit log.",
    ),
];

/// The rule of an action. Exhaustive: a new action does not compile
/// until it has one.
pub const fn rule(action: Action) -> Rule {
    let (who, area, step_up, summary) = match action {
        Action::SignIn => (
            Who::Anyone,
            Area::Console,
            false,
            "log in with e-mail and second factor (passkey or TOTP); enrol a second factor; static assets",
        ),
        Action::SignOut => (Who::AnyStaff, Area::Console, false, "log out"),
        Action::StepUp => (
            Who::AnyStaff,
            Area::Console,
            false,
            "prove the second factor again (passkey or TOTP)",
        ),
        Action::ViewHome => (
            Who::AnyStaff,
            Area::Console,
            false,
            "the console's home page (what the role may do)",
        ),
        Action::ListStaff => (
            Who::Roles(ADMIN),
            Area::Admin,
            true,
            "list staff accounts (their e-mail addresses)",
        ),
        Action::AddStaff => (
            Who::Roles(ADMIN),
            Area::Admin,
            true,
            "create a staff account and its one-time enrolment link",
        ),
        Action::DisableStaff => (
            Who::Roles(ADMIN),
            Area::Admin,
            true,
            "disable a staff account and end its sessions",
        ),
        Action::ChangeStaffRole => (
            Who::Roles(ADMIN),
            Area::Admin,
            true,
            "change a staff member's role (never one's own, never the last active \
             administrator's, never a disabled account's) and end their sessions; the new \
             role applies from their next login",
        ),
        Action::ViewMemberData => (
            Who::Roles(SUPPORT),
            Area::Support,
            true,
            "look a member up (id, or e-mail typed into a form) and see their account, \
             e-mail, shipping addresses and phone; each view is audited first and refused \
             if its audit entry cannot be written",
        ),
        Action::ViewAuditLog => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "read the audit log, filtered by person, record and time (details not shown)",
        ),
        Action::ViewOwnSecurity => (
            Who::AnyStaff,
            Area::Console,
            false,
            "one's own security page (one's passkeys)",
        ),
        Action::ManageOwnPasskeys => (
            Who::AnyStaff,
            Area::Console,
            true,
            "add or remove one's own passkeys (WebAuthn)",
        ),
        Action::ViewIncidents => (
            Who::Roles(INCIDENT_READERS),
            Area::Security,
            true,
            "list incidents; see one with its timeline and notification progress (read only)",
        ),
        Action::OpenIncident => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "open an incident record (a title; its timeline starts)",
        ),
        Action::IncidentEndSessions => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "in an open incident: end every member session, one member's sessions, and/or every \
             staff session",
        ),
        Action::IncidentLockMember => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "in an open incident: lock a member (no login, no session served; sessions ended)",
        ),
        Action::IncidentUnlockMember => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "in an open incident: lift a member's lock",
        ),
        Action::IncidentForcePasswordReset => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "in an open incident: remove a member's password (or every member's) and end their \
             sessions",
        ),
        Action::IncidentRotateKeys => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "in an open incident: rotate the key encryption key (recorded before and after)",
        ),
        Action::IncidentDisableStaff => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "in an open incident: disable a staff account (not one's own) and end its sessions",
        ),
        Action::IncidentNotifyMembers => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "in an open incident: mail named members or every member a fixed notice through the \
             outbox; resumable",
        ),
        Action::CloseIncident => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "close an open incident with its lessons learned",
        ),
        Action::CheckIn => (
            Who::Roles(SHIPPING),
            Area::Shipping,
            true,
            "the shift page; check in to a shift on a registered, available terminal (one open \
             shift per person and per terminal), or move one's open shift to this sign-in",
        ),
        Action::CheckOut => (
            Who::Roles(SHIPPING),
            Area::Shipping,
            true,
            "check out, returning the terminal",
        ),
        Action::ManageTerminals => (
            Who::Roles(SHIPPING_MANAGER),
            Area::Shipping,
            true,
            "the terminal registry: list, register (label, serial), retire (not while checked \
             out)",
        ),
        Action::ViewShiftLog => (
            Who::Roles(SHIPPING_MANAGER),
            Area::Shipping,
            true,
            "the shift log: who, which terminal, from, to, how it ended",
        ),
        Action::EndOthersShift => (
            Who::Roles(SHIPPING_MANAGER),
            Area::Shipping,
            true,
            "end another worker's open shift (forgotten open, the worker gone), returning the \
             terminal; recorded; never one's own (check out instead)",
        ),
        Action::RequestVoid => (
            Who::Roles(SHIPPING),
            Area::Shipping,
            true,
            "ask for a waybill to be voided, with a reason",
        ),
        Action::ReviewVoids => (
            Who::Roles(SHIPPING_MANAGER),
            Area::Shipping,
            true,
            "the void requests waiting for a manager",
        ),
        Action::DecideVoid => (
            Who::Roles(SHIPPING_MANAGER),
            Area::Shipping,
            true,
            "approve or reject a void request: never one's own; once",
        ),
        Action::AcceptParcel => (
            Who::Roles(SHIPPING),
            Area::Shipping,
            true,
            "accept a parcel: type or scan its drop-off code (single use); the acceptance and \
             its audit entry (worker, shipment, terminal, shift) commit together",
        ),
        Action::ViewLabel => (
            Who::Roles(SHIPPING),
            Area::Shipping,
            true,
            "see and print an accepted parcel's label, an image rendered on the server; every \
             fetch of the image is a view, audited first (worker, shipment, terminal, shift) \
             and refused if its entry cannot be written",
        ),
        Action::RecordParcelEvent => (
            Who::Roles(SHIPPING),
            Area::Shipping,
            true,
            "enter a parcel event (in transit, delivered) for an accepted parcel, audited",
        ),
        Action::ViewAlerts => (
            Who::Roles(SECURITY),
            Area::Security,
            false,
            "see the security alerts (on now and the latest) and the weekly self-scan reports \
             (rule, subject, numbers, times, crate versions, advisory ids; no personal data, \
             so no recent second factor needed)",
        ),
        Action::WithdrawMember => (
            Who::Roles(SUPPORT),
            Area::Support,
            true,
            "withdraw a member on their request: their personal data, data key, sessions, \
             password and e-mail address are erased at once and their shop hidden; waits for \
             open orders and an unpaid balance (C18)",
        ),
        Action::ViewPayouts => (
            Who::Roles(FINANCE),
            Area::Finance,
            true,
            "see requested payouts, the batches and their items (amounts, masked account \
             numbers)",
        ),
        Action::BuildPayoutBatch => (
            Who::Roles(FINANCE),
            Area::Finance,
            true,
            "put every requested payout in a new batch (each payout in one batch at most)",
        ),
        Action::ExportPayoutBatch => (
            Who::Roles(FINANCE),
            Area::Finance,
            true,
            "download a batch's Zengin transfer file (refused, naming the payouts, if a name \
             does not convert to Zengin kana); each download audited with the file's hash",
        ),
        Action::SettlePayouts => (
            Who::Roles(FINANCE),
            Area::Finance,
            true,
            "import the bank's result file of a batch, or mark one payout paid or failed by \
             hand; each payout settles once (a repeated import changes nothing)",
        ),
        Action::ViewVdpReports => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "list the vulnerability reports sent through /security (tracking id, status, \
             times) and open one (the reporter's address, the text and the triage notes, \
             decrypted); each opening is audited first and refused if its entry cannot be \
             written (C5)",
        ),
        Action::TriageVdpReports => (
            Who::Roles(SECURITY),
            Area::Security,
            true,
            "set a vulnerability report's status (new, confirmed, fixed, rejected) or add a \
             triage note (sealed like the report); each act audited without the note's text",
        ),
    };
    let shift = matches!(
        action,
        Action::CheckOut
            | Action::RequestVoid
            | Action::ReviewVoids
            | Action::DecideVoid
            | Action::AcceptParcel
            | Action::ViewLabel
            | Action::RecordParcelEvent
    );
    let not_requester = matches!(action, Action::DecideVoid);
    Rule {
        action,
        who,
        area,
        step_up,
        shift,
        not_requester,
        summary,
    }
}

/// Every rule, in [`Action::ALL`] order.
pub fn policy() -> Vec<Rule> {
    Action::ALL.into_iter().map(rule).collect()
}

/// What the policy knows about a request.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The logged-in staff member's role; `None` without a session.
    pub role: Option<StaffRole>,
    /// When the session last proved the second factor.
    pub second_factor_at: Option<Timestamp>,
    /// The client address (after the trusted-proxy rule).
    pub ip: IpAddr,
    pub now: Timestamp,
    /// The staff member acting; `None` without a session.
    pub staff: Option<StaffId>,
    /// The staff member has an open shift checked in from this session
    /// (C24).
    pub on_shift: bool,
    /// Who made the request acted on (a void request, C25); `None` where
    /// no record is named yet (the console's guard).
    pub requester: Option<StaffId>,
}

/// The outcome, with the reason an audit entry will record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The client is outside the area's networks.
    DenyNetwork,
    /// No session, and the action needs one.
    DenyNotSignedIn,
    /// The role may not take the action.
    DenyRole,
    /// The role may, but the second factor is too old: step up first.
    DenyStepUp,
    /// The action needs an open shift checked in from this session (C24).
    DenyNoShift,
    /// The doer made the request they would decide (C25).
    DenyOwnRequest,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }

    pub fn reason(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::DenyNetwork => "network_not_allowed",
            Decision::DenyNotSignedIn => "not_signed_in",
            Decision::DenyRole => "role_not_allowed",
            Decision::DenyStepUp => "step_up_required",
            Decision::DenyNoShift => "no_open_shift",
            Decision::DenyOwnRequest => "own_request",
        }
    }
}

/// Whether `role` may take `action` at all (conditions aside): what the
/// home page lists and the role matrix is built from.
pub fn role_may(role: StaffRole, action: Action) -> bool {
    match rule(action).who {
        Who::Anyone | Who::AnyStaff => true,
        Who::Roles(roles) => roles.contains(&role),
    }
}

/// The one decision: network area first, then who, then step-up, then
/// the shift, then requester ≠ approver.
pub fn decide(settings: &StaffSettings, action: Action, ctx: &Context) -> Decision {
    let rule = rule(action);
    if !settings.area_allows(rule.area, ctx.ip) {
        return Decision::DenyNetwork;
    }
    let role = match (rule.who, ctx.role) {
        (Who::Anyone, _) => return Decision::Allow,
        (_, None) => return Decision::DenyNotSignedIn,
        (_, Some(role)) => role,
    };
    if !role_may(role, action) {
        return Decision::DenyRole;
    }
    if rule.step_up {
        let window = Duration::from_secs(settings.step_up_secs);
        let fresh = ctx
            .second_factor_at
            .is_some_and(|at| ctx.now.since(at) <= window);
        if !fresh {
            return Decision::DenyStepUp;
        }
    }
    if rule.shift && !ctx.on_shift {
        return Decision::DenyNoShift;
    }
    if rule.not_requester
        && ctx.requester.is_some()
        && (ctx.staff.is_none() || ctx.requester == ctx.staff)
    {
        return Decision::DenyOwnRequest;
    }
    Decision::Allow
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(role: Option<StaffRole>, age_secs: i64) -> Context {
        let now = Timestamp::from_micros(1_000_000_000_000);
        Context {
            role,
            second_factor_at: Some(Timestamp::from_micros(now.micros() - age_secs * 1_000_000)),
            ip: "127.0.0.1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1])),
            now,
            staff: None,
            on_shift: false,
            requester: None,
        }
    }

    #[test]
    fn c27_deny_by_default_and_step_up_is_a_condition_beyond_role() {
        let s = StaffSettings::default();
        assert_eq!(
            decide(&s, Action::ListStaff, &ctx(None, 0)),
            Decision::DenyNotSignedIn
        );
        assert_eq!(
            decide(&s, Action::ListStaff, &ctx(Some(StaffRole::Support), 0)),
            Decision::DenyRole
        );
        assert_eq!(
            decide(&s, Action::ListStaff, &ctx(Some(StaffRole::Admin), 0)),
            Decision::Allow
        );
        let stale = i64::try_from(s.step_up_secs).unwrap_or(0) + 1;
        assert_eq!(
            decide(&s, Action::ListStaff, &ctx(Some(StaffRole::Admin), stale)),
            Decision::DenyStepUp
        );
        assert_eq!(decide(&s, Action::SignIn, &ctx(None, 0)), Decision::Allow);
    }

    #[test]
    fn c27_an_area_network_is_a_condition_beyond_role() {
        let mut s = StaffSettings::default();
        s.areas.insert(
            "admin".into(),
            AreaSettings {
                allowed_networks: vec!["10.0.0.0/8".parse().unwrap_or_default()],
            },
        );
        assert_eq!(
            decide(&s, Action::ListStaff, &ctx(Some(StaffRole::Admin), 0)),
            Decision::DenyNetwork
        );
        assert_eq!(
            decide(&s, Action::ViewHome, &ctx(Some(StaffRole::Admin), 0)),
            Decision::Allow
        );
    }

    /// The incident decision (`DECISIONS`): every act is the security
    /// role's alone, admin reads, nobody else sees incidents; all need a
    /// fresh second factor and sit in the security area.
    #[test]
    fn c27_incident_acts_are_securitys_and_admin_only_reads() {
        let acts = [
            Action::OpenIncident,
            Action::IncidentEndSessions,
            Action::IncidentLockMember,
            Action::IncidentUnlockMember,
            Action::IncidentForcePasswordReset,
            Action::IncidentRotateKeys,
            Action::IncidentDisableStaff,
            Action::IncidentNotifyMembers,
            Action::CloseIncident,
        ];
        for role in StaffRole::ALL {
            for a in acts {
                assert_eq!(
                    role_may(role, a),
                    role == StaffRole::Security,
                    "{role} {a:?}"
                );
            }
            assert_eq!(
                role_may(role, Action::ViewIncidents),
                matches!(role, StaffRole::Security | StaffRole::Admin),
                "{role}"
            );
        }
        for a in acts.into_iter().chain([Action::ViewIncidents]) {
            let r = rule(a);
            assert!(r.step_up, "{a:?}");
            assert_eq!(r.area, Area::Security, "{a:?}");
        }
    }

    fn staff_id(n: u128) -> StaffId {
        StaffId::from_uuid(uuid::Uuid::from_u128(n))
    }

    /// C24: every shipping action but checking in and the managers'
    /// registry and shift log needs an open shift checked in from this
    /// session; without one, the decision says so (after role and
    /// step-up, which it does not replace).
    #[test]
    fn c24_shipping_work_needs_an_open_shift() {
        let s = StaffSettings::default();
        let needs = [
            Action::CheckOut,
            Action::RequestVoid,
            Action::ReviewVoids,
            Action::DecideVoid,
            Action::AcceptParcel,
            Action::ViewLabel,
            Action::RecordParcelEvent,
        ];
        let free = [
            Action::CheckIn,
            Action::ManageTerminals,
            Action::ViewShiftLog,
            Action::EndOthersShift,
        ];
        let manager = |on_shift| Context {
            staff: Some(staff_id(1)),
            on_shift,
            ..ctx(Some(StaffRole::ShippingManager), 0)
        };
        for a in needs {
            assert!(rule(a).shift, "{a:?}");
            assert_eq!(
                decide(&s, a, &manager(false)),
                Decision::DenyNoShift,
                "{a:?}"
            );
            assert_eq!(decide(&s, a, &manager(true)), Decision::Allow, "{a:?}");
        }
        for a in free {
            assert!(!rule(a).shift, "{a:?}");
            assert_eq!(decide(&s, a, &manager(false)), Decision::Allow, "{a:?}");
        }
        // No other action needs a shift; every shipping action is in the
        // shipping area.
        for a in Action::ALL {
            let r = rule(a);
            assert_eq!(r.shift, needs.contains(&a), "{a:?}");
            assert_eq!(
                r.area == Area::Shipping,
                needs.contains(&a) || free.contains(&a),
                "{a:?}"
            );
        }
        // The role still comes first: support on a "shift" is refused.
        let support = Context {
            on_shift: true,
            ..ctx(Some(StaffRole::Support), 0)
        };
        assert_eq!(
            decide(&s, Action::RequestVoid, &support),
            Decision::DenyRole
        );
    }

    /// C25: only a manager decides a void, never on their own request;
    /// the requester unknown (the guard) is decided again by the core
    /// with it.
    #[test]
    fn c25_a_void_is_decided_by_a_manager_other_than_the_requester() {
        let s = StaffSettings::default();
        let on = |role, staff, requester: Option<u128>| Context {
            staff: Some(staff_id(staff)),
            on_shift: true,
            requester: requester.map(staff_id),
            ..ctx(Some(role), 0)
        };
        use StaffRole::{ShippingManager as M, ShippingWorker as W};
        assert_eq!(
            decide(&s, Action::DecideVoid, &on(M, 1, Some(1))),
            Decision::DenyOwnRequest
        );
        assert_eq!(
            decide(&s, Action::DecideVoid, &on(M, 1, Some(2))),
            Decision::Allow
        );
        assert_eq!(
            decide(&s, Action::DecideVoid, &on(W, 2, Some(1))),
            Decision::DenyRole
        );
        assert_eq!(
            decide(&s, Action::DecideVoid, &on(M, 1, None)),
            Decision::Allow,
            "the guard, before the request is read"
        );
        assert_eq!(
            decide(&s, Action::RequestVoid, &on(W, 2, None)),
            Decision::Allow
        );
        for role in StaffRole::ALL {
            assert_eq!(
                role_may(role, Action::DecideVoid),
                role == StaffRole::ShippingManager
            );
            assert_eq!(
                role_may(role, Action::RequestVoid),
                matches!(role, StaffRole::ShippingManager | StaffRole::ShippingWorker)
            );
        }
    }
}
