//! Key maintenance behind `anshin keys status | rotate | reencrypt |
//! retire` (C13). Every step runs while the site serves requests:
//!
//! - **rotate** adds a KEK version to the ring file (written atomically,
//!   0600) and rewraps every member's data key under it. Running servers
//!   reread the ring when they meet the new version (`Keys::unwrap_member_key`).
//!   Each rewrap is a compare-and-swap, so a key changed meanwhile is left
//!   alone.
//! - **reencrypt** seals every stored value again with a fresh nonce,
//!   walking each table in id order, committing a batch at a time together
//!   with how far it got (`reencrypt_progress`): after a kill, a rerun
//!   continues where the last committed batch ended. A value a member
//!   changes meanwhile is skipped by the compare-and-swap (it is fresh).
//! - **retire** removes an old KEK version from the ring only when no
//!   wrapped key names it. After that, a backup still holding a data key
//!   wrapped under that version cannot be opened: this is how deletion
//!   reaches backups (ADR 0006). "No key names it" is decided in the
//!   database together with marking the version retired there, and the
//!   store refuses a new data key wrapped under a retired version: a
//!   server still holding the ring from before `rotate` (a ring from
//!   `keys.ring_env`, or one that reread the file just before) cannot
//!   store a key that the retirement makes unreadable.

use std::collections::HashMap;
use std::time::Duration;

use anshin_domain::MemberId;
use anshin_store::{
    KekRetirement, KekUsage, ReencryptProgress, Reseal, Rewrap, SealedTable, Store,
};
use anshin_vault::{DataKey, KekVersion, fields};

use crate::clock::Clock;
use crate::keys::Keys;
use crate::member_data::sealed::{context, existing_key_in};
use crate::random::Random;

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    #[error(transparent)]
    Store(#[from] anshin_store::StoreError),
    #[error("key ring: {0}")]
    Ring(#[from] anshin_vault::KeyRingError),
    #[error(
        "KEK version {version} still wraps {count} data key(s); run `anshin keys rotate` \
         (which rewraps them) before retiring it"
    )]
    StillInUse { version: KekVersion, count: i64 },
}

/// What `keys status` reports.
#[derive(Debug, Clone)]
pub struct Status {
    pub current: KekVersion,
    pub versions: Vec<KekVersion>,
    pub retired: Vec<KekVersion>,
    pub usage: Vec<KekUsage>,
    pub reencrypt: Option<ReencryptProgress>,
}

pub async fn status(store: &dyn Store, keys: &Keys) -> Result<Status, RotationError> {
    let ring = keys.ring();
    Ok(Status {
        current: ring.current_version(),
        versions: ring.versions().collect(),
        retired: ring.retired_versions().collect(),
        usage: store.member_data().kek_usage().await?,
        reencrypt: store.member_data().reencrypt_progress().await?,
    })
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "current KEK version: {}", self.current)?;
        let list = |v: &[KekVersion]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(f, "KEK versions in the ring: {}", list(&self.versions))?;
        writeln!(f, "retired KEK versions: {}", list(&self.retired))?;
        writeln!(f, "kek_version\tdata_keys\tfield_values")?;
        for u in &self.usage {
            writeln!(f, "{}\t{}\t{}", u.kek_version, u.data_keys, u.values)?;
        }
        match &self.reencrypt {
            Some(p) => writeln!(
                f,
                "reencrypt interrupted in {} after {} value(s); run `anshin keys reencrypt` to finish",
                p.stage.table(),
                p.done
            ),
            None => writeln!(f, "no reencrypt in progress"),
        }
    }
}

/// Rewraps every data key not under the ring's current version; returns
/// how many were rewrapped.
pub async fn rewrap_all(
    store: &dyn Store,
    keys: &Keys,
    clock: &dyn Clock,
    random: &Random,
    batch: u32,
) -> Result<u64, RotationError> {
    let ring = keys.ring();
    let current = ring.current_version();
    let mut after = None;
    let mut total = 0u64;
    loop {
        let page = store
            .member_data()
            .wrapped_keys_after(after, batch.max(1))
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.member_id);
        let mut rewraps = Vec::new();
        for k in &page {
            if k.kek_version == i64::from(current) {
                continue;
            }
            match ring.rewrap(&k.wrapped_key, k.member_id.as_bytes(), &mut random.rng()) {
                Ok(new) => rewraps.push(Rewrap {
                    member_id: k.member_id,
                    old: k.wrapped_key.clone(),
                    new: new.into_bytes(),
                    new_version: i64::from(current),
                }),
                Err(e) => {
                    tracing::error!(member_id = %k.member_id, error = %e, "cannot rewrap a data key");
                }
            }
        }
        if !rewraps.is_empty() {
            total = total.saturating_add(
                store
                    .member_data()
                    .replace_wrapped_keys(&rewraps, clock.now())
                    .await?,
            );
        }
    }
    Ok(total)
}

/// Adds a KEK version (saved to the ring file before any key uses it) and
/// rewraps every data key under it. Returns the new version and how many
/// keys were rewrapped.
pub async fn rotate(
    store: &dyn Store,
    keys: &Keys,
    clock: &dyn Clock,
    random: &Random,
) -> Result<(KekVersion, u64), RotationError> {
    let mut ring = (*keys.ring()).clone();
    let version = ring.rotate(&mut random.rng())?;
    keys.save(ring)?;
    let rewrapped = rewrap_all(store, keys, clock, random, 500).await?;
    record(
        store,
        keys,
        clock,
        anshin_store::AuditAction::KeyRotated,
        version,
        serde_json::json!({ "rewrapped": rewrapped }),
    )
    .await?;
    Ok((version, rewrapped))
}

