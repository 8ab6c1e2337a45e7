//! A successful login, whatever proved it: the session, the history entry,
//! the device, the login mail (C9) and, for a sign-up, the member, all in
//! one [`Changes`] bundle.

use anshin_domain::{FlowId, Lang, LoginMethod, LoginOutcome, MemberId, SessionId, Timestamp};
use anshin_store::{Changes, NewMember, NewSession, SessionLogin, StoreError, Write, guards};
use anshin_vault::SessionToken;
use chrono::TimeZone as _;

use super::types::{AuthError, Client, LoggedIn};
use super::{device, events};
use crate::Services;
use crate::mail::compose::{Letter, LoginNotice};

/// What a login consumes and creates besides the session.
pub(super) struct Login<'a> {
    pub member: MemberId,
    pub email: &'a anshin_domain::EmailAddress,
    pub lang: Lang,
    pub create_member: Option<NewMember>,
    pub consume_flow: Option<FlowId>,
    pub method: LoginMethod,
    pub previous_session: Option<SessionId>,
    /// "This was not me": end every other session of the member too.
    pub end_other_sessions: bool,
    /// Whether the client's device token is known for this member, when
    /// the caller looked it up already (a password login's limits do):
    /// the login then does not ask the database again.
    pub device_seen: Option<bool>,
}

/// Writes the login. [`AuthError::InvalidCode`] if a parallel request
/// consumed the flow first (nothing is written then).
pub(super) async fn complete(
    svc: &Services,
    login: Login<'_>,
    client: &Client,
) -> Result<LoggedIn, AuthError> {
    let now = svc.now();
    let (device_token, new_device_token) = match &client.device_token {
        Some(t) => (t.clone(), None),
        None => {
            let t = SessionToken::generate(&mut svc.random.rng());
            (t.clone(), Some(t))
        }
    };
    let device_hash = device::token_hash(&device_token);
    let created_member = login.create_member.is_some();
    // A device token made just now cannot have been seen: no query.
    let seen_before = !created_member
        && new_device_token.is_none()
        && match login.device_seen {
            Some(seen) => seen,
            None => {
                svc.store
                    .accounts()
                    .device_known(login.member, &device_hash)
                    .await?
            }
        };
    let token = SessionToken::generate(&mut svc.random.rng());
    let cfg = &svc.settings.sessions;
    let session_id: SessionId = svc.new_id();
    let letter = if created_member {
        Letter::Welcome
    } else {
        Letter::LoginNotice(LoginNotice {
            when_utc: format_time(now, 0, "UTC"),
            when_tokyo: format_time(now, 9 * 3600, "JST"),
            ip: client.ip.to_string(),
            device: client.device(),
            method: login.method,
            seen_before,
        })
    };
    let mut changes = Changes::new();
    if let Some(flow) = login.consume_flow {
        changes.push(Write::ConsumeFlow { flow, at: now });
    }
    if let Some(m) = login.create_member {
        changes.push(Write::CreateMember(m));
    }
    if let Some(old) = login.previous_session {
        changes.push(Write::EndSession(old));
    }
    if !created_member {
        // At `limits.max_sessions`, the least recently used sessions end
        // rather than this login being refused.
        changes.push(crate::limits::make_room_for_a_session(svc, login.member));
    }
    if !created_member {
        // A member locked by an incident (C28) gets no session, whatever
        // door they came in by; checked in the login's own transaction.
        changes.push(Write::EnsureNotLocked {
            member: login.member,
        });
    }
    changes.push(Write::CreateSession(NewSession {
        id: session_id,
        token_hash: *token.hash().as_bytes(),
        created_at: now,
        absolute_expires_at: now + cfg.absolute_lifetime(),
        idle_expires_at: now + cfg.idle_timeout(),
        login: Some(SessionLogin {
            member_id: login.member,
            authenticated_at: now,
            ip: client.ip.to_string(),
            device: client.device(),
            method: login.method,
        }),
    }));
    if login.end_other_sessions {
        changes.push(Write::EndOtherSessions {
            member: login.member,
            keep: Some(session_id),
        });
    }
    changes.push(Write::RecordLoginEvent(events::event(
        svc,
        login.member,
        client,
        login.method,
        LoginOutcome::Success,
    )));
    // The account's attempt count and lock end with the login itself:
    // if the bundle fails, nothing is cleared (C8).
    changes.push(crate::accounts::limits::cleared(login.email.as_str()));
    changes.push(Write::RememberDevice {
        member: login.member,
        device_hash,
        at: now,
    });
    changes.push_mail(crate::mail::letter(svc, login.lang, login.email, &letter)?);
    // C22: the login and its audit entry commit together; if the entry
    // cannot be written, there is no login.
    changes.push_audit(crate::audit::member_event(
        svc,
        login.member,
        crate::audit::AuditAction::LoginSucceeded,
        Some(client.ip),
        serde_json::json!({
            "method": login.method.as_str(),
            "session": session_id,
            "sign_up": created_member,
            "new_device": !seen_before,
        }),
    ));
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        // A parallel request used the code first; or, for a sign-up, the
        // address was registered meanwhile (that flow can never complete).
        Err(e) if e.is_precondition(guards::FLOW_CONSUMED) => return Err(AuthError::InvalidCode),
        // Locked by an incident: the same answer as wrong credentials.
        Err(e) if e.is_precondition(guards::MEMBER_LOCKED) => {
            return Err(AuthError::InvalidCredentials);
        }
        Err(StoreError::Conflict(_)) if created_member => return Err(AuthError::InvalidCode),
        Err(e) => return Err(e.into()),
    }
    svc.metrics.logins_succeeded.inc();
    tracing::info!(member = %login.member, session = %session_id, method = login.method.as_str(), "logged in");
    if login.end_other_sessions {
        tracing::info!(member = %login.member, "other sessions ended at login");
    }
    Ok(LoggedIn {
        member_id: login.member,
        session_id,
        token,
        new_device_token,
        created_member,
    })
}

/// The time a member sees in their language: JST for Japanese, UTC for
/// English.
pub fn local_time(lang: Lang, at: Timestamp) -> String {
    match lang {
        Lang::Ja => format_time(at, 9 * 3600, "JST"),
        Lang::En => format_time(at, 0, "UTC"),
    }
}

/// `2026-01-01 09:00:00 JST` from a timestamp and an offset.
pub fn format_time(at: Timestamp, offset_secs: i32, zone: &str) -> String {
    let Some(offset) = chrono::FixedOffset::east_opt(offset_secs) else {
        return String::new();
    };
    match offset.timestamp_micros(at.micros()).single() {
        Some(t) => format!("{} {zone}", t.format("%Y-%m-%d %H:%M:%S")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c09_login_time_in_utc_and_tokyo() {
        let t = Timestamp::from_micros(1_767_225_600_000_000); // 2026-01-01T00:00:00Z
        assert_eq!(format_time(t, 0, "UTC"), "2026-01-01 00:00:00 UTC");
        assert_eq!(format_time(t, 9 * 3600, "JST"), "2026-01-01 09:00:00 JST");
    }
}
