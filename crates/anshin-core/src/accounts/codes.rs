//! E-mail code flows (C11): sign-up and login by code, the owner's unlock
//! link (C8), and the code step shared with re-authentication.

use anshin_domain::{
    DisplayName, Duration, EmailAddress, FlowId, FlowPurpose, Lang, LoginMethod, SessionId,
};
use anshin_store::{Attempt, Changes, MemberRecord, NewFlow, NewMember, TermsConsent, Write};
use anshin_vault::{OneTimeCode, SessionToken};

use super::login::{self, Login};
use super::terms::TERMS_VERSION;
use super::types::{AuthError, Client, LoggedIn};
use super::{events, limits};
use crate::Services;
use crate::challenge::ChallengeError;
use crate::mail::compose::Letter;

/// What a code is requested for, with its parsed inputs.
#[derive(Debug, Clone)]
pub enum CodeRequest {
    Signup {
        email: EmailAddress,
        display_name: DisplayName,
        /// The person ticked "I accept the terms of use" (the version in
        /// force, [`TERMS_VERSION`]). Without it no sign-up starts.
        accepts_terms: bool,
    },
    Login {
        email: EmailAddress,
    },
}

impl CodeRequest {
    fn email(&self) -> &EmailAddress {
        match self {
            CodeRequest::Signup { email, .. } | CodeRequest::Login { email } => email,
        }
    }

    fn purpose(&self) -> FlowPurpose {
        match self {
            CodeRequest::Signup { .. } => FlowPurpose::Signup,
            CodeRequest::Login { .. } => FlowPurpose::Login,
        }
    }
}

/// Starts a sign-up or code login: checks the bot challenge the client
/// solved (C7), then mails a code (or, when the address has no account or
/// already has one, a notice saying so). The answer (a flow id) is the
/// same whether or not an account exists. A sign-up without consent to the
/// terms of use is refused first, before the challenge is spent.
pub async fn request_code(
    svc: &Services,
    request: CodeRequest,
    lang: Lang,
    challenge: Option<&str>,
    client: &Client,
) -> Result<FlowId, AuthError> {
    if let CodeRequest::Signup {
        accepts_terms: false,
        ..
    } = request
    {
        return Err(AuthError::TermsNotAccepted);
    }
    require_challenge(svc, request.email(), challenge, client).await?;
    let email = request.email();
    let cfg = &svc.settings.auth;
    let now = svc.now();
    let window = Duration::from_secs(cfg.code_request_window_secs);
    let recent = svc
        .store
        .accounts()
        .count_flows_since(email, now - window)
        .await?;
    if recent >= cfg.code_requests_per_window {
        return Err(AuthError::RateLimited {
            retry_after_secs: cfg.code_request_window_secs,
        });
    }
    let member = svc.store.accounts().find_member_by_email(email).await?;
    let flow_id: FlowId = svc.new_id();
    let code = OneTimeCode::generate(&mut svc.random.rng(), cfg.code_digits)
        .map_err(|e| anyhow::anyhow!("code generation: {e}"))?;
    let minutes = cfg.code_ttl_secs / 60;
    let purpose = request.purpose();
    let (letter_lang, letter) = match (purpose, &member) {
        (FlowPurpose::Signup, None) => (
            lang,
            Letter::SignupCode {
                code: code.expose(),
                minutes,
            },
        ),
        (FlowPurpose::Signup, Some(m)) => (m.language, Letter::SignupExisting),
        (_, Some(m)) => (
            m.language,
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
        email: email.clone(),
        // A sign-up flow for a taken address can never complete: it has
        // no member and the member insert would conflict.
        member_id: match purpose {
            FlowPurpose::Signup => None,
            _ => member.as_ref().map(|m| m.id),
        },
        display_name: match &request {
            CodeRequest::Signup { display_name, .. } => Some(display_name.clone()),
            CodeRequest::Login { .. } => None,
        },
        language: lang,
        session_id: None,
        terms_version: match purpose {
            FlowPurpose::Signup => Some(TERMS_VERSION.to_owned()),
            _ => None,
        },
        code_hash: anshin_vault::code_hash(svc.keys.code_key(), flow_id.as_bytes(), &code),
        created_at: now,
        expires_at: now + Duration::from_secs(cfg.code_ttl_secs),
    };
    let mail = crate::mail::letter(svc, letter_lang, email, &letter)?;
    start_flow(svc, flow, mail).await?;
    tracing::info!(flow = %flow_id, purpose = purpose.as_str(), kind = letter.kind(), "code requested");
    Ok(flow_id)
}

/// Sends a new code for the same sign-up or login as `flow` (the "send a
/// new code" link of the code page): the same rules as [`request_code`]
/// (bot challenge, the address's request window), the same answer whether
/// or not the address has an account; the old code stops working.
pub async fn resend_code(
    svc: &Services,
    flow: FlowId,
    lang: Lang,
    challenge: Option<&str>,
    client: &Client,
) -> Result<FlowId, AuthError> {
    let old = svc
        .store
        .accounts()
        .find_flow(flow)
        .await?
        .ok_or(AuthError::InvalidCode)?;
    let request = match old.purpose {
        // The consent given for this sign-up carries over, unless the
        // terms changed meanwhile (then the form must ask again).
        FlowPurpose::Signup => CodeRequest::Signup {
            accepts_terms: old.terms_version.as_deref() == Some(TERMS_VERSION),
            email: old.email,
            display_name: old.display_name.ok_or(AuthError::InvalidCode)?,
        },
        FlowPurpose::Login | FlowPurpose::Unlock => CodeRequest::Login { email: old.email },
        // A re-authentication code is asked for from the session's page,
        // an e-mail change's from the session that started it.
        FlowPurpose::Reauth | FlowPurpose::EmailChange => return Err(AuthError::InvalidCode),
    };
    request_code(svc, request, lang, challenge, client).await
}

/// Sign-up and code requests need a solved bot challenge (C7) at the
/// current attack level (one level lower also passes: the level may rise
/// while a person solves it). A failed (not missing) challenge for an
/// existing member's address is a security event in their history.
async fn require_challenge(
    svc: &Services,
    email: &EmailAddress,
    presented: Option<&str>,
    client: &Client,
) -> Result<(), AuthError> {
    let level = svc.challenges.level().saturating_sub(1);
    match crate::challenge::check(svc, presented, client.ip, level).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if e != ChallengeError::Required {
                events::record_challenge_failure(svc, email, client, LoginMethod::Code).await;
            }
            Err(AuthError::Challenge(e))
        }
    }
}

