//! The one write path: everything a use case changes, as one value that
//! the store commits in one transaction (`Store::commit`).
//!
//! A use case decides; it does not write as it goes. It fills a
//! [`Changes`] with the rows to write ([`Write`]), the mails to queue, and
//! (when their issues land) the audit entries and ledger postings, then
//! hands it to the store. Either the whole bundle commits or none of it
//! does: a login never exists without its login mail and history entry, a
//! bank account never changes without its notice, and an audit entry will
//! never record an action that was rolled back.
//!
//! Guarded writes ("consume this flow if nobody has", "update this address
//! if it is the member's") fail the whole bundle with
//! [`crate::StoreError::Precondition`] naming the guard ([`guards`]).

use anshin_domain::{
    AddressId, AttemptId, AttemptStatus, DisplayName, EmailAddress, FlowId, ImageId, ItemId,
    ItemStatus, MediaKey, MemberId, OrderId, OrderStatus, ParcelEventId, ParcelEventKind, Quantity,
    RefundId, SessionId, ShipmentId, ShopDescription, ShopId, ShopName, ShopStatus, Timestamp,
};

// Limits on what one member may own: see [`Collection`], [`Write::EnsureRoom`]
// and [`Write::EndLeastRecentSessions`].

use crate::accounts::{NewFlow, NewLoginEvent, NewMember, TermsConsent};
use crate::centre::{NewShift, NewTerminal, NewVoidRequest, ShiftEnd, VoidStatus};
use crate::incidents::{NewIncident, NewTimelineEntry};
use crate::mail::NewMail;
use crate::member_data::{AddressRecord, ReauthDraftRecord};
use crate::orders::{LedgerTransaction, NewAttempt, NewOrder, NewRefund, OrderParty};
use crate::sessions::NewSession;
use crate::shops::{ImageRecord, ItemEdit, NewItem, ShopRecord};
use crate::staff::{CeremonyKind, NewStaff, NewStaffCeremony, NewStaffPasskey, NewStaffSession};

