//! Staff passkeys (C21): WebAuthn credentials as the phishing-resistant
//! second factor of the console login, with TOTP as the fallback.
//! `webauthn-rs` does the ceremonies (challenge, origin, RP id hash,
//! signature, user verification, counter).
//!
//! - **Ceremony state lives in the database**, never in an instance's
//!   memory: the page gets a random ceremony token, the database keeps the
//!   SHA-256 of it with webauthn-rs's state (JSON) for
//!   [`CEREMONY_TTL_SECS`]. Finishing deletes the row in the same
//!   transaction as the act (a guarded write), so a ceremony, and its
//!   challenge, works once: a replayed answer finds nothing. A failed
//!   answer uses the ceremony up too.
//! - **Registration**: a logged-in staff member with a fresh second
//!   factor (step-up; the policy's `manage_own_passkeys`) adds a passkey.
//!   The user handle is the staff id; the options ask for a discoverable
//!   credential (resident key) with user verification, and exclude the
//!   credentials the person has already. A credential id is stored once
//!   across all accounts.
//! - **Login**: e-mail + passkey. The browser is asked for a discoverable
//!   credential (no list of credentials goes out, so the options tell
//!   nothing about which addresses have accounts). The answer's user
//!   handle and credential id must name one stored passkey, and that
//!   passkey's account must be the one the e-mail names, active; then the
//!   signature over the challenge is checked. Failures count like TOTP
//!   failures (per account and per address) and answer the same.
//! - **Counter and backup state**: webauthn-rs refuses a signature counter
//!   that did not grow (a cloned authenticator); the passkey's new state
//!   is written only if the stored one is still the one read (two logins
//!   racing with one counter value: one loses).
//! - Audit (C22): registration and removal have their own actions; a
//!   passkey login is `staff_login` with the reason `passkey`, a failure
//!   `staff_login_failed` with a reason naming the check that failed.

use std::net::IpAddr;

use anshin_domain::{StaffId, StaffPasskeyId, StaffStatus, Timestamp};
use anshin_store::audit::{Actor, AuditAction, AuditTarget};
use anshin_store::{
    CeremonyKind, Changes, NewStaffCeremony, NewStaffPasskey, NewStaffSession, Reservation,
    StaffPasskeyRecord, StoreError, Write, guards,
};
use anshin_vault::SessionToken;
use url::Url;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Webauthn, WebauthnBuilder,
};

use super::{CurrentStaff, LoginError, StaffLogin, account_key, address_key, authorize};
use crate::Services;
use crate::access::Action;

/// How long a ceremony's options work (WebAuthn's recommended timeout).
pub const CEREMONY_TTL_SECS: u64 = 300;
/// The most passkeys one staff member keeps.
pub const MAX_PASSKEYS: usize = 10;
/// The longest label of a passkey, in characters.
pub const MAX_NAME_CHARS: usize = 60;
/// The relying party's name that authenticators show.
pub const RP_NAME: &str = "anshin staff";

