//! The `security` role's view of the audit log (C22, C26, C27): filtered
//! by person (a staff or member id), record (a pseudonymous id) and time,
//! newest first, a page at a time. Reading the log is itself recorded.
//! The entries' details (which may name personal data) are never handed
//! out here: a page says only whether they are still kept or were purged.

use std::net::IpAddr;

use anshin_domain::Timestamp;
use anshin_store::Changes;
use anshin_store::audit::{Actor, AuditAction, AuditQuery, StoredAuditEntry};

use super::{CurrentStaff, POLICY_ALLOW, StaffError, authorize, refused};
use crate::Services;
use crate::access::Action;

/// Entries per page.
pub const AUDIT_PAGE_SIZE: u32 = 50;

/// What the reader asks for. Ids are checked: a person is a UUID, a record
/// an id of letters, digits and `-` (a UUID, a key version), so no e-mail
/// or name typed by mistake reaches the log of this view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub person: Option<String>,
    pub record: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// The next page: entries with an index below this.
    pub before_index: Option<u64>,
}

impl AuditFilter {
    fn check(&self) -> Result<(), StaffError> {
        let person_ok = self
            .person
            .as_deref()
            .is_none_or(|p| uuid::Uuid::try_parse(p).is_ok());
        let record_ok = self.record.as_deref().is_none_or(|r| {
            !r.is_empty()
                && r.len() <= 64
                && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if person_ok && record_ok {
            Ok(())
        } else {
            Err(StaffError::InvalidFilter)
        }
    }
}

/// One page of entries (details left out) and where the next one starts.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditRow>,
    /// `before_index` of the next (older) page, if there is one.
    pub next_before: Option<u64>,
}

/// An entry as the view shows it: everything of the leaf but the details,
/// of which only whether they are still kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub index: u64,
    pub at: Timestamp,
    pub actor: Actor,
    pub action: AuditAction,
    pub target: Option<anshin_store::AuditTarget>,
    pub origin: Option<String>,
    pub reason: String,
    pub details_kept: bool,
}

impl From<StoredAuditEntry> for AuditRow {
    fn from(s: StoredAuditEntry) -> Self {
        Self {
            index: s.index,
            at: s.entry.at,
            actor: s.entry.actor,
            action: s.entry.action,
            target: s.entry.target,
            origin: s.entry.origin,
            reason: s.entry.reason,
            details_kept: s.entry.details.is_some(),
        }
    }
}

/// A page of the audit log for a staff member the policy allows
/// (`view_audit_log`); the reading is recorded first.
pub async fn audit_log_by(
    svc: &Services,
    actor: &CurrentStaff,
    ip: IpAddr,
    filter: &AuditFilter,
) -> Result<AuditPage, StaffError> {
    if let Err(e) = authorize(svc, actor, Action::ViewAuditLog, ip) {
        return Err(refused(svc, actor, ip, e).await);
    }
    filter.check()?;
    let entry = crate::audit::entry(
        svc,
        Actor::Staff(actor.account.id.as_uuid()),
        AuditAction::AuditLogViewed,
        None,
        Some(ip),
        POLICY_ALLOW,
        serde_json::json!({
            "person": filter.person,
            "record": filter.record,
            "since": filter.since.map(|t| t.micros()),
            "until": filter.until.map(|t| t.micros()),
            "before_index": filter.before_index,
        }),
    );
    svc.store
        .commit(&Changes::new().audited(entry))
        .await
        .map_err(StaffError::NotRecorded)?;
    let mut rows = svc
        .store
        .audit()
        .search(&AuditQuery {
            person: filter.person.clone(),
            record: filter.record.clone(),
            since: filter.since,
            until: filter.until,
            before_index: filter.before_index,
            limit: AUDIT_PAGE_SIZE + 1,
        })
        .await?;
    let more = rows.len() > AUDIT_PAGE_SIZE as usize;
    rows.truncate(AUDIT_PAGE_SIZE as usize);
    let next_before = if more {
        rows.last().map(|r| r.index)
    } else {
        None
    };
    Ok(AuditPage {
        entries: rows.into_iter().map(AuditRow::from).collect(),
        next_before,
    })
}

/// The start of the day `YYYY-MM-DD` in the reader's zone (JST for
/// Japanese, UTC for English: the zone the view shows times in).
pub fn day_start(text: &str, lang: crate::i18n::Lang) -> Option<Timestamp> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    let offset_secs: i64 = match lang {
        crate::i18n::Lang::Ja => 9 * 3600,
        crate::i18n::Lang::En => 0,
    };
    let utc = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some(Timestamp::from_micros(
        utc.checked_sub(offset_secs)?.checked_mul(1_000_000)?,
    ))
}

/// The start of the day after `YYYY-MM-DD` (an inclusive "to" date).
pub fn day_end(text: &str, lang: crate::i18n::Lang) -> Option<Timestamp> {
    day_start(text, lang).map(|t| t.saturating_add(anshin_domain::Duration::from_secs(86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn c22_audit_filter_days_are_in_the_readers_zone() {
        let utc = day_start("2026-12-05", Lang::En).unwrap();
        assert_eq!(utc.micros(), 1_796_428_800_000_000);
        let jst = day_start("2026-12-05", Lang::Ja).unwrap();
        assert_eq!(utc.micros() - jst.micros(), 9 * 3600 * 1_000_000);
        assert_eq!(
            day_end("2026-12-05", Lang::En).unwrap().micros() - utc.micros(),
            86_400_000_000
        );
        assert!(day_start("5/12/2026", Lang::En).is_none());
    }

    #[test]
    fn c22_audit_filters_must_be_ids() {
        let ok = AuditFilter {
            person: Some("0190a4f2-0000-7000-8000-000000000001".into()),
            record: Some("2".into()),
            ..AuditFilter::default()
        };
        assert!(ok.check().is_ok());
        let email = AuditFilter {
            person: Some("someone@example.jp".into()),
            ..AuditFilter::default()
        };
        assert!(email.check().is_err());
        let record = AuditFilter {
            record: Some("someone@example.jp".into()),
            ..AuditFilter::default()
        };
        assert!(record.check().is_err());
    }
}
