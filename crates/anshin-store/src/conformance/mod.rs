//! The conformance suite: every backend runs these same checks against a
//! real, freshly migrated database. A backend that passes them behaves as
//! the application expects.
//!
//! Each check is `pub async fn name(store: &dyn Store)` in the file of the
//! aggregate it is about, and is listed once in [`__conformance_checks`].
//! A backend's test binary runs them all with
//!
//! ```text
//! async fn fresh_store() -> (SqliteStore, tempfile::TempDir) { /* … */ }
//!
//! anshin_store::conformance_tests!(fresh_store);
//! ```
//!
//! which makes one `#[tokio::test]` per check, each on its own fresh
//! database: the first failure hides no other, and no check depends on
//! what another left behind. Checks start the clock at 2026-01-01
//! (`fixtures::T0`) and move it by hand.
//!
//! Writes go through `Store::commit` as the use cases' do; reads through
//! the repositories. Names carry the claim they prove (`c08_…`).

// This module is test code that backends run from their test binaries;
// it lives in the library so that every backend runs the same checks. A
// panic with a message (`expect`, `assert!`, `panic!`) is how a check
// reports a difference, and checks index the short lists they just built.
// The allow covers every file of the suite (they are submodules). The
// fixtures make their row ids with `Uuid::now_v7` directly: the store only
// receives ids, and the core's id source is above this crate.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)]

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod centre;
pub mod challenges;
pub mod changes;
mod fixtures;
pub mod incidents;
pub mod jobs;
pub mod mail;
pub mod member_data;
pub mod orders;
pub mod selfscan;
pub mod sessions;
pub mod shipping;
pub mod shops;
pub mod staff;
pub mod staff_passkeys;
pub mod store;
pub mod throttle;