/// Why a passkey act did not work.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The ceremony is unknown, used, expired or not this person's, or
    /// the authenticator's answer does not verify.
    #[error("the passkey ceremony failed")]
    Invalid,
    /// This credential is registered already (to anyone).
    #[error("this passkey is registered already")]
    Duplicate,
    /// The person has [`MAX_PASSKEYS`] already.
    #[error("too many passkeys")]
    TooMany,
    /// No such passkey of the person.
    #[error("no such passkey")]
    NotFound,
    #[error("refused by the access policy: {}", .0.reason())]
    Refused(crate::access::Decision),
    /// The console's origin cannot be a WebAuthn relying party (an IP
    /// address, not a domain name).
    #[error("passkeys are not available at this origin: {0}")]
    Origin(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<super::StaffError> for PasskeyError {
    fn from(e: super::StaffError) -> Self {
        match e {
            super::StaffError::Refused(d) => PasskeyError::Refused(d),
            super::StaffError::Store(s) => PasskeyError::Store(s),
            _ => PasskeyError::Invalid,
        }
    }
}

/// The relying party for the console at `origin` (its host is the RP
/// id). Browsers refuse WebAuthn on an IP address: the console needs a
/// domain name (`localhost` for a console on loopback).
pub fn relying_party(origin: &Url) -> Result<Webauthn, PasskeyError> {
    let host = match origin.host() {
        Some(url::Host::Domain(d)) => d,
        _ => return Err(PasskeyError::Origin(origin.origin().ascii_serialization())),
    };
    WebauthnBuilder::new(host, origin)
        .and_then(|b| b.rp_name(RP_NAME).build())
        .map_err(|e| PasskeyError::Origin(e.to_string()))
}

/// What the console's security page lists (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub id: StaffPasskeyId,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl From<&StaffPasskeyRecord> for PasskeyInfo {
    fn from(r: &StaffPasskeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A ceremony started: the token the page sends back, and the options
/// for `navigator.credentials.create` / `.get` (webauthn-rs's JSON, byte
/// strings in base64url).
#[derive(Debug)]
pub struct Ceremony {
    pub token: SessionToken,
    pub options: serde_json::Value,
}

fn ttl() -> anshin_domain::Duration {
    anshin_domain::Duration::from_secs(CEREMONY_TTL_SECS)
}

/// The staff member's own passkeys, oldest first.
pub async fn list(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<Vec<PasskeyInfo>, PasskeyError> {
    authorize(svc, actor, Action::ViewOwnSecurity, ip)?;
    Ok(svc
        .store
        .staff_passkeys()
        .list_staff_passkeys(actor.account.id)
        .await?
        .iter()
        .map(PasskeyInfo::from)
        .collect())
}

/// Starts adding a passkey to the logged-in staff member's account (the
/// policy asks for a fresh second factor).
pub async fn start_registration(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    origin: &Url,
) -> Result<Ceremony, PasskeyError> {
    authorize(svc, actor, Action::ManageOwnPasskeys, ip)?;
    let webauthn = relying_party(origin)?;
    let staff = actor.account.id;
    let existing = svc
        .store
        .staff_passkeys()
        .list_staff_passkeys(staff)
        .await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(PasskeyError::TooMany);
    }
    let exclude = existing.iter().map(|p| p.credential_id.clone()).collect();
    let email = actor.account.email.as_str();
    let (ccr, state) = webauthn
        .start_passkey_registration(staff.as_uuid(), email, email, Some(exclude))
        .map_err(|e| PasskeyError::Origin(e.to_string()))?;
    let mut options = serde_json::to_value(&ccr).map_err(|_| PasskeyError::Invalid)?;
    // A discoverable credential (resident key): the login asks for one
    // without naming credentials. webauthn-rs leaves this to the RP.
    if let Some(sel) = options
        .get_mut("publicKey")
        .and_then(|p| p.get_mut("authenticatorSelection"))
        .and_then(serde_json::Value::as_object_mut)
    {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
    }
    let state = serde_json::to_string(&state).map_err(|_| PasskeyError::Invalid)?;
    let token = keep(svc, CeremonyKind::Register, Some(staff), state).await?;
    Ok(Ceremony { token, options })
}

/// Stores a ceremony's state; returns its token.
async fn keep(
    svc: &Services,
    kind: CeremonyKind,
    staff: Option<StaffId>,
    state: String,
) -> Result<SessionToken, StoreError> {
    let now = svc.now();
    let token = SessionToken::generate(&mut svc.random.rng());
    svc.store
        .commit(
            &Changes::new().with(Write::StartStaffCeremony(NewStaffCeremony {
                id_hash: *token.hash().as_bytes(),
                kind,
                staff_id: staff,
                state,
                created_at: now,
                expires_at: now + ttl(),
            })),
        )
        .await?;
    Ok(token)
}

/// Uses a ceremony up after a failed answer (best effort: a used or
/// expired one is gone already).
async fn use_up(svc: &Services, id_hash: [u8; 32], kind: CeremonyKind) {
    let changes = Changes::new().with(Write::UseStaffCeremony {
        id_hash,
        kind,
        at: svc.now(),
    });
    match svc.store.commit(&changes).await {
        Ok(()) | Err(StoreError::Precondition(_)) => {}
        Err(e) => tracing::warn!(error = %e, "a failed passkey ceremony could not be used up"),
    }
}

/// A passkey's label: trimmed, control characters dropped, at most
/// [`MAX_NAME_CHARS`]; empty gives "passkey".
fn label(name: &str) -> String {
    let clean: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    if clean.is_empty() {
        "passkey".into()
    } else {
        clean
    }
}

/// Finishes adding a passkey: the ceremony must be this staff member's
/// registration, live and unused, and the authenticator's answer must
/// verify. Recorded in the audit log in the same transaction.
#[allow(clippy::too_many_arguments)] // the ceremony's parts, named
pub async fn finish_registration(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    origin: &Url,
    ceremony: &str,
    name: &str,
    credential: &str,
) -> Result<StaffPasskeyId, PasskeyError> {
    authorize(svc, actor, Action::ManageOwnPasskeys, ip)?;
    let webauthn = relying_party(origin)?;
    let Ok(token) = SessionToken::parse(ceremony) else {
        return Err(PasskeyError::Invalid);
    };
    let id_hash = *token.hash().as_bytes();
    let now = svc.now();
    let staff = actor.account.id;
    let found = svc
        .store
        .staff_passkeys()
        .find_staff_ceremony(&id_hash, now)
        .await?;
    let Some(found) = found.filter(|c| c.kind == CeremonyKind::Register) else {
        return Err(PasskeyError::Invalid);
    };
    if found.staff_id != Some(staff) {
        // Another person's ceremony: not theirs to finish, nor to use up.
        return Err(PasskeyError::Invalid);
    }
    let verified = serde_json::from_str::<PasskeyRegistration>(&found.state)
        .ok()
        .zip(serde_json::from_str::<RegisterPublicKeyCredential>(credential).ok())
        .and_then(|(state, reg)| {
            webauthn
                .finish_passkey_registration(&reg, &state)
                .map_err(|e| tracing::info!(error = %e, "passkey registration refused"))
                .ok()
        });
    let Some(passkey) = verified else {
        use_up(svc, id_hash, CeremonyKind::Register).await;
        return Err(PasskeyError::Invalid);
    };
    let stored = serde_json::to_string(&passkey).map_err(|_| PasskeyError::Invalid)?;
    let id: StaffPasskeyId = svc.new_id();
    let changes = Changes::new()
        .with(Write::UseStaffCeremony {
            id_hash,
            kind: CeremonyKind::Register,
            at: now,
        })
        .with(Write::AddStaffPasskey(NewStaffPasskey {
            id,
            staff_id: staff,
            credential_id: passkey.cred_id().to_vec(),
            name: label(name),
            passkey: stored,
            created_at: now,
        }))
        .audited(crate::audit::entry(
            svc,
            Actor::Staff(staff.as_uuid()),
            AuditAction::StaffPasskeyAdded,
            Some(AuditTarget::staff(staff.as_uuid())),
            Some(ip),
            "policy_allow",
            serde_json::json!({ "passkey": id.to_string() }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {
            tracing::info!(staff = %staff, "staff passkey added");
            Ok(id)
        }
        Err(StoreError::Conflict(_)) => {
            use_up(svc, id_hash, CeremonyKind::Register).await;
            Err(PasskeyError::Duplicate)
        }
        Err(StoreError::Precondition(_)) => Err(PasskeyError::Invalid),
        Err(e) => Err(e.into()),
    }
}

/// Removes one of the staff member's own passkeys (recorded).
pub async fn remove(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    passkey: StaffPasskeyId,
) -> Result<(), PasskeyError> {
    authorize(svc, actor, Action::ManageOwnPasskeys, ip)?;
    let staff = actor.account.id;
    let changes = Changes::new()
        .with(Write::RemoveStaffPasskey { staff, passkey })
        .audited(crate::audit::entry(
            svc,
            Actor::Staff(staff.as_uuid()),
            AuditAction::StaffPasskeyRemoved,
            Some(AuditTarget::staff(staff.as_uuid())),
            Some(ip),
            "policy_allow",
            serde_json::json!({ "passkey": passkey.to_string() }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(()),
        Err(StoreError::Precondition(g)) if g == guards::PASSKEY_NOT_FOUND => {
            Err(PasskeyError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}

/// Starts a passkey login: options for a discoverable credential (no
/// account named). Refused while the address is over its failure ceiling.
pub async fn start_login(svc: &Services, ip: IpAddr, origin: &Url) -> Result<Ceremony, LoginError> {
    let limits = &svc.settings.limits;
    if svc
        .store
        .throttle()
        .failures_in_window(&address_key(ip), svc.now(), limits.window())
        .await?
        >= limits.max_failures_per_ip
    {
        return Err(LoginError::Throttled);
    }
    let webauthn = relying_party(origin).map_err(|e| LoginError::Passkeys(e.to_string()))?;
    let (rcr, state) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| LoginError::Passkeys(e.to_string()))?;
    let mut options =
        serde_json::to_value(&rcr).map_err(|e| LoginError::Passkeys(e.to_string()))?;
    // The console asks when the person presses the button (a modal
    // request), not through autofill.
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let state = serde_json::to_string(&state).map_err(|e| LoginError::Passkeys(e.to_string()))?;
    let token = keep(svc, CeremonyKind::Login, None, state).await?;
    Ok(Ceremony { token, options })
}

/// Starts proving the second factor again with one of one's passkeys
/// (step-up): options naming the person's own credentials.
/// [`PasskeyError::NotFound`] if they have none (the page offers TOTP).
pub async fn start_step_up(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    origin: &Url,
) -> Result<Ceremony, PasskeyError> {
    authorize(svc, actor, Action::StepUp, ip)?;
    let webauthn = relying_party(origin)?;
    let staff = actor.account.id;
    let mut keys = Vec::new();
    for p in svc
        .store
        .staff_passkeys()
        .list_staff_passkeys(staff)
        .await?
    {
        if let Ok(k) = serde_json::from_str::<Passkey>(&p.passkey) {
            keys.push(k);
        }
    }
    if keys.is_empty() {
        return Err(PasskeyError::NotFound);
    }
    let (rcr, state) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| PasskeyError::Origin(e.to_string()))?;
    let options = serde_json::to_value(&rcr).map_err(|_| PasskeyError::Invalid)?;
    let state = serde_json::to_string(&state).map_err(|_| PasskeyError::Invalid)?;
    let token = keep(svc, CeremonyKind::StepUp, Some(staff), state).await?;
    Ok(Ceremony { token, options })
}

/// Proves the second factor again with a passkey: the ceremony must be
/// this person's live step-up, the answer must verify against one of
/// their passkeys. Marks the session fresh; a refusal counts against the
/// address like a wrong TOTP code.
pub async fn step_up(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    origin: &Url,
    ceremony: &str,
    credential: &str,
) -> Result<(), PasskeyError> {
    authorize(svc, actor, Action::StepUp, ip)?;
    let webauthn = relying_party(origin)?;
    let Ok(token) = SessionToken::parse(ceremony) else {
        return Err(PasskeyError::Invalid);
    };
    let id_hash = *token.hash().as_bytes();
    let now = svc.now();
    let staff = actor.account.id;
    let repo = svc.store.staff_passkeys();
    let found = repo
        .find_staff_ceremony(&id_hash, now)
        .await?
        .filter(|c| c.kind == CeremonyKind::StepUp && c.staff_id == Some(staff));
    let Some(found) = found else {
        return Err(PasskeyError::Invalid);
    };
    let answer = serde_json::from_str::<PublicKeyCredential>(credential).ok();
    let stored = match &answer {
        Some(a) => {
            repo.find_staff_passkey_by_credential(a.get_credential_id())
                .await?
        }
        None => None,
    };
    let verified = match (
        serde_json::from_str::<PasskeyAuthentication>(&found.state).ok(),
        answer,
        stored.filter(|p| p.staff_id == staff),
    ) {
        (Some(state), Some(answer), Some(stored)) => webauthn
            .finish_passkey_authentication(&answer, &state)
            .map_err(|e| tracing::info!(error = %e, "passkey step-up refused"))
            .ok()
            .filter(|r| r.user_verified())
            .and_then(|r| {
                let mut passkey = serde_json::from_str::<Passkey>(&stored.passkey).ok()?;
                passkey.update_credential(&r);
                let now_state = serde_json::to_string(&passkey).ok()?;
                Some((stored, now_state))
            }),
        _ => None,
    };
    let Some((stored, now_state)) = verified else {
        use_up(svc, id_hash, CeremonyKind::StepUp).await;
        let limits = &svc.settings.limits;
        svc.store
            .throttle()
            .note_failure(&[address_key(ip)], now, limits.window())
            .await?;
        super::step_up_failed(svc, actor, ip, "passkey_refused").await?;
        return Err(PasskeyError::Invalid);
    };
    let changes = Changes::new()
        .with(Write::UseStaffCeremony {
            id_hash,
            kind: CeremonyKind::StepUp,
            at: now,
        })
        .with(Write::UseStaffPasskey {
            staff,
            credential_id: stored.credential_id,
            read: stored.passkey,
            passkey: now_state,
            at: now,
        })
        .with(Write::StaffStepUp {
            session: actor.session.id,
            at: now,
        });
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(()),
        Err(StoreError::Precondition(_)) => Err(PasskeyError::Invalid),
        Err(e) => Err(e.into()),
    }
}

/// What a verified passkey answer gives: whose passkey, its stored state
/// as read and as it is now.
struct Verified {
    staff: StaffId,
    passkey: StaffPasskeyId,
    credential_id: Vec<u8>,
    read: String,
    now_state: String,
}

/// Logs a staff member in with e-mail and a passkey. No session without
/// a verified answer to a live, unused ceremony from a passkey of the
/// account the e-mail names.
pub async fn login(
    svc: &Services,
    origin: &Url,
    email: &str,
    ceremony: &str,
    credential: &str,
    ip: IpAddr,
) -> Result<StaffLogin, LoginError> {
    let now = svc.now();
    let limits = &svc.settings.limits;
    let throttle = svc.store.throttle();
    let addr = address_key(ip);
    if throttle
        .failures_in_window(&addr, now, limits.window())
        .await?
        >= limits.max_failures_per_ip
    {
        return Err(LoginError::Throttled);
    }
    let webauthn = relying_party(origin).map_err(|e| LoginError::Passkeys(e.to_string()))?;
    let acct = account_key(email);
    let reservation = throttle
        .reserve_attempt(&acct, now, &limits.policy())
        .await?;
    let record = match anshin_domain::EmailAddress::parse(email) {
        Some(e) => svc.store.staff().find_staff_by_email(&e).await?,
        None => None,
    };
    let known = record.as_ref().map(|r| r.id);
    let id_hash = SessionToken::parse(ceremony)
        .ok()
        .map(|t| *t.hash().as_bytes());
    let checked = match (&reservation, &record, id_hash) {
        (Reservation::Allowed { .. }, Some(r), Some(h)) if r.status == StaffStatus::Active => {
            verify_login(svc, &webauthn, r.id, h, credential, now).await?
        }
        (Reservation::Allowed { .. }, Some(r), None) if r.status == StaffStatus::Active => {
            Err("ceremony_unknown_or_used")
        }
        (Reservation::Allowed { .. }, _, _) => Err("wrong_account"),
        _ => Err("locked"),
    };
    let v = match checked {
        Ok(v) => v,
        Err(reason) => {
            if let Some(h) = id_hash {
                use_up(svc, h, CeremonyKind::Login).await;
            }
            return failed(svc, known, ip, reason).await;
        }
    };
    let Some(h) = id_hash else {
        return failed(svc, known, ip, "ceremony_unknown").await;
    };
    let token = SessionToken::generate(&mut svc.random.rng());
    let s = &svc.settings.staff;
    let changes = Changes::new()
        .with(Write::UseStaffCeremony {
            id_hash: h,
            kind: CeremonyKind::Login,
            at: now,
        })
        .with(Write::UseStaffPasskey {
            staff: v.staff,
            credential_id: v.credential_id,
            read: v.read,
            passkey: v.now_state,
            at: now,
        })
        .with(Write::CreateStaffSession(NewStaffSession {
            id: svc.new_id(),
            token_hash: *token.hash().as_bytes(),
            staff_id: v.staff,
            created_at: now,
            absolute_expires_at: now + s.absolute_lifetime(),
            idle_expires_at: now + s.idle_timeout(),
            second_factor_at: now,
            ip: ip.to_string(),
        }))
        .with(super::network_seen(svc, v.staff, ip))
        .audited(crate::audit::entry(
            svc,
            Actor::Staff(v.staff.as_uuid()),
            AuditAction::StaffLogin,
            Some(AuditTarget::staff(v.staff.as_uuid())),
            Some(ip),
            "passkey",
            serde_json::json!({ "passkey": v.passkey.to_string() }),
        ));
    match svc.store.commit(&changes).await {
        Ok(()) => {}
        Err(StoreError::Precondition(g))
            if g == guards::CEREMONY_USED || g == guards::PASSKEY_NOT_FOUND =>
        {
            return failed(svc, Some(v.staff), ip, "ceremony_replayed").await;
        }
        Err(e) => return Err(e.into()),
    }
    throttle.reset(&acct).await?;
    svc.metrics.staff_logins.inc();
    tracing::info!(staff = %v.staff, "staff login with a passkey");
    Ok(StaffLogin {
        staff: v.staff,
        token,
    })
}

/// A failed passkey login: counted against the address, recorded, and
/// answered like every other failure.
async fn failed<T>(
    svc: &Services,
    staff: Option<StaffId>,
    ip: IpAddr,
    reason: &str,
) -> Result<T, LoginError> {
    let limits = &svc.settings.limits;
    svc.store
        .throttle()
        .note_failure(&[address_key(ip)], svc.now(), limits.window())
        .await?;
    super::login_failed(svc, staff, ip, &format!("passkey_{reason}")).await?;
    tracing::info!("staff passkey login failed");
    Err(LoginError::Invalid)
}

/// The checks of a passkey answer for the account `staff` (the one the
/// e-mail names). `Err(reason)` for a refusal.
async fn verify_login(
    svc: &Services,
    webauthn: &Webauthn,
    staff: StaffId,
    id_hash: [u8; 32],
    credential: &str,
    now: Timestamp,
) -> Result<Result<Verified, &'static str>, StoreError> {
    let repo = svc.store.staff_passkeys();
    let Some(ceremony) = repo
        .find_staff_ceremony(&id_hash, now)
        .await?
        .filter(|c| c.kind == CeremonyKind::Login)
    else {
        return Ok(Err("ceremony_unknown_or_used"));
    };
    let Ok(state) = serde_json::from_str::<DiscoverableAuthentication>(&ceremony.state) else {
        return Ok(Err("ceremony_unreadable"));
    };
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(credential) else {
        return Ok(Err("malformed_answer"));
    };
    let Ok((user, credential_id)) = webauthn.identify_discoverable_authentication(&answer) else {
        return Ok(Err("no_user_handle"));
    };
    let Some(stored) = repo.find_staff_passkey_by_credential(credential_id).await? else {
        return Ok(Err("unknown_credential"));
    };
    if stored.staff_id.as_uuid() != user || stored.staff_id != staff {
        // The credential is someone else's, or its user handle names
        // another account than the e-mail does.
        return Ok(Err("credential_of_another_account"));
    }
    let Ok(mut passkey) = serde_json::from_str::<Passkey>(&stored.passkey) else {
        return Ok(Err("passkey_unreadable"));
    };
    let result = match webauthn.finish_discoverable_authentication_v2(&answer, state, &passkey) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, "passkey assertion refused");
            return Ok(Err("assertion_invalid"));
        }
    };
    if !result.user_verified() {
        return Ok(Err("not_user_verified"));
    }
    passkey.update_credential(&result);
    let Ok(now_state) = serde_json::to_string(&passkey) else {
        return Ok(Err("passkey_unreadable"));
    };
    Ok(Ok(Verified {
        staff,
        passkey: stored.id,
        credential_id: stored.credential_id,
        read: stored.passkey,
        now_state,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c21_a_relying_party_needs_a_domain_name() {
        let ok = Url::parse("https://staff.example.jp").unwrap();
        assert!(relying_party(&ok).is_ok());
        let local = Url::parse("https://localhost:8444").unwrap();
        assert!(relying_party(&local).is_ok());
        let ip = Url::parse("https://127.0.0.1:8444").unwrap();
        assert!(matches!(relying_party(&ip), Err(PasskeyError::Origin(_))));
    }

    #[test]
    fn c21_passkey_labels_are_short_and_plain() {
        assert_eq!(label("  laptop \n"), "laptop");
        assert_eq!(label(""), "passkey");
        assert_eq!(label(&"あ".repeat(100)).chars().count(), MAX_NAME_CHARS);
        assert_eq!(label("a\u{7}b"), "ab");
    }
}