/// Checks a code for a sign-up or login flow and, if right, logs in.
/// `end_other_sessions` ends every other session of the member in the
/// same transaction ("this was not me").
pub async fn verify_code(
    svc: &Services,
    purpose: FlowPurpose,
    flow_id: FlowId,
    code: &str,
    client: &Client,
    previous_session: Option<SessionId>,
    end_other_sessions: bool,
) -> Result<LoggedIn, AuthError> {
    let now = svc.now();
    let cfg = &svc.settings.auth;
    let attempt = svc
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
        limits::check_client(svc, client, limits::Ceilings::AddressAndNetwork).await?;
        match limits::reserve(svc, flow.email.as_str()).await? {
            limits::Gate::Locked => {
                // Counted against the client like a wrong code.
                limits::failed(svc, client, None, None, false).await?;
                svc.metrics.logins_failed.inc();
                return Err(AuthError::InvalidCode);
            }
            limits::Gate::Open { locked_now: l } => locked_now = l,
        }
    }
    if !anshin_vault::verify_code(svc.keys.code_key(), flow_id.as_bytes(), code, &code_hash) {
        let member = match flow.member_id {
            Some(id) => svc.store.accounts().find_member(id).await?,
            None => None,
        };
        if let Some(m) = &member {
            events::record_failure(svc, m.id, client, LoginMethod::Code).await;
        }
        limits::failed(
            svc,
            client,
            Some(flow.email.as_str()),
            member.as_ref(),
            locked_now,
        )
        .await?;
        svc.metrics.logins_failed.inc();
        return Err(AuthError::InvalidCode);
    }
    if unlock {
        svc.metrics.unlocks.inc();
    }
    let (member, create_member, method) = match purpose {
        FlowPurpose::Signup => {
            let display_name = flow.display_name.clone().ok_or(AuthError::InvalidCode)?;
            // The consent was given on the form that started this flow.
            let terms = TermsConsent {
                version: flow.terms_version.clone().ok_or(AuthError::InvalidCode)?,
                accepted_at: flow.created_at,
            };
            let member = NewMember {
                id: svc.new_id(),
                email: flow.email.clone(),
                display_name,
                language: flow.language,
                created_at: now,
                terms,
            };
            (member.id, Some(member), LoginMethod::Signup)
        }
        _ if unlock => (
            flow.member_id.ok_or(AuthError::InvalidCode)?,
            None,
            LoginMethod::Unlock,
        ),
        _ => (
            flow.member_id.ok_or(AuthError::InvalidCode)?,
            None,
            LoginMethod::Code,
        ),
    };
    login::complete(
        svc,
        Login {
            member,
            email: &flow.email,
            lang: flow.language,
            create_member,
            consume_flow: Some(flow_id),
            method,
            previous_session,
            end_other_sessions,
            device_seen: None,
        },
        client,
    )
    .await
}