/// The names of the guards a write can fail, as carried by
/// [`crate::StoreError::Precondition`].
pub mod guards {
    /// [`super::Write::ConsumeFlow`]: the flow was used or superseded.
    pub const FLOW_CONSUMED: &str = "flow already consumed";
    /// [`super::Write::EndMemberSession`]: no such session of the member.
    pub const SESSION_NOT_FOUND: &str = "no such session of the member";
    /// An address write: no such address of the member.
    pub const ADDRESS_NOT_FOUND: &str = "no such address of the member";
    /// [`super::Write::SetDisplayName`]: no such member.
    pub const MEMBER_NOT_FOUND: &str = "no such member";
    /// [`super::Write::ChangeEmail`]: the member's address is no longer
    /// the one the change was decided from (changed meanwhile, or no
    /// such member).
    pub const EMAIL_CHANGED: &str = "the member's address changed meanwhile";
    /// [`super::Write::EnsureRoom`]: the member already owns as many as
    /// the limit allows.
    pub const LIMIT_REACHED: &str = "the member's collection is at its limit";
    /// A shop write: the member has no such shop.
    pub const SHOP_NOT_FOUND: &str = "no such shop of the member";
    /// An item write: no such item in the member's shop.
    pub const ITEM_NOT_FOUND: &str = "no such item of the member";
    /// An image write: no such image of an item of the member.
    pub const IMAGE_NOT_FOUND: &str = "no such image of the member";
    /// [`super::Write::AddItem`]: the shop has its most items already.
    pub const ITEM_LIMIT: &str = "the shop has the most items allowed";
    /// [`super::Write::AddItemImage`]: the item has its most images.
    pub const IMAGE_LIMIT: &str = "the item has the most images allowed";
    /// [`super::Write::PutInCart`]: no such item on sale in an open shop.
    pub const ITEM_NOT_FOR_SALE: &str = "the item is not for sale";
    /// [`super::Write::CreateOrder`]: an item has fewer in stock than
    /// ordered (someone else bought the last ones).
    pub const SOLD_OUT: &str = "not enough in stock";
    /// [`super::Write::CreateOrder`]: an item's price or status changed
    /// since the buyer's cart was read.
    pub const ITEM_CHANGED: &str = "the item changed";
    /// An order write: no such order of this party.
    pub const ORDER_NOT_FOUND: &str = "no such order";
    /// An order transition: the order is not in the state it must leave
    /// (another request moved it first).
    pub const ORDER_STATE: &str = "the order is not in the expected state";
    /// [`super::Write::StartAttempt`]: the order is not the buyer's, not
    /// awaiting payment, or its reservation ended.
    pub const ORDER_NOT_PAYABLE: &str = "the order cannot be paid now";
    /// [`super::Write::StartAttempt`]: another attempt is live (or took
    /// this number).
    pub const ATTEMPT_LIVE: &str = "a payment attempt is under way";
    /// An attempt write: the attempt is not live any more.
    pub const ATTEMPT_SETTLED: &str = "the payment attempt is settled";
    /// [`super::Write::RecordEvent`]: the processor event was recorded
    /// before (a redelivery).
    pub const EVENT_SEEN: &str = "the processor event was seen before";
    /// [`super::Write::StartRefund`]: the order is not refundable by this
    /// seller, or the amount passes what is left to refund.
    pub const REFUND_TOO_LARGE: &str = "the refund passes what is left to refund";
    /// [`super::Write::StartRefund`]: another refund took this number
    /// first (a double click).
    pub const REFUND_RACE: &str = "another refund was requested at the same time";
    /// [`super::Write::SettleRefund`]: the refund is settled already.
    pub const REFUND_SETTLED: &str = "the refund is settled";
    /// [`super::Write::SetStaffStatus`], [`super::Write::SetStaffRole`]:
    /// no such staff account.
    pub const STAFF_NOT_FOUND: &str = "no such staff account";
    /// [`super::Write::SetStaffRole`]: the account is disabled (its role
    /// stays as it was when it was disabled).
    pub const STAFF_NOT_ACTIVE: &str = "the staff account is disabled";
    /// [`super::Write::SetStaffRole`]: the account's role is no longer the
    /// one the change was decided from (changed meanwhile).
    pub const STAFF_ROLE_CHANGED: &str = "the staff member's role changed meanwhile";
    /// [`super::Write::SetStaffRole`]: the account is the last active
    /// administrator, whom nobody may demote (no one could manage staff
    /// in the console any more).
    pub const LAST_ADMIN: &str = "the last active administrator keeps the role";
    /// [`super::Write::EnrolStaffTotp`]: the enrolment link was used,
    /// ran out, or the account is disabled.
    pub const ENROLMENT_INVALID: &str = "the enrolment link is not valid";
    /// [`super::Write::UseTotpStep`]: a code of this time step (or a
    /// later one) was accepted before, or the account is disabled.
    pub const TOTP_USED: &str = "the code was used before";
    /// [`super::Write::UseStaffCeremony`]: the WebAuthn ceremony was
    /// finished before (a replay), ran out, or never existed.
    pub const CEREMONY_USED: &str = "the WebAuthn ceremony was used or ran out";
    /// A staff passkey write: no such passkey of the staff member.
    pub const PASSKEY_NOT_FOUND: &str = "no such passkey of the staff member";
    /// [`super::Write::CreatePayout`]: the shop's balance is less than
    /// the amount (another request took it first).
    pub const PAYOUT_BALANCE: &str = "the balance is less than the payout";
    /// [`super::Write::CreatePayout`]: a payout with this id exists (a
    /// retried request).
    pub const PAYOUT_EXISTS: &str = "the payout exists";
    /// A payout write: the payout is not in the state it must leave
    /// (batched by someone else, settled already).
    pub const PAYOUT_STATE: &str = "the payout is not in the expected state";
    /// A ledger transaction whose key was posted before.
    pub const LEDGER_POSTED: &str = "the ledger transaction was posted before";
    /// An audit entry with a field that does not fit its canonical form
    /// (a control character, an empty reason; see
    /// [`crate::AuditEntry::is_well_formed`]).
    pub const AUDIT_ENTRY_INVALID: &str = "the audit entry is not well formed";
    /// An incident write: no such incident, or it is closed.
    pub const INCIDENT_NOT_OPEN: &str = "no such open incident";
    /// [`super::Write::EnsureNotLocked`]: the member is locked by an
    /// incident.
    pub const MEMBER_LOCKED: &str = "the member is locked";
    /// [`super::Write::AdvanceNotify`]: the notification's progress moved
    /// meanwhile (another run mails the same members).
    pub const NOTIFY_MOVED: &str = "the notification progress moved meanwhile";
    /// [`super::Write::RetireTerminal`]: no such active terminal.
    pub const TERMINAL_NOT_FOUND: &str = "no such active terminal";
    /// [`super::Write::RetireTerminal`]: the terminal is checked out (an
    /// open shift holds it).
    pub const TERMINAL_IN_USE: &str = "the terminal is checked out";
    /// [`super::Write::OpenShift`]: the terminal is retired or unknown.
    pub const TERMINAL_NOT_AVAILABLE: &str = "the terminal is not available";
    /// A shift write: no such open shift of the staff member.
    pub const SHIFT_NOT_OPEN: &str = "no such open shift of the staff member";
    /// [`super::Write::DecideVoid`]: no such void request.
    pub const VOID_NOT_FOUND: &str = "no such void request";
    /// [`super::Write::DecideVoid`]: the decider is the requester (C25).
    pub const VOID_OWN_REQUEST: &str = "a void is decided by someone other than its requester";
    /// [`super::Write::DecideVoid`]: the request was decided before.
    pub const VOID_DECIDED: &str = "the void request was decided before";
    /// [`super::Write::FireAlert`]: an alert of the same rule and subject
    /// is on already (another instance fired it first).
    pub const ALERT_ON: &str = "the alert is on already";
    /// [`super::Write::ResolveAlert`]: the alert was cleared already.
    pub const ALERT_NOT_ON: &str = "the alert is not on";
    /// A shipment write: no such shipment (of this seller), or it is not
    /// in a state the write may leave (accepted already, delivered).
    pub const SHIPMENT_STATE: &str = "the shipment is not in the expected state";
    /// [`super::Write::AcceptDropoff`], [`super::Write::VoidDropoffCode`]:
    /// the drop-off code is not live (used, voided, or a void moved the
    /// shipment to a newer code meanwhile).
    pub const DROPOFF_NOT_LIVE: &str = "the drop-off code is not live";
    /// [`super::Write::WithdrawMember`]: no such member, or they withdrew
    /// already.
    pub const MEMBER_WITHDRAWN: &str = "no such member, or they withdrew already";
    /// [`super::Write::WithdrawMember`]: the member has an open order (as
    /// buyer or seller: awaiting payment, paid, shipped or delivered and
    /// not completed), a pending refund or a payout requested or batched
    /// (not yet answered by the bank); withdrawal waits for it.
    pub const WITHDRAWAL_WAITS: &str = "the member has open orders; withdrawal waits for them";
}

