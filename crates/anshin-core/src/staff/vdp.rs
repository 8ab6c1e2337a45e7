//! The `security` role's triage of vulnerability reports (C5): the list
//! (tracking id, status, language, times: nothing personal), one report
//! opened (the reporter's address, the text and the notes, decrypted; the
//! view is audited first and refused if its entry cannot be written), a
//! status change and a sealed note, each audited with the act in one
//! bundle. The policy is checked here again, whatever door called.

use std::net::IpAddr;

use anshin_domain::{StaffId, Timestamp, VdpNoteId, VdpReportId};
pub use anshin_store::VdpStatus;
use anshin_store::audit::{Actor, AuditAction, AuditTarget};
use anshin_store::{Changes, NewVdpNote, VdpReportRecord, Write};
use anshin_vault::{DataKey, FieldContext, fields};
use zeroize::Zeroizing;

use super::{CurrentStaff, POLICY_ALLOW, StaffError, authorize, refused};
use crate::Services;
use crate::access::Action;
use crate::contact::MessageText;
use crate::vdp::{NOTE_COLUMN, NOTE_TABLE, REPORT_COLUMN, REPORT_TABLE, Sealed, key_binding};

/// How many reports the list shows.
pub const VDP_LIST: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error("no such vulnerability report")]
    NotFound,
    #[error("the note is empty, too long or has control characters")]
    InvalidNote,
    #[error("the report cannot be decrypted")]
    Unreadable,
}

impl From<anshin_store::StoreError> for TriageError {
    fn from(e: anshin_store::StoreError) -> Self {
        TriageError::Staff(StaffError::from(e))
    }
}

/// One report as the list shows it.
#[derive(Debug, Clone)]
pub struct ReportLine {
    pub id: VdpReportId,
    pub tracking: String,
    pub status: VdpStatus,
    pub lang: anshin_domain::Lang,
    pub received_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<&VdpReportRecord> for ReportLine {
    fn from(r: &VdpReportRecord) -> Self {
        Self {
            id: r.id,
            tracking: r.tracking.clone(),
            status: r.status,
            lang: r.lang,
            received_at: r.received_at,
            updated_at: r.updated_at,
        }
    }
}

/// A triage note, opened.
#[derive(Clone)]
pub struct NoteView {
    pub staff: StaffId,
    pub at: Timestamp,
    pub text: String,
}

impl std::fmt::Debug for NoteView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoteView([redacted])")
    }
}

/// A report, opened. `Debug` redacts the personal values.
#[derive(Clone)]
pub struct ReportView {
    pub line: ReportLine,
    pub email: String,
    pub text: String,
    pub notes: Vec<NoteView>,
}

impl std::fmt::Debug for ReportView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportView")
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

async fn check(
    svc: &Services,
    actor: &CurrentStaff,
    action: Action,
    ip: IpAddr,
) -> Result<(), TriageError> {
    if let Err(e) = authorize(svc, actor, action, ip) {
        return Err(refused(svc, actor, ip, e).await.into());
    }
    Ok(())
}

/// The newest reports, newest first.
pub async fn vdp_reports_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
) -> Result<Vec<ReportLine>, TriageError> {
    check(svc, actor, Action::ViewVdpReports, ip).await?;
    let reports = svc.store.vdp().recent(VDP_LIST).await?;
    Ok(reports.iter().map(ReportLine::from).collect())
}

fn report_key(svc: &Services, r: &VdpReportRecord) -> Result<DataKey, TriageError> {
    svc.keys
        .unwrap_member_key(&r.wrapped_key, &key_binding(r.id))
        .map_err(|_| TriageError::Unreadable)
}

