//! Withdrawal (C18, issue 16, ADR 0021): a member leaves, and everything
//! tied to the account is deleted at once.
//!
//! Two doors call [`erase`]: the member themselves from the account page
//! or the API ([`withdraw_self`]: a confirmation code from the last
//! `auth.recent_auth_secs` is required, and the page asks before), and
//! support staff on the member's request
//! ([`crate::staff::withdraw_member`]: the access policy's
//! `withdraw_member` action, with a fresh second factor, audited).
//!
//! **What waits.** Nothing is lost and no money disappears: a withdrawal
//! waits (refused, saying why, [`Wait`]) while the member has
//! - an open order as buyer or seller: awaiting payment, paid, shipped,
//!   or delivered and not yet completed (so a parcel in transit, a
//!   payment under way and a sale the buyer has not confirmed), or an
//!   order with a refund under way;
//! - an unpaid balance: the platform still owes their shop money
//!   (`seller_payable` > 0). Payouts (C16) pay it out; then they can leave;
//! - a payout requested or on its way to the bank (its amount is held, so
//!   the balance reads 0): the bank's answer decides whether the money
//!   went or comes back to the balance.
//!
//! The store checks the open orders again inside the withdrawal's own
//! transaction ([`anshin_store::guards::WITHDRAWAL_WAITS`]), so an order
//! placed between the page and the click also makes it wait.
//!
//! **What goes, in one transaction** ([`anshin_store::Write::WithdrawMember`]):
//! the e-mail address and display name (replaced by a tombstone; the
//! address is free to sign up again as a new person), the password hash,
//! every session (and cart), code flow, login event, known device,
//! unlock token, throttle counter of the address and incident lock; the
//! member's data key (so every sealed address, phone number, bank account,
//! draft and order address snapshot, and every copy of them in a backup,
//! is unreadable with the current key ring); their delivered shipments'
//! history (as the retention purge does); the details of audit entries by
//! or about them. Their shop is closed and its items hidden. Members
//! have no passkeys (staff do); there are none to remove. In the same
//! transaction, one last mail to the address as it was
//! ([`crate::mail::compose::Letter::Withdrawn`]: deleted by you or by
//! support on your request, what stays, that the address may sign up
//! again, the contact form if it was not them), sealed in the outbox like
//! every mail, whose payload the mail job deletes once delivered; a
//! withdrawal that cannot queue it deletes nothing.
//!
//! **What stays, without personal data**: orders, order lines (item
//! title, price), payments (processor references, card brand and last
//! four digits, which the processor's records need), refunds and ledger
//! postings, naming the member only by pseudonymous id; the audit
//! entries (their details gone, so the chain still verifies); the
//! `members` row with the tombstone, for the ids those records name.
//!
//! What an attacker tries, and the tests (`crates/anshin/tests/api/withdrawal.rs`):
//! - withdraw someone from a stolen session: needs a fresh code mailed to
//!   the member (`c18_withdrawal_needs_a_fresh_code_and_waits_for_open_orders`);
//! - withdraw to escape an open sale or keep a parcel: waits (same test);
//! - read the data afterwards from a backup: the data key is gone
//!   (`c18_a_withdrawn_member_is_erased_everywhere_and_the_address_signs_up_anew`);
//! - staff withdrawing without the role or a fresh second factor: the
//!   policy refuses, and the act is audited
//!   (`c18_support_withdraws_a_member_on_request_with_step_up`);
//! - withdraw someone without them knowing: the address gets a mail at
//!   once (`c18_the_member_is_told_by_mail_that_their_account_was_deleted`).

use std::net::IpAddr;

use anshin_domain::{DisplayName, EmailAddress, MemberId, Yen};
use anshin_store::audit::{Actor, AuditAction, AuditTarget};
use anshin_store::{Changes, SessionRecord, StoreError, Write, guards};

use crate::Services;

