//! `anshin audit export --since`: the entries as JSON lines, enough for an
//! independent verifier to rebuild each leaf (`scripts/audit-verify.py`):
//! every field of the canonical bytes, the recorded head, and the details
//! unless purged.

use anshin_domain::Timestamp;
use anshin_store::audit::Hash;
use anshin_store::{Store, StoreError, StoredAuditEntry};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// One exported line (without the trailing newline).
pub fn line(e: &StoredAuditEntry) -> String {
    let at = chrono::DateTime::from_timestamp_micros(e.entry.at.micros())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    serde_json::json!({
        "index": e.index,
        "at": at,
        "at_micros": e.entry.at.micros(),
        "actor_kind": e.entry.actor.kind().as_str(),
        "actor_id": e.entry.actor.id(),
        "action": e.entry.action.as_str(),
        "target_kind": e.entry.target.as_ref().map(|t| t.kind.as_str()),
        "target_id": e.entry.target.as_ref().map(|t| t.id.clone()),
        "origin": e.entry.origin,
        "reason": e.entry.reason,
        "details_mac": hex::encode(e.entry.details_mac),
        "details": e.entry.details,
        "root": B64.encode(e.root),
    })
    .to_string()
}

/// Calls `out` with each exported line of the entries made at or after
/// `since`, in index order; returns how many.
pub async fn export(
    store: &dyn Store,
    since: Timestamp,
    out: &mut (dyn FnMut(String) -> std::io::Result<()> + Send),
) -> Result<u64, ExportError> {
    let mut from = 0u64;
    let mut n = 0u64;
    loop {
        let page = store.audit().entries(from, 10_000).await?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        from = last.index + 1;
        for e in page.iter().filter(|e| e.entry.at >= since) {
            out(line(e))?;
            n += 1;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Parses `--since` (RFC 3339, any offset).
pub fn parse_since(text: &str) -> Result<Timestamp, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Timestamp::from_micros(t.timestamp_micros()))
        .map_err(|e| format!("--since must be an RFC 3339 time such as 2026-12-01T00:00:00Z: {e}"))
}

/// The root hash as exported (base64), for tests and the CLI.
pub fn root_b64(root: &Hash) -> String {
    B64.encode(root)
}
