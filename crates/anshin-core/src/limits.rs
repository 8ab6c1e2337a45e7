//! What one member may own, and how often they may change personal data
//! (issue 19): one scan made 1,442 shipping addresses for one member.
//!
//! - **Owned collections** have a cap in configuration (`limits.max_*`).
//!   The use case that adds to one puts [`ensure_room`] in its bundle just
//!   before the write that adds: the store counts under the member's row
//!   lock inside the write transaction, so two requests at the cap minus
//!   one (on one instance or two) cannot both pass. Items, shops and
//!   passkeys add a [`Collection`] variant, a `limits.max_*` key and one
//!   line in [`max`].
//! - **Sessions** are the exception: a login is never refused for having
//!   too many. [`make_room_for_a_session`] ends the member's expired
//!   sessions and then the least recently used ones (by last activity), so
//!   the new session makes at most `limits.max_sessions`; the browsers of
//!   the ended sessions are logged out, as after "end this session".
//! - **Personal data changes** (phone, an address added, edited or
//!   deleted, the bank account) draw from a budget per member and window
//!   ([`take_personal_data_change`], an atomic counter in the throttle
//!   table keyed `pd:<member id>`): a stolen session cannot rewrite a
//!   member's data in a loop, and a script cannot churn ciphertexts.

use anshin_domain::{MemberId, Timestamp};
pub use anshin_store::Collection;
use anshin_store::{StoreError, WindowTake, Write};

use crate::Services;

/// The configured cap of `collection`.
pub fn max(svc: &Services, collection: Collection) -> u32 {
    let l = &svc.settings.limits;
    match collection {
        Collection::Addresses => l.max_addresses,
        Collection::Sessions => l.max_sessions,
    }
}

/// The guard to put in a bundle before the write that adds one to the
/// member's `collection`: the bundle fails with
/// `guards::LIMIT_REACHED` at the cap.
pub fn ensure_room(svc: &Services, member: MemberId, collection: Collection) -> Write {
    Write::EnsureRoom {
        member,
        collection,
        max: max(svc, collection),
        now: svc.now(),
    }
}

/// The write to put in a login's bundle before its new session: leaves
/// the member at most `limits.max_sessions - 1` live sessions.
pub fn make_room_for_a_session(svc: &Services, member: MemberId) -> Write {
    Write::EndLeastRecentSessions {
        member,
        keep: max(svc, Collection::Sessions).saturating_sub(1),
        now: svc.now(),
    }
}

/// A change of personal data refused: the member's budget for the window
/// is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many personal data changes; retry in {retry_after_secs} s")]
pub struct TooManyChanges {
    /// Until the window ends (at least 1).
    pub retry_after_secs: u64,
    /// When it ends.
    pub resets_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error(transparent)]
    Spent(#[from] TooManyChanges),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts one change of the member's personal data, or refuses it when
/// `limits.max_personal_data_changes` were made in the current window of
/// `limits.personal_data_window_secs`. Call it after the input parsed and
/// before the change is committed (a form with errors costs nothing).
pub async fn take_personal_data_change(
    svc: &Services,
    member: MemberId,
) -> Result<(), BudgetError> {
    let l = &svc.settings.limits;
    let now = svc.now();
    let key = format!("pd:{member}");
    match svc
        .store
        .throttle()
        .take_from_window(
            &key,
            now,
            l.personal_data_window(),
            l.max_personal_data_changes,
        )
        .await?
    {
        WindowTake::Taken { .. } => Ok(()),
        WindowTake::Spent { resets_at } => {
            let micros = resets_at.since(now).micros();
            let secs = micros.saturating_add(999_999) / 1_000_000;
            tracing::info!(member = %member, "personal data change refused: budget spent");
            Err(TooManyChanges {
                retry_after_secs: u64::try_from(secs).unwrap_or(1).max(1),
                resets_at,
            }
            .into())
        }
    }
}
