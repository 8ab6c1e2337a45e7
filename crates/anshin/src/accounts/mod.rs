//! Members: sign-up, login by e-mail code (C11) or, if they choose, by
//! password (C12, C14), re-authentication for sensitive changes, and the
//! login mail (C9). Web handlers call these functions; they never touch
//! SQL or HTTP themselves.
//!
//! What an attacker tries, and where it fails (tests in `tests/accounts.rs`):
//! - learn whether an address has an account: code requests and sign-ups
//!   answer 202 with a fresh `flow_id` either way, doing the same work
//!   (one flow row and one mail: a code, or a "you have no account / you
//!   already have one" notice);
//! - guess a code: 6+ digits from a CSPRNG, stored only as
//!   HMAC(code key, flow id ‖ code); each attempt is counted atomically
//!   *before* the comparison, so parallel guesses cannot exceed 5; a new
//!   code inherits the count; codes expire after 10 minutes and work once;
//! - reuse a code in another flow: the hash binds the flow id;
//! - fixate a session: every login makes a new session token and ends the
//!   visitor's previous session;
//! - change the password or e-mail from a stolen session: needs a login or
//!   a fresh code within `auth.recent_auth_secs`, or the current password.

pub mod device;
pub mod email;
pub mod limits;
pub mod password;

use anshin_store::{
    Attempt, FlowPurpose, LoginWrite, MemberRecord, NewFlow, NewLoginEvent, NewMember, NewSession,
    SessionLogin, SessionRecord, StoreError,
};
use anshin_vault::{OneTimeCode, SessionToken};
use chrono::TimeZone as _;
use secrecy::SecretString;
use uuid::Uuid;

use crate::clock::secs;
use crate::i18n::Lang;
use crate::mail::compose::{self, Letter, LoginNotice};
use crate::web::AppState;
use email::{DisplayName, EmailAddress};
use password::{Checked, PasswordRule};

/// What can go wrong, as the client may learn it. Wrong codes and wrong
/// passwords are one variant each, whatever the reason.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    #[error("invalid or expired code")]
    InvalidCode,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("re-authentication required")]
    ReauthRequired,
    #[error("current password wrong")]
    CurrentPasswordWrong,
    #[error("password rule: {0:?}")]
    Password(PasswordRule),
    /// The login needed a solved bot challenge (C7) and had none or a bad one.
    #[error("bot challenge: {0}")]
    Challenge(#[from] crate::challenge::ChallengeError),
    #[error("unexpected: {0}")]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Unexpected(e.into())
    }
}

/// Who is asking: their address and browser, for the history and mail.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: String,
    pub user_agent: Option<String>,
    /// The long-lived device cookie, if the browser sent one.
    pub device_token: Option<SessionToken>,
}

/// A new member session.
#[derive(Debug)]
pub struct LoggedIn {
    pub member_id: Uuid,
    pub session_id: Uuid,
    pub token: SessionToken,
    /// A device cookie to set, when the browser had none.
    pub new_device_token: Option<SessionToken>,
    pub created_member: bool,
}

pub(crate) fn lang_of(member: &MemberRecord) -> Lang {
    Lang::parse(&member.language).unwrap_or(Lang::Ja)
}

/// Checks sign-up input before anything else is done with the request.
pub fn validate_signup(email: &str, display_name: &str) -> Result<(), AuthError> {
    validate_email(email)?;
    DisplayName::parse(display_name).ok_or(AuthError::InvalidInput("invalid_display_name"))?;
    Ok(())
}

/// Checks an e-mail address before anything else is done with the request.
pub fn validate_email(email: &str) -> Result<(), AuthError> {
    EmailAddress::parse(email).ok_or(AuthError::InvalidInput("invalid_email"))?;
    Ok(())
}

