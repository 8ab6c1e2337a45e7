//! The checkpoint job: every `audit.checkpoint_every_secs` (and once at
//! shutdown) it extends the tree it verified last time with the entries
//! written since, checking each against the head recorded with it, signs
//! the new head and sends the note off the box: a file in the witness
//! directory, a row in the database, and (if `audit.security_email` is
//! set) a mail through the outbox.
//!
//! It never signs a log it could not verify: on its first run in a process
//! it recomputes the whole tree and compares it with the latest stored
//! checkpoint; after that it keeps the verified tree edge in memory (out
//! of the database's reach), so a later run only reads the new entries.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anshin_domain::{EmailAddress, Lang};
use anshin_store::audit::{Frontier, leaf_hash};
use anshin_store::{Changes, StoredCheckpoint};
use tokio_util::sync::CancellationToken;

use super::note::{AuditSigner, Checkpoint};
use crate::Services;
use crate::jobs::{Job, Schedule, Scope};
use crate::mail::compose::Letter;

/// Makes signed checkpoints; also the job that does it on a schedule.
#[derive(Debug)]
pub struct Checkpointer {
    svc: Services,
    signer: Arc<AuditSigner>,
    witness_dir: PathBuf,
    security_email: Option<EmailAddress>,
    every: std::time::Duration,
    lease: anshin_domain::Duration,
    verified: tokio::sync::Mutex<Option<Frontier>>,
}

impl Checkpointer {
    pub fn new(
        svc: Services,
        signer: Arc<AuditSigner>,
        witness_dir: PathBuf,
        security_email: Option<EmailAddress>,
        every: std::time::Duration,
        lease: anshin_domain::Duration,
    ) -> Self {
        Self {
            svc,
            signer,
            witness_dir,
            security_email,
            every,
            lease,
            verified: tokio::sync::Mutex::new(None),
        }
    }

    pub fn witness_dir(&self) -> &Path {
        &self.witness_dir
    }

    /// Verifies the entries written since the last run and signs the new
    /// head. `None` when there is nothing new since the last checkpoint.
    /// Fails (signing nothing) if an entry does not match its recorded
    /// head or the log does not extend the latest stored checkpoint.
    pub async fn checkpoint(&self) -> anyhow::Result<Option<Checkpoint>> {
        let store = self.svc.store.clone();
        let mut verified = self.verified.lock().await;
        let stored = store.audit().checkpoints().await?;
        let latest = stored.last().cloned();
        let mut tree = verified.clone().unwrap_or_default();
        let first_run = verified.is_none();
        loop {
            let page = store.audit().entries(tree.size(), 10_000).await?;
            if page.is_empty() {
                break;
            }
            for e in page {
                let index = tree.size();
                if e.index != index {
                    anyhow::bail!("audit log: entry {index} is missing; no checkpoint signed");
                }
                tree.push(leaf_hash(&e.entry.leaf_bytes(index)));
                if tree.root() != e.root {
                    anyhow::bail!(
                        "audit log: entry {index} does not match its recorded head; no checkpoint signed"
                    );
                }
                if first_run
                    && let Some(cp) = &latest
                    && cp.size == tree.size()
                    && cp.root != tree.root()
                {
                    anyhow::bail!(
                        "audit log: the first {} entries no longer hash to the last checkpoint; no checkpoint signed",
                        cp.size
                    );
                }
            }
        }
        if let Some(cp) = &latest
            && cp.size > tree.size()
        {
            anyhow::bail!(
                "audit log: the last checkpoint has {} entries, the log {}: truncated; no checkpoint signed",
                cp.size,
                tree.size()
            );
        }
        *verified = Some(tree.clone());
        if latest.as_ref().is_some_and(|cp| cp.size == tree.size()) {
            return Ok(None);
        }
        let checkpoint = Checkpoint {
            origin: self.signer.name().to_owned(),
            size: tree.size(),
            root: tree.root(),
        };
        let note = self.signer.sign(&checkpoint);
        write_witness(&self.witness_dir, checkpoint.size, &note)?;
        let new = store
            .audit()
            .add_checkpoint(&StoredCheckpoint {
                size: checkpoint.size,
                root: checkpoint.root,
                at: self.svc.now(),
                note: note.clone(),
            })
            .await?;
        if new && let Some(to) = &self.security_email {
            let mail = crate::mail::letter(
                &self.svc,
                Lang::En,
                to,
                &Letter::AuditCheckpoint {
                    note: &note,
                    size: checkpoint.size,
                },
            )?;
            store.commit(&Changes::new().mail(mail)).await?;
        }
        tracing::info!(size = checkpoint.size, "audit checkpoint signed");
        Ok(Some(checkpoint))
    }
}

/// Writes `checkpoint-<size>.note` atomically (a temporary file, then a
/// rename); one that exists is left alone.
pub fn write_witness(dir: &Path, size: u64, note: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("checkpoint-{size:020}.note"));
    if path.exists() {
        return Ok(path);
    }
    let tmp = dir.join(format!(".checkpoint-{size:020}.tmp"));
    std::fs::write(&tmp, note)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[async_trait::async_trait]
impl Job for Checkpointer {
    fn name(&self) -> &'static str {
        "audit_checkpoint"
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            every: self.every,
            scope: Scope::OneInstance { lease: self.lease },
        }
    }

    async fn run(&self, _stop: &CancellationToken) -> anyhow::Result<u64> {
        Ok(self.checkpoint().await?.map_or(0, |c| c.size))
    }
}
