//! Incident response (C28): an incident record with a timeline, and the
//! containment acts the runbook (docs/incident-response.md) names. Every
//! door calls these: `anshin incident …` (the shell) and the staff
//! console's incident pages (the `security` role). A staff doer carries
//! their session's role and second-factor time, and every function here
//! checks the access policy again for them (`access::decide`, defence
//! behind the console's guard); the shell's operator is not checked.
//!
//! Every act is one bundle through the one write path: its effect, a
//! line of the incident's timeline and an audit entry (C22) commit
//! together or not at all, so an act whose audit entry cannot be written
//! does not happen. Two acts are longer than one transaction and say so:
//!
//! - [`rotate_keys`] commits its timeline line and audit entry *before*
//!   it touches the key ring (no record, no rotation), then runs the
//!   existing rotation ([`crate::rotation::rotate`], which records
//!   `key_rotated` itself), then records the outcome.
//! - [`notify`] mails members in id order, one batch per bundle: each
//!   bundle holds the batch's mails (through the outbox), the progress
//!   kept in the incident record (a guarded compare-and-swap, so two
//!   runs cannot mail the same batch) and an audit entry. A run that is
//!   stopped continues where the last committed batch ended when run
//!   again with the same template and audience. The start and the end of
//!   the run are timeline lines.
//!
//! What "force a password reset" means here, honestly: the member's
//! password is deleted and their sessions end, in one bundle. The old
//! password stops working at once; the member logs in with an e-mail code
//! (which every account has) and may set a new password afterwards. There
//! is no "must change at next login" state: a member without a password
//! is a normal member (C12). They are told with `notify --template
//! password-reset`.
//!
//! A lock ([`lock_member`]) is a row in `member_locks`: while it exists no
//! login of the member succeeds (checked in the login's own transaction)
//! and no session of theirs is served (the session lookup leaves it out),
//! on every instance. [`unlock_member`] lifts it.

use std::net::IpAddr;

use anshin_domain::{IncidentEntryId, IncidentId, MemberId, StaffId};
use anshin_store::{
    Actor, AuditAction, AuditTarget, Changes, NewIncident, NewTimelineEntry, NotifyAudience,
    NotifyTarget, StoreError, Write, guards,
};

use crate::Services;
use crate::access::{Action, Decision};
use crate::mail::compose::{IncidentTemplate, Letter};
use crate::staff::CurrentStaff;

/// The incident record and its timeline, as the doors show them.
pub use anshin_store::{IncidentRecord, IncidentStatus, NotifyProgress, TimelineEntry};

/// The longest incident title (a short name, no personal data).
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest lessons-learned text.
pub const MAX_LESSONS_CHARS: usize = 20_000;
/// Members mailed per committed batch by [`notify`].
pub const NOTIFY_BATCH: u32 = 200;