/// Starts a sign-up or code login for `email`. The answer (a flow id) is
/// the same whether or not an account exists.
pub async fn request_code(
    state: &AppState,
    purpose: FlowPurpose,
    email: &str,
    display_name: Option<&str>,
    lang: Lang,
) -> Result<Uuid, AuthError> {
    let email = EmailAddress::parse(email).ok_or(AuthError::InvalidInput("invalid_email"))?;
    let display_name = match purpose {
        FlowPurpose::Signup => Some(
            DisplayName::parse(display_name.unwrap_or(""))
                .ok_or(AuthError::InvalidInput("invalid_display_name"))?,
        ),
        _ => None,
    };
    let cfg = &state.settings.auth;
    let now = state.clock.now();
    let window = secs(cfg.code_request_window_secs);
    let recent = state
        .store
        .accounts()
        .count_flows_since(email.as_str(), now - window)
        .await?;
    if recent >= cfg.code_requests_per_window {
        return Err(AuthError::RateLimited {
            retry_after_secs: cfg.code_request_window_secs,
        });
    }
    let member = state
        .store
        .accounts()
        .find_member_by_email(email.as_str())
        .await?;
    let flow_id = Uuid::now_v7();
    let code = OneTimeCode::generate(&mut rand::rng(), cfg.code_digits)
        .map_err(|e| anyhow::anyhow!("code generation: {e}"))?;
    let minutes = cfg.code_ttl_secs / 60;
    let (letter_lang, letter) = match (purpose, &member) {
        (FlowPurpose::Signup, None) => (
            lang,
            Letter::SignupCode {
                code: code.expose(),
                minutes,
            },
        ),
        (FlowPurpose::Signup, Some(m)) => (lang_of(m), Letter::SignupExisting),
        (_, Some(m)) => (
            lang_of(m),
            Letter::LoginCode {
                code: code.expose(),
                minutes,
            },
        ),
        (_, None) => (lang, Letter::NoAccount),
    };
    let flow = NewFlow {
        id: flow_id,
        purpose,
        email: email.as_str().to_owned(),
        // A sign-up flow for a taken address can never complete: it has
        // no member and the member insert would conflict.
        member_id: match purpose {
            FlowPurpose::Signup => None,
            _ => member.as_ref().map(|m| m.id),
        },
        display_name: display_name.map(|d| d.as_str().to_owned()),
        language: lang.code().to_owned(),
        code_hash: anshin_vault::code_hash(state.keys.code_key(), flow_id.as_bytes(), &code),
        created_at: now,
        expires_at: now + secs(cfg.code_ttl_secs),
    };
    let mail = seal_letter(state, letter_lang, email.as_str(), &letter, now)?;
    state.store.accounts().start_flow(&flow, now, &mail).await?;
    tracing::info!(flow = %flow_id, purpose = purpose.as_str(), kind = letter.kind(), "code requested");
    Ok(flow_id)
}

pub(crate) fn seal_letter(
    state: &AppState,
    lang: Lang,
    to: &str,
    letter: &Letter<'_>,
    now: i64,
) -> Result<anshin_store::NewMail, AuthError> {
    let rendered = compose::render(state.catalogs.get(lang), lang, &state.origin, to, letter);
    compose::seal(&state.keys, Uuid::now_v7(), letter.kind(), now, &rendered)
        .map_err(|e| AuthError::Unexpected(e.into()))
}