/// A collection of rows a member owns, whose count is capped
/// (`limits.max_*`). Each names its table; later owned collections
/// (items, shops, passkeys) add a variant here and use
/// [`Write::EnsureRoom`] in the bundle that adds to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// Shipping addresses.
    Addresses,
    /// Live member sessions (expired ones, not purged yet, do not count).
    Sessions,
}

impl Collection {
    pub fn name(self) -> &'static str {
        match self {
            Collection::Addresses => "addresses",
            Collection::Sessions => "sessions",
        }
    }
}

/// One row-level change. The store applies them in the order given.
#[derive(Debug, Clone)]
pub enum Write {
    /// Starts a code flow. Live flows for the same address and purpose
    /// are superseded, and the new flow inherits their attempt count, so a
    /// new code does not reset it. Requests racing for one address still
    /// leave one live flow (a unique index decides); a flood of them can
    /// fail with [`crate::StoreError::Conflict`].
    StartFlow(NewFlow),
    /// Marks a flow used; fails [`guards::FLOW_CONSUMED`] if it already
    /// was (a parallel request used the code first).
    ConsumeFlow { flow: FlowId, at: Timestamp },
    /// Creates a member; a taken address fails with
    /// [`crate::StoreError::Conflict`].
    CreateMember(NewMember),
    /// Starts a session (a visitor's, or a member's with its login).
    CreateSession(NewSession),
    /// Ends a session if it exists (logging out twice is fine).
    EndSession(SessionId),
    /// Ends one session of the member; fails [`guards::SESSION_NOT_FOUND`]
    /// if it is not theirs or already gone.
    EndMemberSession {
        member: MemberId,
        session: SessionId,
    },
    /// Ends every session of the member except `keep`.
    EndOtherSessions {
        member: MemberId,
        keep: Option<SessionId>,
    },
    /// Records a fresh proof of identity on a member's session
    /// (re-authentication by code).
    MarkAuthenticated { session: SessionId, at: Timestamp },
    /// Adds to the member's login history (C10).
    RecordLoginEvent(NewLoginEvent),
    /// Remembers a browser the member logged in from (the hash of its
    /// device cookie), or updates when it was last seen.
    RememberDevice {
        member: MemberId,
        device_hash: [u8; 32],
        at: Timestamp,
    },
    /// Replaces the member's display name; fails
    /// [`guards::MEMBER_NOT_FOUND`] if there is no such member.
    SetDisplayName {
        member: MemberId,
        name: DisplayName,
        at: Timestamp,
    },
    /// Moves the member from address `from` to `to`: the address logins
    /// look the member up by changes in this write, so the old address
    /// stops finding the account when the bundle commits. Every live
    /// code flow of the member ends with it (a code already mailed to the
    /// old address logs nobody in). Fails [`guards::EMAIL_CHANGED`] if the
    /// member's address is not `from` any more, and with
    /// [`crate::StoreError::Conflict`] if another member has `to`.
    ChangeEmail {
        member: MemberId,
        from: EmailAddress,
        to: EmailAddress,
        at: Timestamp,
    },
    /// Records that the member accepted a version of the terms of use
    /// (replacing the consent recorded before). A member deleted meanwhile
    /// is no error: there is nobody left to record it for.
    AcceptTerms {
        member: MemberId,
        terms: TermsConsent,
    },
    /// Sets or (with `None`) deletes the password hash (C12).
    SetPasswordHash {
        member: MemberId,
        hash: Option<String>,
        at: Timestamp,
    },
    /// Stores an unlock link's token hash for the owner of a locked
    /// account (C8).
    CreateUnlockToken {
        token_hash: [u8; 32],
        email: EmailAddress,
        at: Timestamp,
        expires_at: Timestamp,
    },
    /// Inserts or replaces the member's (encrypted) phone and its blind
    /// index. The member's data key must exist.
    SetPhone {
        member: MemberId,
        ciphertext: Vec<u8>,
        index: [u8; 32],
        at: Timestamp,
    },
    /// Adds an address; the member's first one becomes the default, and a
    /// new default takes the flag from the old one.
    AddAddress(AddressRecord),
    /// Replaces an address of the member; fails
    /// [`guards::ADDRESS_NOT_FOUND`] if it has no such address.
    UpdateAddress {
        member: MemberId,
        address: AddressId,
        ciphertext: Vec<u8>,
        make_default: bool,
        at: Timestamp,
    },
    /// Makes an address of the member the default (only the flag: an edit
    /// saved meanwhile is kept); fails [`guards::ADDRESS_NOT_FOUND`].
    SetDefaultAddress {
        member: MemberId,
        address: AddressId,
        at: Timestamp,
    },
    /// Deletes an address of the member; if it was the default, the
    /// oldest remaining one becomes the default. Fails
    /// [`guards::ADDRESS_NOT_FOUND`].
    DeleteAddress {
        member: MemberId,
        address: AddressId,
    },
    /// Inserts or replaces the member's (encrypted) payout bank account.
    SetBankAccount {
        member: MemberId,
        ciphertext: Vec<u8>,
        at: Timestamp,
    },
    /// Deletes the member's phone (and its blind index), if any.
    RemovePhone { member: MemberId },
    /// Deletes the member's payout bank account, if any.
    RemoveBankAccount { member: MemberId },
    /// Keeps a typed form for the session while the member confirms who
    /// they are, replacing the session's earlier draft of that kind. The
    /// member's data key must exist.
    KeepReauthDraft(ReauthDraftRecord),
    /// Deletes the session's draft of `kind`, if any.
    DropReauthDraft { session: SessionId, kind: String },
    /// Crypto-shredding: deletes the member's wrapped data key and, by
    /// cascade, every value encrypted under it.
    Shred { member: MemberId },
    /// Fails the bundle with [`guards::LIMIT_REACHED`] if the member
    /// already owns `max` or more of `collection` (sessions: live at
    /// `now`). Put it before the write that adds one. It takes the
    /// member's row lock first and holds it to the commit, so bundles
    /// guarded alike for one member run one after the other, on every
    /// backend and across instances: two requests at `max - 1` cannot
    /// both pass.
    EnsureRoom {
        member: MemberId,
        collection: Collection,
        max: u32,
        now: Timestamp,
    },
    /// Makes room for one more session of the member: ends the member's
    /// sessions expired at `now`, then the least recently used live ones
    /// until at most `keep` remain. Under the member's row lock, like
    /// [`Write::EnsureRoom`], so parallel logins cannot overshoot.
    EndLeastRecentSessions {
        member: MemberId,
        keep: u32,
        now: Timestamp,
    },
    /// Opens the member's shop (`owner_id` of the record); a member who
    /// has one already fails with [`crate::StoreError::Conflict`].
    OpenShop(ShopRecord),
    /// Renames or redescribes the member's shop; fails
    /// [`guards::SHOP_NOT_FOUND`] if it is not theirs.
    EditShop {
        owner: MemberId,
        shop: ShopId,
        name: ShopName,
        description: ShopDescription,
        at: Timestamp,
    },
    /// Opens or closes the member's shop; [`guards::SHOP_NOT_FOUND`].
    SetShopStatus {
        owner: MemberId,
        shop: ShopId,
        status: ShopStatus,
        at: Timestamp,
    },
    /// Sets or (with `None`) removes the shop's icon;
    /// [`guards::SHOP_NOT_FOUND`].
    SetShopIcon {
        owner: MemberId,
        shop: ShopId,
        icon: Option<MediaKey>,
        at: Timestamp,
    },
    /// Adds an item to the member's shop, holding the shop's row so that
    /// parallel adds count one after the other: fails
    /// [`guards::SHOP_NOT_FOUND`] if the shop is not theirs, and
    /// [`guards::ITEM_LIMIT`] if it has `max_items` items already.
    AddItem {
        owner: MemberId,
        item: NewItem,
        max_items: i64,
    },
    /// Replaces an item's fields; [`guards::ITEM_NOT_FOUND`] unless the
    /// item is in the member's shop.
    EditItem {
        owner: MemberId,
        item: ItemId,
        edit: ItemEdit,
        at: Timestamp,
    },
    /// Changes an item's status; [`guards::ITEM_NOT_FOUND`].
    SetItemStatus {
        owner: MemberId,
        item: ItemId,
        status: ItemStatus,
        at: Timestamp,
    },
    /// Adds an image after the item's last one (the store assigns
    /// `position`); [`guards::ITEM_NOT_FOUND`], or
    /// [`guards::IMAGE_LIMIT`] at `max_images`.
    AddItemImage {
        owner: MemberId,
        image: ImageRecord,
        max_images: i64,
    },
    /// Removes an image of an item of the member;
    /// [`guards::IMAGE_NOT_FOUND`]. (The files are deleted by the core
    /// after the commit.)
    RemoveItemImage { owner: MemberId, image: ImageId },
    /// Puts `quantity` of an item in the session's cart (replacing the
    /// line's quantity); [`guards::ITEM_NOT_FOR_SALE`] unless the item is
    /// on sale in an open shop.
    PutInCart {
        session: SessionId,
        item: ItemId,
        quantity: Quantity,
        at: Timestamp,
    },
    /// Removes an item from the session's cart (nothing if absent).
    RemoveFromCart { session: SessionId, item: ItemId },
    /// Creates an order: reserves each line's stock with one guarded
    /// statement (`stock >= n`, the price as read, on sale, shop open),
    /// writes the order, its lines and its sealed shipping snapshot, and
    /// takes the lines out of the buyer's cart. [`guards::SOLD_OUT`] or
    /// [`guards::ITEM_CHANGED`] if a line cannot be reserved.
    CreateOrder(NewOrder),
    /// Starts a payment attempt of the buyer's order: only while it
    /// awaits payment and its reservation lasts
    /// ([`guards::ORDER_NOT_PAYABLE`]), and only if no other attempt is
    /// live ([`guards::ATTEMPT_LIVE`]).
    StartAttempt(NewAttempt),
    /// Records the processor's intent id on an attempt (once).
    SetAttemptIntent {
        attempt: AttemptId,
        intent_id: String,
        at: Timestamp,
    },
    /// Moves a live attempt to `status` (requires action, failed,
    /// abandoned); [`guards::ATTEMPT_SETTLED`] if it is not live.
    SettleAttempt {
        attempt: AttemptId,
        status: AttemptStatus,
        failure_code: Option<String>,
        at: Timestamp,
    },
    /// The processor took the money: `awaiting_payment → paid`, the
    /// attempt succeeded, the card's brand and last 4 kept;
    /// [`guards::ORDER_STATE`] if the order was paid or cancelled already.
    MarkPaid {
        order: OrderId,
        attempt: AttemptId,
        intent_id: String,
        card_brand: Option<String>,
        card_last4: Option<String>,
        at: Timestamp,
    },
    /// `awaiting_payment → cancelled`, every line's stock given back;
    /// [`guards::ORDER_STATE`] otherwise.
    CancelOrder {
        order: OrderId,
        reason: String,
        at: Timestamp,
    },
    /// A fulfilment step (`paid → shipped → delivered → completed`) by
    /// the party allowed to take it (the seller ships, the buyer receives
    /// and completes; `None`: the system, a job);
    /// [`guards::ORDER_STATE`] if the order is not in `from` or not the
    /// party's.
    AdvanceOrder {
        order: OrderId,
        party: Option<OrderParty>,
        from: OrderStatus,
        to: OrderStatus,
        at: Timestamp,
    },
    /// Records a processor event id; [`guards::EVENT_SEEN`] if it was
    /// recorded before, which rolls back the effect that came with it.
    RecordEvent {
        event_id: String,
        kind: String,
        order: Option<OrderId>,
        at: Timestamp,
    },
    /// Numbers a refund and holds its amount against the order (which
    /// must be refundable and the seller's): [`guards::REFUND_TOO_LARGE`]
    /// past what is left, [`guards::REFUND_RACE`] if the number was taken.
    StartRefund(NewRefund),
    /// Settles a pending refund; a success adds its amount to the order's
    /// refunded total (and makes the order `refunded` when nothing is
    /// left). [`guards::REFUND_SETTLED`] if it was settled before;
    /// [`guards::ORDER_STATE`] if the order's refunded total is not
    /// `refunded_before` any more (another refund settled meanwhile: the
    /// ledger postings built with it would be wrong, so read and retry).
    SettleRefund {
        refund: RefundId,
        succeeded: bool,
        processor_refund_id: Option<String>,
        refunded_before: anshin_domain::Yen,
        at: Timestamp,
    },
    /// Creates a staff account (active, not enrolled) with its one-time
    /// enrolment link; a taken e-mail fails with
    /// [`crate::StoreError::Conflict`].
    CreateStaff(NewStaff),
    /// Activates or disables a staff account; disabling ends every
    /// session of it in the same transaction. [`guards::STAFF_NOT_FOUND`].
    SetStaffStatus {
        staff: anshin_domain::StaffId,
        status: anshin_domain::StaffStatus,
        at: Timestamp,
    },
    /// Changes an active staff account's role from `from` to `to` and
    /// ends every session of it in the same transaction (the new role
    /// applies from a fresh login). Guards: [`guards::STAFF_NOT_FOUND`],
    /// [`guards::STAFF_NOT_ACTIVE`], [`guards::STAFF_ROLE_CHANGED`] (the
    /// role is not `from` any more) and, when an administrator is
    /// demoted, [`guards::LAST_ADMIN`] if no other active administrator
    /// would be left (checked under the lock of every active
    /// administrator's row, so two demotions in parallel cannot both
    /// pass).
    SetStaffRole {
        staff: anshin_domain::StaffId,
        from: anshin_domain::StaffRole,
        to: anshin_domain::StaffRole,
        at: Timestamp,
    },
    /// Stores the (sealed) TOTP secret and uses up the enrolment link:
    /// only while the link with `token_hash` works and the account is
    /// active ([`guards::ENROLMENT_INVALID`]). `step` is the time step of
    /// the confirming code, which cannot be used again.
    EnrolStaffTotp {
        staff: anshin_domain::StaffId,
        token_hash: [u8; 32],
        secret: Vec<u8>,
        step: i64,
        at: Timestamp,
    },
    /// Accepts a TOTP code's time step once: fails [`guards::TOTP_USED`]
    /// if this step or a later one was accepted before (a replayed code),
    /// or if the account is not active.
    UseTotpStep {
        staff: anshin_domain::StaffId,
        step: i64,
    },
    /// Starts a staff console session.
    CreateStaffSession(NewStaffSession),
    /// Ends a staff session if it exists.
    EndStaffSession(anshin_domain::StaffSessionId),
    /// Records a fresh second factor on a staff session (step-up).
    StaffStepUp {
        session: anshin_domain::StaffSessionId,
        at: Timestamp,
    },
    /// Puts an alert on (C29); [`guards::ALERT_ON`] if one of the same
    /// rule and subject is on already, so a duplicate's mail and audit
    /// entry are never kept.
    FireAlert(crate::alerts::NewAlert),
    /// Clears a live alert; [`guards::ALERT_NOT_ON`] if it was cleared
    /// already.
    ResolveAlert {
        alert: anshin_domain::AlertId,
        at: Timestamp,
    },
    /// Adds an instance's counts of the alert signals to the shared
    /// tallies (C29): each `(signal, n)` to its row of the bucket.
    AddAlertTallies {
        bucket: Timestamp,
        counts: Vec<(String, i64)>,
    },
    /// Queues a delivery of the alert webhook for an alert's event
    /// (`fired`, `resolved`), due at `at` (C29).
    QueueAlertWebhook {
        alert: anshin_domain::AlertId,
        event: &'static str,
        body: String,
        at: Timestamp,
    },
    /// Notes that a staff member signed in from a network (its keyed
    /// hash): a first sight inserts the row (`novel` when the member had
    /// other networks), a known one moves `last_seen_at` (C29).
    NoteStaffNetwork {
        staff: anshin_domain::StaffId,
        network_hash: [u8; 32],
        at: Timestamp,
    },
    /// Keeps a self-scan's report (C30).
    RecordSelfScan(crate::selfscan::NewSelfScan),
    /// Keeps a vulnerability report, sealed, as `new` (C5).
    ReceiveVdpReport(crate::vdp::NewVdpReport),
    /// Moves a vulnerability report to another triage status (C5).
    SetVdpStatus {
        report: anshin_domain::VdpReportId,
        status: crate::vdp::VdpStatus,
        at: Timestamp,
    },
    /// Adds a sealed triage note to a vulnerability report (C5).
    AddVdpNote(crate::vdp::NewVdpNote),
    /// Opens an incident record (C28).
    OpenIncident(NewIncident),
    /// Adds a line to an open incident's timeline;
    /// [`guards::INCIDENT_NOT_OPEN`] if it is closed or absent.
    AddTimelineEntry(NewTimelineEntry),
    /// Closes an open incident with its lessons learned;
    /// [`guards::INCIDENT_NOT_OPEN`].
    CloseIncident {
        incident: anshin_domain::IncidentId,
        lessons: String,
        at: Timestamp,
    },
    /// Ends every member's session (visitors' sessions, which hold only a
    /// cart, stay).
    EndAllMemberSessions,
    /// Ends every staff console session.
    EndAllStaffSessions,
    /// Locks a member for an incident (no login, no session served
    /// while locked); [`guards::MEMBER_NOT_FOUND`] if there is no such
    /// member. Locking twice keeps the first lock.
    LockMember {
        member: MemberId,
        incident: anshin_domain::IncidentId,
        at: Timestamp,
    },
    /// Lifts a member's incident lock (nothing if not locked).
    UnlockMember { member: MemberId },
    /// Fails the bundle with [`guards::MEMBER_LOCKED`] if the member is
    /// locked. Put it in every bundle that logs a member in.
    EnsureNotLocked { member: MemberId },
    /// A successful login: the consecutive attempt counts under `keys`
    /// (the account's lock counter and its settled failures, C8) go back
    /// to zero and any lock ends, in the login's own transaction (no
    /// commit of its own).
    ClearAttempts { keys: Vec<String> },
    /// Deletes every member's password hash: they log in by e-mail code
    /// (and may set a new password then).
    RemoveAllPasswords { at: Timestamp },
    /// Starts (or restarts) an incident's member notification: template,
    /// audience, how many members it holds; progress back to nothing.
    StartNotify {
        incident: anshin_domain::IncidentId,
        template: String,
        audience: String,
        total: u64,
    },
    /// Records that the members after `from` up to `to` were mailed
    /// (`sent` mails); [`guards::NOTIFY_MOVED`] unless the progress is
    /// still at `from`.
    AdvanceNotify {
        incident: anshin_domain::IncidentId,
        from: Option<MemberId>,
        to: MemberId,
        sent: u64,
    },
    /// Marks an incident's notification finished.
    FinishNotify {
        incident: anshin_domain::IncidentId,
        at: Timestamp,
    },
    /// Keeps a WebAuthn ceremony's state until the browser answers.
    StartStaffCeremony(NewStaffCeremony),
    /// Uses a ceremony up (deletes it): [`guards::CEREMONY_USED`] if it
    /// was used before, is of another kind, or ran out by `at`.
    UseStaffCeremony {
        id_hash: [u8; 32],
        kind: CeremonyKind,
        at: Timestamp,
    },
    /// Stores a new passkey of an active staff account
    /// ([`guards::STAFF_NOT_FOUND`] otherwise); a credential id stored
    /// before fails with [`crate::StoreError::Conflict`].
    AddStaffPasskey(NewStaffPasskey),
    /// Records a login with a passkey: its new state (counter, backup
    /// state) and when. [`guards::PASSKEY_NOT_FOUND`] unless the
    /// credential is the staff member's and its stored state is still
    /// `read` (another login moved the counter meanwhile: a clone).
    UseStaffPasskey {
        staff: anshin_domain::StaffId,
        credential_id: Vec<u8>,
        read: String,
        passkey: String,
        at: Timestamp,
    },
    /// Removes a passkey of the staff member
    /// ([`guards::PASSKEY_NOT_FOUND`] if it is not theirs).
    RemoveStaffPasskey {
        staff: anshin_domain::StaffId,
        passkey: anshin_domain::StaffPasskeyId,
    },
    /// Adds a terminal to the shipping centre's registry (C24); a label
    /// or serial registered before fails with
    /// [`crate::StoreError::Conflict`].
    RegisterTerminal(NewTerminal),
    /// Retires an active terminal for good: [`guards::TERMINAL_NOT_FOUND`]
    /// unless active, [`guards::TERMINAL_IN_USE`] while checked out.
    RetireTerminal {
        terminal: anshin_domain::TerminalId,
        at: Timestamp,
    },
    /// Checks a worker in on a terminal (C24):
    /// [`guards::TERMINAL_NOT_AVAILABLE`] unless the terminal is active;
    /// a second open shift of the worker or of the terminal fails with
    /// [`crate::StoreError::Conflict`] (the database's unique indexes).
    OpenShift(NewShift),
    /// Ends the staff member's open shift (the terminal is returned):
    /// [`guards::SHIFT_NOT_OPEN`] unless it is theirs and open.
    EndShift {
        shift: anshin_domain::ShiftId,
        staff: anshin_domain::StaffId,
        end: ShiftEnd,
        at: Timestamp,
    },
    /// Ends the staff member's open shift if there is one (nothing
    /// otherwise): disabling an account returns its terminal.
    EndOpenShiftOf {
        staff: anshin_domain::StaffId,
        end: ShiftEnd,
        at: Timestamp,
    },
    /// Moves the staff member's open shift to another console session of
    /// theirs (signed in again on the same terminal):
    /// [`guards::SHIFT_NOT_OPEN`] unless it is theirs and open.
    MoveShift {
        shift: anshin_domain::ShiftId,
        staff: anshin_domain::StaffId,
        session: anshin_domain::StaffSessionId,
    },
    /// Records a request to void a waybill (C25):
    /// [`guards::SHIFT_NOT_OPEN`] unless the requester's shift is open; a
    /// second pending request for the shipment fails with
    /// [`crate::StoreError::Conflict`].
    RequestVoid(NewVoidRequest),
    /// Decides a pending void request (approved or rejected):
    /// [`guards::VOID_NOT_FOUND`], [`guards::VOID_OWN_REQUEST`] when `by`
    /// requested it, [`guards::VOID_DECIDED`] when it is not pending any
    /// more, [`guards::SHIFT_NOT_OPEN`] unless `shift` is `by`'s open
    /// shift.
    DecideVoid {
        request: anshin_domain::VoidRequestId,
        by: anshin_domain::StaffId,
        shift: anshin_domain::ShiftId,
        status: VoidStatus,
        at: Timestamp,
    },
    /// Saves the shop's shipping choices (anonymous or not, the sender
    /// address): [`guards::SHOP_NOT_FOUND`] unless the shop is the
    /// owner's, [`guards::ADDRESS_NOT_FOUND`] unless the sender address
    /// is one of the owner's.
    SetShopShipping {
        owner: MemberId,
        shop: ShopId,
        anonymous: bool,
        sender: Option<AddressId>,
        at: Timestamp,
    },
    /// Creates an anonymous shipment with its wrapped key, its sealed
    /// label data and its first live drop-off code. Put it after the
    /// payment's [`Write::MarkPaid`]: [`guards::ORDER_STATE`] unless the
    /// order is paid; a second shipment of one order fails with
    /// [`crate::StoreError::Conflict`].
    CreateShipment(crate::shipping::NewShipment),
    /// Seals in (or replaces) the sender's address of the seller's
    /// shipment while it awaits the drop-off;
    /// [`guards::SHIPMENT_STATE`] otherwise.
    SetShipmentSender {
        shipment: ShipmentId,
        seller: MemberId,
        sender: Vec<u8>,
        at: Timestamp,
    },
    /// The centre took the parcel: the live code with `code_hash` is used
    /// up (never accepted again), the shipment becomes `accepted` and the
    /// timeline gets its first line. [`guards::DROPOFF_NOT_LIVE`] if the
    /// code is not live, [`guards::SHIPMENT_STATE`] if the shipment does
    /// not await a drop-off.
    AcceptDropoff {
        code_hash: [u8; 32],
        shipment: ShipmentId,
        event: ParcelEventId,
        at: Timestamp,
    },
    /// Voids the shipment's live code of `generation` and issues the
    /// next one (`new_code_hash`, generation + 1) while the parcel awaits
    /// its drop-off. The shipping centre's approval step (a manager
    /// confirms every void, C25) commits it. [`guards::DROPOFF_NOT_LIVE`]
    /// if that code is not live any more (accepted, or voided by another
    /// approval), [`guards::SHIPMENT_STATE`] if the shipment moved on.
    VoidDropoffCode {
        shipment: ShipmentId,
        generation: u32,
        new_code_hash: [u8; 32],
        at: Timestamp,
    },
    /// Adds a line to the parcel's timeline and moves the shipment to
    /// the event's state, only from the states the event may follow
    /// ([`anshin_domain::ParcelEventKind::moves`]);
    /// [`guards::SHIPMENT_STATE`] otherwise.
    AddParcelEvent {
        event: ParcelEventId,
        shipment: ShipmentId,
        kind: ParcelEventKind,
        at: Timestamp,
    },
    /// The retention purge of a delivered shipment's history (C17, ADR
    /// 0021): its key (and so its sealed label), drop-off codes, parcel
    /// events, the order's address snapshot, the reasons of its void
    /// requests and the details of audit entries about it or its order.
    /// A shipment not delivered or already purged is left alone.
    PurgeShipment { shipment: ShipmentId, at: Timestamp },
    /// A member leaves (C18, ADR 0021), all at once: guarded by no open
    /// order or pending refund of theirs (as buyer or seller,
    /// [`guards::WITHDRAWAL_WAITS`]) and not withdrawn before
    /// ([`guards::MEMBER_WITHDRAWN`]). Then: the e-mail address and name
    /// are replaced by `tombstone_email` / `tombstone_name` (the address is
    /// free to sign up again), the password hash goes, every session (and
    /// its cart), code flow, login event, known device, unlock token, lock
    /// and the `counter_keys` throttle rows go, the member's data key is
    /// deleted (shredding every sealed address, phone, bank account,
    /// draft and order address snapshot), their delivered shipments are
    /// purged as by [`Write::PurgeShipment`] and their completed payouts
    /// as by [`Write::PurgePayout`], their shop is closed and its
    /// items hidden, and the details of audit entries by or about them
    /// are deleted (the entries stay and verify). Orders, ledger postings
    /// and refunds stay, naming only pseudonymous ids and amounts.
    WithdrawMember {
        member: MemberId,
        tombstone_email: EmailAddress,
        tombstone_name: DisplayName,
        counter_keys: Vec<String>,
        at: Timestamp,
    },
    /// Creates a payout with its wrapped key and sealed bank snapshot,
    /// under the shop's row lock: [`guards::SHOP_NOT_FOUND`] unless the
    /// shop is the member's, [`guards::PAYOUT_BALANCE`] if the shop's
    /// balance is less than the amount, [`guards::PAYOUT_EXISTS`] if the
    /// id was used. Its hold (`payout_hold:<id>`) rides in the bundle.
    CreatePayout(crate::payouts::NewPayout),
    /// Creates a batch and puts its payouts in it, in file order;
    /// [`guards::PAYOUT_STATE`] if one is not `requested` any more.
    BatchPayouts(crate::payouts::NewPayoutBatch),
    /// Records that the batch's file was exported (the first time
    /// stays).
    MarkBatchExported {
        batch: anshin_domain::PayoutBatchId,
        at: Timestamp,
    },
    /// The bank paid (or refused) the payout: `batched` becomes `paid`
    /// or `failed`, with its completion time; [`guards::PAYOUT_STATE`]
    /// if it was settled already. Its posting (`payout_paid:<id>` or
    /// `payout_void:<id>`) rides in the bundle.
    SettlePayout {
        payout: anshin_domain::PayoutId,
        paid: bool,
        failure_code: Option<String>,
        at: Timestamp,
    },
    /// The retention purge of a completed payout's transfer history (C16,
    /// ADR 0021): its key (and with it the sealed bank snapshot), the
    /// bank's result code and the details of audit entries about it. The
    /// row keeps ids, status, amounts and times (what the ledger needs).
    /// A payout not paid or failed, or already purged, is left alone.
    PurgePayout {
        payout: anshin_domain::PayoutId,
        at: Timestamp,
    },
}

