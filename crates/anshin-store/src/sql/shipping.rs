//! Anonymous shipping (see [`crate::shipping`]): every guard is one
//! statement whose `WHERE` says what must hold.

pub const SHIPMENT_COLUMNS: &str = "s.id, s.order_id, s.shop_id, s.seller_id, s.buyer_id, \
     s.status, s.generation, s.created_at, s.updated_at, \
     (SELECT COUNT(*) FROM shipment_labels l WHERE l.shipment_id = s.id AND l.sender IS NOT NULL)";

/// The retention listing (C17): delivered shipments not yet purged,
/// delivered at or before `$1`, after the position `($2, $3)` (delivery
/// time, id), in that order, at most `$4`. The position is a row value so
/// that both databases seek the `shipments_to_purge` index to it: written
/// as `delivered_at > $2 OR (delivered_at = $2 AND id > $3)`, PostgreSQL
/// bounded the index scan only by `$1` and read it from its start on every
/// batch, past the entries of every shipment purged before (they stay in
/// the index until vacuum), so a purge's listing grew with what it had
/// already done (bench `purge`, `bench/README.md`).
pub const SHIPMENTS_TO_PURGE: &str = "SELECT id, delivered_at FROM shipments \
     WHERE purged_at IS NULL AND delivered_at IS NOT NULL AND delivered_at <= $1 \
     AND (delivered_at, id) > ($2, $3) ORDER BY delivered_at, id LIMIT $4";