/// Checks a code for a sign-up or login flow and, if right, logs in.
pub async fn verify_code(
    state: &AppState,
    purpose: FlowPurpose,
    flow_id: Uuid,
    code: &str,
    client: &Client,
    previous_session: Option<Uuid>,
) -> Result<LoggedIn, AuthError> {
    let now = state.clock.now();
    let cfg = &state.settings.auth;
    let attempt = state
        .store
        .accounts()
        .reserve_attempt(flow_id, now, cfg.code_max_attempts)
        .await?;
    let Attempt::Reserved { flow, code_hash } = attempt else {
        return Err(AuthError::InvalidCode);
    };
    // A login page accepts the unlock code mailed to a locked account's
    // owner; that code alone passes the account lock.
    let unlock = purpose == FlowPurpose::Login && flow.purpose == FlowPurpose::Unlock;
    if flow.purpose != purpose && !unlock {
        return Err(AuthError::InvalidCode);
    }
    let mut locked_now = false;
    if !unlock {
        limits::check_client(state, client, limits::Ceilings::AddressAndNetwork).await?;
        match limits::reserve(state, &flow.email).await? {
            limits::Gate::Locked => {
                // Counted against the client like a wrong code.
                limits::failed(state, client, None, false).await?;
                state.metrics.logins_failed.inc();
                return Err(AuthError::InvalidCode);
            }
            limits::Gate::Open { locked_now: l } => locked_now = l,
        }
    }
    if !anshin_vault::verify_code(state.keys.code_key(), flow_id.as_bytes(), code, &code_hash) {
        let member = match flow.member_id {
            Some(id) => state.store.accounts().find_member(id).await?,
            None => None,
        };
        if let Some(m) = &member {
            record_failure(state, m.id, client, "code", now).await;
        }
        limits::failed(state, client, member.as_ref(), locked_now).await?;
        state.metrics.logins_failed.inc();
        return Err(AuthError::InvalidCode);
    }
    limits::succeeded(state, &flow.email).await?;
    if unlock {
        state.metrics.unlocks.inc();
    }
    let (member_id, create, method) = match purpose {
        FlowPurpose::Signup => {
            let member = NewMember {
                id: Uuid::now_v7(),
                email: flow.email.clone(),
                display_name: flow.display_name.clone().unwrap_or_default(),
                language: flow.language.clone(),
                created_at: now,
            };
            (member.id, Some(member), "signup")
        }
        _ if unlock => (
            flow.member_id.ok_or(AuthError::InvalidCode)?,
            None,
            "unlock",
        ),
        _ => (flow.member_id.ok_or(AuthError::InvalidCode)?, None, "code"),
    };
    let lang = Lang::parse(&flow.language).unwrap_or(Lang::Ja);
    let result = login(
        state,
        member_id,
        &flow.email,
        lang,
        create,
        Some(flow_id),
        method,
        client,
        previous_session,
    )
    .await;
    match result {
        Err(AuthError::Unexpected(e)) if is_conflict(&e) => Err(AuthError::InvalidCode),
        other => other,
    }
}

fn is_conflict(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<StoreError>(),
        Some(StoreError::Conflict(_))
    )
}