/// Why an incident act failed.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("no open incident; open one first: anshin incident open --title TITLE")]
    NoneOpen,
    #[error("several incidents are open ({0}); name one with --incident ID")]
    SeveralOpen(String),
    #[error("no such incident")]
    NotFound,
    #[error("the incident is closed")]
    Closed,
    #[error("the title must be 1 to {MAX_TITLE_CHARS} characters on one line")]
    BadTitle,
    #[error("the lessons learned must be 1 to {MAX_LESSONS_CHARS} characters")]
    BadLessons,
    #[error("no such member: {0}")]
    MemberNotFound(MemberId),
    #[error("no such staff account")]
    StaffNotFound,
    #[error("nothing to end: name --all, --member ID and/or --staff")]
    NothingToEnd,
    #[error(
        "a notification with template {template} to {audience} is under way in this incident; \
         run it again with the same template and members to continue it"
    )]
    NotifyInProgress { template: String, audience: String },
    #[error("no members to notify")]
    NoRecipients,
    /// The access policy refused the staff doer (`Decision::reason`
    /// says why); recorded in the audit log.
    #[error("refused by the access policy: {}", .0.reason())]
    Refused(Decision),
    /// Nobody disables their own account in an incident.
    #[error("one's own account is disabled by someone else")]
    OwnAccount,
    #[error("key rotation: {0}")]
    Rotation(#[from] crate::rotation::RotationError),
    #[error("mail: {0}")]
    Mail(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who takes an act, for the timeline and the audit log: the operator at
/// the shell (like `anshin staff add`: the system, reason
/// `command_line`), or a staff member in the console.
#[derive(Debug, Clone)]
pub struct Doer {
    actor: Actor,
    from: Option<IpAddr>,
    reason: &'static str,
    /// A staff doer's session (role, when the second factor was proved)
    /// and address: what the policy is checked on again before each act.
    staff: Option<(CurrentStaff, IpAddr)>,
}

impl Doer {
    /// The operator at the command line.
    pub fn shell() -> Self {
        Self {
            actor: Actor::System,
            from: None,
            reason: "command_line",
            staff: None,
        }
    }

    /// A staff member in the console, from `ip`. Each act checks the
    /// access policy for them again ([`Doer::authorize`]).
    pub fn staff(current: &CurrentStaff, ip: IpAddr) -> Self {
        Self {
            actor: Actor::Staff(current.account.id.as_uuid()),
            from: Some(ip),
            reason: crate::staff::POLICY_ALLOW,
            staff: Some((current.clone(), ip)),
        }
    }

    /// Refuses unless the policy lets a staff doer take `action` now (the
    /// shell is not checked). A refusal is recorded in the audit log
    /// (best effort: refused either way).
    pub async fn authorize(&self, svc: &Services, action: Action) -> Result<(), IncidentError> {
        let Some((current, ip)) = &self.staff else {
            return Ok(());
        };
        match crate::staff::decide_for(svc, Some(current), action, *ip) {
            Decision::Allow => Ok(()),
            d => {
                crate::staff::record_guard_refusal(svc, current, action, d, *ip).await;
                Err(IncidentError::Refused(d))
            }
        }
    }

    /// The staff account acting, if a staff member is.
    fn staff_id(&self) -> Option<StaffId> {
        self.staff.as_ref().map(|(c, _)| c.account.id)
    }

    /// How the timeline names the doer: `system` or `staff:<id>`.
    pub fn label(&self) -> String {
        match &self.actor {
            Actor::Staff(id) => format!("staff:{id}"),
            Actor::Member(id) => format!("member:{id}"),
            Actor::System | Actor::Anonymous => "system".to_owned(),
        }
    }
}

/// Adds the act's timeline line and audit entry to `changes`.
#[allow(clippy::too_many_arguments)]
fn record(
    svc: &Services,
    changes: &mut Changes,
    doer: &Doer,
    incident: IncidentId,
    code: &str,
    detail: String,
    action: AuditAction,
    target: Option<AuditTarget>,
    details: serde_json::Value,
) {
    let mut details = details;
    if let Some(map) = details.as_object_mut() {
        map.insert("incident".into(), serde_json::json!(incident));
    }
    changes.push(Write::AddTimelineEntry(NewTimelineEntry {
        id: svc.new_id::<IncidentEntryId>(),
        incident,
        at: svc.now(),
        actor: doer.label(),
        action: code.to_owned(),
        detail,
    }));
    changes.push_audit(crate::audit::entry(
        svc,
        doer.actor,
        action,
        Some(target.unwrap_or_else(|| AuditTarget::incident(incident))),
        doer.from,
        doer.reason,
        details,
    ));
}

/// Commits an act's bundle; a closed incident reads as [`IncidentError::Closed`].
async fn commit(svc: &Services, changes: &Changes) -> Result<(), IncidentError> {
    match svc.store.commit(changes).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_precondition(guards::INCIDENT_NOT_OPEN) => Err(IncidentError::Closed),
        Err(e) => Err(e.into()),
    }
}

/// Opens an incident record; its first timeline line says who opened it.
pub async fn open(svc: &Services, doer: &Doer, title: &str) -> Result<IncidentId, IncidentError> {
    doer.authorize(svc, Action::OpenIncident).await?;
    let title = title.trim();
    if title.is_empty()
        || title.chars().count() > MAX_TITLE_CHARS
        || title.chars().any(char::is_control)
    {
        return Err(IncidentError::BadTitle);
    }
    let id: IncidentId = svc.new_id();
    let mut changes = Changes::new().with(Write::OpenIncident(NewIncident {
        id,
        title: title.to_owned(),
        opened_at: svc.now(),
        opened_by: doer.label(),
    }));
    record(
        svc,
        &mut changes,
        doer,
        id,
        "opened",
        format!("incident opened: {title}"),
        AuditAction::IncidentOpened,
        None,
        serde_json::json!({ "title": title }),
    );
    commit(svc, &changes).await?;
    tracing::info!(incident = %id, "incident opened");
    Ok(id)
}

/// The incident an act is for: `id` if given (it must be open), else the
/// one open incident.
pub async fn resolve(
    svc: &Services,
    id: Option<IncidentId>,
) -> Result<IncidentRecord, IncidentError> {
    match id {
        Some(id) => {
            let rec = svc
                .store
                .incidents()
                .find_incident(id)
                .await?
                .ok_or(IncidentError::NotFound)?;
            if rec.status != IncidentStatus::Open {
                return Err(IncidentError::Closed);
            }
            Ok(rec)
        }
        None => {
            let mut open: Vec<IncidentRecord> = svc
                .store
                .incidents()
                .list_incidents()
                .await?
                .into_iter()
                .filter(|r| r.status == IncidentStatus::Open)
                .collect();
            match open.len() {
                0 => Err(IncidentError::NoneOpen),
                1 => open.pop().ok_or(IncidentError::NoneOpen),
                _ => Err(IncidentError::SeveralOpen(
                    open.iter()
                        .map(|r| r.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                )),
            }
        }
    }
}

/// Whose member sessions [`end_sessions`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    None,
    All,
    One(MemberId),
}

/// What [`end_sessions`] found live just before it ended them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub member_sessions: u64,
    pub staff_sessions: u64,
}