/// Opens a report: the view is recorded first (C22) and refused if it
/// cannot be; then the address, the text and the notes are decrypted.
pub async fn open_vdp_report_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    id: VdpReportId,
) -> Result<ReportView, TriageError> {
    check(svc, actor, Action::ViewVdpReports, ip).await?;
    let Some(record) = svc.store.vdp().report(id).await? else {
        return Err(TriageError::NotFound);
    };
    let entry = crate::audit::entry(
        svc,
        Actor::Staff(actor.account.id.as_uuid()),
        AuditAction::VdpReportViewed,
        Some(AuditTarget::vdp_report(id)),
        Some(ip),
        POLICY_ALLOW,
        serde_json::json!({ "tracking": record.tracking, "shown": ["email", "text", "notes"] }),
    );
    if let Err(e) = svc.store.commit(&Changes::new().audited(entry)).await {
        tracing::error!(error = %e, report = %id, "a vulnerability report view could not be recorded; refused");
        return Err(StaffError::NotRecorded(e).into());
    }
    tracing::info!(staff = %actor.account.id, report = %id, "vulnerability report opened");
    let key = report_key(svc, &record)?;
    let plain = Zeroizing::new(
        fields::decrypt(
            &key,
            &FieldContext::new(REPORT_TABLE, REPORT_COLUMN, id.as_bytes()),
            &record.sealed,
        )
        .map_err(|_| TriageError::Unreadable)?,
    );
    let sealed: Sealed = serde_json::from_slice(&plain).map_err(|_| TriageError::Unreadable)?;
    let mut notes = Vec::new();
    for n in svc.store.vdp().notes(id).await? {
        let text = fields::decrypt(
            &key,
            &FieldContext::new(NOTE_TABLE, NOTE_COLUMN, n.id.as_bytes()),
            &n.sealed,
        )
        .map_err(|_| TriageError::Unreadable)?;
        notes.push(NoteView {
            staff: n.staff,
            at: n.at,
            text: String::from_utf8(text.to_vec()).map_err(|_| TriageError::Unreadable)?,
        });
    }
    Ok(ReportView {
        line: ReportLine::from(&record),
        email: sealed.email,
        text: sealed.text,
        notes,
    })
}

/// Moves a report to `status` (audited: from, to). The same status again
/// changes nothing and records nothing.
pub async fn set_vdp_status_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    id: VdpReportId,
    status: VdpStatus,
) -> Result<(), TriageError> {
    check(svc, actor, Action::TriageVdpReports, ip).await?;
    let Some(record) = svc.store.vdp().report(id).await? else {
        return Err(TriageError::NotFound);
    };
    if record.status == status {
        return Ok(());
    }
    let changes = Changes::new()
        .with(Write::SetVdpStatus {
            report: id,
            status,
            at: svc.now(),
        })
        .audited(crate::audit::entry(
            svc,
            Actor::Staff(actor.account.id.as_uuid()),
            AuditAction::VdpStatusChanged,
            Some(AuditTarget::vdp_report(id)),
            Some(ip),
            POLICY_ALLOW,
            serde_json::json!({
                "tracking": record.tracking,
                "from": record.status.as_str(),
                "to": status.as_str(),
            }),
        ));
    svc.store.commit(&changes).await?;
    Ok(())
}

/// Adds a triage note, sealed under the report's key (audited without
/// its text).
pub async fn add_vdp_note_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    id: VdpReportId,
    text: &str,
) -> Result<(), TriageError> {
    check(svc, actor, Action::TriageVdpReports, ip).await?;
    let text = MessageText::parse(text).map_err(|_| TriageError::InvalidNote)?;
    let Some(record) = svc.store.vdp().report(id).await? else {
        return Err(TriageError::NotFound);
    };
    let key = report_key(svc, &record)?;
    let note: VdpNoteId = svc.new_id();
    let sealed = fields::encrypt(
        &key,
        &FieldContext::new(NOTE_TABLE, NOTE_COLUMN, note.as_bytes()),
        text.as_str().as_bytes(),
        &mut svc.random.rng(),
    )
    .map_err(|_| TriageError::Unreadable)?;
    let changes = Changes::new()
        .with(Write::AddVdpNote(NewVdpNote {
            id: note,
            report: id,
            staff: actor.account.id,
            at: svc.now(),
            sealed,
        }))
        .audited(crate::audit::entry(
            svc,
            Actor::Staff(actor.account.id.as_uuid()),
            AuditAction::VdpNoteAdded,
            Some(AuditTarget::vdp_report(id)),
            Some(ip),
            POLICY_ALLOW,
            serde_json::json!({ "tracking": record.tracking, "note": note }),
        ));
    svc.store.commit(&changes).await?;
    Ok(())
}
