//! The one write path: [`crate::Changes`] applied in one transaction.

#[doc(hidden)]
#[macro_export]
macro_rules! __sql_changes {
    ($Db:ty, $dialect:expr) => {
        /// Writes that need no answer and are sent with the next ones
        /// ([`Batch`]); every other write may read what those wrote, or
        /// must fail before them, so what is pending goes first.
        fn batched(write: &$crate::Write) -> bool {
            use $crate::Write as W;
            matches!(
                write,
                W::CreateSession(_)
                    | W::RecordLoginEvent(_)
                    | W::RememberDevice { .. }
                    | W::ClearAttempts { .. }
                    | W::EndLeastRecentSessions { .. }
            )
        }

        /// The tables a guard reads, for a guard that only reads: pending
        /// writes to other tables cannot change its answer, so they may
        /// wait (if it refuses, the bundle is rolled back before they are
        /// ever sent).
        fn reads_only(write: &$crate::Write) -> Option<&'static [&'static str]> {
            use $crate::Write as W;
            match write {
                W::EnsureNotLocked { .. } => Some(&["member_locks"]),
                _ => None,
            }
        }

        async fn apply(
            tx: &mut Tx,
            batch: &mut Batch,
            write: &$crate::Write,
        ) -> Result<(), $crate::StoreError> {
            use $crate::Write as W;
            let unaffected = reads_only(write)
                .is_some_and(|tables| !tables.iter().any(|t| batch.text.touches(t)));
            if !batched(write) && !unaffected {
                batch.flush(tx).await?;
            }
            match write {
                W::StartFlow(flow) => start_flow(tx, flow).await,
                W::ConsumeFlow { flow, at } => consume_flow(tx, *flow, *at).await,
                W::CreateMember(m) => create_member(tx, m).await,
                W::CreateSession(s) => {
                    insert_session(batch, s);
                    Ok(())
                }
                W::EndSession(id) => end_session(tx, *id).await,
                W::EndMemberSession { member, session } => {
                    end_member_session(tx, *member, *session).await
                }
                W::EndOtherSessions { member, keep } => {
                    end_other_sessions(tx, *member, *keep).await
                }
                W::MarkAuthenticated { session, at } => mark_authenticated(tx, *session, *at).await,
                W::RecordLoginEvent(ev) => insert_event(tx, batch, ev).await,
                W::RememberDevice {
                    member,
                    device_hash,
                    at,
                } => remember_device(tx, batch, *member, device_hash, *at).await,
                W::SetDisplayName { member, name, at } => {
                    set_display_name(tx, *member, name, *at).await
                }
                W::ChangeEmail {
                    member,
                    from,
                    to,
                    at,
                } => change_email(tx, *member, from, to, *at).await,
                W::AcceptTerms { member, terms } => accept_terms(tx, *member, terms).await,
                W::SetPasswordHash { member, hash, at } => {
                    set_password_hash(tx, *member, hash.as_deref(), *at).await
                }
                W::CreateUnlockToken {
                    token_hash,
                    email,
                    at,
                    expires_at,
                } => create_unlock_token(tx, token_hash, email, *at, *expires_at).await,
                W::SetPhone {
                    member,
                    ciphertext,
                    index,
                    at,
                } => set_phone(tx, *member, ciphertext, index, *at).await,
                W::AddAddress(a) => add_address(tx, a).await,
                W::UpdateAddress {
                    member,
                    address,
                    ciphertext,
                    make_default,
                    at,
                } => update_address(tx, *member, *address, ciphertext, *make_default, *at).await,
                W::SetDefaultAddress {
                    member,
                    address,
                    at,
                } => set_default_address(tx, *member, *address, *at).await,
                W::DeleteAddress { member, address } => delete_address(tx, *member, *address).await,
                W::SetBankAccount {
                    member,
                    ciphertext,
                    at,
                } => set_bank_account(tx, *member, ciphertext, *at).await,
                W::RemovePhone { member } => remove_phone(tx, *member).await,
                W::RemoveBankAccount { member } => remove_bank_account(tx, *member).await,
                W::KeepReauthDraft(d) => keep_reauth_draft(tx, d).await,
                W::DropReauthDraft { session, kind } => drop_reauth_draft(tx, *session, kind).await,
                W::Shred { member } => shred(tx, *member).await,
                W::EnsureRoom {
                    member,
                    collection,
                    max,
                    now,
                } => ensure_room(tx, *member, *collection, *max, *now).await,
                W::EndLeastRecentSessions { member, keep, now } => {
                    end_least_recent_sessions(tx, batch, *member, *keep, *now).await
                }
                W::OpenShop(shop) => open_shop(tx, shop).await,
                W::EditShop {
                    owner,
                    shop,
                    name,
                    description,
                    at,
                } => edit_shop(tx, *owner, *shop, name, description, *at).await,
                W::SetShopStatus {
                    owner,
                    shop,
                    status,
                    at,
                } => set_shop_status(tx, *owner, *shop, *status, *at).await,
                W::SetShopIcon {
                    owner,
                    shop,
                    icon,
                    at,
                } => set_shop_icon(tx, *owner, *shop, icon.as_ref(), *at).await,
                W::AddItem {
                    owner,
                    item,
                    max_items,
                } => add_item(tx, *owner, item, *max_items).await,
                W::EditItem {
                    owner,
                    item,
                    edit,
                    at,
                } => edit_item(tx, *owner, *item, edit, *at).await,
                W::SetItemStatus {
                    owner,
                    item,
                    status,
                    at,
                } => set_item_status(tx, *owner, *item, *status, *at).await,
                W::AddItemImage {
                    owner,
                    image,
                    max_images,
                } => add_item_image(tx, *owner, image, *max_images).await,
                W::RemoveItemImage { owner, image } => remove_item_image(tx, *owner, *image).await,
                W::PutInCart {
                    session,
                    item,
                    quantity,
                    at,
                } => put_in_cart(tx, *session, *item, *quantity, *at).await,
                W::RemoveFromCart { session, item } => remove_from_cart(tx, *session, *item).await,
                W::CreateOrder(o) => create_order(tx, o).await,
                W::StartAttempt(a) => start_attempt(tx, a).await,
                W::SetAttemptIntent {
                    attempt,
                    intent_id,
                    at,
                } => set_attempt_intent(tx, *attempt, intent_id, *at).await,
                W::SettleAttempt {
                    attempt,
                    status,
                    failure_code,
                    at,
                } => settle_attempt(tx, *attempt, *status, failure_code.as_deref(), *at).await,
                W::MarkPaid {
                    order,
                    attempt,
                    intent_id,
                    card_brand,
                    card_last4,
                    at,
                } => {
                    mark_paid(
                        tx,
                        *order,
                        *attempt,
                        intent_id,
                        card_brand.as_deref(),
                        card_last4.as_deref(),
                        *at,
                    )
                    .await
                }
                W::CancelOrder { order, reason, at } => cancel_order(tx, *order, reason, *at).await,
                W::AdvanceOrder {
                    order,
                    party,
                    from,
                    to,
                    at,
                } => advance_order(tx, *order, *party, *from, *to, *at).await,
                W::RecordEvent {
                    event_id,
                    kind,
                    order,
                    at,
                } => record_event(tx, event_id, kind, *order, *at).await,
                W::StartRefund(r) => start_refund(tx, r).await,
                W::SettleRefund {
                    refund,
                    succeeded,
                    processor_refund_id,
                    refunded_before,
                    at,
                } => {
                    settle_refund(
                        tx,
                        *refund,
                        *succeeded,
                        processor_refund_id.as_deref(),
                        *refunded_before,
                        *at,
                    )
                    .await
                }
                W::CreateStaff(n) => create_staff(tx, n).await,
                W::SetStaffStatus { staff, status, at } => {
                    set_staff_status(tx, *staff, *status, *at).await
                }
                W::SetStaffRole {
                    staff,
                    from,
                    to,
                    at,
                } => set_staff_role(tx, *staff, *from, *to, *at).await,
                W::EnrolStaffTotp {
                    staff,
                    token_hash,
                    secret,
                    step,
                    at,
                } => enrol_staff_totp(tx, *staff, token_hash, secret, *step, *at).await,
                W::UseTotpStep { staff, step } => use_totp_step(tx, *staff, *step).await,
                W::CreateStaffSession(n) => create_staff_session(tx, n).await,
                W::EndStaffSession(id) => end_staff_session(tx, *id).await,
                W::StaffStepUp { session, at } => staff_step_up(tx, *session, *at).await,
                W::FireAlert(a) => fire_alert(tx, a).await,
                W::ResolveAlert { alert, at } => resolve_alert(tx, *alert, *at).await,
                W::AddAlertTallies { bucket, counts } => {
                    add_alert_tallies(tx, *bucket, counts).await
                }
                W::QueueAlertWebhook {
                    alert,
                    event,
                    body,
                    at,
                } => queue_alert_webhook(tx, *alert, event, body, *at).await,
                W::NoteStaffNetwork {
                    staff,
                    network_hash,
                    at,
                } => note_staff_network(tx, *staff, network_hash, *at).await,
                W::RecordSelfScan(r) => record_selfscan(tx, r).await,
                W::ReceiveVdpReport(r) => receive_vdp_report(tx, r).await,
                W::SetVdpStatus { report, status, at } => {
                    set_vdp_status(tx, *report, *status, *at).await
                }
                W::AddVdpNote(n) => add_vdp_note(tx, n).await,
                W::OpenIncident(n) => open_incident(tx, n).await,
                W::AddTimelineEntry(e) => add_timeline_entry(tx, e).await,
                W::CloseIncident {
                    incident,
                    lessons,
                    at,
                } => close_incident(tx, *incident, lessons, *at).await,
                W::EndAllMemberSessions => end_all_member_sessions(tx).await,
                W::EndAllStaffSessions => end_all_staff_sessions(tx).await,
                W::LockMember {
                    member,
                    incident,
                    at,
                } => lock_member_for_incident(tx, *member, *incident, *at).await,
                W::UnlockMember { member } => unlock_member(tx, *member).await,
                W::EnsureNotLocked { member } => ensure_not_locked(tx, *member).await,
                W::RemoveAllPasswords { at } => remove_all_passwords(tx, *at).await,
                W::ClearAttempts { keys } => clear_attempts(tx, batch, keys).await,
                W::StartNotify {
                    incident,
                    template,
                    audience,
                    total,
                } => start_notify(tx, *incident, template, audience, *total).await,
                W::AdvanceNotify {
                    incident,
                    from,
                    to,
                    sent,
                } => advance_notify(tx, *incident, *from, *to, *sent).await,
                W::FinishNotify { incident, at } => finish_notify(tx, *incident, *at).await,
                W::StartStaffCeremony(n) => start_staff_ceremony(tx, n).await,
                W::UseStaffCeremony { id_hash, kind, at } => {
                    use_staff_ceremony(tx, id_hash, *kind, *at).await
                }
                W::AddStaffPasskey(n) => add_staff_passkey(tx, n).await,
                W::UseStaffPasskey {
                    staff,
                    credential_id,
                    read,
                    passkey,
                    at,
                } => use_staff_passkey(tx, *staff, credential_id, read, passkey, *at).await,
                W::RemoveStaffPasskey { staff, passkey } => {
                    remove_staff_passkey(tx, *staff, *passkey).await
                }
                W::RegisterTerminal(n) => register_terminal(tx, n).await,
                W::RetireTerminal { terminal, at } => retire_terminal(tx, *terminal, *at).await,
                W::OpenShift(n) => open_shift(tx, n).await,
                W::EndShift {
                    shift,
                    staff,
                    end,
                    at,
                } => end_shift(tx, *shift, *staff, *end, *at).await,
                W::EndOpenShiftOf { staff, end, at } => {
                    end_open_shift_of(tx, *staff, *end, *at).await
                }
                W::MoveShift {
                    shift,
                    staff,
                    session,
                } => move_shift(tx, *shift, *staff, *session).await,
                W::RequestVoid(n) => request_void(tx, n).await,
                W::DecideVoid {
                    request,
                    by,
                    shift,
                    status,
                    at,
                } => decide_void(tx, *request, *by, *shift, *status, *at).await,
                W::SetShopShipping {
                    owner,
                    shop,
                    anonymous,
                    sender,
                    at,
                } => set_shop_shipping(tx, *owner, *shop, *anonymous, *sender, *at).await,
                W::CreateShipment(s) => create_shipment(tx, s).await,
                W::SetShipmentSender {
                    shipment,
                    seller,
                    sender,
                    at,
                } => set_shipment_sender(tx, *shipment, *seller, sender, *at).await,
                W::AcceptDropoff {
                    code_hash,
                    shipment,
                    event,
                    at,
                } => accept_dropoff(tx, code_hash, *shipment, *event, *at).await,
                W::VoidDropoffCode {
                    shipment,
                    generation,
                    new_code_hash,
                    at,
                } => void_dropoff_code(tx, *shipment, *generation, new_code_hash, *at).await,
                W::AddParcelEvent {
                    event,
                    shipment,
                    kind,
                    at,
                } => add_parcel_event(tx, *event, *shipment, *kind, *at).await,
                W::PurgeShipment { shipment, at } => purge_shipment(tx, *shipment, *at).await,
                W::WithdrawMember {
                    member,
                    tombstone_email,
                    tombstone_name,
                    counter_keys,
                    at,
                } => {
                    withdraw_member(
                        tx,
                        *member,
                        tombstone_email,
                        tombstone_name,
                        counter_keys,
                        *at,
                    )
                    .await
                }
                W::CreatePayout(p) => create_payout(tx, p).await,
                W::BatchPayouts(b) => batch_payouts(tx, b).await,
                W::MarkBatchExported { batch, at } => mark_batch_exported(tx, *batch, *at).await,
                W::SettlePayout {
                    payout,
                    paid,
                    failure_code,
                    at,
                } => settle_payout(tx, *payout, *paid, failure_code.as_deref(), *at).await,
                W::PurgePayout { payout, at } => purge_payout(tx, *payout, *at).await,
            }
        }

        /// Takes the member's row lock until the commit (SQLite's `BEGIN
        /// IMMEDIATE` already serialises writers; on PostgreSQL this
        /// orders one member's guarded bundles, across instances too).
        /// [`crate::Write::WithdrawMember`] (C18): see there.
        async fn withdraw_member(
            tx: &mut Tx,
            member: $crate::MemberId,
            tombstone_email: &$crate::EmailAddress,
            tombstone_name: &$crate::DisplayName,
            counter_keys: &[String],
            at: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            lock_member(tx, member).await?;
            let id = member.as_uuid();
            let row: Option<(String,)> = ::sqlx::query_as(
                "SELECT email FROM members WHERE id = $1 AND withdrawn_at IS NULL",
            )
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(other)?;
            let Some((old_email,)) = row else {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::MEMBER_WITHDRAWN,
                ));
            };
            let (open,): (i64,) = ::sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM orders WHERE (buyer_id = $1 OR seller_id = $1) \
                 AND status IN ('awaiting_payment', 'paid', 'shipped', 'delivered')) \
                 + (SELECT COUNT(*) FROM refunds r JOIN orders o ON o.id = r.order_id \
                    WHERE (o.buyer_id = $1 OR o.seller_id = $1) AND r.status = 'pending') \
                 + (SELECT COUNT(*) FROM payouts WHERE member_id = $1 \
                    AND status IN ('requested', 'batched'))",
            )
            .bind(id)
            .fetch_one(&mut **tx)
            .await
            .map_err(other)?;
            if open > 0 {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::WITHDRAWAL_WAITS,
                ));
            }
            // Delivered shipments of theirs, either side: purged now.
            let shipments: Vec<(::uuid::Uuid,)> = ::sqlx::query_as(
                "SELECT id FROM shipments WHERE (buyer_id = $1 OR seller_id = $1) \
                 AND purged_at IS NULL",
            )
            .bind(id)
            .fetch_all(&mut **tx)
            .await
            .map_err(other)?;
            for (s,) in shipments {
                purge_shipment(tx, $crate::ShipmentId::from_uuid(s), at).await?;
            }
            // Their completed payouts: the bank snapshots go now (C18),
            // as the retention purge would a month later (C16).
            let payouts: Vec<(::uuid::Uuid,)> = ::sqlx::query_as(
                "SELECT id FROM payouts WHERE member_id = $1 AND purged_at IS NULL \
                 AND status IN ('paid', 'failed')",
            )
            .bind(id)
            .fetch_all(&mut **tx)
            .await
            .map_err(other)?;
            for (p,) in payouts {
                purge_payout(tx, $crate::PayoutId::from_uuid(p), at).await?;
            }
            ::sqlx::query(
                "UPDATE members SET email = $2, display_name = $3, password_hash = NULL, \
                 password_changed_at = NULL, withdrawn_at = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(tombstone_email.as_str())
            .bind(tombstone_name.as_str())
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            for sql in [
                "DELETE FROM sessions WHERE member_id = $1",
                "DELETE FROM login_flows WHERE member_id = $1",
                "DELETE FROM login_events WHERE member_id = $1",
                "DELETE FROM known_devices WHERE member_id = $1",
                "DELETE FROM member_locks WHERE member_id = $1",
                // The data key: every sealed address, phone, bank account,
                // draft and order address snapshot goes with it.
                "DELETE FROM member_keys WHERE member_id = $1",
                "UPDATE items SET status = 'hidden' WHERE shop_id IN \
                 (SELECT id FROM shops WHERE owner_id = $1)",
            ] {
                ::sqlx::query(sql)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
            }
            ::sqlx::query(
                "UPDATE shops SET status = 'closed', updated_at = $2 WHERE owner_id = $1",
            )
            .bind(id)
            .bind(at.micros())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            for sql in [
                "DELETE FROM login_flows WHERE email = $1",
                "DELETE FROM unlock_tokens WHERE email = $1",
            ] {
                ::sqlx::query(sql)
                    .bind(old_email.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
            }
            for key in counter_keys {
                ::sqlx::query("DELETE FROM auth_counters WHERE key = $1")
                    .bind(key.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
            }
            ::sqlx::query(
                "DELETE FROM audit_details WHERE idx IN (SELECT idx FROM audit_entries \
                 WHERE (actor_kind = 'member' AND actor_id = $1) \
                 OR (target_kind = 'member' AND target_id = $1))",
            )
            .bind(id.to_string())
            .execute(&mut **tx)
            .await
            .map_err(other)?;
            Ok(())
        }

        /// Orders this transaction after any other that changes the member's
        /// sessions, collections or standing, until the commit. On SQLite
        /// every writing transaction already holds the database's one write
        /// lock from its `BEGIN IMMEDIATE`, so there is nothing to take and
        /// no statement is sent.
        async fn lock_member(
            tx: &mut Tx,
            member: $crate::MemberId,
        ) -> Result<(), $crate::StoreError> {
            if $dialect == $crate::sql::shops::Dialect::Sqlite {
                return Ok(());
            }
            ::sqlx::query("UPDATE members SET created_at = created_at WHERE id = $1")
                .bind(member.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(other)?;
            Ok(())
        }

        async fn ensure_room(
            tx: &mut Tx,
            member: $crate::MemberId,
            collection: $crate::Collection,
            max: u32,
            now: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            lock_member(tx, member).await?;
            let (count,): (i64,) = match collection {
                $crate::Collection::Addresses => {
                    ::sqlx::query_as("SELECT COUNT(*) FROM shipping_addresses WHERE member_id = $1")
                        .bind(member.as_uuid())
                        .fetch_one(&mut **tx)
                        .await
                }
                $crate::Collection::Sessions => {
                    ::sqlx::query_as(
                        "SELECT COUNT(*) FROM sessions WHERE member_id = $1 \
                         AND idle_expires_at > $2 AND absolute_expires_at > $2",
                    )
                    .bind(member.as_uuid())
                    .bind(now.micros())
                    .fetch_one(&mut **tx)
                    .await
                }
            }
            .map_err(other)?;
            if count >= i64::from(max) {
                return Err($crate::StoreError::Precondition(
                    $crate::guards::LIMIT_REACHED,
                ));
            }
            Ok(())
        }

        async fn end_least_recent_sessions(
            tx: &mut Tx,
            batch: &mut Batch,
            member: $crate::MemberId,
            keep: u32,
            now: $crate::Timestamp,
        ) -> Result<(), $crate::StoreError> {
            // The member's row lock orders this against another login or
            // an incident's lock of the same member (PostgreSQL; SQLite's
            // one writer orders them already). It is taken now, in order,
            // so every statement after it sees what they committed.
            if $dialect != $crate::sql::shops::Dialect::Sqlite {
                batch.flush(tx).await?;
            }
            lock_member(tx, member).await?;
            // One statement (it runs at every login): the expired
            // sessions, and of the live ones all but the `keep` most
            // recently used. It needs no answer, so it waits for the
            // login's other writes. (Its cascade reaches re-auth drafts
            // and checkout drafts, which no batched write touches.)
            batch
                .push(
                    tx,
                    "sessions",
                    "DELETE FROM sessions WHERE member_id = $1 \
                     AND (idle_expires_at <= $2 OR absolute_expires_at <= $2 OR id NOT IN \
                     (SELECT id FROM sessions WHERE member_id = $1 \
                      AND idle_expires_at > $2 AND absolute_expires_at > $2 \
                      ORDER BY last_seen_at DESC, created_at DESC, id DESC LIMIT $3))",
                )
                .await?
                .bind(member.as_uuid())
                .bind(now.micros())
                .bind(i64::from(keep));
            Ok(())
        }

        /// Writes that need no answer, waiting to be sent together (see
        /// [`$crate::sql::batch`]): the statements' text there, their values
        /// here.
        struct Batch {
            text: $crate::sql::batch::BatchText,
            args: <$Db as ::sqlx::Database>::Arguments,
            bind_error: Option<String>,
        }

        impl Batch {
            fn new() -> Self {
                Self {
                    text: $crate::sql::batch::BatchText::new($dialect),
                    args: Default::default(),
                    bind_error: None,
                }
            }

            /// Adds a statement that writes `table` (its own `$1…$n`; bind
            /// its values next, in order), after sending what is pending
            /// if a pending one writes that table too.
            async fn push(
                &mut self,
                tx: &mut Tx,
                table: &'static str,
                sql: &str,
            ) -> Result<&mut Self, $crate::StoreError> {
                if self.text.touches(table) {
                    self.flush(tx).await?;
                }
                self.text.push(table, sql);
                Ok(self)
            }

            fn bind<'t, T: ::sqlx::Encode<'t, $Db> + ::sqlx::Type<$Db>>(
                &mut self,
                value: T,
            ) -> &mut Self {
                if let Err(e) = ::sqlx::Arguments::add(&mut self.args, value) {
                    self.bind_error.get_or_insert_with(|| e.to_string());
                }
                self
            }

            /// As [`Self::push`], for a statement that only inserts rows
            /// with keys of their own (a new id, a new token): no pending
            /// write can have changed them, and none would have seen them
            /// if sent first, so it may join pending writes of its table
            /// (one snapshot on PostgreSQL, in order on SQLite: the same
            /// rows either way). A later write of that table still sends
            /// it first.
            fn push_new_rows(&mut self, table: &'static str, sql: &str) -> &mut Self {
                self.text.push(table, sql);
                self
            }

            /// Sends what is pending, in one round trip.
            async fn flush(&mut self, tx: &mut Tx) -> Result<(), $crate::StoreError> {
                let expected = self.text.params();
                let Some(sql) = self.text.take() else {
                    return Ok(());
                };
                let args = ::std::mem::take(&mut self.args);
                if let Some(e) = self.bind_error.take() {
                    return Err($crate::StoreError::Other(e));
                }
                // SQLite's driver binds NULL to a parameter given no value:
                // a miscount must fail here instead.
                let bound = ::sqlx::Arguments::len(&args);
                if bound != expected {
                    return Err($crate::StoreError::Other(format!(
                        "a batch of writes bound {bound} values for {expected} parameters"
                    )));
                }
                // nosemgrep: anshin-sql-from-format -- the store's own constant statements, renumbered; every value is bound
                ::sqlx::query_with(::sqlx::AssertSqlSafe(sql), args)
                    .execute(&mut **tx)
                    .await
                    .map_err(other)?;
                Ok(())
            }
        }

        impl Repos {
            /// Every write, then every mail, then every ledger
            /// transaction, then every audit entry, in one transaction; on
            /// any error the transaction is dropped, which rolls it back.
            /// Audit entries come last so that the head row's lock (which
            /// orders every audited bundle) is held as briefly as can be.
            /// Writes that need no answer wait in a [`Batch`] and travel
            /// with the audit entry's (a login: two round trips from the
            /// head row's lock to the commit, whatever it writes).
            pub(crate) async fn commit(
                &self,
                changes: &$crate::Changes,
            ) -> Result<(), $crate::StoreError> {
                use $crate::Write as W;
                let mut tx = self.begin().await?;
                let mut batch = Batch::new();
                let mut writes = changes.writes.as_slice();
                while let Some(write) = writes.first() {
                    // A run of retention purges (one batch) goes in one
                    // statement per table instead of one per record.
                    let run = match write {
                        W::PurgeShipment { at, .. } => {
                            batch.flush(&mut tx).await?;
                            let ids: Vec<$crate::ShipmentId> = writes
                                .iter()
                                .map_while(|w| match w {
                                    W::PurgeShipment { shipment, at: a } if a == at => {
                                        Some(*shipment)
                                    }
                                    _ => None,
                                })
                                .collect();
                            purge_shipments(&mut tx, &ids, *at).await?;
                            ids.len()
                        }
                        W::PurgePayout { at, .. } => {
                            batch.flush(&mut tx).await?;
                            let ids: Vec<$crate::PayoutId> = writes
                                .iter()
                                .map_while(|w| match w {
                                    W::PurgePayout { payout, at: a } if a == at => Some(*payout),
                                    _ => None,
                                })
                                .collect();
                            purge_payouts(&mut tx, &ids, *at).await?;
                            ids.len()
                        }
                        _ => {
                            apply(&mut tx, &mut batch, write).await?;
                            1
                        }
                    };
                    writes = &writes[run..];
                }
                for mail in &changes.mails {
                    insert_mail(&mut tx, &mut batch, mail).await?;
                }
                if !changes.ledger.is_empty() {
                    batch.flush(&mut tx).await?;
                }
                for t in &changes.ledger {
                    post_ledger(&mut tx, t).await?;
                }
                for entry in &changes.audit {
                    append_audit(&mut tx, &mut batch, entry).await?;
                }
                batch.flush(&mut tx).await?;
                tx.commit().await.map_err(other)
            }
        }
    };
}
