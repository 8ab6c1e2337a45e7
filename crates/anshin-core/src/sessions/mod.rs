//! Browser sessions (C10): the visitor's session that carries the CSRF
//! token, the member's sessions after login, and what a member does with
//! them (see them with the device and address they came from, end one,
//! end every other, log out). Sessions live in the database, so every
//! instance sees the same ones and an ended session is gone everywhere.
//!
//! The cookie carries a 256-bit token; the database only its hash
//! (`anshin_vault::token`). What an attacker tries: reuse a stolen cookie
//! after the member ended that session (it is deleted, so it finds
//! nothing on any instance); end someone else's session by id (refused
//! like a missing one); keep a session alive forever (absolute lifetime).

use anshin_domain::{Duration, LoginMethod, LoginOutcome, MemberId, SessionId, Timestamp};
use anshin_store::{Changes, NewSession, Write, guards};
pub use anshin_store::{SessionRecord, StoreError};
use anshin_vault::SessionToken;

pub mod settings;

pub use settings::SessionSettings;

use crate::Services;

/// Whether the session proved its identity recently enough for a
/// sensitive change (`auth.recent_auth_secs`): a login or a fresh code.
pub fn recently_authenticated(svc: &Services, session: &SessionRecord) -> bool {
    let window = Duration::from_secs(svc.settings.auth.recent_auth_secs);
    session
        .login
        .as_ref()
        .is_some_and(|l| svc.now().since(l.authenticated_at) <= window)
}

/// Only write `last_seen_at` when it is older than this, so that browsing
/// does not turn every page view into a database write.
const TOUCH_EVERY: Duration = Duration::from_micros(60_000_000);

/// The live session a cookie names, if any; records activity (at most
/// once a minute), which moves the idle deadline.
pub async fn current(
    svc: &Services,
    token: &SessionToken,
) -> Result<Option<SessionRecord>, StoreError> {
    let now = svc.now();
    let Some(record) = svc
        .store
        .sessions()
        .find_live(token.hash().as_bytes(), now)
        .await?
    else {
        return Ok(None);
    };
    if now.since(record.last_seen_at) >= TOUCH_EVERY {
        let idle = now + svc.settings.sessions.idle_timeout();
        if let Err(e) = svc.store.sessions().touch(record.id, now, idle).await {
            tracing::warn!(error = %e, "could not record session activity");
        }
    }
    Ok(Some(record))
}

/// Starts a visitor's session (it holds only the seed of the CSRF token);
/// returns the token for the cookie.
pub async fn start_visitor(svc: &Services) -> Result<SessionToken, StoreError> {
    let token = SessionToken::generate(&mut svc.random.rng());
    let now = svc.now();
    let cfg = &svc.settings.sessions;
    let session = NewSession {
        id: svc.new_id(),
        token_hash: *token.hash().as_bytes(),
        created_at: now,
        absolute_expires_at: now + cfg.absolute_lifetime(),
        idle_expires_at: now + cfg.idle_timeout(),
        login: None,
    };
    svc.store
        .commit(&Changes::new().with(Write::CreateSession(session)))
        .await?;
    Ok(token)
}

/// One of the member's live sessions, as their sessions page and
/// `/api/v1/me/sessions` show it.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub id: SessionId,
    /// The session this request came with.
    pub current: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub ip: String,
    pub device: String,
    pub method: Option<LoginMethod>,
}

/// The member's live sessions, newest first, `current` marked.
pub async fn list(
    svc: &Services,
    member: MemberId,
    current: SessionId,
) -> Result<Vec<SessionSummary>, StoreError> {
    let live = svc
        .store
        .sessions()
        .list_for_member(member, svc.now())
        .await?;
    Ok(live
        .into_iter()
        .map(|s| {
            let login = s.login.as_ref();
            SessionSummary {
                id: s.id,
                current: s.id == current,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                ip: login.map(|l| l.ip.clone()).unwrap_or_default(),
                device: login.map(|l| l.device.clone()).unwrap_or_default(),
                method: login.map(|l| l.method),
            }
        })
        .collect())
}

