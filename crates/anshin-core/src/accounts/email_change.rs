//! Changing the account's e-mail address: a recent login, then a code
//! mailed to the NEW address, entered in the session that asked. The
//! switch, the end of every other session, the history entry and the
//! notice to the OLD address commit together.
//!
//! What an attacker tries, and where it fails (tests in
//! `crates/anshin/tests/api/profile.rs`):
//! - change the address from a stolen session: needs a login or a fresh
//!   code within `auth.recent_auth_secs` to ask ([`AuthError::ReauthRequired`]),
//!   and the old address is told at once, with the new one masked;
//! - claim an address they cannot read: the code goes to that address;
//!   guesses are counted on the flow before comparing (5, like login
//!   codes, and a new code keeps the count), and wrong codes count against
//!   the client's address and network like a wrong login code;
//! - learn whether an address has an account: the answer (a flow id, the
//!   code page) and the work (one lookup, one flow row, one mail) are the
//!   same; the address's owner gets a notice that someone tried, and no
//!   code, so the change can never complete;
//! - use a code of another flow or member: the code hash binds the flow,
//!   and the flow binds the purpose, the member and the session that
//!   asked, so a code read from the new mailbox cannot be entered from
//!   another browser (or a stolen session) of the member either;
//! - use an old code: codes live 10 minutes and work once; asking again
//!   ends the earlier code for that address, and the change ends every
//!   live code of the member (a login code mailed to the old address logs
//!   nobody in afterwards);
//! - flood an inbox or many inboxes: each address gets at most
//!   `auth.code_requests_per_window` codes per window (shared with
//!   logins), and each member may start as many changes per window,
//!   whatever addresses they name.
//!
//! Sessions: the session that finished the change stays, every other
//! session of the member ends in the same commit (whoever held one must
//! log in again, at the new address), and the page says so.

use anshin_domain::{Duration, EmailAddress, FlowId, FlowPurpose, LoginMethod, LoginOutcome};
use anshin_store::{Attempt, Changes, NewFlow, SessionRecord, StoreError, Write, guards};
use anshin_vault::OneTimeCode;

use super::codes::start_flow;
use super::profile::find_member;
use super::types::{AuthError, Client};
use super::{events, limits, login};
use crate::Services;
use crate::mail::compose::Letter;
use crate::sessions::recently_authenticated;

/// Starts an e-mail change: mails a code to `new` (or, if `new` already
/// belongs to an account, a notice to its owner instead). The answer is a
/// flow id either way. Needs a recent login.
pub async fn request_email_change(
    svc: &Services,
    session: &SessionRecord,
    new: EmailAddress,
) -> Result<FlowId, AuthError> {
    let member_id = session.member().ok_or(AuthError::NotAuthenticated)?;
    if !recently_authenticated(svc, session) {
        return Err(AuthError::ReauthRequired);
    }
    let member = find_member(svc, member_id).await?;
    if new == member.email {
        return Err(AuthError::EmailUnchanged);
    }
    let cfg = &svc.settings.auth;
    let now = svc.now();
    let since = now - Duration::from_secs(cfg.code_request_window_secs);
    let accounts = svc.store.accounts();
    let by_member = accounts
        .count_member_flows_since(member.id, FlowPurpose::EmailChange, since)
        .await?;
    let to_address = accounts.count_flows_since(&new, since).await?;
    if by_member >= cfg.code_requests_per_window || to_address >= cfg.code_requests_per_window {
        return Err(AuthError::RateLimited {
            retry_after_secs: cfg.code_request_window_secs,
        });
    }
    let owner = accounts.find_member_by_email(&new).await?;
    let flow_id: FlowId = svc.new_id();
    // A code is made (and its hash stored) in both cases, so both do the
    // same work; for a taken address it is never sent.
    let code = OneTimeCode::generate(&mut svc.random.rng(), cfg.code_digits)
        .map_err(|e| anyhow::anyhow!("code generation: {e}"))?;
    let (letter_lang, letter) = match &owner {
        None => (
            member.language,
            Letter::EmailChangeCode {
                code: code.expose(),
                minutes: cfg.code_ttl_secs / 60,
            },
        ),
        Some(o) => (o.language, Letter::EmailChangeTaken),
    };
    let flow = NewFlow {
        id: flow_id,
        purpose: FlowPurpose::EmailChange,
        email: new.clone(),
        member_id: Some(member.id),
        display_name: None,
        language: member.language,
        session_id: Some(session.id),
        terms_version: None,
        code_hash: anshin_vault::code_hash(svc.keys.code_key(), flow_id.as_bytes(), &code),
        created_at: now,
        expires_at: now + Duration::from_secs(cfg.code_ttl_secs),
    };
    let mail = crate::mail::letter(svc, letter_lang, &new, &letter)?;
    start_flow(svc, flow, mail).await?;
    tracing::info!(member = %member.id, flow = %flow_id, kind = letter.kind(), "e-mail change requested");
    Ok(flow_id)
}