async fn ensure_member(svc: &Services, member: MemberId) -> Result<(), IncidentError> {
    match svc.store.accounts().find_member(member).await? {
        Some(_) => Ok(()),
        None => Err(IncidentError::MemberNotFound(member)),
    }
}

/// Ends members' sessions (all, or one member's) and/or every staff
/// session, at once on every instance (sessions live in the database).
/// The counts are of sessions live just before (for the report).
pub async fn end_sessions(
    svc: &Services,
    doer: &Doer,
    incident: IncidentId,
    members: Members,
    staff: bool,
) -> Result<Ended, IncidentError> {
    doer.authorize(svc, Action::IncidentEndSessions).await?;
    if members == Members::None && !staff {
        return Err(IncidentError::NothingToEnd);
    }
    let now = svc.now();
    let (live_members, live_staff) = svc.store.incidents().live_sessions(now).await?;
    let mut changes = Changes::new();
    let mut what = Vec::new();
    let mut ended = Ended {
        member_sessions: 0,
        staff_sessions: 0,
    };
    let mut target = None;
    match members {
        Members::None => {}
        Members::All => {
            changes.push(Write::EndAllMemberSessions);
            what.push(format!("every member session ({live_members} live before)"));
            ended.member_sessions = live_members;
        }
        Members::One(m) => {
            ensure_member(svc, m).await?;
            let n = svc.store.sessions().list_for_member(m, now).await?.len() as u64;
            changes.push(Write::EndOtherSessions {
                member: m,
                keep: None,
            });
            what.push(format!("sessions of member {m} ({n} live before)"));
            ended.member_sessions = n;
            target = Some(AuditTarget::member(m));
        }
    }
    if staff {
        changes.push(Write::EndAllStaffSessions);
        what.push(format!("every staff session ({live_staff} live before)"));
        ended.staff_sessions = live_staff;
    }
    let scope = match members {
        Members::None => "none".to_owned(),
        Members::All => "all".to_owned(),
        Members::One(m) => format!("member:{m}"),
    };
    record(
        svc,
        &mut changes,
        doer,
        incident,
        "sessions_ended",
        format!("ended {}", what.join("; ")),
        AuditAction::IncidentSessionsEnded,
        target,
        serde_json::json!({
            "members": scope,
            "staff": staff,
            "member_sessions": ended.member_sessions,
            "staff_sessions": ended.staff_sessions,
        }),
    );
    commit(svc, &changes).await?;
    tracing::info!(incident = %incident, members = %scope, staff, "incident: sessions ended");
    Ok(ended)
}