/// A batch of shipments' purge (C17), `n` of them, in order: mark the
/// rows (`$1` the time, `$2…` the shipments; returns each marked
/// shipment's id and order id), then the statements on the marked
/// shipments (`$1…`), then their orders' address snapshots (`$1…` the
/// orders), then the audit details (the `n` shipments then the `n`
/// orders, as text). One statement per table per batch, not per record
/// (bench `purge`: on PostgreSQL 9 round trips a record were the purge's
/// time); the lists are placeholders only, every id is bound. Each finds
/// its rows through an index (test
/// `c17_every_purge_statement_finds_its_rows_by_an_index`).
pub fn purge_shipment_mark(n: usize) -> String {
    // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
    format!(
        "UPDATE shipments SET purged_at = $1 WHERE id IN ({}) \
         AND status = 'delivered' AND purged_at IS NULL RETURNING id, order_id",
        super::placeholders(2, n)
    )
}
/// See [`purge_shipment_mark`].
pub fn purge_shipment_rows(n: usize) -> [String; 5] {
    let ids = super::placeholders(1, n);
    [
        // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
        format!("DELETE FROM shipment_labels WHERE shipment_id IN ({ids})"),
        // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
        format!("DELETE FROM shipment_keys WHERE shipment_id IN ({ids})"),
        // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
        format!("DELETE FROM dropoff_codes WHERE shipment_id IN ({ids})"),
        // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
        format!("DELETE FROM parcel_events WHERE shipment_id IN ({ids})"),
        // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
        format!("UPDATE waybill_void_requests SET reason = '' WHERE shipment_id IN ({ids})"),
    ]
}
/// See [`purge_shipment_mark`].
pub fn purge_order_shipping(n: usize) -> String {
    // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
    format!(
        "DELETE FROM order_shipping WHERE order_id IN ({})",
        super::placeholders(1, n)
    )
}
/// See [`purge_shipment_mark`].
pub fn purge_shipment_audit(n: usize) -> String {
    // nosemgrep: anshin-sql-from-format -- the list is `$n` placeholders from `placeholders`; every id is bound
    format!(
        "DELETE FROM audit_details WHERE idx IN (SELECT idx \
         FROM audit_entries WHERE (target_kind = 'shipment' AND target_id IN ({})) \
         OR (target_kind = 'order' AND target_id IN ({})))",
        super::placeholders(1, n),
        super::placeholders(n + 1, n)
    )
}

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_shipping {
    ($Db:ty) => {
        type ShipmentRow = (
            ::uuid::Uuid,
            ::uuid::Uuid,
            ::uuid::Uuid,
            ::uuid::Uuid,
            ::uuid::Uuid,
            String,
            i64,
            i64,
            i64,
            i64,
        );

        fn shipment_record(row: ShipmentRow) -> Result<$crate::ShipmentRecord, $crate::StoreError> {
            let (id, order, shop, seller, buyer, status, generation, created, updated, sender) = row;
            Ok($crate::ShipmentRecord {
                id: $crate::ShipmentId::from_uuid(id),
                order_id: $crate::OrderId::from_uuid(order),
                shop_id: $crate::ShopId::from_uuid(shop),
                seller_id: $crate::MemberId::from_uuid(seller),
                buyer_id: $crate::MemberId::from_uuid(buyer),
                status: $crate::ShipmentStatus::parse(&status)
                    .map_err(|_| corrupt("shipments", "status"))?,
                generation: u32::try_from(generation)
                    .map_err(|_| corrupt("shipments", "generation"))?,
                has_sender: sender > 0,
                created_at: ts(created),
                updated_at: ts(updated),
            })
        }

        fn shipment_guard(
            r: Result<<$Db as ::sqlx::Database>::QueryResult, ::sqlx::Error>,
            guard: &'static str,
        ) -> Result<(), $crate::StoreError> {
            if r.map_err(other)?.rows_affected() == 0 {
                return Err($crate::StoreError::Precondition(guard));
            }
            Ok(())
        }

        async fn set_shop_shipping(
            tx: &mut Tx,
            owner: $crate::MemberId,
            shop: $crate::ShopId,
            anonymous: bool,
            sender: Option<$crate::AddressId>,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let (mine,): (i64,) =
                ::sqlx::query_as("SELECT COUNT(*) FROM shops WHERE id = $1 AND owner_id = $2")
                    .bind(shop.as_uuid())
                    .bind(owner.as_uuid())
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(other)?;
            if mine == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::SHOP_NOT_FOUND));
            }
            if let Some(a) = sender {
                let (theirs,): (i64,) = ::sqlx::query_as(
                    "SELECT COUNT(*) FROM shipping_addresses WHERE id = $1 AND member_id = $2",
                )
                .bind(a.as_uuid())
                .bind(owner.as_uuid())
                .fetch_one(&mut **tx)
                .await
                .map_err(other)?;
                if theirs == 0 {
                    return Err($crate::StoreError::Precondition(
                        $crate::guards::ADDRESS_NOT_FOUND,
                    ));
                }
            }
            ::sqlx::query(
                "INSERT INTO shop_shipping (shop_id, anonymous, sender_address_id, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (shop_id) DO UPDATE SET \
                 anonymous = excluded.anonymous, sender_address_id = excluded.sender_address_id, \
                 updated_at = excluded.updated_at",
            )
            .bind(shop.as_uuid())
            .bind(i64::from(anonymous))
            .bind(sender.map(|a| a.as_uuid()))
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn create_shipment(
            tx: &mut Tx,
            s: &$crate::NewShipment,
        ) -> Result<(), $crate::StoreError> {
            let (paid,): (i64,) = ::sqlx::query_as(
                "SELECT COUNT(*) FROM orders WHERE id = $1 AND status = 'paid' \
                 AND buyer_id = $2 AND seller_id = $3 AND shop_id = $4",
            )
            .bind(s.order_id.as_uuid())
            .bind(s.buyer_id.as_uuid())
            .bind(s.seller_id.as_uuid())
            .bind(s.shop_id.as_uuid())
            .fetch_one(&mut **tx)
            .await
            .map_err(other)?;
            if paid == 0 {
                return Err($crate::StoreError::Precondition($crate::guards::ORDER_STATE));
            }
            let at = s.created_at.micros();
            ::sqlx::query(
                "INSERT INTO shipments (id, order_id, shop_id, seller_id, buyer_id, status, \
                 generation, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'awaiting_dropoff', 0, $6, $6)",
            )
            .bind(s.id.as_uuid())
            .bind(s.order_id.as_uuid())
            .bind(s.shop_id.as_uuid())
            .bind(s.seller_id.as_uuid())
            .bind(s.buyer_id.as_uuid())
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            ::sqlx::query(
                "INSERT INTO shipment_keys (shipment_id, wrapped_key, kek_version, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(s.id.as_uuid())
            .bind(s.wrapped_key.as_slice())
            .bind(s.kek_version)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            ::sqlx::query(
                "INSERT INTO shipment_labels (shipment_id, recipient, sender) VALUES ($1, $2, $3)",
            )
            .bind(s.id.as_uuid())
            .bind(s.recipient.as_slice())
            .bind(s.sender.as_deref())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            ::sqlx::query(
                "INSERT INTO dropoff_codes (code_hash, shipment_id, generation, status, created_at) \
                 VALUES ($1, $2, 0, 'live', $3)",
            )
            .bind(&s.code_hash[..])
            .bind(s.id.as_uuid())
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        async fn set_shipment_sender(
            tx: &mut Tx,
            shipment: $crate::ShipmentId,
            seller: $crate::MemberId,
            sender: &[u8],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE shipments SET updated_at = $3 WHERE id = $1 AND seller_id = $2 \
                 AND status = 'awaiting_dropoff'",
            )
            .bind(shipment.as_uuid())
            .bind(seller.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await;
            shipment_guard(r, $crate::guards::SHIPMENT_STATE)?;
            let r = ::sqlx::query("UPDATE shipment_labels SET sender = $2 WHERE shipment_id = $1")
                .bind(shipment.as_uuid())
                .bind(sender)
                .execute(&mut **tx)
                .await;
            // No label row: the shipment's key was purged.
            shipment_guard(r, $crate::guards::SHIPMENT_STATE)
        }

        async fn add_parcel_event(
            tx: &mut Tx,
            event: $crate::ParcelEventId,
            shipment: $crate::ShipmentId,
            kind: $crate::ParcelEventKind,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let (from, to) = kind.moves();
            // At most two states to leave; the list is a closed set.
            let a = from.first().map(|s| s.as_str()).unwrap_or("");
            let b = from.get(1).map(|s| s.as_str()).unwrap_or(a);
            let r = ::sqlx::query(
                "UPDATE shipments SET status = $2, updated_at = $5 \
                 WHERE id = $1 AND status IN ($3, $4)",
            )
            .bind(shipment.as_uuid())
            .bind(to.as_str())
            .bind(a)
            .bind(b)
            .bind(at.micros())
            .execute(&mut **tx)
            .await;
            shipment_guard(r, $crate::guards::SHIPMENT_STATE)?;
            ::sqlx::query(
                "INSERT INTO parcel_events (id, shipment_id, kind, at) VALUES ($1, $2, $3, $4)",
            )
            .bind(event.as_uuid())
            .bind(shipment.as_uuid())
            .bind(kind.as_str())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            if kind == $crate::ParcelEventKind::Delivered {
                // The retention period (C17) counts from here.
                ::sqlx::query("UPDATE shipments SET delivered_at = $2 WHERE id = $1")
                    .bind(shipment.as_uuid())
                    .bind(at.micros())
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
            }
            Ok(())
        }

        /// The retention purge of one delivered shipment (C17): destroys
        /// its key (the label row and both sealed addresses go with it),
        /// its drop-off codes and parcel events, the order's sealed
        /// address snapshot, the words of its void requests and the
        /// details of audit entries about the shipment or its order. The
        /// row stays with ids, status and times only. Nothing happens to
        /// a shipment already purged or not delivered.
        async fn purge_shipment(
            tx: &mut Tx,
            shipment: $crate::ShipmentId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            purge_shipments(tx, &[shipment], at).await
        }

        /// [`purge_shipment`] for many at once, one statement per table
        /// for each [`$crate::sql::PURGE_CHUNK`] of them.
        async fn purge_shipments(
            tx: &mut Tx,
            shipments: &[$crate::ShipmentId],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            for chunk in shipments.chunks($crate::sql::PURGE_CHUNK) {
                let sql = $crate::sql::shipping::purge_shipment_mark(chunk.len());
                let mut q = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql)).bind(at.micros());
                for s in chunk {
                    q = q.bind(s.as_uuid());
                }
                let marked: Vec<(::uuid::Uuid, ::uuid::Uuid)> =
                    q.fetch_all(&mut **tx).await.map_err(other)?;
                if marked.is_empty() {
                    continue;
                }
                let n = marked.len();
                for sql in $crate::sql::shipping::purge_shipment_rows(n) {
                    let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(sql));
                    for (id, _) in &marked {
                        q = q.bind(*id);
                    }
                    q.execute(&mut **tx).await.map_err(other)?;
                }
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(
                    $crate::sql::shipping::purge_order_shipping(n),
                ));
                for (_, order) in &marked {
                    q = q.bind(*order);
                }
                q.execute(&mut **tx).await.map_err(other)?;
                let mut q = ::sqlx::query(::sqlx::AssertSqlSafe(
                    $crate::sql::shipping::purge_shipment_audit(n),
                ));
                for (id, _) in &marked {
                    q = q.bind(id.to_string());
                }
                for (_, order) in &marked {
                    q = q.bind(order.to_string());
                }
                q.execute(&mut **tx).await.map_err(other)?;
            }
            Ok(())
        }

        async fn accept_dropoff(
            tx: &mut Tx,
            code_hash: &[u8; 32],
            shipment: $crate::ShipmentId,
            event: $crate::ParcelEventId,
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE dropoff_codes SET status = 'accepted', ended_at = $3 \
                 WHERE code_hash = $1 AND shipment_id = $2 AND status = 'live'",
            )
            .bind(&code_hash[..])
            .bind(shipment.as_uuid())
            .bind(at.micros())
            .execute(&mut **tx)
            .await;
            shipment_guard(r, $crate::guards::DROPOFF_NOT_LIVE)?;
            add_parcel_event(tx, event, shipment, $crate::ParcelEventKind::Accepted, at).await
        }

        async fn void_dropoff_code(
            tx: &mut Tx,
            shipment: $crate::ShipmentId,
            generation: u32,
            new_code_hash: &[u8; 32],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            let r = ::sqlx::query(
                "UPDATE dropoff_codes SET status = 'voided', ended_at = $3 \
                 WHERE shipment_id = $1 AND generation = $2 AND status = 'live'",
            )
            .bind(shipment.as_uuid())
            .bind(i64::from(generation))
            .bind(at.micros())
            .execute(&mut **tx)
            .await;
            shipment_guard(r, $crate::guards::DROPOFF_NOT_LIVE)?;
            let r = ::sqlx::query(
                "UPDATE shipments SET generation = generation + 1, updated_at = $3 \
                 WHERE id = $1 AND generation = $2 AND status = 'awaiting_dropoff'",
            )
            .bind(shipment.as_uuid())
            .bind(i64::from(generation))
            .bind(at.micros())
            .execute(&mut **tx)
            .await;
            shipment_guard(r, $crate::guards::SHIPMENT_STATE)?;
            ::sqlx::query(
                "INSERT INTO dropoff_codes (code_hash, shipment_id, generation, status, created_at) \
                 VALUES ($1, $2, $3, 'live', $4)",
            )
            .bind(&new_code_hash[..])
            .bind(shipment.as_uuid())
            .bind(i64::from(generation) + 1)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        #[::async_trait::async_trait]
        impl $crate::ShippingRepo for Repos {
            async fn shop_shipping(
                &self,
                shop: $crate::ShopId,
            ) -> Result<Option<$crate::ShopShippingRecord>, $crate::StoreError> {
                let row: Option<(i64, Option<::uuid::Uuid>, i64)> = ::sqlx::query_as(
                    "SELECT anonymous, sender_address_id, updated_at FROM shop_shipping \
                     WHERE shop_id = $1",
                )
                .bind(shop.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(anonymous, sender, updated)| $crate::ShopShippingRecord {
                    shop_id: shop,
                    anonymous: anonymous != 0,
                    sender_address_id: sender.map($crate::AddressId::from_uuid),
                    updated_at: ts(updated),
                }))
            }

            async fn shipment(
                &self,
                id: $crate::ShipmentId,
            ) -> Result<Option<$crate::ShipmentRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {SHIPMENT_COLUMNS} FROM shipments s WHERE s.id = $1",
                    SHIPMENT_COLUMNS = $crate::sql::shipping::SHIPMENT_COLUMNS
                );
                let row: Option<ShipmentRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(shipment_record).transpose()
            }

            async fn shipment_of_order(
                &self,
                order: $crate::OrderId,
            ) -> Result<Option<$crate::ShipmentRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {SHIPMENT_COLUMNS} FROM shipments s WHERE s.order_id = $1",
                    SHIPMENT_COLUMNS = $crate::sql::shipping::SHIPMENT_COLUMNS
                );
                let row: Option<ShipmentRow> = ::sqlx::query_as(::sqlx::AssertSqlSafe(sql))
                    .bind(order.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(shipment_record).transpose()
            }

            async fn sealed_label(
                &self,
                id: $crate::ShipmentId,
            ) -> Result<Option<$crate::SealedLabel>, $crate::StoreError> {
                let row: Option<(Vec<u8>, Vec<u8>, Option<Vec<u8>>)> = ::sqlx::query_as(
                    "SELECT k.wrapped_key, l.recipient, l.sender FROM shipment_keys k \
                     JOIN shipment_labels l ON l.shipment_id = k.shipment_id \
                     WHERE k.shipment_id = $1",
                )
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(other)?;
                Ok(row.map(|(wrapped_key, recipient, sender)| $crate::SealedLabel {
                    shipment_id: id,
                    wrapped_key,
                    recipient,
                    sender,
                }))
            }

            async fn dropoff_code(
                &self,
                hash: &[u8; 32],
            ) -> Result<Option<$crate::DropoffCodeRecord>, $crate::StoreError> {
                let row: Option<(Vec<u8>, ::uuid::Uuid, i64, String, i64, Option<i64>)> =
                    ::sqlx::query_as(
                        "SELECT code_hash, shipment_id, generation, status, created_at, ended_at \
                         FROM dropoff_codes WHERE code_hash = $1",
                    )
                    .bind(&hash[..])
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(other)?;
                row.map(|(h, shipment, generation, status, created, ended)| {
                    Ok($crate::DropoffCodeRecord {
                        code_hash: hash32("dropoff_codes", &h)?,
                        shipment_id: $crate::ShipmentId::from_uuid(shipment),
                        generation: u32::try_from(generation)
                            .map_err(|_| corrupt("dropoff_codes", "generation"))?,
                        status: $crate::DropoffCodeStatus::parse(&status)
                            .map_err(|_| corrupt("dropoff_codes", "status"))?,
                        created_at: ts(created),
                        ended_at: ended.map(ts),
                    })
                })
                .transpose()
            }

            async fn parcel_events(
                &self,
                id: $crate::ShipmentId,
            ) -> Result<Vec<$crate::ParcelEventRecord>, $crate::StoreError> {
                let rows: Vec<(::uuid::Uuid, String, i64)> = ::sqlx::query_as(
                    "SELECT id, kind, at FROM parcel_events WHERE shipment_id = $1 \
                     ORDER BY at, id",
                )
                .bind(id.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                rows.into_iter()
                    .map(|(eid, kind, at)| {
                        Ok($crate::ParcelEventRecord {
                            id: $crate::ParcelEventId::from_uuid(eid),
                            shipment_id: id,
                            kind: $crate::ParcelEventKind::parse(&kind)
                                .map_err(|_| corrupt("parcel_events", "kind"))?,
                            at: ts(at),
                        })
                    })
                    .collect()
            }

            async fn delivered_unpurged(
                &self,
                delivered_not_after: $crate::Timestamp,
                after: Option<($crate::Timestamp, $crate::ShipmentId)>,
                limit: u32,
            ) -> Result<Vec<($crate::ShipmentId, $crate::Timestamp)>, $crate::StoreError> {
                let (from, from_id) = after
                    .map(|(t, id)| (t.micros(), id.as_uuid()))
                    .unwrap_or((i64::MIN, ::uuid::Uuid::nil()));
                let rows: Vec<(::uuid::Uuid, i64)> =
                    ::sqlx::query_as($crate::sql::shipping::SHIPMENTS_TO_PURGE)
                .bind(delivered_not_after.micros())
                .bind(from)
                .bind(from_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(other)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, at)| ($crate::ShipmentId::from_uuid(id), ts(at)))
                    .collect())
            }
        }
    };
}