/// The list of checks, by module: hands it to the macro named by its
/// arguments (a path to a `macro_rules!`). One list, so the test binaries
/// and the completeness test below cannot disagree.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_checks {
    ($($callback:tt)+) => {
        $($callback)+! {
            store: [
                schema_is_current_after_migrate,
                migrate_is_idempotent,
                key_check_keeps_the_first_value,
            ],
            changes: [
                changes_a_successful_bundle_writes_every_row_and_mail,
                changes_a_consumed_flow_fails_the_whole_bundle_wherever_it_stands,
                changes_ending_another_members_session_fails_the_whole_bundle,
                changes_updating_a_missing_address_fails_the_whole_bundle,
                changes_making_another_members_address_default_fails_the_whole_bundle,
                changes_deleting_another_members_address_fails_the_whole_bundle,
                changes_a_taken_address_fails_the_whole_bundle,
                changes_a_duplicate_session_token_fails_the_whole_bundle,
                changes_a_mail_that_cannot_be_queued_fails_the_whole_bundle,
                changes_writes_apply_in_order_and_each_sees_the_ones_before,
                changes_writes_sent_together_may_change_one_row_twice,
                changes_an_empty_bundle_commits_nothing,
            ],
            sessions: [
                c10_session_round_trips_and_touch_extends_the_idle_deadline,
                c10_member_session_keeps_who_logged_in_from_where_and_how,
                c10_sessions_expire_at_the_idle_or_the_absolute_deadline,
                c10_session_token_hashes_are_unique,
                c10_ended_sessions_are_gone_and_purge_removes_only_expired_ones,
                c10_member_sessions_are_listed_newest_first_and_ended_one_or_all_but_this_one,
                c11_reauthentication_marks_only_a_member_session,
                c10_logins_at_the_session_limit_end_the_least_recently_used,
            ],
            accounts: [
                a_member_keeps_every_field_and_is_found_by_id_and_address,
                c11_sign_up_with_a_taken_address_is_a_conflict_and_writes_nothing,
                c11_a_flow_keeps_every_field,
                terms_acceptance_replaces_the_recorded_consent_of_that_member_only,
                c11_code_attempts_are_bounded_and_inherited_by_a_new_code,
                c11_parallel_code_attempts_never_exceed_the_limit,
                c11_parallel_code_requests_leave_one_live_flow,
                c11_a_new_code_inherits_attempts_counted_while_it_is_requested,
                c11_a_code_logs_in_once_and_the_refused_second_login_writes_nothing,
                c09_login_writes_session_history_known_device_and_mail_together,
                c09_remembering_a_known_device_again_keeps_it_known,
                c10_login_history_lists_newest_first_in_pages,
                c12_password_hash_is_set_upgraded_only_from_the_current_one_and_removed,
                a_display_name_change_is_stored_and_needs_the_member,
                c11_an_email_change_moves_the_lookup_and_ends_the_members_live_flows,
                c11_an_email_change_to_a_taken_or_from_a_stale_address_writes_nothing,
                c11_member_flows_are_counted_per_member_and_purpose,
                c26_purging_login_history_deletes_only_events_before_the_cut_off,
            ],
            throttle: [
                c08_account_lock_starts_at_the_threshold_and_grows,
                c08_lock_delays_stop_growing_at_the_last_step,
                c08_parallel_attempts_never_pass_the_lock,
                c08_windowed_failures_restart_after_the_window,
                c08_unlock_token_is_taken_once_and_not_after_it_expires,
                c13_a_windowed_budget_is_never_exceeded_in_parallel,
                c08_windowed_counts_read_together_match_one_by_one,
                c08_a_login_bundle_clears_the_attempts_it_names,
            ],
            challenges: [
                c07_challenge_solution_is_accepted_once,
                c07_parallel_consumes_accept_a_challenge_once,
                c07_expired_challenges_are_purged,
            ],
            mail: [
                mail_outbox_claims_with_a_lease,
                mail_retried_mail_waits_until_due_and_sent_mail_is_done,
                mail_failed_mail_is_never_claimed_again,
                mail_is_claimed_oldest_first,
                mail_parallel_claims_take_each_mail_once,
                mail_parallel_batch_claims_take_each_mail_once,
                mail_a_batch_marked_sent_together_ends_exactly_those,
            ],
            member_data: [
                c13_member_data_round_trip_defaults_and_shred,
                c13_member_data_maintenance_is_compare_and_swap,
                c13_sealed_addresses_are_walked_in_id_order,
                c13_set_default_address_touches_only_the_flag_of_the_owners_address,
                c13_parallel_default_changes_and_edits_keep_one_default_and_every_edit,
                c13_parallel_deletes_and_default_changes_keep_one_default,
                c13_retired_kek_version_takes_no_new_data_key,
                c13_retire_and_a_new_data_key_never_both_succeed,
                c13_removing_phone_and_bank_account_deletes_their_ciphertext,
                c13_reauth_drafts_are_per_session_expire_and_go_with_the_session,
                c13_parallel_adds_at_the_address_limit_leave_exactly_the_limit,
            ],
            jobs: [
                jobs_first_take_creates_the_row_and_gives_the_lease,
                jobs_a_live_lease_is_taken_by_nobody_else,
                jobs_the_holder_renews_its_live_lease,
                jobs_finish_records_the_run_and_releases_the_lease,
                jobs_a_job_not_due_is_taken_by_nobody,
                jobs_an_expired_lease_passes_on_and_the_dead_holders_late_calls_change_nothing,
                jobs_a_run_that_outlived_its_lease_records_nothing,
                jobs_parallel_takes_give_the_lease_to_exactly_one_holder,
            ],
            shops: [
                shops_one_shop_per_member_kept_and_edited_by_its_owner,
                shops_writes_to_another_members_shop_item_or_image_change_nothing,
                shops_item_cap_holds_under_parallel_adds,
                shops_items_edit_status_and_images_in_order_up_to_the_cap,
                shops_media_access_names_the_owner_and_whether_it_is_public,
                shops_search_finds_japanese_substrings_and_only_public_items,
            ],
            orders: [
                orders_the_last_items_go_to_exactly_as_many_parallel_buyers,
                orders_a_changed_price_or_a_hidden_item_fails_the_order_and_changes_nothing,
                orders_the_cart_is_the_sessions_and_holds_only_items_for_sale,
                orders_cancelling_an_unpaid_order_gives_the_stock_back_once,
                orders_only_the_buyer_pays_while_reserved_with_one_live_attempt,
                orders_a_payment_takes_effect_once_whoever_reports_it,
                orders_refunds_never_pass_the_total_even_in_parallel,
                orders_fulfilment_steps_follow_the_machine_and_their_party,
                orders_a_sellers_pages_hold_only_paid_orders_and_stay_full,
                orders_the_ledger_keeps_balanced_transactions_and_pages_them,
            ],
            staff: [
                c21_staff_accounts_are_one_per_email_and_enrolment_works_once,
                c21_a_totp_step_is_accepted_once,
                c21_disabling_ends_sessions_and_sessions_expire,
                c27_a_role_change_ends_sessions_and_keeps_an_administrator,
            ],
            staff_passkeys: [
                c21_a_webauthn_ceremony_is_used_once_and_runs_out,
                c21_a_passkey_belongs_to_one_staff_member,
            ],
            audit: [
                c22_audit_entries_get_gap_free_indexes_and_recorded_heads,
                c22_parallel_audited_bundles_append_a_gap_free_sequence,
                c22_a_failed_bundle_leaves_no_audit_entry_and_no_gap,
                c22_purging_details_keeps_the_entries_and_their_heads,
                c22_checkpoints_are_kept_once_per_size_in_order,
                c22_the_audit_search_filters_by_person_record_and_time_in_pages,
                c22_the_verifiers_scan_reads_what_entries_reads,
            ],
            incidents: [
                c28_an_incident_keeps_its_timeline_until_closed,
                c28_a_refused_login_ends_no_session_and_a_let_through_one_keeps_the_limit,
                c28_locks_hide_sessions_and_refuse_logins,
                c28_notify_progress_moves_only_from_where_it_stands,
            ],
            centre: [
                c24_a_shift_holds_one_terminal_and_a_terminal_one_shift,
                c24_racing_check_ins_open_one_shift,
                c25_a_void_is_decided_once_by_another_person_on_shift,
            ],
            alerts: [
                c29_an_alert_fires_once_however_many_fire_it_together,
                c29_a_cleared_alert_can_fire_again_and_stays_in_the_history,
                c29_tallies_sum_every_instances_counts_over_the_window,
                c29_a_staff_members_new_network_is_counted_once,
                c29_a_webhook_delivery_is_claimed_once_and_retried_when_due,
            ],
            selfscan: [
                c30_a_report_is_kept_with_its_mail_and_read_newest_first,
            ],
            shipping: [
                c19_a_shipment_is_made_once_for_a_paid_order_and_its_code_is_accepted_once,
                c19_parallel_accepts_of_one_code_take_it_once,
                c25_a_void_replaces_the_live_code_once_even_if_approved_twice,
                c19_parcel_events_follow_the_parcel,
                c19_only_the_seller_sets_the_sender_and_only_before_the_drop_off,
                c19_a_shops_shipping_choice_is_its_owners_with_their_own_address,
                c17_a_purge_destroys_a_delivered_shipments_key_and_history_once,
            ],
        }
    };
}