/// Locks a member: no login, no session served, every session ended.
pub async fn lock_member(
    svc: &Services,
    doer: &Doer,
    incident: IncidentId,
    member: MemberId,
) -> Result<(), IncidentError> {
    doer.authorize(svc, Action::IncidentLockMember).await?;
    let mut changes = Changes::new()
        .with(Write::LockMember {
            member,
            incident,
            at: svc.now(),
        })
        .with(Write::EndOtherSessions { member, keep: None });
    record(
        svc,
        &mut changes,
        doer,
        incident,
        "member_locked",
        format!("member {member} locked; their sessions ended"),
        AuditAction::IncidentMemberLocked,
        Some(AuditTarget::member(member)),
        serde_json::json!({}),
    );
    match commit(svc, &changes).await {
        Err(IncidentError::Store(e)) if e.is_precondition(guards::MEMBER_NOT_FOUND) => {
            Err(IncidentError::MemberNotFound(member))
        }
        r => r,
    }
}

/// Lifts a member's lock.
pub async fn unlock_member(
    svc: &Services,
    doer: &Doer,
    incident: IncidentId,
    member: MemberId,
) -> Result<(), IncidentError> {
    doer.authorize(svc, Action::IncidentUnlockMember).await?;
    ensure_member(svc, member).await?;
    let mut changes = Changes::new().with(Write::UnlockMember { member });
    record(
        svc,
        &mut changes,
        doer,
        incident,
        "member_unlocked",
        format!("member {member} unlocked"),
        AuditAction::IncidentMemberUnlocked,
        Some(AuditTarget::member(member)),
        serde_json::json!({}),
    );
    commit(svc, &changes).await
}

/// Deletes the password of one member, or of every member, and ends their
/// sessions (see the module doc for what this means).
pub async fn force_password_reset(
    svc: &Services,
    doer: &Doer,
    incident: IncidentId,
    member: Option<MemberId>,
) -> Result<(), IncidentError> {
    doer.authorize(svc, Action::IncidentForcePasswordReset)
        .await?;
    let now = svc.now();
    let mut changes = Changes::new();
    let (detail, target, scope) = match member {
        Some(m) => {
            ensure_member(svc, m).await?;
            changes.push(Write::SetPasswordHash {
                member: m,
                hash: None,
                at: now,
            });
            changes.push(Write::EndOtherSessions {
                member: m,
                keep: None,
            });
            (
                format!("password of member {m} removed; their sessions ended"),
                Some(AuditTarget::member(m)),
                format!("member:{m}"),
            )
        }
        None => {
            changes.push(Write::RemoveAllPasswords { at: now });
            changes.push(Write::EndAllMemberSessions);
            (
                "every member's password removed; every member session ended".to_owned(),
                None,
                "all".to_owned(),
            )
        }
    };
    record(
        svc,
        &mut changes,
        doer,
        incident,
        "password_reset",
        detail,
        AuditAction::IncidentPasswordReset,
        target,
        serde_json::json!({ "members": scope }),
    );
    commit(svc, &changes).await
}

/// Disables a staff account and ends its sessions: the staff module's
/// own disable bundle (its `staff_disabled` audit entry), with the
/// incident's timeline line in the same commit.
pub async fn disable_staff(
    svc: &Services,
    doer: &Doer,
    incident: IncidentId,
    staff: StaffId,
) -> Result<(), IncidentError> {
    doer.authorize(svc, Action::IncidentDisableStaff).await?;
    if doer.staff_id() == Some(staff) {
        return Err(IncidentError::OwnAccount);
    }
    if svc.store.staff().find_staff(staff).await?.is_none() {
        return Err(IncidentError::StaffNotFound);
    }
    let mut changes = crate::staff::disable_bundle(
        svc,
        doer.actor,
        doer.from,
        doer.reason,
        staff,
        serde_json::json!({ "incident": incident }),
    );
    changes.push(Write::AddTimelineEntry(NewTimelineEntry {
        id: svc.new_id::<IncidentEntryId>(),
        incident,
        at: svc.now(),
        actor: doer.label(),
        action: "staff_disabled".to_owned(),
        detail: format!("staff account {staff} disabled; its sessions ended"),
    }));
    match svc.store.commit(&changes).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_precondition(guards::INCIDENT_NOT_OPEN) => Err(IncidentError::Closed),
        Err(e) if e.is_precondition(guards::STAFF_NOT_FOUND) => Err(IncidentError::StaffNotFound),
        Err(e) => Err(e.into()),
    }
}

