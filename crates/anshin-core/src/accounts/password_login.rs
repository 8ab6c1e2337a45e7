//! Logging in with a password (C12, C14), behind the limits (C8) and the
//! bot challenge (C7).

use anshin_domain::{EmailAddress, LoginMethod, SessionId};
use secrecy::SecretString;

use super::login::{self, Login};
use super::password::{self, Checked};
use super::types::{AuthError, Client, LoggedIn};
use super::{events, limits};
use crate::Services;
use crate::challenge::ChallengeError;

/// Logs in with a password. `email` is taken as typed, not parsed:
/// unknown addresses, malformed ones and members without a password cost
/// the same Argon2id work, count against the same limits (keyed by the
/// text) and get the same answer. `challenge` is the bot-challenge
/// solution the client sent, if any: it is required when the address or
/// account has recent failures or the site is under attack
/// ([`limits::login_needs_challenge`]).
pub async fn login_password(
    svc: &Services,
    email: &str,
    password: &SecretString,
    challenge: Option<&str>,
    client: &Client,
    previous_session: Option<SessionId>,
) -> Result<LoggedIn, AuthError> {
    let parsed = EmailAddress::parse(email);
    let member = match &parsed {
        Some(e) => svc.store.accounts().find_member_by_email(e).await?,
        None => None,
    };
    // Limits first: a throttled client, a bot or a locked account costs
    // no hash. A member's own device is exempt from the client ceilings.
    let standing = if limits::trusted_device(svc, member.as_ref(), client).await? {
        limits::Standing::trusted_device()
    } else {
        limits::check_login(svc, client, email).await?
    };
    if limits::login_needs_challenge(svc, standing, email).await? {
        check_login_challenge(svc, parsed.as_ref(), challenge, client).await?;
    }
    // Strangers share one lane whether or not the account exists or is
    // locked, so queueing says nothing about it either.
    let lane = if standing.trusted_device {
        password::Lane::KnownDevice
    } else if svc.challenges.level() > 0 {
        password::Lane::UnderAttack
    } else {
        password::Lane::Open
    };
    let locked_now = match limits::reserve(svc, email).await? {
        limits::Gate::Locked => {
            // Same answer, in the same lane and about the same time, as a
            // wrong password; and it counts against the client's address,
            // network and the site like one, so hammering locked accounts
            // meets the same ceilings (not the account's count: the lock
            // is already there).
            svc.passwords.wait_like_a_hash(lane).await?;
            limits::failed(svc, client, None, None, false).await?;
            svc.metrics.logins_failed.inc();
            // The owner's own browser learns why; a stranger's answer is
            // the same as for a wrong password.
            return Err(if standing.trusted_device {
                AuthError::LockedKnownDevice
            } else {
                AuthError::InvalidCredentials
            });
        }
        limits::Gate::Open { locked_now } => locked_now,
    };
    let Some((member, stored)) = member
        .clone()
        .and_then(|m| m.password_hash.clone().map(|h| (m, h)))
    else {
        svc.passwords.dummy_in(lane, password).await?;
        limits::failed(svc, client, Some(email), member.as_ref(), locked_now).await?;
        svc.metrics.logins_failed.inc();
        return Err(AuthError::InvalidCredentials);
    };
    match svc.passwords.verify_in(lane, password, &stored).await? {
        Checked::Mismatch => {
            events::record_failure(svc, member.id, client, LoginMethod::Password).await;
            limits::failed(svc, client, Some(email), Some(&member), locked_now).await?;
            svc.metrics.logins_failed.inc();
            Err(AuthError::InvalidCredentials)
        }
        Checked::Match { needs_rehash } => {
            if needs_rehash {
                // The cost was raised since this hash was made (C14).
                let new = svc.passwords.hash(password, &svc.random).await?;
                let upgraded = svc
                    .store
                    .accounts()
                    .upgrade_password_hash(member.id, &stored, new.as_str())
                    .await?;
                tracing::info!(member = %member.id, upgraded, "password hash upgraded to current parameters");
            }
            login::complete(
                svc,
                Login {
                    member: member.id,
                    email: &member.email,
                    lang: member.language,
                    create_member: None,
                    consume_flow: None,
                    method: LoginMethod::Password,
                    previous_session,
                    end_other_sessions: false,
                    // The limits looked the device token up for this
                    // member already (a trusted device is a known one).
                    device_seen: client
                        .device_token
                        .as_ref()
                        .map(|_| standing.trusted_device),
                },
                client,
            )
            .await
        }
    }
}

/// Verifies a login's bot challenge. A solution from one attack level
/// below the current one still passes (the level may rise while a person
/// solves it). A bad solution counts as a failure of the client address,
/// and, when the address names a member, is a security event in their
/// login history.
async fn check_login_challenge(
    svc: &Services,
    email: Option<&EmailAddress>,
    presented: Option<&str>,
    client: &Client,
) -> Result<(), AuthError> {
    let level = svc.challenges.level().saturating_sub(1);
    match crate::challenge::check(svc, presented, client.ip, level).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if e != ChallengeError::Required {
                limits::failed(svc, client, None, None, false).await?;
                if let Some(email) = email {
                    events::record_challenge_failure(svc, email, client, LoginMethod::Password)
                        .await;
                }
            }
            Err(AuthError::Challenge(e))
        }
    }
}
