//! Carts, orders, payment attempts, processor events, refunds and the
//! ledger (see [`crate::orders`]). Every guard is one statement whose
//! `WHERE` says what must hold; a statement that touches no row fails its
//! guard, and the whole bundle rolls back.

/// The columns of an [`crate::OrderRecord`], in the order `order_from_row`
/// reads them.
pub const ORDER_COLUMNS: &str = "id, buyer_id, shop_id, seller_id, status, subtotal_yen, fee_yen, \
     total_yen, refunded_yen, shipping_address_id, reserved_until, card_brand, card_last4, \
     paid_intent_id, cancel_reason, created_at, updated_at, paid_at, shipped_at, delivered_at, \
     completed_at, closed_at";

pub const ATTEMPT_COLUMNS: &str = "id, order_id, attempt_no, idempotency_key, payment_method, \
     intent_id, status, failure_code, created_at, updated_at";

pub const REFUND_COLUMNS: &str = "id, order_id, seq, amount_yen, idempotency_key, \
     processor_refund_id, status, requested_by, created_at, updated_at";

/// The column that records when an order reached `to`, for the
/// fulfilment steps (from a closed set, never from input).
pub fn step_column(to: anshin_domain::OrderStatus) -> Option<&'static str> {
    use anshin_domain::OrderStatus as S;
    match to {
        S::Shipped => Some("shipped_at"),
        S::Delivered => Some("delivered_at"),
        S::Completed => Some("completed_at"),
        _ => None,
    }
}

