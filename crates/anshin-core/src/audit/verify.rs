//! `anshin audit verify`: recompute the whole tree from the stored
//! entries, compare it with the head recorded beside every entry, with the
//! head row, and with every checkpoint (the database's and the witness
//! directory's, each signature checked with the published key). The first
//! problem is named by the index where it starts.
//!
//! What each check catches (ADR 0011 lists the attacker's attempts):
//! - an entry edited in place: its leaf changes, so the recomputed head at
//!   its index differs from the one recorded when it was written;
//! - an entry deleted: the indexes have a gap;
//! - two entries swapped: the leaf bytes hold the index, so the head
//!   differs at the first of the two;
//! - the tail truncated: the head row or a witnessed checkpoint counts
//!   entries the log no longer has;
//! - all of the above with the recorded heads rewritten to match: the
//!   recomputed root at a witnessed checkpoint's size differs from the
//!   signed one (the attacker has no signing key and cannot reach the
//!   witness);
//! - a details row changed: it no longer matches its keyed hash (a purged,
//!   i.e. deleted, details row is fine).

use std::collections::BTreeMap;
use std::path::Path;

use anshin_store::audit::{Frontier, Hash, ScanPage, leaf_hash};
use anshin_store::{Store, StoreError};

use super::note::NoteVerifier;
use super::{AuditKey, DetailsMatcher};

/// Entries read per page.
const PAGE: u32 = 10_000;

/// Where a checkpoint came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Database,
    Witness(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Database => f.write_str("database"),
            Source::Witness(name) => write!(f, "witness file {name}"),
        }
    }
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The first index the problem concerns, when one can be named.
    pub index: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "index {i}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries read and recomputed (up to the first problem).
    pub entries: u64,
    /// The recomputed tree head of those entries.
    pub root: Hash,
    /// Entries whose details were purged (still verified by their hash).
    pub purged: u64,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints: usize,
    /// The largest checkpoint in the witness directory.
    pub witnessed: Option<u64>,
    /// The first problem; `None` when the log verifies.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    pub fn is_sound(&self) -> bool {
        self.problem.is_none()
    }
}

/// Reads every checkpoint note in `dir` (files ending `.note`), by name.
pub fn read_witness(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".note") {
            out.push((name, std::fs::read_to_string(entry.path())?));
        }
    }
    out.sort();
    Ok(out)
}

fn problem(index: Option<u64>, reason: impl Into<String>) -> Option<Problem> {
    Some(Problem {
        index,
        reason: reason.into(),
    })
}

/// The verifier's state between pages.
#[derive(Debug)]
struct Walk {
    tree: Frontier,
    purged: u64,
    checkpoints: usize,
    /// The canonical bytes of the entry at hand (one buffer for all).
    leaf: Vec<u8>,
}

type Expected = BTreeMap<u64, Vec<(Hash, Source)>>;

/// Compares the tree at its current size with every checkpoint of that
/// size.
fn check_at(tree: &Frontier, expected: &Expected, checked: &mut usize) -> Option<Problem> {
    for (root, source) in expected.get(&tree.size())? {
        *checked += 1;
        if *root != tree.root() {
            return problem(
                Some(tree.size().saturating_sub(1)),
                format!(
                    "the log's first {} entries do not hash to the root signed in the \
                     checkpoint of size {} ({source}): an entry below index {} was changed, \
                     removed or reordered",
                    tree.size(),
                    tree.size(),
                    tree.size()
                ),
            );
        }
    }
    None
}

