//! Every change of an order's state, each one bundle through the one
//! write path: the guarded transition, its ledger postings, its letters
//! and (for a webhook) the processor event's id, all or nothing.
//!
//! A payment can be reported by the buyer's browser, by a webhook and by
//! the reconciliation job, in any order and any number of times.
//! [`apply_intent`] takes what the processor says about an intent and
//! makes it true once: the first report moves the order (its guard is
//! `status = 'awaiting_payment'`, its ledger key `payment:<order>` is
//! unique); every later one finds the order moved and records only its
//! event id. A payment the order must not keep (through another intent
//! than the one that paid it, or after it was cancelled) is refunded at
//! once and posted in and out (`late_payment` / `late_refund`), once per
//! intent, however many reports bring it.

use anshin_domain::{AttemptStatus, MemberId, OrderId, OrderStatus, Yen};
use anshin_store::{
    AttemptRecord, Changes, NewRefund, OrderParty, OrderRecord, RefundRecord, StoreError, Write,
    guards,
};

use super::error::OrderError;
use super::notices;
use crate::Services;
use crate::mail::compose::OrderEvent;
use crate::payments::{
    ClientSecret, Intent, IntentRequest, IntentStatus, KeyStep, PaymentMethodRef, ProcessorError,
    idempotency_key, refund_key,
};

/// How a payment attempt stands after a report, as the buyer's page
/// shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayOutcome {
    Paid,
    /// The browser must let the buyer authenticate (3-D Secure) with the
    /// processor's script and this secret, then ask again.
    NeedsAction(Option<ClientSecret>),
    /// Declined, with the processor's code (our catalog words it).
    Declined(String),
    /// Given up (cancelled at the processor; the reservation ended).
    Abandoned,
    /// The processor has not decided yet (or could not be asked): the
    /// page waits; reconciliation finishes it.
    Pending,
}

/// A processor event that reported this (a webhook): its id is recorded
/// in the same transaction as the effect.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub id: &'a str,
    pub kind: &'a str,
}

/// What [`apply_intent`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: PayOutcome,
    /// The event was recorded before: nothing changed.
    pub duplicate: bool,
}

fn record_event(e: EventRef<'_>, order: OrderId, at: anshin_domain::Timestamp) -> Write {
    Write::RecordEvent {
        event_id: e.id.to_owned(),
        kind: e.kind.to_owned(),
        order: Some(order),
        at,
    }
}