/// Who may take a fulfilment step: the seller ships, the buyer says it
/// arrived; the system (a job) may take any step.
pub fn may_take(party: Option<crate::OrderParty>, to: anshin_domain::OrderStatus) -> bool {
    use crate::OrderParty as P;
    use anshin_domain::OrderStatus as S;
    matches!(
        (party, to),
        (None, _)
            | (Some(P::Seller(_)), S::Shipped)
            | (Some(P::Buyer(_)), S::Delivered | S::Completed)
    )
}

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_orders {
    ($Db:ty) => {
        type AttemptRow = (
            ::uuid::Uuid,
            ::uuid::Uuid,
            i64,
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            i64,
            i64,
        );
        type RefundRow = (
            ::uuid::Uuid,
            ::uuid::Uuid,
            i64,
            i64,
            String,
            Option<String>,
            String,
            ::uuid::Uuid,
            i64,
            i64,
        );

        fn order_from_row(
            row: &<$Db as ::sqlx::Database>::Row,
        ) -> Result<$crate::OrderRecord, $crate::StoreError> {
            use ::sqlx::Row as _;
            let t = "orders";
            let g = |e: ::sqlx::Error| $crate::StoreError::Other(e.to_string());
            let opt_ts = |v: Option<i64>| v.map(ts);
            Ok($crate::OrderRecord {
                id: $crate::OrderId::from_uuid(row.try_get(0).map_err(g)?),
                buyer_id: $crate::MemberId::from_uuid(row.try_get(1).map_err(g)?),
                shop_id: $crate::ShopId::from_uuid(row.try_get(2).map_err(g)?),
                seller_id: $crate::MemberId::from_uuid(row.try_get(3).map_err(g)?),
                status: $crate::OrderStatus::parse(&row.try_get::<String, _>(4).map_err(g)?)
                    .map_err(|_| corrupt(t, "status"))?,
                subtotal: $crate::Yen::new(row.try_get(5).map_err(g)?),
                fee: $crate::Yen::new(row.try_get(6).map_err(g)?),
                total: $crate::Yen::new(row.try_get(7).map_err(g)?),
                refunded: $crate::Yen::new(row.try_get(8).map_err(g)?),
                shipping_address_id: row
                    .try_get::<Option<::uuid::Uuid>, _>(9)
                    .map_err(g)?
                    .map($crate::AddressId::from_uuid),
                reserved_until: ts(row.try_get(10).map_err(g)?),
                card_brand: row.try_get(11).map_err(g)?,
                card_last4: row.try_get(12).map_err(g)?,
                paid_intent_id: row.try_get(13).map_err(g)?,
                cancel_reason: row.try_get(14).map_err(g)?,
                created_at: ts(row.try_get(15).map_err(g)?),
                updated_at: ts(row.try_get(16).map_err(g)?),
                paid_at: opt_ts(row.try_get(17).map_err(g)?),
                shipped_at: opt_ts(row.try_get(18).map_err(g)?),
                delivered_at: opt_ts(row.try_get(19).map_err(g)?),
                completed_at: opt_ts(row.try_get(20).map_err(g)?),
                closed_at: opt_ts(row.try_get(21).map_err(g)?),
            })
        }

        fn attempt_record(row: AttemptRow) -> Result<$crate::AttemptRecord, $crate::StoreError> {
            let (id, order_id, attempt_no, key, pm, intent, status, failure, created, updated) = row;
            Ok($crate::AttemptRecord {
                id: $crate::AttemptId::from_uuid(id),
                order_id: $crate::OrderId::from_uuid(order_id),
                attempt_no,
                idempotency_key: key,
                payment_method: pm,
                intent_id: intent,
                status: $crate::AttemptStatus::parse(&status)
                    .map_err(|_| corrupt("payment_attempts", "status"))?,
                failure_code: failure,
                created_at: ts(created),
                updated_at: ts(updated),
            })
        }

        fn refund_record(row: RefundRow) -> Result<$crate::RefundRecord, $crate::StoreError> {
            let (id, order_id, seq, amount, key, pid, status, by, created, updated) = row;
            Ok($crate::RefundRecord {
                id: $crate::RefundId::from_uuid(id),
                order_id: $crate::OrderId::from_uuid(order_id),
                seq,
                amount: $crate::Yen::new(amount),
                idempotency_key: key,
                processor_refund_id: pid,
                status: $crate::RefundStatus::parse(&status)
                    .map_err(|_| corrupt("refunds", "status"))?,
                requested_by: $crate::MemberId::from_uuid(by),
                created_at: ts(created),
                updated_at: ts(updated),
            })
        }

        fn precondition(guard: &'static str) -> $crate::StoreError {
            $crate::StoreError::Precondition(guard)
        }

        /// A unique violation becomes the guard `guard`; anything else as usual.
        fn unique_as(guard: &'static str) -> impl Fn(::sqlx::Error) -> $crate::StoreError {
            move |e| match &e {
                ::sqlx::Error::Database(d) if d.is_unique_violation() => precondition(guard),
                _ => other(e),
            }
        }

        async fn put_in_cart(
            tx: &mut Tx,
            session: $crate::SessionId,
            item: $crate::ItemId,
            quantity: $crate::Quantity,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "INSERT INTO cart_lines (session_id, item_id, quantity, added_at) \
                 SELECT $1, i.id, $3, $4 FROM items i JOIN shops s ON s.id = i.shop_id \
                 WHERE i.id = $2 AND i.status = 'on_sale' AND s.status = 'open' \
                 ON CONFLICT (session_id, item_id) DO UPDATE SET quantity = excluded.quantity",
            )
            .bind(session.as_uuid())
            .bind(item.as_uuid())
            .bind(quantity.to_db())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::ITEM_NOT_FOR_SALE));
            }
            Ok(())
        }

        async fn remove_from_cart(
            tx: &mut Tx,
            session: $crate::SessionId,
            item: $crate::ItemId,
        ) -> Result<(), $crate::StoreError> {
            ::sqlx::query("DELETE FROM cart_lines WHERE session_id = $1 AND item_id = $2")
                .bind(session.as_uuid())
                .bind(item.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn create_order(tx: &mut Tx, o: &$crate::NewOrder) -> Result<(), $crate::StoreError> {
            // Lines in item order: two orders racing for the same items
            // lock their rows in the same order, so they wait for each
            // other instead of deadlocking.
            let mut lines: Vec<&$crate::NewOrderLine> = o.lines.iter().collect();
            lines.sort_by_key(|l| l.item_id);
            for l in &lines {
                // The one statement that reserves stock: no read before,
                // so two buyers (on two instances) can never both take
                // the last one. Unlimited stock (NULL) stays NULL.
                let r = ::sqlx::query(
                    "UPDATE items SET stock = stock - $2 \
                     WHERE id = $1 AND shop_id = $4 AND price_yen = $3 AND status = 'on_sale' \
                     AND (stock IS NULL OR stock >= $2) \
                     AND shop_id IN (SELECT id FROM shops WHERE status = 'open')",
                )
                .bind(l.item_id.as_uuid())
                .bind(l.quantity.to_db())
                .bind(l.unit_price.amount())
                .bind(o.shop_id.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
                if r.rows_affected() == 0 {
                    // Why: too few left, or the item changed under the cart.
                    let row: Option<(i64, Option<i64>, String)> = ::sqlx::query_as(
                        "SELECT i.price_yen, i.stock, i.status FROM items i JOIN shops s ON s.id = i.shop_id \
                         WHERE i.id = $1 AND i.shop_id = $2 AND s.status = 'open'",
                    )
                    .bind(l.item_id.as_uuid())
                    .bind(o.shop_id.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(other)?;
                    let sold_out = matches!(
                        &row,
                        Some((price, Some(stock), status))
                            if *price == l.unit_price.amount()
                                && (status == "on_sale" || status == "sold_out")
                                && *stock < l.quantity.to_db()
                    );
                    return Err(precondition(if sold_out {
                        $crate::guards::SOLD_OUT
                    } else {
                        $crate::guards::ITEM_CHANGED
                    }));
                }
            }
            ::sqlx::query(
                "INSERT INTO orders (id, buyer_id, shop_id, seller_id, status, subtotal_yen, fee_yen, \
                 total_yen, refunded_yen, shipping_address_id, reserved_until, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'awaiting_payment', $5, $6, $7, 0, $8, $9, $10, $10)",
            )
            .bind(o.id.as_uuid())
            .bind(o.buyer_id.as_uuid())
            .bind(o.shop_id.as_uuid())
            .bind(o.seller_id.as_uuid())
            .bind(o.subtotal.amount())
            .bind(o.fee.amount())
            .bind(o.total.amount())
            .bind(o.shipping_address_id.as_uuid())
            .bind(o.reserved_until.micros())
            .bind(o.created_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            for l in &lines {
                ::sqlx::query(
                    "INSERT INTO order_lines (order_id, item_id, title, unit_price_yen, quantity) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(o.id.as_uuid())
                .bind(l.item_id.as_uuid())
                .bind(l.title.as_str())
                .bind(l.unit_price.amount())
                .bind(l.quantity.to_db())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
                ::sqlx::query("DELETE FROM cart_lines WHERE session_id = $1 AND item_id = $2")
                    .bind(o.session_id.as_uuid())
                    .bind(l.item_id.as_uuid())
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
            }
            ::sqlx::query("INSERT INTO order_shipping (order_id, member_id, address) VALUES ($1, $2, $3)")
                .bind(o.id.as_uuid())
                .bind(o.buyer_id.as_uuid())
                .bind(o.shipping_ciphertext.as_slice())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn start_attempt(tx: &mut Tx, a: &$crate::NewAttempt) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "INSERT INTO payment_attempts (id, order_id, attempt_no, idempotency_key, payment_method, \
                 intent_id, status, failure_code, created_at, updated_at) \
                 SELECT $1, o.id, $3, $4, $5, NULL, 'started', NULL, $6, $6 FROM orders o \
                 WHERE o.id = $2 AND o.buyer_id = $7 AND o.status = 'awaiting_payment' \
                 AND o.reserved_until > $6",
            )
            .bind(a.id.as_uuid())
            .bind(a.order_id.as_uuid())
            .bind(a.attempt_no)
            .bind(a.idempotency_key.as_str())
            .bind(a.payment_method.as_str())
            .bind(a.created_at.micros())
            .bind(a.buyer_id.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(unique_as($crate::guards::ATTEMPT_LIVE))?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::ORDER_NOT_PAYABLE));
            }
            Ok(())
        }

        async fn set_attempt_intent(
            tx: &mut Tx,
            attempt: $crate::AttemptId,
            intent: &str,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE payment_attempts SET intent_id = $2, updated_at = $3 \
                 WHERE id = $1 AND (intent_id IS NULL OR intent_id = $2)",
            )
            .bind(attempt.as_uuid())
            .bind(intent)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::ATTEMPT_SETTLED));
            }
            Ok(())
        }

        async fn settle_attempt(
            tx: &mut Tx,
            attempt: $crate::AttemptId,
            status: $crate::AttemptStatus,
            failure: Option<&str>,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE payment_attempts SET status = $2, failure_code = $3, updated_at = $4 \
                 WHERE id = $1 AND status IN ('started', 'requires_action')",
            )
            .bind(attempt.as_uuid())
            .bind(status.as_str())
            .bind(failure)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::ATTEMPT_SETTLED));
            }
            Ok(())
        }

        #[allow(clippy::too_many_arguments)]
        async fn mark_paid(
            tx: &mut Tx,
            order: $crate::OrderId,
            attempt: $crate::AttemptId,
            intent: &str,
            brand: Option<&str>,
            last4: Option<&str>,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE orders SET status = 'paid', paid_at = $2, updated_at = $2, card_brand = $3, \
                 card_last4 = $4, paid_intent_id = $5 WHERE id = $1 AND status = 'awaiting_payment'",
            )
            .bind(order.as_uuid())
            .bind(at.micros())
            .bind(brand)
            .bind(last4)
            .bind(intent)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::ORDER_STATE));
            }
            let r = ::sqlx::query(
                "UPDATE payment_attempts SET status = 'succeeded', failure_code = NULL, \
                 intent_id = $3, updated_at = $4 WHERE id = $1 AND order_id = $2 \
                 AND status <> 'succeeded' AND (intent_id IS NULL OR intent_id = $3)",
            )
            .bind(attempt.as_uuid())
            .bind(order.as_uuid())
            .bind(intent)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::ATTEMPT_SETTLED));
            }
            Ok(())
        }

        async fn cancel_order(
            tx: &mut Tx,
            order: $crate::OrderId,
            reason: &str,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE orders SET status = 'cancelled', cancel_reason = $2, closed_at = $3, updated_at = $3 \
                 WHERE id = $1 AND status = 'awaiting_payment'",
            )
            .bind(order.as_uuid())
            .bind(reason)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::ORDER_STATE));
            }
            // The reserved stock goes back (unlimited stock stays NULL;
            // never past the largest stock a shop may hold).
            ::sqlx::query(
                "UPDATE items SET stock = CASE \
                   WHEN stock + (SELECT l.quantity FROM order_lines l WHERE l.order_id = $1 AND l.item_id = items.id) > 99999 \
                   THEN 99999 \
                   ELSE stock + (SELECT l.quantity FROM order_lines l WHERE l.order_id = $1 AND l.item_id = items.id) END \
                 WHERE stock IS NOT NULL AND id IN (SELECT item_id FROM order_lines WHERE order_id = $1)",
            )
            .bind(order.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn advance_order(
            tx: &mut Tx,
            order: $crate::OrderId,
            party: Option<$crate::OrderParty>,
            from: $crate::OrderStatus,
            to: $crate::OrderStatus,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let column = match $crate::sql::orders::step_column(to) {
                Some(c) if from.can_become(to) && $crate::sql::orders::may_take(party, to) => c,
                _ => return Err(precondition($crate::guards::ORDER_STATE)),
            };
            // Column and party names come from closed sets, never input.
            let (scope, who) = match party {
                Some($crate::OrderParty::Buyer(m)) => (" AND buyer_id = $5", Some(m.as_uuid())),
                Some($crate::OrderParty::Seller(m)) => (" AND seller_id = $5", Some(m.as_uuid())),
                None => (" AND $5 IS NULL", None),
            };
            // nosemgrep: anshin-sql-from-format -- {column} and {scope} come from the closed match above; values are bound
            let sql = format!(
                "UPDATE orders SET status = $3, {column} = $4, updated_at = $4 \
                 WHERE id = $1 AND status = $2{scope}"
            );
            let r = ::sqlx::query(::sqlx::AssertSqlSafe(sql))
                .bind(order.as_uuid())
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(at.micros())
                .bind(who)
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::ORDER_STATE));
            }
            Ok(())
        }

        async fn record_event(
            tx: &mut Tx,
            event_id: &str,
            kind: &str,
            order: Option<$crate::OrderId>,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "INSERT INTO processor_events (event_id, kind, order_id, received_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(event_id)
            .bind(kind)
            .bind(order.map(|o| o.as_uuid()))
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::EVENT_SEEN));
            }
            Ok(())
        }

        async fn start_refund(tx: &mut Tx, r: &$crate::NewRefund) -> Result<(), $crate::StoreError> {
            // Hold the order's row first (PostgreSQL; SQLite's BEGIN
            // IMMEDIATE already serialises writers), so parallel refunds
            // of one order count each other's pending amounts.
            ::sqlx::query("UPDATE orders SET updated_at = updated_at WHERE id = $1")
                .bind(r.order_id.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            let done = ::sqlx::query(
                "INSERT INTO refunds (id, order_id, seq, amount_yen, idempotency_key, processor_refund_id, \
                 status, requested_by, created_at, updated_at) \
                 SELECT $1, o.id, $3, $4, $5, NULL, 'pending', $6, $7, $7 FROM orders o \
                 WHERE o.id = $2 AND o.seller_id = $6 \
                 AND o.status IN ('paid', 'shipped', 'delivered', 'completed') \
                 AND o.refunded_yen + $4 + (SELECT COALESCE(SUM(p.amount_yen), 0) FROM refunds p \
                   WHERE p.order_id = $2 AND p.status = 'pending') <= o.total_yen",
            )
            .bind(r.id.as_uuid())
            .bind(r.order_id.as_uuid())
            .bind(r.seq)
            .bind(r.amount.amount())
            .bind(r.idempotency_key.as_str())
            .bind(r.requested_by.as_uuid())
            .bind(r.created_at.micros())
            .execute(&mut **tx)
            .await
            .map_err(unique_as($crate::guards::REFUND_RACE))?;
            if done.rows_affected() == 0 {
                return Err(precondition($crate::guards::REFUND_TOO_LARGE));
            }
            Ok(())
        }

        async fn settle_refund(
            tx: &mut Tx,
            refund: $crate::RefundId,
            succeeded: bool,
            processor_id: Option<&str>,
            before: $crate::Yen,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let status = if succeeded { "succeeded" } else { "failed" };
            let row: Option<(::uuid::Uuid, i64)> = ::sqlx::query_as(
                "UPDATE refunds SET status = $2, processor_refund_id = $3, updated_at = $4 \
                 WHERE id = $1 AND status = 'pending' RETURNING order_id, amount_yen",
            )
            .bind(refund.as_uuid())
            .bind(status)
            .bind(processor_id)
            .bind(at.micros())
            .fetch_optional(&mut **tx)
            .await
            .map_err(other)?;
            let Some((order, amount)) = row else {
                return Err(precondition($crate::guards::REFUND_SETTLED));
            };
            if succeeded {
                let r = ::sqlx::query(
                    "UPDATE orders SET refunded_yen = refunded_yen + $2, \
                     status = CASE WHEN refunded_yen + $2 = total_yen THEN 'refunded' ELSE status END, \
                     closed_at = CASE WHEN refunded_yen + $2 = total_yen THEN $3 ELSE closed_at END, \
                     updated_at = $3 \
                     WHERE id = $1 AND refunded_yen = $4 AND refunded_yen + $2 <= total_yen \
                     AND status IN ('paid', 'shipped', 'delivered', 'completed')",
                )
                .bind(order)
                .bind(amount)
                .bind(at.micros())
                .bind(before.amount())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
                if r.rows_affected() == 0 {
                    return Err(precondition($crate::guards::ORDER_STATE));
                }
            }
            Ok(())
        }

        async fn post_ledger(tx: &mut Tx, t: &$crate::LedgerTransaction) -> Result<(), $crate::StoreError> {
            // Checked when the value was made; checked again here, so
            // nothing unbalanced reaches the table whatever built it.
            if $crate::orders::check_balanced(t.postings()).is_err() {
                return Err(corrupt("ledger_postings", "unbalanced transaction"));
            }
            let r = ::sqlx::query(
                "INSERT INTO ledger_transactions (id, key, kind, order_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
            )
            .bind(t.id().as_uuid())
            .bind(t.key())
            .bind(t.kind().as_str())
            .bind(t.order().map(|o| o.as_uuid()))
            .bind(t.at().micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if r.rows_affected() == 0 {
                return Err(precondition($crate::guards::LEDGER_POSTED));
            }
            for (line, p) in t.postings().iter().enumerate() {
                ::sqlx::query(
                    "INSERT INTO ledger_postings (tx_id, line, account, shop_id, amount_yen) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(t.id().as_uuid())
                .bind(i64::try_from(line).unwrap_or(i64::MAX))
                .bind(p.account.as_str())
                .bind(p.shop.map(|s| s.as_uuid()))
                .bind(p.amount.amount())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            }
            Ok(())
        }

        impl Repos {
            /// Orders matching `clause` (a constant using `$1`), at most `limit`.
            async fn orders_where(
                &self,
                clause: &'static str,
                bind_int: i64,
                limit: u32,
            ) -> Result<Vec<$crate::OrderRecord>, $crate::StoreError> {
                // nosemgrep: anshin-sql-from-format -- {clause} is a &'static str constant of this file's callers; values are bound
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE {clause} LIMIT $2",
                    ORDER_COLUMNS = $crate::sql::orders::ORDER_COLUMNS
                );
                let rows = ::sqlx::query(::sqlx::AssertSqlSafe(sql))
                    .bind(bind_int)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.iter().map(order_from_row).collect()
            }

            async fn transactions(
                &self,
                where_clause: &'static str,
                bind: Option<::uuid::Uuid>,
                limit: i64,
            ) -> Result<Vec<$crate::StoredTransaction>, $crate::StoreError> {
                // nosemgrep: anshin-sql-from-format -- {where_clause} is a &'static str constant of this file's callers; values are bound
                let sql = format!(
                    "SELECT id, key, kind, order_id, created_at FROM ledger_transactions \
                     WHERE {where_clause} ORDER BY id LIMIT $2"
                );
                let heads: Vec<(::uuid::Uuid, String, String, Option<::uuid::Uuid>, i64)> =
                    ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                        .bind(bind)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(other)?;
                let mut out = Vec::with_capacity(heads.len());
                for (id, key, kind, order, at) in heads {
                    let rows: Vec<(String, Option<::uuid::Uuid>, i64)> = ::sqlx::query_as(
                        "SELECT account, shop_id, amount_yen FROM ledger_postings WHERE tx_id = $1 ORDER BY line",
                    )
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                    let postings = rows
                        .into_iter()
                        .map(|(account, shop, amount)| {
                            Ok($crate::Posting {
                                account: $crate::LedgerAccount::parse(&account)
                                    .map_err(|_| corrupt("ledger_postings", "account"))?,
                                shop: shop.map($crate::ShopId::from_uuid),
                                amount: $crate::Yen::new(amount),
                            })
                        })
                        .collect::<Result<Vec<_>, $crate::StoreError>>()?;
                    out.push($crate::StoredTransaction {
                        id: $crate::LedgerTxId::from_uuid(id),
                        key,
                        kind: $crate::LedgerKind::parse(&kind)
                            .ok_or(corrupt("ledger_transactions", "kind"))?,
                        order: order.map($crate::OrderId::from_uuid),
                        at: ts(at),
                        postings,
                    });
                }
                Ok(out)
            }
        }

        #[::async_trait::async_trait]
        impl $crate::OrderRepo for Repos {
            async fn cart(
                &self,
                session: $crate::SessionId,
            ) -> Result<Vec<$crate::CartLine>, $crate::StoreError> {
                let rows: Vec<(
                    ::uuid::Uuid,
                    i64,
                    i64,
                    ::uuid::Uuid,
                    String,
                    String,
                    String,
                    i64,
                    Option<i64>,
                    String,
                )> = ::sqlx::query_as(
                    "SELECT c.item_id, c.quantity, c.added_at, s.id, s.name, s.status, i.title, \
                     i.price_yen, i.stock, i.status \
                     FROM cart_lines c JOIN items i ON i.id = c.item_id JOIN shops s ON s.id = i.shop_id \
                     WHERE c.session_id = $1 ORDER BY c.added_at, c.item_id",
                )
                .bind(session.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter()
                    .map(|(item, q, added, shop, shop_name, shop_status, title, p, st, status)| {
                        Ok($crate::CartLine {
                            item_id: $crate::ItemId::from_uuid(item),
                            quantity: $crate::Quantity::from_db(q)
                                .ok_or(corrupt("cart_lines", "quantity"))?,
                            added_at: ts(added),
                            shop_id: $crate::ShopId::from_uuid(shop),
                            shop_name: $crate::ShopName::parse(&shop_name)
                                .ok_or(corrupt("shops", "name"))?,
                            shop_status: $crate::ShopStatus::parse(&shop_status)
                                .map_err(|_| corrupt("shops", "status"))?,
                            title: $crate::ItemTitle::parse(&title)
                                .ok_or(corrupt("items", "title"))?,
                            price: price("items", p)?,
                            stock: stock("items", st)?,
                            item_status: item_status("items", &status)?,
                        })
                    })
                    .collect()
            }

            async fn order(
                &self,
                id: $crate::OrderId,
            ) -> Result<Option<$crate::OrderRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1",
                    ORDER_COLUMNS = $crate::sql::orders::ORDER_COLUMNS
                );
                let row = ::sqlx::query(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.as_ref().map(order_from_row).transpose()
            }

            async fn order_for(
                &self,
                id: $crate::OrderId,
                party: $crate::OrderParty,
            ) -> Result<Option<$crate::OrderRecord>, $crate::StoreError> {
                let (column, who) = match party {
                    $crate::OrderParty::Buyer(m) => ("buyer_id", m),
                    $crate::OrderParty::Seller(m) => ("seller_id", m),
                };
                // nosemgrep: anshin-sql-from-format -- {column} comes from the closed match above; values are bound
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND {column} = $2",
                    ORDER_COLUMNS = $crate::sql::orders::ORDER_COLUMNS
                );
                let row = ::sqlx::query(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .bind(who.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.as_ref().map(order_from_row).transpose()
            }

            async fn order_lines(
                &self,
                id: $crate::OrderId,
            ) -> Result<Vec<$crate::OrderLineRecord>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, String, i64, i64)> = ::sqlx::query_as(
                    "SELECT item_id, title, unit_price_yen, quantity FROM order_lines \
                     WHERE order_id = $1 ORDER BY item_id",
                )
                .bind(id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter()
                    .map(|(item, title, price, q)| {
                        Ok($crate::OrderLineRecord {
                            item_id: $crate::ItemId::from_uuid(item),
                            title,
                            unit_price: $crate::Yen::new(price),
                            quantity: $crate::Quantity::from_db(q)
                                .ok_or(corrupt("order_lines", "quantity"))?,
                        })
                    })
                    .collect()
            }

            async fn orders_of(
                &self,
                party: $crate::OrderParty,
                offset: u32,
                limit: u32,
            ) -> Result<Vec<$crate::OrderRecord>, $crate::StoreError> {
                // A seller's list holds only orders that were paid: the
                // filter is in the query, so that a page is full however
                // many unpaid orders lie between.
                let (column, who, paid) = match party {
                    $crate::OrderParty::Buyer(m) => ("buyer_id", m, ""),
                    $crate::OrderParty::Seller(m) => ("seller_id", m, " AND paid_at IS NOT NULL"),
                };
                // nosemgrep: anshin-sql-from-format -- {column} and {paid} come from the closed match above; values are bound
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE {column} = $1{paid} \
                     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
                    ORDER_COLUMNS = $crate::sql::orders::ORDER_COLUMNS
                );
                let rows = ::sqlx::query(::sqlx::AssertSqlSafe(sql))
                    .bind(who.as_uuid())
                    .bind(i64::from(limit))
                    .bind(i64::from(offset))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.iter().map(order_from_row).collect()
            }

            async fn order_shipping(
                &self,
                id: $crate::OrderId,
            ) -> Result<Option<($crate::MemberId, Vec<u8>)>, $crate::StoreError> {
                let row: Option<(::uuid::Uuid, Vec<u8>)> = ::sqlx::query_as(
                    "SELECT member_id, address FROM order_shipping WHERE order_id = $1",
                )
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(m, ct)| ($crate::MemberId::from_uuid(m), ct)))
            }

            async fn attempts(
                &self,
                order: $crate::OrderId,
            ) -> Result<Vec<$crate::AttemptRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE order_id = $1 ORDER BY attempt_no",
                    ATTEMPT_COLUMNS = $crate::sql::orders::ATTEMPT_COLUMNS
                );
                let rows: Vec<AttemptRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(order.as_uuid())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(attempt_record).collect()
            }

            async fn attempt(
                &self,
                id: $crate::AttemptId,
            ) -> Result<Option<$crate::AttemptRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE id = $1",
                    ATTEMPT_COLUMNS = $crate::sql::orders::ATTEMPT_COLUMNS
                );
                let row: Option<AttemptRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(attempt_record).transpose()
            }

            async fn attempt_by_intent(
                &self,
                intent: &str,
            ) -> Result<Option<$crate::AttemptRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE intent_id = $1",
                    ATTEMPT_COLUMNS = $crate::sql::orders::ATTEMPT_COLUMNS
                );
                let row: Option<AttemptRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(intent)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(attempt_record).transpose()
            }

            async fn stale_attempts(
                &self,
                before: $crate::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::AttemptRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE status IN ('started', 'requires_action') \
                     AND updated_at < $1 ORDER BY updated_at, id LIMIT $2",
                    ATTEMPT_COLUMNS = $crate::sql::orders::ATTEMPT_COLUMNS
                );
                let rows: Vec<AttemptRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(before.micros())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(attempt_record).collect()
            }

            async fn expired_orders(
                &self,
                now: $crate::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::OrderRecord>, $crate::StoreError> {
                self.orders_where(
                    "status = 'awaiting_payment' AND reserved_until <= $1 ORDER BY reserved_until, id",
                    now.micros(),
                    limit,
                )
                .await
            }

            async fn delivered_before(
                &self,
                before: $crate::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::OrderRecord>, $crate::StoreError> {
                self.orders_where(
                    "status = 'delivered' AND delivered_at < $1 ORDER BY delivered_at, id",
                    before.micros(),
                    limit,
                )
                .await
            }

            async fn refunds(
                &self,
                order: $crate::OrderId,
            ) -> Result<Vec<$crate::RefundRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {REFUND_COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY seq",
                    REFUND_COLUMNS = $crate::sql::orders::REFUND_COLUMNS
                );
                let rows: Vec<RefundRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(order.as_uuid())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(refund_record).collect()
            }

            async fn refund(
                &self,
                id: $crate::RefundId,
            ) -> Result<Option<$crate::RefundRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1",
                    REFUND_COLUMNS = $crate::sql::orders::REFUND_COLUMNS
                );
                let row: Option<RefundRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(refund_record).transpose()
            }

            async fn stale_refunds(
                &self,
                before: $crate::Timestamp,
                limit: u32,
            ) -> Result<Vec<$crate::RefundRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {REFUND_COLUMNS} FROM refunds WHERE status = 'pending' AND updated_at < $1 \
                     ORDER BY updated_at, id LIMIT $2",
                    REFUND_COLUMNS = $crate::sql::orders::REFUND_COLUMNS
                );
                let rows: Vec<RefundRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(before.micros())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.into_iter().map(refund_record).collect()
            }

            async fn event_seen(&self, event_id: &str) -> Result<bool, $crate::StoreError> {
                let row: Option<(String,)> =
                    ::sqlx::query_as("SELECT event_id FROM processor_events WHERE event_id = $1")
                        .bind(event_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(other)?;
                Ok(row.is_some())
            }

            async fn account_sums(&self) -> Result<Vec<$crate::AccountSum>, $crate::StoreError> {
                let rows: Vec<(String, Option<::uuid::Uuid>, i64)> = ::sqlx::query_as(
                    "SELECT account, shop_id, CAST(SUM(amount_yen) AS BIGINT) FROM ledger_postings \
                     GROUP BY account, shop_id ORDER BY account, shop_id",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter()
                    .map(|(account, shop, sum)| {
                        Ok($crate::AccountSum {
                            account: $crate::LedgerAccount::parse(&account)
                                .map_err(|_| corrupt("ledger_postings", "account"))?,
                            shop: shop.map($crate::ShopId::from_uuid),
                            sum: $crate::Yen::new(sum),
                        })
                    })
                    .collect()
            }

            async fn seller_balance(&self, shop: $crate::ShopId) -> Result<$crate::Yen, $crate::StoreError> {
                let (sum,): (i64,) = ::sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(amount_yen), 0) AS BIGINT) FROM ledger_postings \
                     WHERE account = 'seller_payable' AND shop_id = $1",
                )
                .bind(shop.as_uuid())
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
                Ok($crate::Yen::new(sum.saturating_neg()))
            }

            async fn open_orders_of(
                &self,
                member: $crate::MemberId,
            ) -> Result<(u64, u64), $crate::StoreError> {
                let (buyer, seller): (i64, i64) = ::sqlx::query_as(
                    "SELECT \
                     CAST(COALESCE(SUM(CASE WHEN buyer_id = $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                     CAST(COALESCE(SUM(CASE WHEN seller_id = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
                     FROM orders o WHERE (buyer_id = $1 OR seller_id = $1) \
                     AND (status IN ('awaiting_payment', 'paid', 'shipped', 'delivered') \
                     OR EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id \
                                AND r.status = 'pending'))",
                )
                .bind(member.as_uuid())
                .fetch_one(&self.pool)
                .await
                .map_err(other)?;
                Ok((
                    u64::try_from(buyer).unwrap_or(0),
                    u64::try_from(seller).unwrap_or(0),
                ))
            }

            async fn ledger_page(
                &self,
                after: Option<$crate::LedgerTxId>,
                limit: u32,
            ) -> Result<Vec<$crate::StoredTransaction>, $crate::StoreError> {
                self.transactions("($1 IS NULL OR id > $1)", after.map(|a| a.as_uuid()), i64::from(limit))
                    .await
            }

            async fn orders_page(
                &self,
                after: Option<$crate::OrderId>,
                limit: u32,
            ) -> Result<Vec<$crate::OrderRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                    ORDER_COLUMNS = $crate::sql::orders::ORDER_COLUMNS
                );
                let rows = ::sqlx::query(::sqlx::AssertSqlSafe(sql))
                    .bind(after.map(|a| a.as_uuid()))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(other)?;
                rows.iter().map(order_from_row).collect()
            }

            async fn ledger_of_order(
                &self,
                order: $crate::OrderId,
            ) -> Result<Vec<$crate::StoredTransaction>, $crate::StoreError> {
                self.transactions("order_id = $1", Some(order.as_uuid()), i64::MAX).await
            }
        }
    };
}