/// Logs in with a password. Unknown addresses and members without a
/// password cost the same Argon2id work and get the same answer.
/// `challenge` is the bot-challenge solution the client sent, if any: it
/// is required when the address or account has recent failures or the
/// site is under attack ([`limits::login_needs_challenge`]).
pub async fn login_password(
    state: &AppState,
    email: &str,
    password: &SecretString,
    challenge: Option<&str>,
    client: &Client,
    previous_session: Option<Uuid>,
) -> Result<LoggedIn, AuthError> {
    let member = match EmailAddress::parse(email) {
        Some(e) => {
            state
                .store
                .accounts()
                .find_member_by_email(e.as_str())
                .await?
        }
        None => None,
    };
    // Limits first: a throttled client, a bot or a locked account costs
    // no hash. A member's own device is exempt from the client ceilings.
    let standing = if limits::trusted_device(state, member.as_ref(), client).await? {
        limits::Standing::trusted_device()
    } else {
        limits::check_client(state, client, limits::Ceilings::All).await?
    };
    if limits::login_needs_challenge(state, standing, email).await? {
        check_login_challenge(state, email, challenge, client).await?;
    }
    // Strangers share one lane whether or not the account exists or is
    // locked, so queueing says nothing about it either.
    let lane = if standing.trusted_device {
        password::Lane::KnownDevice
    } else if state.challenges.level() > 0 {
        password::Lane::UnderAttack
    } else {
        password::Lane::Open
    };
    let gate = limits::reserve(state, email).await?;
    let locked_now = match gate {
        limits::Gate::Locked => {
            // Same answer, in the same lane and about the same time, as a
            // wrong password; and it counts against the client's address,
            // network and the site like one, so hammering locked accounts
            // meets the same ceilings (not the account's count: the lock
            // is already there).
            state.passwords.wait_like_a_hash(lane).await?;
            limits::failed(state, client, None, false).await?;
            state.metrics.logins_failed.inc();
            return Err(AuthError::InvalidCredentials);
        }
        limits::Gate::Open { locked_now } => locked_now,
    };
    let Some((member, stored)) = member
        .clone()
        .and_then(|m| m.password_hash.clone().map(|h| (m, h)))
    else {
        state.passwords.dummy_in(lane, password).await?;
        limits::failed(state, client, member.as_ref(), locked_now).await?;
        state.metrics.logins_failed.inc();
        return Err(AuthError::InvalidCredentials);
    };
    let now = state.clock.now();
    match state.passwords.verify_in(lane, password, &stored).await? {
        Checked::Mismatch => {
            record_failure(state, member.id, client, "password", now).await;
            limits::failed(state, client, Some(&member), locked_now).await?;
            state.metrics.logins_failed.inc();
            Err(AuthError::InvalidCredentials)
        }
        Checked::Match { needs_rehash } => {
            if needs_rehash {
                // The cost was raised since this hash was made (C14).
                let new = state.passwords.hash(password).await?;
                let upgraded = state
                    .store
                    .accounts()
                    .upgrade_password_hash(member.id, &stored, new.as_str())
                    .await?;
                tracing::info!(member = %member.id, upgraded, "password hash upgraded to current parameters");
            }
            limits::succeeded(state, &member.email).await?;
            let lang = lang_of(&member);
            login(
                state,
                member.id,
                &member.email,
                lang,
                None,
                None,
                "password",
                client,
                previous_session,
            )
            .await
        }
    }
}

/// Starts an unlock login from the link mailed to a locked account's
/// owner: mails a fresh code whose flow logs in despite the lock (C8).
pub async fn request_unlock(state: &AppState, token: &str) -> Result<Uuid, AuthError> {
    let token = SessionToken::parse(token).map_err(|_| AuthError::InvalidCode)?;
    let now = state.clock.now();
    let email = state
        .store
        .throttle()
        .take_unlock_token(&limits::unlock_token_hash(&token), now)
        .await?
        .ok_or(AuthError::InvalidCode)?;
    let member = state
        .store
        .accounts()
        .find_member_by_email(&email)
        .await?
        .ok_or(AuthError::InvalidCode)?;
    start_member_flow(state, &member, FlowPurpose::Unlock).await
}

/// Verifies a login's bot challenge. A solution from one attack level
/// below the current one still passes (the level may rise while a person
/// solves it). A bad solution counts as a failure of the client address,
/// and, when the address names a member, is a security event in their
/// login history.
async fn check_login_challenge(
    state: &AppState,
    email: &str,
    presented: Option<&str>,
    client: &Client,
) -> Result<(), AuthError> {
    let ip = client
        .ip
        .parse()
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let level = state.challenges.level().saturating_sub(1);
    match crate::challenge::check(state, presented, ip, level).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if e != crate::challenge::ChallengeError::Required {
                limits::failed(state, client, None, false).await?;
                record_challenge_failure(state, email, client, "password").await;
            }
            Err(AuthError::Challenge(e))
        }
    }
}