/// Makes one test per conformance check, in one module per aggregate
/// (`sessions::c10_…`), each on its own fresh database.
///
/// The argument is an async function (or closure) taking nothing and
/// returning `(store, guard)`: a freshly migrated store, and whatever must
/// live as long as the check for its database to exist (a temporary
/// directory, a scratch database that is dropped with it). The store is
/// closed after the check, then the guard is dropped.
///
/// The invoking crate needs `tokio` (with the multi-threaded runtime) as
/// a dependency: the tests run on two worker threads, so that checks of
/// parallel requests really overlap.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr $(,)?) => {
        /// A fresh, migrated store and the guard of its database.
        async fn conformance_fresh_store() -> (impl $crate::Store, impl ::core::marker::Sized) {
            ($fresh)().await
        }

        $crate::__conformance_checks!($crate::__conformance_emit_tests);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_emit_tests {
    ($($module:ident: [$($check:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $module {
                $(
                    #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $check() {
                        let (store, guard) = super::conformance_fresh_store().await;
                        $crate::conformance::$module::$check(&store).await;
                        $crate::Store::close(&store).await;
                        drop(guard);
                    }
                )*
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    /// `(module, [check, …])` of the list, as text.
    macro_rules! listed {
        ($($module:ident: [$($check:ident),* $(,)?]),* $(,)?) => {
            [$((stringify!($module), [$(stringify!($check)),*].as_slice())),*]
        };
    }

    /// Every `pub async fn` of a check file is in the list, and every
    /// listed check exists (the latter is also checked by the compiler
    /// when a backend expands the macro).
    #[test]
    fn every_check_is_listed_once() {
        let files = [
            ("store", include_str!("store.rs")),
            ("changes", include_str!("changes.rs")),
            ("sessions", include_str!("sessions.rs")),
            ("accounts", include_str!("accounts.rs")),
            ("throttle", include_str!("throttle.rs")),
            ("challenges", include_str!("challenges.rs")),
            ("mail", include_str!("mail.rs")),
            ("member_data", include_str!("member_data.rs")),
            ("jobs", include_str!("jobs.rs")),
            ("shops", include_str!("shops.rs")),
            ("orders", include_str!("orders.rs")),
            ("staff", include_str!("staff.rs")),
            ("staff_passkeys", include_str!("staff_passkeys.rs")),
            ("audit", include_str!("audit.rs")),
            ("incidents", include_str!("incidents.rs")),
            ("centre", include_str!("centre.rs")),
            ("alerts", include_str!("alerts.rs")),
            ("selfscan", include_str!("selfscan.rs")),
            ("shipping", include_str!("shipping.rs")),
        ];
        let list = crate::__conformance_checks!(listed);
        assert_eq!(
            list.iter().map(|(m, _)| *m).collect::<Vec<_>>(),
            files.iter().map(|(m, _)| *m).collect::<Vec<_>>(),
            "one list entry per check file"
        );
        let mut all = Vec::new();
        for ((module, checks), (_, source)) in list.iter().zip(files) {
            let defined: Vec<&str> = source
                .lines()
                .filter_map(|l| l.strip_prefix("pub async fn "))
                .filter_map(|l| l.split('(').next())
                .collect();
            assert_eq!(*checks, defined.as_slice(), "checks of {module}.rs");
            all.extend_from_slice(checks);
        }
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a check name is used twice");
    }
}
