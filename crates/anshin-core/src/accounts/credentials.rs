//! Proving identity again for sensitive changes, and choosing, changing or
//! removing the password (C12, C14).

use anshin_domain::{FlowId, FlowPurpose, LoginMethod, MemberId};
use anshin_store::{Attempt, Changes, SessionRecord, StoreError, Write, guards};
use secrecy::{ExposeSecret as _, SecretString};

use super::codes::start_member_flow;
use super::password::{self, Checked};
use super::profile::find_member;
use super::types::{AuthError, Client};
use super::{events, limits};
use crate::Services;
use crate::mail::compose::Letter;
use crate::sessions::recently_authenticated;

/// Mails the member a code to confirm a sensitive change.
pub async fn request_reauth(svc: &Services, member: MemberId) -> Result<FlowId, AuthError> {
    let m = find_member(svc, member).await?;
    start_member_flow(svc, &m, FlowPurpose::Reauth).await
}

/// Confirms a re-authentication code: the session counts as freshly
/// authenticated.
pub async fn verify_reauth(
    svc: &Services,
    session: &SessionRecord,
    flow_id: FlowId,
    code: &str,
    client: &Client,
) -> Result<(), AuthError> {
    let member = session.member().ok_or(AuthError::InvalidCode)?;
    let now = svc.now();
    let attempt = svc
        .store
        .accounts()
        .reserve_attempt(flow_id, now, svc.settings.auth.code_max_attempts)
        .await?;
    let Attempt::Reserved { flow, code_hash } = attempt else {
        return Err(AuthError::InvalidCode);
    };
    if flow.purpose != FlowPurpose::Reauth
        || flow.member_id != Some(member)
        || !anshin_vault::verify_code(svc.keys.code_key(), flow_id.as_bytes(), code, &code_hash)
    {
        events::record_failure(svc, member, client, LoginMethod::Reauth).await;
        return Err(AuthError::InvalidCode);
    }
    let changes = Changes::new()
        .with(Write::ConsumeFlow {
            flow: flow_id,
            at: now,
        })
        .with(Write::MarkAuthenticated {
            session: session.id,
            at: now,
        });
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_precondition(guards::FLOW_CONSUMED) => Err(AuthError::InvalidCode),
        Err(e) => Err(e.into()),
    }
}

/// Adds or changes the password: the current password, or a recent
/// authentication, is required. Mails a notice in the same transaction.
pub async fn set_password(
    svc: &Services,
    session: &SessionRecord,
    new_password: &SecretString,
    current_password: Option<&SecretString>,
) -> Result<(), AuthError> {
    let member_id = session.member().ok_or(AuthError::NotAuthenticated)?;
    let member = find_member(svc, member_id).await?;
    match (current_password, &member.password_hash) {
        (Some(current), Some(stored)) => {
            // A stolen session must not become a way around the login
            // lock (C8): guesses of the current password count against the
            // same account counter, before any hash is computed.
            let locked_now = match limits::reserve(svc, member.email.as_str()).await? {
                limits::Gate::Locked => {
                    svc.passwords.wait_like_a_hash(password::Lane::Open).await?;
                    return Err(AuthError::CurrentPasswordWrong);
                }
                limits::Gate::Open { locked_now } => locked_now,
            };
            if svc.passwords.verify(current, stored).await? == Checked::Mismatch {
                let client = Client {
                    ip: session
                        .login
                        .as_ref()
                        .and_then(|l| l.ip.parse().ok())
                        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                    user_agent: None,
                    device_token: None,
                };
                limits::failed(
                    svc,
                    &client,
                    Some(member.email.as_str()),
                    Some(&member),
                    locked_now,
                )
                .await?;
                return Err(AuthError::CurrentPasswordWrong);
            }
            limits::succeeded(svc, member.email.as_str()).await?;
        }
        (Some(current), None) => {
            // Same cost as a real check, same answer as a wrong password.
            svc.passwords.dummy(current).await?;
            return Err(AuthError::CurrentPasswordWrong);
        }
        (None, _) => {
            if !recently_authenticated(svc, session) {
                return Err(AuthError::ReauthRequired);
            }
        }
    }
    password::check_new(
        new_password.expose_secret(),
        svc.settings.auth.password_min_chars,
        &[
            member.email.as_str(),
            member.email.local_part(),
            member.display_name.as_str(),
        ],
    )
    .map_err(AuthError::Password)?;
    let hash = svc.passwords.hash(new_password, &svc.random).await?;
    let now = svc.now();
    let mail = crate::mail::letter(svc, member.language, &member.email, &Letter::PasswordSet)?;
    svc.store
        .commit(
            &Changes::new()
                .with(Write::SetPasswordHash {
                    member: member.id,
                    hash: Some(hash.as_str().to_owned()),
                    at: now,
                })
                .mail(mail)
                .audited(crate::audit::member_event(
                    svc,
                    member.id,
                    crate::audit::AuditAction::PasswordSet,
                    crate::audit::session_origin(session),
                    serde_json::json!({
                        "session": session.id,
                        "changed": member.password_hash.is_some(),
                    }),
                )),
        )
        .await?;
    Ok(())
}

/// Chooses password-less login: the stored hash is deleted at once (C12),
/// with a notice mail in the same transaction.
pub async fn remove_password(svc: &Services, session: &SessionRecord) -> Result<(), AuthError> {
    let member_id = session.member().ok_or(AuthError::NotAuthenticated)?;
    if !recently_authenticated(svc, session) {
        return Err(AuthError::ReauthRequired);
    }
    let member = find_member(svc, member_id).await?;
    let mail = crate::mail::letter(
        svc,
        member.language,
        &member.email,
        &Letter::PasswordRemoved,
    )?;
    let changes = Changes::new()
        .with(Write::SetPasswordHash {
            member: member.id,
            hash: None,
            at: svc.now(),
        })
        .mail(mail)
        .audited(crate::audit::member_event(
            svc,
            member.id,
            crate::audit::AuditAction::PasswordRemoved,
            crate::audit::session_origin(session),
            serde_json::json!({ "session": session.id }),
        ));
    svc.store
        .commit(&changes)
        .await
        .map_err(|e: StoreError| e.into())
}