/// How long a withdrawal waits for readers that keep SQLite's WAL busy
/// before it leaves the flush to the retention job's next run (the
/// member's request is waiting).
const WITHDRAWAL_FLUSH_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// What a withdrawal waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Orders the member bought that are not finished.
    OpenPurchases(u64),
    /// Orders of the member's shop that are not finished.
    OpenSales(u64),
    /// What the platform still owes the member's shop.
    UnpaidBalance(Yen),
    /// Payouts of theirs requested or on their way to the bank (their
    /// amount is held, so the balance is 0, but the bank has not answered).
    PayoutsUnderWay(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    /// No such member, or they left already.
    #[error("no such member, or they left already")]
    NotFound,
    /// The member's own withdrawal needs a confirmation code from the
    /// last `auth.recent_auth_secs`.
    #[error("a fresh confirmation code is needed")]
    ReauthRequired,
    /// Open orders or an unpaid balance: nothing was deleted.
    #[error("withdrawal waits for open orders or an unpaid balance")]
    Waits(Vec<Wait>),
    /// The confirmation mail could not be sealed: nothing was deleted.
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::compose::SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the member's withdrawal waits for now (empty: they may leave).
pub async fn waits(svc: &Services, member: MemberId) -> Result<Vec<Wait>, StoreError> {
    let (purchases, sales) = svc.store.orders().open_orders_of(member).await?;
    let mut out = Vec::new();
    if purchases > 0 {
        out.push(Wait::OpenPurchases(purchases));
    }
    if sales > 0 {
        out.push(Wait::OpenSales(sales));
    }
    if let Some(shop) = svc.store.shops().shop_of_owner(member).await? {
        let owed = svc.store.orders().seller_balance(shop.id).await?;
        if owed.amount() > 0 {
            out.push(Wait::UnpaidBalance(owed));
        }
        let open = svc
            .store
            .payouts()
            // Each request takes the whole balance, so a shop has a few
            // open payouts at most; a thousand is more than enough.
            .payouts_of_shop(shop.id, 1000)
            .await?
            .iter()
            .filter(|p| !p.status.is_final())
            .count() as u64;
        if open > 0 {
            out.push(Wait::PayoutsUnderWay(open));
        }
    }
    Ok(out)
}

/// The member leaves, from their own signed-in session: needs a fresh
/// confirmation code (C18).
pub async fn withdraw_self(svc: &Services, session: &SessionRecord) -> Result<(), WithdrawError> {
    let member = session.member().ok_or(WithdrawError::NotFound)?;
    if !crate::sessions::recently_authenticated(svc, session) {
        return Err(WithdrawError::ReauthRequired);
    }
    erase(
        svc,
        member,
        Actor::Member(member),
        crate::audit::session_origin(session),
        crate::audit::OWN_ACCOUNT,
    )
    .await
}

/// The address a withdrawn member's row keeps: unique, never deliverable
/// (`.invalid`, RFC 2606), naming only the pseudonymous id.
pub fn tombstone_email(member: MemberId) -> Option<EmailAddress> {
    EmailAddress::parse(&format!(
        "withdrawn-{}@withdrawn.invalid",
        member.as_uuid().simple()
    ))
}

/// Erases the member at once (see the module doc), after checking what
/// waits; `actor` and `reason` go to the one audit entry (whose details
/// hold no personal data).
pub(crate) async fn erase(
    svc: &Services,
    member: MemberId,
    actor: Actor,
    from: Option<IpAddr>,
    reason: &str,
) -> Result<(), WithdrawError> {
    let Some(record) = svc.store.accounts().find_member(member).await? else {
        return Err(WithdrawError::NotFound);
    };
    let waiting = waits(svc, member).await?;
    if !waiting.is_empty() {
        return Err(WithdrawError::Waits(waiting));
    }
    let (Some(tombstone_email), Some(tombstone_name)) =
        (tombstone_email(member), DisplayName::parse("-"))
    else {
        return Err(WithdrawError::NotFound);
    };
    let email = record.email.as_str();
    let counter_keys = vec![
        crate::accounts::limits::account_key(email),
        crate::accounts::limits::account_failures_key(email),
    ];
    let entry = crate::audit::entry(
        svc,
        actor,
        AuditAction::MemberWithdrawn,
        Some(AuditTarget::member(member)),
        from,
        reason,
        serde_json::json!({ "on_request": matches!(actor, Actor::Staff(_)) }),
    );
    // The confirmation, to the address as it is now: queued (sealed) in
    // the same transaction that erases the address, so it is sent even
    // though nothing of the member is left; the mail job deletes its
    // payload once delivered.
    let confirmation = crate::mail::letter(
        svc,
        record.language,
        &record.email,
        &crate::mail::compose::Letter::Withdrawn {
            by_support: matches!(actor, Actor::Staff(_)),
        },
    )?;
    let changes = Changes::new()
        .with(Write::WithdrawMember {
            member,
            tombstone_email,
            tombstone_name,
            counter_keys,
            at: svc.now(),
        })
        .audited(entry)
        .mail(confirmation);
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        Err(e) if e.is_precondition(guards::MEMBER_WITHDRAWN) => {
            return Err(WithdrawError::NotFound);
        }
        Err(e) if e.is_precondition(guards::WITHDRAWAL_WAITS) => {
            // An order arrived between the check and the write.
            let waiting = waits(svc, member).await?;
            return Err(WithdrawError::Waits(waiting));
        }
        Err(e) => return Err(e.into()),
    }
    // The files keep no copy of what went (SQLite's WAL).
    // A request does not wait long for readers: a flush left pending is
    // retried by the retention job's next run.
    if let Err(e) = crate::retention::flush(svc, WITHDRAWAL_FLUSH_PATIENCE).await {
        tracing::warn!(error = %e, "withdrawal: the database could not be flushed");
    }
    svc.metrics.withdrawals.inc();
    tracing::info!(member = %member, "member withdrew; their data was erased");
    Ok(())
}