/// Removes `version` from the ring if no data key is wrapped under it.
///
/// The database marks the version retired in the same transaction that
/// finds no data key under it, and from then on refuses new data keys
/// wrapped under it; only then is the KEK destroyed in the ring file. A
/// server that wraps under the old version a moment later fails its write
/// (and rereads the ring) instead of storing a key nobody can unwrap.
pub async fn retire(
    store: &dyn Store,
    keys: &Keys,
    clock: &dyn Clock,
    version: KekVersion,
) -> Result<(), RotationError> {
    let mut ring = (*keys.ring()).clone();
    // Refuses the current version and unknown ones before anything is
    // recorded.
    ring.retire(version)?;
    match store
        .member_data()
        .retire_kek_version(i64::from(version), clock.now())
        .await?
    {
        KekRetirement::Retired => {}
        KekRetirement::InUse { data_keys } => {
            return Err(RotationError::StillInUse {
                version,
                count: data_keys,
            });
        }
    }
    keys.save(ring)?;
    record(
        store,
        keys,
        clock,
        anshin_store::AuditAction::KeyRetired,
        version,
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// The audit entry of a key operation (C22), by the system (the command
/// line), about a KEK version. The ring file is written before (it is not
/// in the database), so the entry follows the act: a failure to write it
/// fails the command, which the operator sees.
async fn record(
    store: &dyn Store,
    keys: &Keys,
    clock: &dyn Clock,
    action: anshin_store::AuditAction,
    version: KekVersion,
    details: serde_json::Value,
) -> Result<(), RotationError> {
    let entry = crate::audit::build(
        keys.audit_key(),
        clock.now(),
        anshin_store::Actor::System,
        action,
        Some(anshin_store::AuditTarget {
            kind: anshin_store::TargetKind::KekVersion,
            id: version.to_string(),
        }),
        None,
        "operator_cli",
        details,
    );
    store
        .commit(&anshin_store::Changes::new().audited(entry))
        .await?;
    Ok(())
}

/// Options of `keys reencrypt`.
#[derive(Debug, Clone, Copy)]
pub struct ReencryptOptions {
    /// Values per committed batch.
    pub batch_size: u32,
    /// Pause after each batch (to spare a busy database; tests use it to
    /// kill the process midway).
    pub pause: Duration,
}

/// What a reencrypt run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReencryptReport {
    /// Values sealed again, counting those of interrupted earlier runs.
    pub done: i64,
    /// Values changed by a member during the run (left as they are).
    pub skipped: u64,
    /// Values that do not decrypt (logged with table and row id).
    pub unreadable: u64,
    /// Whether this run continued an interrupted one.
    pub resumed: bool,
}

/// Seals every stored value again with a fresh nonce; resumable.
/// `on_batch(done, total)` is called after each committed batch.
pub async fn reencrypt(
    store: &dyn Store,
    keys: &Keys,
    clock: &dyn Clock,
    random: &Random,
    opts: ReencryptOptions,
    on_batch: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<ReencryptReport, RotationError> {
    let repo = store.member_data();
    let total: i64 = repo.kek_usage().await?.iter().map(|u| u.values).sum();
    let total = u64::try_from(total).unwrap_or(0);
    let saved = repo.reencrypt_progress().await?;
    let mut report = ReencryptReport {
        resumed: saved.is_some(),
        ..ReencryptReport::default()
    };
    let (start_stage, mut after, mut done) = match &saved {
        Some(p) => (p.stage, Some(p.last_id), p.done),
        None => (SealedTable::Phones, None, 0),
    };
    let mut key_cache: HashMap<MemberId, Option<DataKey>> = HashMap::new();
    let stages = SealedTable::ALL
        .into_iter()
        .skip_while(|t| *t != start_stage);
    for table in stages {
        loop {
            let page = repo
                .sealed_after(table, after, opts.batch_size.max(1))
                .await?;
            let Some(last) = page.last() else { break };
            let last_id = last.id;
            let mut reseals = Vec::with_capacity(page.len());
            for v in &page {
                let key = match key_cache.get(&v.member_id) {
                    Some(k) => k.clone(),
                    None => {
                        let k = existing_key_in(store, keys, v.member_id)
                            .await
                            .ok()
                            .flatten();
                        key_cache.insert(v.member_id, k.clone());
                        k
                    }
                };
                let ctx = context(table, v.id.as_bytes());
                let fresh = key.as_ref().and_then(|key| {
                    let plain = fields::decrypt(key, &ctx, &v.ciphertext).ok()?;
                    fields::encrypt(key, &ctx, &plain, &mut random.rng()).ok()
                });
                match fresh {
                    Some(new) => reseals.push(Reseal {
                        id: v.id,
                        old: v.ciphertext.clone(),
                        new,
                    }),
                    None => {
                        report.unreadable = report.unreadable.saturating_add(1);
                        tracing::error!(table = table.table(), id = %v.id, "value does not decrypt; left as it is");
                    }
                }
            }
            let attempted = u64::try_from(reseals.len()).unwrap_or(0);
            done = done.saturating_add(i64::try_from(page.len()).unwrap_or(0));
            let applied = repo
                .reseal(
                    table,
                    &reseals,
                    &ReencryptProgress {
                        stage: table,
                        last_id,
                        done,
                    },
                    clock.now(),
                )
                .await?;
            report.skipped = report
                .skipped
                .saturating_add(attempted.saturating_sub(applied));
            after = Some(last_id);
            on_batch(u64::try_from(done).unwrap_or(0), total);
            if !opts.pause.is_zero() {
                tokio::time::sleep(opts.pause).await;
            }
        }
        after = None;
    }
    repo.clear_reencrypt_progress().await?;
    report.done = done;
    Ok(report)
}