/// Commits `changes`; if a guard of the effect failed (another report
/// got there first), records only the event (if any). Returns whether
/// the effect took place, and whether the event was a duplicate.
async fn commit_or_record(
    svc: &Services,
    changes: Changes,
    event: Option<EventRef<'_>>,
    order: OrderId,
) -> Result<(bool, bool), OrderError> {
    match svc.store.commit(&changes).await {
        Ok(()) => Ok((true, false)),
        Err(e) if e.is_precondition(guards::EVENT_SEEN) => Ok((false, true)),
        Err(e)
            if e.is_precondition(guards::ORDER_STATE)
                || e.is_precondition(guards::ATTEMPT_SETTLED)
                || e.is_precondition(guards::LEDGER_POSTED) =>
        {
            let Some(ev) = event else {
                return Ok((false, false));
            };
            match svc
                .store
                .commit(&Changes::new().with(record_event(ev, order, svc.now())))
                .await
            {
                Ok(()) => Ok((false, false)),
                Err(e) if e.is_precondition(guards::EVENT_SEEN) => Ok((false, true)),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes what the processor says about `attempt`'s intent true, once.
pub async fn apply_intent(
    svc: &Services,
    attempt: &AttemptRecord,
    intent: &Intent,
    event: Option<EventRef<'_>>,
) -> Result<Applied, OrderError> {
    let order = svc
        .store
        .orders()
        .order(attempt.order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    let now = svc.now();
    let mut base = Changes::new();
    if let Some(e) = event {
        base.push(record_event(e, order.id, now));
    }
    if attempt.intent_id.is_none() {
        base.push(Write::SetAttemptIntent {
            attempt: attempt.id,
            intent_id: intent.id.clone(),
            at: now,
        });
    }
    let settle = |status: AttemptStatus, code: Option<String>| Write::SettleAttempt {
        attempt: attempt.id,
        status,
        failure_code: code,
        at: now,
    };
    let done = |outcome, (_, duplicate): (bool, bool)| Ok(Applied { outcome, duplicate });
    match intent.status {
        IntentStatus::Succeeded => {
            if intent.amount != order.total || intent.currency != "jpy" {
                tracing::error!(
                    order = %order.id,
                    intent = %intent.id,
                    amount = intent.amount.amount(),
                    total = order.total.amount(),
                    "the processor reports a payment of another amount or currency; the order stays unpaid"
                );
                return done(
                    PayOutcome::Pending,
                    commit_or_record(svc, base, event, order.id).await?,
                );
            }
            match order.status {
                OrderStatus::AwaitingPayment => {
                    let lines = svc.store.orders().order_lines(order.id).await?;
                    let mut changes = base.with(Write::MarkPaid {
                        order: order.id,
                        attempt: attempt.id,
                        intent_id: intent.id.clone(),
                        card_brand: intent.card.as_ref().map(|c| c.brand.clone()),
                        card_last4: intent.card.as_ref().map(|c| c.last4.clone()),
                        at: now,
                    });
                    // Anonymous shipping (C19): the shipment, its sealed
                    // label data and its first drop-off code are made in
                    // the payment's own bundle.
                    if let Some(w) = crate::shipping::shipment_for_payment(svc, &order)
                        .await
                        .map_err(|e| OrderError::Shipping(Box::new(e)))?
                    {
                        changes.push(w);
                    }
                    changes = changes.post(crate::ledger::payment(svc.new_id(), &order, now)?);
                    for m in notices::letters(svc, &order, &lines, OrderEvent::Paid, None).await? {
                        changes.push_mail(m);
                    }
                    let r = commit_or_record(svc, changes, event, order.id).await?;
                    if r.0 {
                        tracing::info!(order = %order.id, attempt = attempt.attempt_no, "order paid");
                        return done(PayOutcome::Paid, r);
                    }
                    // Another report got there first: what is the order now?
                    // Paid through another intent, or cancelled, it must
                    // not keep this money (the event, if any, is recorded
                    // already; the return is posted on its own).
                    let now_order = svc.store.orders().order(order.id).await?;
                    let outcome = match now_order {
                        Some(o) if o.status.was_paid() => {
                            if paid_elsewhere(&o, intent) {
                                give_back(svc, Changes::new(), None, &o, intent, PayOutcome::Paid)
                                    .await?;
                            }
                            PayOutcome::Paid
                        }
                        Some(o) if o.status == OrderStatus::Cancelled => {
                            give_back(svc, Changes::new(), None, &o, intent, PayOutcome::Abandoned)
                                .await?;
                            PayOutcome::Abandoned
                        }
                        _ => PayOutcome::Pending,
                    };
                    done(outcome, r)
                }
                s if s.was_paid() && paid_elsewhere(&order, intent) => {
                    // The order was paid through another intent, and this
                    // one took the money again (with a real processor: a
                    // browser confirming an old, declined intent again
                    // with its client secret). The buyer pays once.
                    give_back(svc, base, event, &order, intent, PayOutcome::Paid).await
                }
                // The intent that paid, reported again: nothing new.
                s if s.was_paid() => done(
                    PayOutcome::Paid,
                    commit_or_record(svc, base, event, order.id).await?,
                ),
                // Paid after the order was cancelled (the order's stock
                // is gone again).
                _ => give_back(svc, base, event, &order, intent, PayOutcome::Abandoned).await,
            }
        }
        IntentStatus::RequiresAction => {
            let changes = if attempt.status == AttemptStatus::Started {
                base.with(settle(AttemptStatus::RequiresAction, None))
            } else {
                base
            };
            done(
                PayOutcome::NeedsAction(intent.client_secret.clone()),
                commit_or_record(svc, changes, event, order.id).await?,
            )
        }
        IntentStatus::RequiresPaymentMethod => {
            let code = intent
                .decline_code
                .clone()
                .unwrap_or_else(|| "card_declined".into());
            let changes = if attempt.status.is_live() {
                base.with(settle(AttemptStatus::Failed, Some(code.clone())))
            } else {
                base
            };
            done(
                PayOutcome::Declined(code),
                commit_or_record(svc, changes, event, order.id).await?,
            )
        }
        IntentStatus::Canceled => {
            let changes = if attempt.status.is_live() {
                base.with(settle(AttemptStatus::Abandoned, None))
            } else {
                base
            };
            done(
                PayOutcome::Abandoned,
                commit_or_record(svc, changes, event, order.id).await?,
            )
        }
        IntentStatus::Processing
        | IntentStatus::RequiresCapture
        | IntentStatus::RequiresConfirmation => done(
            PayOutcome::Pending,
            commit_or_record(svc, base, event, order.id).await?,
        ),
    }
}

/// Whether a paid `order` was paid through another intent than `intent`.
/// (A paid order without `paid_intent_id`, which `MarkPaid` always sets,
/// is taken as paid through it: refunding the only payment of an order
/// the seller will ship would be worse than keeping one.)
fn paid_elsewhere(order: &OrderRecord, intent: &Intent) -> bool {
    order
        .paid_intent_id
        .as_deref()
        .is_some_and(|paid| paid != intent.id)
}

/// A payment that `order` must not keep (it succeeded after the order
/// was cancelled, or the order was already paid through another intent):
/// the money goes back at once, in full, and both moves are posted with
/// the report that brought it (`late_payment` / `late_refund`, see
/// [`crate::ledger`]); a later report finds them posted and asks the
/// processor nothing. The order itself does not change.
async fn give_back(
    svc: &Services,
    base: Changes,
    event: Option<EventRef<'_>>,
    order: &OrderRecord,
    intent: &Intent,
    outcome: PayOutcome,
) -> Result<Applied, OrderError> {
    let returned = crate::ledger::late_refund_key(order.id, &intent.id);
    let posted = svc
        .store
        .orders()
        .ledger_of_order(order.id)
        .await?
        .iter()
        .any(|t| t.key == returned);
    if posted {
        let (_, duplicate) = commit_or_record(svc, base, event, order.id).await?;
        return Ok(Applied { outcome, duplicate });
    }
    tracing::error!(
        order = %order.id,
        intent = %intent.id,
        status = order.status.as_str(),
        "a payment succeeded that the order must not keep; refunding it in full"
    );
    // The same key on every try: one refund, however many reports race
    // here.
    let key = format!("anshin:{}:orphan:{}", order.id, intent.id);
    let refund = svc
        .processor
        .refund(&intent.id, intent.amount, &key)
        .await?;
    if refund.failed {
        return Err(ProcessorError::Refused {
            status: 402,
            message: "the processor could not refund a late payment".into(),
        }
        .into());
    }
    let (came, went) = crate::ledger::late_payment(
        (svc.new_id(), svc.new_id()),
        order,
        &intent.id,
        intent.amount,
        svc.now(),
    )?;
    let (_, duplicate) = commit_or_record(svc, base.post(came).post(went), event, order.id).await?;
    Ok(Applied { outcome, duplicate })
}

/// A declined confirmation: the attempt failed (the order keeps its
/// reservation; the buyer may try another card until it ends).
pub async fn record_decline(
    svc: &Services,
    attempt: &AttemptRecord,
    code: &str,
) -> Result<(), OrderError> {
    let write = Write::SettleAttempt {
        attempt: attempt.id,
        status: AttemptStatus::Failed,
        failure_code: Some(code.chars().take(60).collect()),
        at: svc.now(),
    };
    match svc.store.commit(&Changes::new().with(write)).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_precondition(guards::ATTEMPT_SETTLED) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// What the processor knows about an attempt, asked without ever
/// charging late: an attempt whose intent id was never stored (the server
/// died between asking and writing) replays its create request with the
/// same key, which returns the intent the processor made (or makes an
/// unconfirmed one, which charges nobody); an unconfirmed intent is
/// cancelled, never confirmed; anything else is applied.
pub async fn resolve_attempt(
    svc: &Services,
    attempt: &AttemptRecord,
    order: &OrderRecord,
    reservation_over: bool,
) -> Result<PayOutcome, OrderError> {
    let intent = match &attempt.intent_id {
        Some(id) => svc.processor.intent(id).await?,
        None => {
            let pm = PaymentMethodRef::parse(&attempt.payment_method).ok_or_else(|| {
                ProcessorError::Malformed("stored payment method reference".into())
            })?;
            let req = IntentRequest {
                amount: order.total,
                payment_method: &pm,
                order: order.id,
            };
            let key = idempotency_key(order.id, attempt.attempt_no, KeyStep::Create);
            svc.processor.create_intent(&req, &key).await?
        }
    };
    let cancel = intent.status == IntentStatus::RequiresConfirmation
        || (reservation_over
            && matches!(
                intent.status,
                IntentStatus::RequiresAction | IntentStatus::RequiresPaymentMethod
            ));
    let intent = if cancel {
        cancel_intent(svc, order.id, attempt.attempt_no, &intent.id).await?
    } else {
        intent
    };
    Ok(apply_intent(svc, attempt, &intent, None).await?.outcome)
}

/// Cancels an intent at the processor; if it cannot be cancelled because
/// it succeeded meanwhile, returns it as it is (the caller applies it).
async fn cancel_intent(
    svc: &Services,
    order: OrderId,
    attempt_no: i64,
    intent_id: &str,
) -> Result<Intent, OrderError> {
    let key = idempotency_key(order, attempt_no, KeyStep::Cancel);
    match svc.processor.cancel_intent(intent_id, &key).await {
        Ok(i) => Ok(i),
        Err(ProcessorError::Refused { .. }) => Ok(svc.processor.intent(intent_id).await?),
        Err(e) => Err(e.into()),
    }
}

/// Cancels an unpaid order whose reservation ended, giving its stock
/// back. First every intent of it is settled at the processor (a paid
/// one makes the order paid instead), so an order is never cancelled while
/// the processor may still take the buyer's money. Returns whether it was
/// cancelled.
pub async fn expire(svc: &Services, order: &OrderRecord) -> Result<bool, OrderError> {
    let attempts = svc.store.orders().attempts(order.id).await?;
    for a in &attempts {
        let open_intent = a.intent_id.is_some()
            && !matches!(
                a.status,
                AttemptStatus::Succeeded | AttemptStatus::Abandoned
            );
        if a.status.is_live() || open_intent {
            let outcome = resolve_attempt(svc, a, order, true).await?;
            if outcome == PayOutcome::Paid {
                return Ok(false);
            }
        }
    }
    let now = svc.now();
    let mut changes = Changes::new();
    for a in svc.store.orders().attempts(order.id).await? {
        if a.status.is_live() {
            changes.push(Write::SettleAttempt {
                attempt: a.id,
                status: AttemptStatus::Abandoned,
                failure_code: None,
                at: now,
            });
        }
    }
    changes.push(Write::CancelOrder {
        order: order.id,
        reason: "reservation_expired".into(),
        at: now,
    });
    let lines = svc.store.orders().order_lines(order.id).await?;
    for m in notices::letters(svc, order, &lines, OrderEvent::Cancelled, None).await? {
        changes.push_mail(m);
    }
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(order = %order.id, "unpaid order cancelled; stock released");
            Ok(true)
        }
        Err(e)
            if e.is_precondition(guards::ORDER_STATE)
                || e.is_precondition(guards::ATTEMPT_SETTLED) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// One fulfilment step by `party` (`None`: the system).
async fn step(
    svc: &Services,
    id: OrderId,
    party: Option<OrderParty>,
    from: OrderStatus,
    to: OrderStatus,
    event: OrderEvent,
) -> Result<(), OrderError> {
    let repo = svc.store.orders();
    let order = match party {
        Some(p) => repo.order_for(id, p).await?,
        None => repo.order(id).await?,
    }
    .ok_or(OrderError::NotFound)?;
    // An unpaid order is not a sale yet: the seller does not see it.
    if matches!(party, Some(OrderParty::Seller(_))) && !order.status.was_paid() {
        return Err(OrderError::NotFound);
    }
    if order.status != from {
        return Err(OrderError::WrongState);
    }
    let lines = repo.order_lines(id).await?;
    let mut changes = Changes::new().with(Write::AdvanceOrder {
        order: id,
        party,
        from,
        to,
        at: svc.now(),
    });
    for m in notices::letters(svc, &order, &lines, event, None).await? {
        changes.push_mail(m);
    }
    svc.store.commit(&changes).await?;
    tracing::info!(order = %id, to = to.as_str(), "order moved");
    Ok(())
}

/// The seller sent it (`paid → shipped`). Not for an order that ships
/// anonymously: the centre's acceptance of the parcel takes this step
/// ([`crate::shipping::accept_changes`]).
pub async fn ship(svc: &Services, seller: MemberId, id: OrderId) -> Result<(), OrderError> {
    // Asked only about one's own sale: for another seller's order the
    // answer must be the unknown order's (C27), not "wrong state".
    match svc.store.shipping().shipment_of_order(id).await? {
        Some(s) if s.seller_id == seller => return Err(OrderError::WrongState),
        Some(_) => return Err(OrderError::NotFound),
        None => {}
    }
    step(
        svc,
        id,
        Some(OrderParty::Seller(seller)),
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderEvent::Shipped,
    )
    .await
}

/// The buyer received it (`shipped → delivered`).
pub async fn receive(svc: &Services, buyer: MemberId, id: OrderId) -> Result<(), OrderError> {
    step(
        svc,
        id,
        Some(OrderParty::Buyer(buyer)),
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderEvent::Delivered,
    )
    .await
}

/// Closes a delivered order (`delivered → completed`): by its buyer, or
/// by the system after `payments.complete_after_days`.
pub async fn complete(
    svc: &Services,
    buyer: Option<MemberId>,
    id: OrderId,
) -> Result<(), OrderError> {
    step(
        svc,
        id,
        buyer.map(OrderParty::Buyer),
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderEvent::Completed,
    )
    .await
}

/// Whether a refund is done or still with the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    Refunded,
    /// The processor could not be reached; reconciliation asks again with
    /// the same key (never a second refund).
    Pending,
}

/// The seller refunds `amount` of a paid order to the buyer's card.
///
/// The refund is numbered and its amount held against the order in one
/// guarded statement *before* the processor is asked, with the key
/// `anshin:<order>:refund:<n>`: a double click takes the same number (one
/// of the two is refused), a retry after a crash asks for the same refund,
/// and two refunds together can never pass the total.
pub async fn refund(
    svc: &Services,
    seller: MemberId,
    id: OrderId,
    amount: Yen,
) -> Result<RefundOutcome, OrderError> {
    let repo = svc.store.orders();
    let order = repo
        .order_for(id, OrderParty::Seller(seller))
        .await?
        .filter(|o| o.status.was_paid())
        .ok_or(OrderError::NotFound)?;
    if !order.status.is_refundable() || order.paid_intent_id.is_none() {
        return Err(OrderError::WrongState);
    }
    if amount.amount() <= 0 {
        return Err(OrderError::InvalidAmount);
    }
    if amount.amount() > order.total.amount() - order.refunded.amount() {
        return Err(OrderError::RefundTooLarge);
    }
    let seq = i64::try_from(repo.refunds(id).await?.len()).unwrap_or(i64::MAX - 1) + 1;
    let new = NewRefund {
        id: svc.new_id(),
        order_id: id,
        seq,
        amount,
        idempotency_key: refund_key(id, seq),
        requested_by: seller,
        created_at: svc.now(),
    };
    svc.store
        .commit(&Changes::new().with(Write::StartRefund(new.clone())))
        .await?;
    let record = repo.refund(new.id).await?.ok_or(OrderError::NotFound)?;
    push_refund(svc, &record).await
}

/// Asks the processor for a numbered refund (again, after a crash: the
/// same key gets the same refund) and settles it.
pub async fn push_refund(svc: &Services, r: &RefundRecord) -> Result<RefundOutcome, OrderError> {
    let order = svc
        .store
        .orders()
        .order(r.order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    let intent = order.paid_intent_id.clone().ok_or(OrderError::WrongState)?;
    match svc
        .processor
        .refund(&intent, r.amount, &r.idempotency_key)
        .await
    {
        Ok(p) if !p.failed => {
            settle_refund(svc, r, Some(p.id)).await?;
            Ok(RefundOutcome::Refunded)
        }
        Ok(_) => {
            fail_refund(svc, r).await?;
            Err(ProcessorError::Refused {
                status: 402,
                message: "the processor could not refund".into(),
            }
            .into())
        }
        Err(ProcessorError::Unavailable(e)) => {
            tracing::warn!(order = %order.id, error = %e, "refund pending: processor unavailable");
            Ok(RefundOutcome::Pending)
        }
        Err(e) => {
            fail_refund(svc, r).await?;
            Err(e.into())
        }
    }
}

async fn fail_refund(svc: &Services, r: &RefundRecord) -> Result<(), OrderError> {
    let order = svc
        .store
        .orders()
        .order(r.order_id)
        .await?
        .ok_or(OrderError::NotFound)?;
    let w = Write::SettleRefund {
        refund: r.id,
        succeeded: false,
        processor_refund_id: None,
        refunded_before: order.refunded,
        at: svc.now(),
    };
    match svc.store.commit(&Changes::new().with(w)).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_precondition(guards::REFUND_SETTLED) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Settles a refund the processor made: the order's refunded total, its
/// ledger transaction and both letters, together. Another refund of the
/// same order settling at the same moment changes the refunded total the
/// postings are computed from; then this one reads again and retries.
async fn settle_refund(
    svc: &Services,
    r: &RefundRecord,
    processor_id: Option<String>,
) -> Result<(), OrderError> {
    for _ in 0..5 {
        let order = svc
            .store
            .orders()
            .order(r.order_id)
            .await?
            .ok_or(OrderError::NotFound)?;
        let now = svc.now();
        let lines = svc.store.orders().order_lines(order.id).await?;
        let mut changes = Changes::new()
            .with(Write::SettleRefund {
                refund: r.id,
                succeeded: true,
                processor_refund_id: processor_id.clone(),
                refunded_before: order.refunded,
                at: now,
            })
            .post(crate::ledger::refund(
                svc.new_id(),
                &order,
                r.id,
                order.refunded,
                r.amount,
                now,
            )?);
        for m in notices::letters(svc, &order, &lines, OrderEvent::Refunded, Some(r.amount)).await?
        {
            changes.push_mail(m);
        }
        match svc.store.commit(&changes).await {
            Ok(()) => {
                tracing::info!(order = %order.id, amount = r.amount.amount(), "refund settled");
                return Ok(());
            }
            Err(e)
                if e.is_precondition(guards::REFUND_SETTLED)
                    || e.is_precondition(guards::LEDGER_POSTED) =>
            {
                return Ok(());
            }
            Err(e) if e.is_precondition(guards::ORDER_STATE) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(OrderError::Store(StoreError::Conflict(
        "refund settlement kept racing",
    )))
}