/// Starts an unlock login from the link mailed to a locked account's
/// owner: mails a fresh code whose flow logs in despite the lock (C8).
pub async fn request_unlock(svc: &Services, token: &str) -> Result<FlowId, AuthError> {
    let token = SessionToken::parse(token).map_err(|_| AuthError::InvalidCode)?;
    let email = svc
        .store
        .throttle()
        .take_unlock_token(&limits::unlock_token_hash(&token), svc.now())
        .await?
        .ok_or(AuthError::InvalidCode)?;
    let member = svc
        .store
        .accounts()
        .find_member_by_email(&email)
        .await?
        .ok_or(AuthError::InvalidCode)?;
    start_member_flow(svc, &member, FlowPurpose::Unlock).await
}

/// Mails a code for a flow that belongs to a known member (re-auth, unlock).
pub(super) async fn start_member_flow(
    svc: &Services,
    member: &MemberRecord,
    purpose: FlowPurpose,
) -> Result<FlowId, AuthError> {
    let cfg = &svc.settings.auth;
    let now = svc.now();
    // An unlock flow is limited by its one-time mailed token, not by the
    // address's code-request window: anyone can fill that window with
    // code requests for the victim's address, which must not make the
    // owner's unlock link useless (C8).
    let recent = match purpose {
        FlowPurpose::Unlock => 0,
        _ => {
            svc.store
                .accounts()
                .count_flows_since(
                    &member.email,
                    now - Duration::from_secs(cfg.code_request_window_secs),
                )
                .await?
        }
    };
    if recent >= cfg.code_requests_per_window {
        return Err(AuthError::RateLimited {
            retry_after_secs: cfg.code_request_window_secs,
        });
    }
    let flow_id: FlowId = svc.new_id();
    let code = OneTimeCode::generate(&mut svc.random.rng(), cfg.code_digits)
        .map_err(|e| anyhow::anyhow!("code generation: {e}"))?;
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
        language: member.language,
        session_id: None,
        terms_version: None,
        code_hash: anshin_vault::code_hash(svc.keys.code_key(), flow_id.as_bytes(), &code),
        created_at: now,
        expires_at: now + Duration::from_secs(cfg.code_ttl_secs),
    };
    let mail = crate::mail::letter(svc, member.language, &member.email, &letter)?;
    start_flow(svc, flow, mail).await?;
    Ok(flow_id)
}

/// Commits a new flow with its mail. Requests for one address racing each
/// other are serialised by the store (one live flow per address and
/// purpose); one that still loses after the store's retries is answered
/// like a request over the window's limit.
pub(super) async fn start_flow(
    svc: &Services,
    flow: NewFlow,
    mail: anshin_store::NewMail,
) -> Result<(), AuthError> {
    match svc
        .store
        .commit(&Changes::new().with(Write::StartFlow(flow)).mail(mail))
        .await
    {
        Ok(()) => Ok(()),
        Err(anshin_store::StoreError::Conflict(_)) => Err(AuthError::RateLimited {
            retry_after_secs: svc.settings.auth.code_request_window_secs,
        }),
        Err(e) => Err(e.into()),
    }
}