/// Rotates the key encryption key with the existing rotation
/// ([`crate::rotation::rotate`]): recorded before (no record, no
/// rotation) and after. Returns the new KEK version and how many data
/// keys were rewrapped.
pub async fn rotate_keys(
    svc: &Services,
    doer: &Doer,
    incident: IncidentId,
) -> Result<(anshin_vault::KekVersion, u64), IncidentError> {
    doer.authorize(svc, Action::IncidentRotateKeys).await?;
    let mut changes = Changes::new();
    record(
        svc,
        &mut changes,
        doer,
        incident,
        "key_rotation_started",
        "key rotation started".to_owned(),
        AuditAction::IncidentKeysRotated,
        None,
        serde_json::json!({ "phase": "started" }),
    );
    commit(svc, &changes).await?;
    let outcome = crate::rotation::rotate(
        svc.store.as_ref(),
        &svc.keys,
        svc.clock.as_ref(),
        &svc.random,
    )
    .await;
    let mut changes = Changes::new();
    let (detail, details) = match &outcome {
        Ok((version, n)) => (
            format!("KEK version {version} is current; {n} data key(s) rewrapped"),
            serde_json::json!({ "phase": "finished", "version": version.to_string(), "rewrapped": n }),
        ),
        Err(e) => (
            format!("key rotation failed: {e}"),
            serde_json::json!({ "phase": "failed" }),
        ),
    };
    record(
        svc,
        &mut changes,
        doer,
        incident,
        if outcome.is_ok() {
            "key_rotation_finished"
        } else {
            "key_rotation_failed"
        },
        detail,
        AuditAction::IncidentKeysRotated,
        None,
        details,
    );
    let recorded = commit(svc, &changes).await;
    let done = outcome?;
    recorded?;
    Ok(done)
}

/// Who [`notify`] mails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    All,
    Members(Vec<MemberId>),
}

impl Audience {
    /// The audience of a stored notification's progress
    /// (`NotifyProgress::audience`), to continue it with.
    pub fn from_stored(text: &str) -> Option<Self> {
        if text == "all" {
            return Some(Audience::All);
        }
        let ids = text.strip_prefix("members:")?;
        ids.split(',')
            .map(MemberId::parse)
            .collect::<Option<Vec<_>>>()
            .map(Audience::Members)
    }
}

/// What a [`notify`] run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyReport {
    /// Mails queued in the whole notification (this run and earlier ones).
    pub sent: u64,
    /// Members the audience held when the notification started.
    pub total: u64,
    /// This run continued a stopped one.
    pub resumed: bool,
    /// The notification had finished before; nothing was mailed.
    pub already_done: bool,
}