/// Recomputes one page of entries; the first problem, if any. A stored
/// value that does not parse is an error, as [`anshin_store::AuditRepo::entries`]
/// would return.
fn check_page(
    walk: &mut Walk,
    page: &ScanPage,
    details: &DetailsMatcher,
    expected: &Expected,
) -> Result<Option<Problem>, StoreError> {
    for row in page.rows()? {
        let index = walk.tree.size();
        let stored = row.index()?;
        if stored != index {
            return Ok(problem(
                Some(index),
                format!("entry {index} is missing (the next stored entry is {stored}): deleted"),
            ));
        }
        walk.leaf.clear();
        row.write_leaf_bytes(index, &mut walk.leaf)?;
        walk.tree.push(leaf_hash(&walk.leaf));
        if walk.tree.root() != row.root()? {
            return Ok(problem(
                Some(index),
                "the entry does not match the tree head recorded when it was written: \
                 changed, replaced or moved",
            ));
        }
        match row.details() {
            Some(d) if !details.matches(d, &row.details_mac()?) => {
                return Ok(problem(
                    Some(index),
                    "the details do not match their keyed hash",
                ));
            }
            Some(_) => {}
            None => walk.purged += 1,
        }
        if let Some(p) = check_at(&walk.tree, expected, &mut walk.checkpoints) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Verifies the whole log. `witness` is the witness directory's notes
/// ([`read_witness`]). `progress` is told how many entries were done.
pub async fn verify(
    store: &dyn Store,
    key: &AuditKey,
    verifier: &NoteVerifier,
    witness: &[(String, String)],
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport {
        entries: 0,
        root: Frontier::new().root(),
        purged: 0,
        checkpoints: 0,
        witnessed: None,
        problem: None,
    };
    // Every checkpoint, signature first: size → (signed root, where).
    let mut expected: Expected = BTreeMap::new();
    let mut notes: Vec<(Source, String)> = store
        .audit()
        .checkpoints()
        .await?
        .into_iter()
        .map(|c| (Source::Database, c.note))
        .collect();
    notes.extend(
        witness
            .iter()
            .map(|(name, note)| (Source::Witness(name.clone()), note.clone())),
    );
    for (source, note) in notes {
        match verifier.verify(&note) {
            Ok(cp) if cp.origin != verifier.name => {
                report.problem = problem(
                    None,
                    format!("checkpoint in {source} is for another log ({})", cp.origin),
                );
                return Ok(report);
            }
            Ok(cp) => {
                if matches!(source, Source::Witness(_)) {
                    report.witnessed = report.witnessed.max(Some(cp.size));
                }
                expected.entry(cp.size).or_default().push((cp.root, source));
            }
            Err(e) => {
                report.problem = problem(None, format!("checkpoint in {source}: {e}"));
                return Ok(report);
            }
        }
    }

    let expected = std::sync::Arc::new(expected);
    let mut walk = Walk {
        tree: Frontier::new(),
        purged: 0,
        checkpoints: 0,
        leaf: Vec::with_capacity(512),
    };
    let details = key
        .matcher()
        .ok_or_else(|| StoreError::Other("the audit key does not make an HMAC".into()))?;
    if let Some(p) = check_at(&walk.tree, &expected, &mut walk.checkpoints) {
        report.checkpoints = walk.checkpoints;
        report.problem = Some(p);
        return Ok(report);
    }
    // A pipeline: while one page is parsed and hashed on a blocking
    // thread, the database builds the next one (`scan`: one JSON text per
    // page, so the driver hands over one value instead of a row per entry).
    let mut page = store.audit().scan(0, PAGE).await?;
    while let Some(last) = page.last_index() {
        let next_from = last.saturating_add(1);
        let (d, e) = (details.clone(), expected.clone());
        let work = tokio::task::spawn_blocking(move || {
            let found = check_page(&mut walk, &page, &d, &e);
            (walk, found)
        });
        let (done, next) = tokio::join!(work, store.audit().scan(next_from, PAGE));
        let (w, found) = done.map_err(|e| StoreError::Other(format!("verify task: {e}")))?;
        walk = w;
        report.entries = walk.tree.size();
        report.root = walk.tree.root();
        report.purged = walk.purged;
        report.checkpoints = walk.checkpoints;
        if let Some(p) = found? {
            report.problem = Some(p);
            return Ok(report);
        }
        progress(walk.tree.size());
        page = next?;
    }
    let tree = walk.tree;
    let count = tree.size();
    let head = store.audit().head().await?;
    if head.size != count {
        report.problem = problem(
            Some(count.min(head.size)),
            format!(
                "the log has {count} entries but its head row records {}: the tail was truncated",
                head.size
            ),
        );
        return Ok(report);
    }
    if head.frontier.map(|f| f.root()) != Some(tree.root()) {
        report.problem = problem(
            None,
            "the head row's tree edge does not match the recomputed tree",
        );
        return Ok(report);
    }
    if let Some((&size, list)) = expected.range(count + 1..).next() {
        let source = list
            .iter()
            .map(|(_, s)| s.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        report.problem = problem(
            Some(count),
            format!(
                "the checkpoint of size {size} ({source}) names entries the log no longer \
                 has: truncated at index {count}"
            ),
        );
    }
    Ok(report)
}