/// A failed (not missing) bot challenge on a request that names an
/// existing member's address goes into their login history (C7).
pub async fn record_challenge_failure(
    state: &AppState,
    email: &str,
    client: &Client,
    method: &str,
) {
    let Some(address) = EmailAddress::parse(email) else {
        return;
    };
    match state
        .store
        .accounts()
        .find_member_by_email(address.as_str())
        .await
    {
        Ok(Some(m)) => {
            let event = NewLoginEvent {
                id: Uuid::now_v7(),
                member_id: m.id,
                at: state.clock.now(),
                ip: client.ip.clone(),
                device: device::summarize(client.user_agent.as_deref()),
                method: method.to_owned(),
                outcome: "challenge_failed".to_owned(),
            };
            if let Err(e) = state.store.accounts().record_login_event(&event).await {
                tracing::warn!(error = %e, "could not record a failed challenge");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not look up a member for a failed challenge"),
    }
}

async fn record_failure(
    state: &AppState,
    member_id: Uuid,
    client: &Client,
    method: &str,
    now: i64,
) {
    let event = NewLoginEvent {
        id: Uuid::now_v7(),
        member_id,
        at: now,
        ip: client.ip.clone(),
        device: device::summarize(client.user_agent.as_deref()),
        method: method.to_owned(),
        outcome: "failure".to_owned(),
    };
    if let Err(e) = state.store.accounts().record_login_event(&event).await {
        tracing::warn!(error = %e, "could not record a failed login");
    }
}

/// Writes the session, the history entry, the device and the login mail
/// in one transaction.
#[allow(clippy::too_many_arguments)]
async fn login(
    state: &AppState,
    member_id: Uuid,
    email: &str,
    lang: Lang,
    create_member: Option<NewMember>,
    consume_flow: Option<Uuid>,
    method: &str,
    client: &Client,
    previous_session: Option<Uuid>,
) -> Result<LoggedIn, AuthError> {
    let now = state.clock.now();
    let (device_token, new_device_token) = match &client.device_token {
        Some(t) => (t.clone(), None),
        None => {
            let t = SessionToken::generate(&mut rand::rng());
            (t.clone(), Some(t))
        }
    };
    let device_hash = device::token_hash(&device_token);
    let seen_before = create_member.is_none()
        && state
            .store
            .accounts()
            .device_known(member_id, &device_hash)
            .await?;
    let device = device::summarize(client.user_agent.as_deref());
    let token = SessionToken::generate(&mut rand::rng());
    let cfg = &state.settings.sessions;
    let session_id = Uuid::now_v7();
    let letter = if create_member.is_some() {
        Letter::Welcome
    } else {
        Letter::LoginNotice(LoginNotice {
            when_utc: format_time(now, 0, "UTC"),
            when_tokyo: format_time(now, 9 * 3600, "JST"),
            ip: client.ip.clone(),
            device: device.clone(),
            method: method.to_owned(),
            seen_before,
        })
    };
    let mail = seal_letter(state, lang, email, &letter, now)?;
    let created_member = create_member.is_some();
    let write = LoginWrite {
        consume_flow,
        create_member,
        session: NewSession {
            id: session_id,
            token_hash: *token.hash().as_bytes(),
            created_at: now,
            absolute_expires_at: now.saturating_add(secs(cfg.absolute_lifetime_secs)),
            idle_expires_at: now.saturating_add(secs(cfg.idle_timeout_secs)),
            login: Some(SessionLogin {
                member_id,
                authenticated_at: now,
                ip: client.ip.clone(),
                device: device.clone(),
                method: method.to_owned(),
            }),
        },
        end_session: previous_session,
        event: NewLoginEvent {
            id: Uuid::now_v7(),
            member_id,
            at: now,
            ip: client.ip.clone(),
            device,
            method: method.to_owned(),
            outcome: "success".to_owned(),
        },
        device_hash,
        mail,
    };
    if !state.store.accounts().complete_login(&write).await? {
        // A parallel request consumed the flow first.
        return Err(AuthError::InvalidCode);
    }
    state.metrics.logins_succeeded.inc();
    tracing::info!(member = %member_id, session = %session_id, method, "logged in");
    Ok(LoggedIn {
        member_id,
        session_id,
        token,
        new_device_token,
        created_member,
    })
}

/// `2026-01-01 09:00 JST` from UTC microseconds and an offset.
pub fn format_time(micros: i64, offset_secs: i32, zone: &str) -> String {
    let Some(offset) = chrono::FixedOffset::east_opt(offset_secs) else {
        return String::new();
    };
    match offset.timestamp_micros(micros).single() {
        Some(t) => format!("{} {zone}", t.format("%Y-%m-%d %H:%M:%S")),
        None => String::new(),
    }
}

/// The member of a session, if it is a member's session.
pub fn member_of(session: &SessionRecord) -> Option<Uuid> {
    session.login.as_ref().map(|l| l.member_id)
}

/// Whether the session proved its identity recently enough for a
/// sensitive change.
pub fn recently_authenticated(state: &AppState, session: &SessionRecord) -> bool {
    let now = state.clock.now();
    session
        .login
        .as_ref()
        .is_some_and(|l| now - l.authenticated_at <= secs(state.settings.auth.recent_auth_secs))
}

/// Mails a code to the member to confirm a sensitive change.
pub async fn request_reauth(state: &AppState, member: &MemberRecord) -> Result<Uuid, AuthError> {
    start_member_flow(state, member, FlowPurpose::Reauth).await
}

/// Mails a code for a flow that belongs to a known member (re-auth, unlock).
async fn start_member_flow(
    state: &AppState,
    member: &MemberRecord,
    purpose: FlowPurpose,
) -> Result<Uuid, AuthError> {
    let cfg = &state.settings.auth;
    let now = state.clock.now();
    // An unlock flow is limited by its one-time mailed token, not by the
    // address's code-request window: anyone can fill that window with
    // code requests for the victim's address, which must not make the
    // owner's unlock link useless (C8).
    let recent = match purpose {
        FlowPurpose::Unlock => 0,
        _ => {
            state
                .store
                .accounts()
                .count_flows_since(&member.email, now - secs(cfg.code_request_window_secs))
                .await?
        }
    };
    if recent >= cfg.code_requests_per_window {
        return Err(AuthError::RateLimited {
            retry_after_secs: cfg.code_request_window_secs,
        });
    }
    let flow_id = Uuid::now_v7();
    let code = OneTimeCode::generate(&mut rand::rng(), cfg.code_digits)
        .map_err(|e| anyhow::anyhow!("code generation: {e}"))?;
    let lang = lang_of(member);
    let minutes = cfg.code_ttl_secs / 60;
    let letter = match purpose {
        FlowPurpose::Reauth => Letter::ReauthCode {
            code: code.expose(),
            minutes,
        },
        _ => Letter::LoginCode {
            code: code.expose(),
            minutes,
        },
    };
    let flow = NewFlow {
        id: flow_id,
        purpose,
        email: member.email.clone(),
        member_id: Some(member.id),
        display_name: None,
        language: lang.code().to_owned(),
        code_hash: anshin_vault::code_hash(state.keys.code_key(), flow_id.as_bytes(), &code),
        created_at: now,
        expires_at: now + secs(cfg.code_ttl_secs),
    };
    let mail = seal_letter(state, lang, &member.email, &letter, now)?;
    state.store.accounts().start_flow(&flow, now, &mail).await?;
    Ok(flow_id)
}

/// Confirms a re-authentication code: the session counts as freshly
/// authenticated.
pub async fn verify_reauth(
    state: &AppState,
    session: &SessionRecord,
    flow_id: Uuid,
    code: &str,
    client: &Client,
) -> Result<(), AuthError> {
    let member_id = member_of(session).ok_or(AuthError::InvalidCode)?;
    let now = state.clock.now();
    let attempt = state
        .store
        .accounts()
        .reserve_attempt(flow_id, now, state.settings.auth.code_max_attempts)
        .await?;
    let Attempt::Reserved { flow, code_hash } = attempt else {
        return Err(AuthError::InvalidCode);
    };
    if flow.purpose != FlowPurpose::Reauth
        || flow.member_id != Some(member_id)
        || !anshin_vault::verify_code(state.keys.code_key(), flow_id.as_bytes(), code, &code_hash)
    {
        record_failure(state, member_id, client, "reauth", now).await;
        return Err(AuthError::InvalidCode);
    }
    if state
        .store
        .accounts()
        .complete_reauth(flow_id, session.id, now)
        .await?
    {
        Ok(())
    } else {
        Err(AuthError::InvalidCode)
    }
}

/// Adds or changes the password: the current password, or a recent
/// authentication, is required.
pub async fn set_password(
    state: &AppState,
    session: &SessionRecord,
    member: &MemberRecord,
    new_password: &SecretString,
    current_password: Option<&SecretString>,
) -> Result<(), AuthError> {
    use secrecy::ExposeSecret;
    match (current_password, &member.password_hash) {
        (Some(current), Some(stored)) => {
            // A stolen session must not become a way around the login
            // lock (C8): guesses of the current password count against the
            // same account counter, before any hash is computed.
            let locked_now = match limits::reserve(state, &member.email).await? {
                limits::Gate::Locked => {
                    state
                        .passwords
                        .wait_like_a_hash(password::Lane::Open)
                        .await?;
                    return Err(AuthError::CurrentPasswordWrong);
                }
                limits::Gate::Open { locked_now } => locked_now,
            };
            if state.passwords.verify(current, stored).await? == Checked::Mismatch {
                let client = Client {
                    ip: session
                        .login
                        .as_ref()
                        .map(|l| l.ip.clone())
                        .unwrap_or_default(),
                    user_agent: None,
                    device_token: None,
                };
                limits::failed(state, &client, Some(member), locked_now).await?;
                return Err(AuthError::CurrentPasswordWrong);
            }
            limits::succeeded(state, &member.email).await?;
        }
        (Some(current), None) => {
            // Same cost as a real check, same answer as a wrong password.
            state.passwords.dummy(current).await?;
            return Err(AuthError::CurrentPasswordWrong);
        }
        (None, _) => {
            if !recently_authenticated(state, session) {
                return Err(AuthError::ReauthRequired);
            }
        }
    }
    let local = member.email.split('@').next().unwrap_or("");
    password::check_new(
        new_password.expose_secret(),
        state.settings.auth.password_min_chars,
        &[&member.email, local, &member.display_name],
    )
    .map_err(AuthError::Password)?;
    let hash = state.passwords.hash(new_password).await?;
    let now = state.clock.now();
    let mail = seal_letter(
        state,
        lang_of(member),
        &member.email,
        &Letter::PasswordSet,
        now,
    )?;
    state
        .store
        .accounts()
        .set_password_hash(member.id, Some(hash.as_str()), now, Some(&mail))
        .await?;
    Ok(())
}

/// Chooses password-less login: the stored hash is deleted at once (C12).
pub async fn remove_password(
    state: &AppState,
    session: &SessionRecord,
    member: &MemberRecord,
) -> Result<(), AuthError> {
    if !recently_authenticated(state, session) {
        return Err(AuthError::ReauthRequired);
    }
    let now = state.clock.now();
    let mail = seal_letter(
        state,
        lang_of(member),
        &member.email,
        &Letter::PasswordRemoved,
        now,
    )?;
    state
        .store
        .accounts()
        .set_password_hash(member.id, None, now, Some(&mail))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c09_login_time_in_utc_and_tokyo() {
        let t = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
        assert_eq!(format_time(t, 0, "UTC"), "2026-01-01 00:00:00 UTC");
        assert_eq!(format_time(t, 9 * 3600, "JST"), "2026-01-01 09:00:00 JST");
    }
}