/// Mails `template` to the audience through the outbox, a batch per
/// commit, resumable (see the module doc). `on_progress(sent, total)` is
/// called after each committed batch.
pub async fn notify(
    svc: &Services,
    doer: &Doer,
    incident: IncidentId,
    template: IncidentTemplate,
    audience: Audience,
    on_progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<NotifyReport, IncidentError> {
    doer.authorize(svc, Action::IncidentNotifyMembers).await?;
    let audience = match audience {
        Audience::All => NotifyAudience::All,
        Audience::Members(mut ids) => {
            ids.sort();
            ids.dedup();
            if ids.is_empty() {
                return Err(IncidentError::NoRecipients);
            }
            for m in &ids {
                ensure_member(svc, *m).await?;
            }
            NotifyAudience::Members(ids)
        }
    };
    let audience_text = audience.to_text();
    let rec = svc
        .store
        .incidents()
        .find_incident(incident)
        .await?
        .ok_or(IncidentError::NotFound)?;
    let same = |p: &anshin_store::NotifyProgress| {
        p.template == template.as_str() && p.audience == audience_text
    };
    let (mut cursor, mut sent, total, resumed) = match &rec.notify {
        Some(p) if p.finished_at.is_none() && same(p) => (p.cursor, p.sent, p.total, true),
        Some(p) if p.finished_at.is_none() => {
            return Err(IncidentError::NotifyInProgress {
                template: p.template.clone(),
                audience: p.audience.clone(),
            });
        }
        Some(p) if same(p) => {
            on_progress(p.sent, p.total);
            return Ok(NotifyReport {
                sent: p.sent,
                total: p.total,
                resumed: false,
                already_done: true,
            });
        }
        _ => {
            let total = match &audience {
                NotifyAudience::All => svc.store.incidents().count_members().await?,
                NotifyAudience::Members(ids) => ids.len() as u64,
            };
            if total == 0 {
                return Err(IncidentError::NoRecipients);
            }
            let mut changes = Changes::new().with(Write::StartNotify {
                incident,
                template: template.as_str().to_owned(),
                audience: audience_text.clone(),
                total,
            });
            let who = match &audience {
                NotifyAudience::All => format!("every member ({total})"),
                NotifyAudience::Members(_) => format!("{total} named member(s)"),
            };
            record(
                svc,
                &mut changes,
                doer,
                incident,
                "notify_started",
                format!("notification {} to {who} started", template.as_str()),
                AuditAction::IncidentMembersNotified,
                None,
                serde_json::json!({
                    "phase": "started",
                    "template": template.as_str(),
                    "audience": audience_text,
                    "total": total,
                }),
            );
            commit(svc, &changes).await?;
            (None, 0, total, false)
        }
    };
    on_progress(sent, total);
    loop {
        let batch: Vec<NotifyTarget> = match &audience {
            NotifyAudience::All => {
                svc.store
                    .incidents()
                    .members_after(cursor, NOTIFY_BATCH)
                    .await?
            }
            NotifyAudience::Members(ids) => {
                let mut out = Vec::new();
                for m in ids
                    .iter()
                    .filter(|m| cursor.is_none_or(|c| **m > c))
                    .take(NOTIFY_BATCH as usize)
                {
                    // A member deleted since the start is passed over.
                    if let Some(r) = svc.store.accounts().find_member(*m).await? {
                        out.push(NotifyTarget {
                            member: r.id,
                            email: r.email,
                            lang: r.language,
                        });
                    }
                }
                out
            }
        };
        let Some(last) = batch.last().map(|t| t.member) else {
            break;
        };
        let mut changes = Changes::new();
        for t in &batch {
            changes.push_mail(
                crate::mail::letter(svc, t.lang, &t.email, &Letter::IncidentNotice(template))
                    .map_err(|e| IncidentError::Mail(e.to_string()))?,
            );
        }
        let n = batch.len() as u64;
        changes.push(Write::AdvanceNotify {
            incident,
            from: cursor,
            to: last,
            sent: n,
        });
        changes.push_audit(crate::audit::entry(
            svc,
            doer.actor,
            AuditAction::IncidentMembersNotified,
            Some(AuditTarget::incident(incident)),
            doer.from,
            doer.reason,
            serde_json::json!({
                "incident": incident,
                "phase": "batch",
                "template": template.as_str(),
                "mails": n,
                "through": last,
            }),
        ));
        match svc.store.commit(&changes).await {
            Ok(()) => {}
            Err(e) if e.is_precondition(guards::NOTIFY_MOVED) => {
                return Err(IncidentError::NotifyInProgress {
                    template: template.as_str().to_owned(),
                    audience: format!("{audience_text} (another run is mailing it now)"),
                });
            }
            Err(e) => return Err(e.into()),
        }
        cursor = Some(last);
        sent += n;
        on_progress(sent, total);
    }
    let mut changes = Changes::new().with(Write::FinishNotify {
        incident,
        at: svc.now(),
    });
    record(
        svc,
        &mut changes,
        doer,
        incident,
        "notify_finished",
        format!(
            "notification {} finished: {sent} mail(s) queued",
            template.as_str()
        ),
        AuditAction::IncidentMembersNotified,
        None,
        serde_json::json!({ "phase": "finished", "template": template.as_str(), "sent": sent }),
    );
    commit(svc, &changes).await?;
    tracing::info!(incident = %incident, sent, "incident: members notified");
    Ok(NotifyReport {
        sent,
        total,
        resumed,
        already_done: false,
    })
}

/// Closes an incident with its lessons learned.
pub async fn close(
    svc: &Services,
    doer: &Doer,
    incident: IncidentId,
    lessons: &str,
) -> Result<(), IncidentError> {
    doer.authorize(svc, Action::CloseIncident).await?;
    let lessons = lessons.trim();
    if lessons.is_empty() || lessons.chars().count() > MAX_LESSONS_CHARS {
        return Err(IncidentError::BadLessons);
    }
    // The timeline line goes in first: the close makes the incident
    // refuse further lines.
    let mut changes = Changes::new();
    record(
        svc,
        &mut changes,
        doer,
        incident,
        "closed",
        "incident closed with lessons learned".to_owned(),
        AuditAction::IncidentClosed,
        None,
        serde_json::json!({ "lessons": lessons }),
    );
    changes.push(Write::CloseIncident {
        incident,
        lessons: lessons.to_owned(),
        at: svc.now(),
    });
    commit(svc, &changes).await?;
    tracing::info!(incident = %incident, "incident closed");
    Ok(())
}

/// Every incident, newest first.
pub async fn list(svc: &Services, doer: &Doer) -> Result<Vec<IncidentRecord>, IncidentError> {
    doer.authorize(svc, Action::ViewIncidents).await?;
    Ok(svc.store.incidents().list_incidents().await?)
}

/// One incident and its timeline.
pub async fn show(
    svc: &Services,
    doer: &Doer,
    id: IncidentId,
) -> Result<(IncidentRecord, Vec<TimelineEntry>), IncidentError> {
    doer.authorize(svc, Action::ViewIncidents).await?;
    let rec = svc
        .store
        .incidents()
        .find_incident(id)
        .await?
        .ok_or(IncidentError::NotFound)?;
    let timeline = svc.store.incidents().timeline(id).await?;
    Ok((rec, timeline))
}

/// How many members a notification to `audience` would mail now (what
/// the console's confirmation page says before anything is sent).
pub async fn audience_size(
    svc: &Services,
    doer: &Doer,
    audience: &Audience,
) -> Result<u64, IncidentError> {
    doer.authorize(svc, Action::IncidentNotifyMembers).await?;
    match audience {
        Audience::All => Ok(svc.store.incidents().count_members().await?),
        Audience::Members(ids) => {
            let mut ids = ids.clone();
            ids.sort();
            ids.dedup();
            for m in &ids {
                ensure_member(svc, *m).await?;
            }
            Ok(ids.len() as u64)
        }
    }
}

/// Whether `member` exists (the console's confirmation pages check the
/// id typed before they ask).
pub async fn member_exists(svc: &Services, member: MemberId) -> Result<bool, IncidentError> {
    Ok(svc.store.accounts().find_member(member).await?.is_some())
}

/// The staff account `staff` names, if any (the console's confirmation
/// page names the account it is about to disable: for a doer who may
/// disable one).
pub async fn staff_account(
    svc: &Services,
    doer: &Doer,
    staff: StaffId,
) -> Result<Option<crate::staff::StaffAccount>, IncidentError> {
    doer.authorize(svc, Action::IncidentDisableStaff).await?;
    Ok(crate::staff::find(svc, staff).await?)
}

/// The staff account with this work e-mail address, if any (as
/// [`staff_account`]).
pub async fn staff_account_by_email(
    svc: &Services,
    doer: &Doer,
    email: &anshin_domain::EmailAddress,
) -> Result<Option<crate::staff::StaffAccount>, IncidentError> {
    doer.authorize(svc, Action::IncidentDisableStaff).await?;
    Ok(svc
        .store
        .staff()
        .find_staff_by_email(email)
        .await?
        .as_ref()
        .map(crate::staff::StaffAccount::from))
}
