//! Entries of the member's login history (C10) that are not part of a
//! login: failures, failed bot challenges, locks. Each is its own small
//! [`Changes`] bundle; a history write that fails is logged and does not
//! change the answer the client gets (the attempt was refused anyway).

use anshin_domain::{EmailAddress, LoginMethod, LoginOutcome, MemberId};
use anshin_store::{Changes, NewLoginEvent, Write};

use super::types::Client;
use crate::Services;

/// A history entry for `member` at the current time.
pub(super) fn event(
    svc: &Services,
    member: MemberId,
    client: &Client,
    method: LoginMethod,
    outcome: LoginOutcome,
) -> NewLoginEvent {
    NewLoginEvent {
        id: svc.new_id(),
        member_id: member,
        at: svc.now(),
        ip: client.ip.to_string(),
        device: client.device(),
        method,
        outcome,
    }
}

/// Records a failed login of a known member.
pub(super) async fn record_failure(
    svc: &Services,
    member: MemberId,
    client: &Client,
    method: LoginMethod,
) {
    let e = event(svc, member, client, method, LoginOutcome::Failure);
    let audit = crate::audit::member_event(
        svc,
        member,
        crate::audit::AuditAction::LoginFailed,
        Some(client.ip),
        serde_json::json!({ "method": method.as_str() }),
    );
    if let Err(err) = svc
        .store
        .commit(
            &Changes::new()
                .with(Write::RecordLoginEvent(e))
                .audited(audit),
        )
        .await
    {
        tracing::warn!(error = %err, "could not record a failed login");
    }
}

/// A failed (not missing) bot challenge on a request that names an
/// existing member's address goes into their login history (C7).
pub(super) async fn record_challenge_failure(
    svc: &Services,
    email: &EmailAddress,
    client: &Client,
    method: LoginMethod,
) {
    match svc.store.accounts().find_member_by_email(email).await {
        Ok(Some(m)) => {
            let e = event(svc, m.id, client, method, LoginOutcome::ChallengeFailed);
            if let Err(err) = svc
                .store
                .commit(&Changes::new().with(Write::RecordLoginEvent(e)))
                .await
            {
                tracing::warn!(error = %err, "could not record a failed challenge");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not look up a member for a failed challenge"),
    }
}