/// Why a session could not be ended.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    /// Not one of the member's live sessions (another member's id looks
    /// exactly the same).
    #[error("no such session")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Ends one of the member's sessions; it stops working at once on every
/// instance.
pub async fn end(svc: &Services, member: MemberId, session: SessionId) -> Result<(), EndError> {
    match svc
        .store
        .commit(&Changes::new().with(Write::EndMemberSession { member, session }))
        .await
    {
        Ok(()) => {
            tracing::info!(member = %member, session = %session, "session ended by its member");
            Ok(())
        }
        Err(e) if e.is_precondition(guards::SESSION_NOT_FOUND) => Err(EndError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// Ends every session of the member but `keep`; returns how many live
/// sessions that ended.
pub async fn end_others(
    svc: &Services,
    member: MemberId,
    keep: SessionId,
) -> Result<u64, StoreError> {
    let others = list(svc, member, keep)
        .await?
        .iter()
        .filter(|s| !s.current)
        .count();
    svc.store
        .commit(&Changes::new().with(Write::EndOtherSessions {
            member,
            keep: Some(keep),
        }))
        .await?;
    tracing::info!(member = %member, ended = others, "other sessions ended by their member");
    Ok(u64::try_from(others).unwrap_or(u64::MAX))
}

/// Logs out: the session is deleted on the server.
pub async fn logout(svc: &Services, session: SessionId) -> Result<(), StoreError> {
    svc.store
        .commit(&Changes::new().with(Write::EndSession(session)))
        .await
}

/// One entry of the member's login history (C10).
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub ip: String,
    pub device: String,
    pub method: LoginMethod,
    pub outcome: LoginOutcome,
}

/// The member's login history, newest first: successes, failures, locks
/// and failed bot challenges.
pub async fn history(
    svc: &Services,
    member: MemberId,
    limit: i64,
    offset: i64,
) -> Result<Vec<HistoryEntry>, StoreError> {
    Ok(svc
        .store
        .accounts()
        .list_login_events(member, limit, offset)
        .await?
        .into_iter()
        .map(|e| HistoryEntry {
            at: e.at,
            ip: e.ip,
            device: e.device,
            method: e.method,
            outcome: e.outcome,
        })
        .collect())
}

/// The `sessions.purge` job: deletes expired sessions (members' and
/// staff's) and used bot
/// challenges (they would be refused as expired anyway). One instance at
/// a time; idempotent, so a run cut short by a kill is simply redone.
#[derive(Debug, Clone)]
pub struct PurgeJob {
    pub svc: Services,
    pub every: std::time::Duration,
    pub lease: Duration,
}

#[async_trait::async_trait]
impl crate::jobs::Job for PurgeJob {
    fn name(&self) -> &'static str {
        "sessions.purge"
    }

    fn schedule(&self) -> crate::jobs::Schedule {
        crate::jobs::Schedule {
            every: self.every,
            scope: crate::jobs::Scope::OneInstance { lease: self.lease },
        }
    }

    async fn run(&self, _stop: &tokio_util::sync::CancellationToken) -> anyhow::Result<u64> {
        let now = self.svc.now();
        let sessions = self.svc.store.sessions().purge_expired(now).await?;
        if sessions > 0 {
            tracing::info!(purged = sessions, "expired sessions removed");
        }
        let challenges = self.svc.store.challenges().purge_expired(now).await?;
        if challenges > 0 {
            tracing::info!(purged = challenges, "expired used challenges removed");
        }
        let staff = self
            .svc
            .store
            .staff()
            .purge_expired_staff_sessions(now)
            .await?;
        if staff > 0 {
            tracing::info!(purged = staff, "expired staff sessions removed");
        }
        let ceremonies = self
            .svc
            .store
            .staff_passkeys()
            .purge_expired_staff_ceremonies(now)
            .await?;
        if ceremonies > 0 {
            tracing::info!(purged = ceremonies, "expired passkey ceremonies removed");
        }
        Ok(sessions + challenges + staff + ceremonies)
    }
}