pub use crate::audit::AuditEntry;

/// Everything one use case changes, committed together.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub writes: Vec<Write>,
    pub mails: Vec<NewMail>,
    pub audit: Vec<AuditEntry>,
    /// Double-entry ledger transactions, written after the rows (a key
    /// posted before fails the bundle with [`guards::LEDGER_POSTED`]).
    pub ledger: Vec<LedgerTransaction>,
}

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write (builder style).
    #[must_use]
    pub fn with(mut self, write: Write) -> Self {
        self.writes.push(write);
        self
    }

    /// Adds a mail to queue (builder style).
    #[must_use]
    pub fn mail(mut self, mail: NewMail) -> Self {
        self.mails.push(mail);
        self
    }

    pub fn push(&mut self, write: Write) {
        self.writes.push(write);
    }

    pub fn push_mail(&mut self, mail: NewMail) {
        self.mails.push(mail);
    }

    /// Adds an audit entry (builder style): written after every row, mail
    /// and ledger posting of the bundle, in the same transaction.
    #[must_use]
    pub fn audited(mut self, entry: AuditEntry) -> Self {
        self.audit.push(entry);
        self
    }

    pub fn push_audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    /// Adds a ledger transaction (builder style).
    #[must_use]
    pub fn post(mut self, tx: LedgerTransaction) -> Self {
        self.ledger.push(tx);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.mails.is_empty()
            && self.audit.is_empty()
            && self.ledger.is_empty()
    }
}