/// "Send a new code" on the code page: the same request again, for the
/// address of `flow`, which must be this session's e-mail change.
pub async fn resend_email_change(
    svc: &Services,
    session: &SessionRecord,
    flow: FlowId,
) -> Result<FlowId, AuthError> {
    let old = svc
        .store
        .accounts()
        .find_flow(flow)
        .await?
        .ok_or(AuthError::InvalidCode)?;
    if old.purpose != FlowPurpose::EmailChange
        || old.member_id.is_none()
        || old.member_id != session.member()
        || old.session_id != Some(session.id)
    {
        return Err(AuthError::InvalidCode);
    }
    request_email_change(svc, session, old.email).await
}

/// Finishes an e-mail change with the code mailed to the new address:
/// the account's address becomes the new one, every other session of the
/// member ends, and the old address is told (the new one masked).
pub async fn confirm_email_change(
    svc: &Services,
    session: &SessionRecord,
    flow_id: FlowId,
    code: &str,
    client: &Client,
) -> Result<(), AuthError> {
    let member_id = session.member().ok_or(AuthError::NotAuthenticated)?;
    limits::check_client(svc, client, limits::Ceilings::AddressAndNetwork).await?;
    let now = svc.now();
    let attempt = svc
        .store
        .accounts()
        .reserve_attempt(flow_id, now, svc.settings.auth.code_max_attempts)
        .await?;
    let Attempt::Reserved { flow, code_hash } = attempt else {
        return Err(AuthError::InvalidCode);
    };
    let ours = flow.purpose == FlowPurpose::EmailChange
        && flow.member_id == Some(member_id)
        && flow.session_id == Some(session.id);
    if !ours
        || !anshin_vault::verify_code(svc.keys.code_key(), flow_id.as_bytes(), code, &code_hash)
    {
        events::record_failure(svc, member_id, client, LoginMethod::EmailChange).await;
        limits::failed(svc, client, None, None, false).await?;
        return Err(AuthError::InvalidCode);
    }
    let member = find_member(svc, member_id).await?;
    let new = flow.email;
    let masked = new.masked();
    let notice = Letter::EmailChanged {
        new_masked: &masked,
        when_utc: login::format_time(now, 0, "UTC"),
        when_tokyo: login::format_time(now, 9 * 3600, "JST"),
    };
    let changes = Changes::new()
        .with(Write::ConsumeFlow {
            flow: flow_id,
            at: now,
        })
        .with(Write::ChangeEmail {
            member: member.id,
            from: member.email.clone(),
            to: new,
            at: now,
        })
        .with(Write::EndOtherSessions {
            member: member.id,
            keep: Some(session.id),
        })
        .with(Write::RecordLoginEvent(events::event(
            svc,
            member.id,
            client,
            LoginMethod::EmailChange,
            LoginOutcome::Success,
        )))
        .mail(crate::mail::letter(
            svc,
            member.language,
            &member.email,
            &notice,
        )?)
        .audited(crate::audit::member_event(
            svc,
            member.id,
            crate::audit::AuditAction::EmailChanged,
            Some(client.ip),
            serde_json::json!({ "session": session.id }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(member = %member.id, "e-mail address changed; other sessions ended");
            Ok(())
        }
        // A parallel request used the code first, or changed the address
        // meanwhile; or the address was taken by a sign-up or another
        // change after the code was sent. Nothing was written.
        Err(e)
            if e.is_precondition(guards::FLOW_CONSUMED)
                || e.is_precondition(guards::EMAIL_CHANGED) =>
        {
            Err(AuthError::InvalidCode)
        }
        Err(StoreError::Conflict(_)) => Err(AuthError::InvalidCode),
        Err(e) => Err(e.into()),
    }
}
