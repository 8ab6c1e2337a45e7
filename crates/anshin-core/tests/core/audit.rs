//! Acceptance 4 of issue 14 (C22): an attacker with write access to the
//! database (who drops the append-only triggers first) edits an entry,
//! deletes one, swaps two, truncates the tail, or rewrites the recorded
//! heads to match; `audit::verify::verify` fails and names where. Purging
//! details keeps the log verifiable; checkpoints verify with the published
//! key. Each test runs on SQLite and PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;

use anshin_core::CoreSettings;
use anshin_core::Services;
use anshin_core::audit::checkpoint::Checkpointer;
use anshin_core::audit::note::{AuditSigner, NoteVerifier};
use anshin_core::audit::verify::{VerifyReport, read_witness, verify};
use anshin_core::audit::{Actor, AuditAction, AuditTarget, entry};
use anshin_core::clock::{Clock, ManualClock};
use anshin_core::random::Random;
use anshin_domain::{Duration, MemberId, Timestamp};
use anshin_store::Changes;
use anshin_store::audit::{Frontier, leaf_hash};
use sqlx::AssertSqlSafe;

use crate::{Backend, Fresh, fresh, on_both};

const T0: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

pub(crate) struct World {
    pub db: Fresh,
    pub svc: Services,
    pub clock: ManualClock,
    pub signer: Arc<AuditSigner>,
    pub checkpointer: Checkpointer,
    pub witness: PathBuf,
    _dir: tempfile::TempDir,
}

/// A raw connection to the test database, as an attacker would have.
pub(crate) enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    pub async fn open(db: &Fresh) -> Raw {
        match (&db._dir, &db._db) {
            (Some(dir), _) => Raw::Sqlite(
                sqlx::SqlitePool::connect(&format!(
                    "sqlite://{}",
                    dir.path().join("core.db").display()
                ))
                .await
                .unwrap(),
            ),
            (None, Some(pg)) => Raw::Postgres(sqlx::PgPool::connect(pg.url()).await.unwrap()),
            _ => unreachable!("a fresh database is SQLite or PostgreSQL"),
        }
    }

    /// Runs one statement; `Err(message)` if the database refused it.
    pub async fn exec(&self, sql: &str) -> Result<u64, String> {
        match self {
            Raw::Sqlite(p) => sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string()),
            Raw::Postgres(p) => sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(p)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| e.to_string()),
        }
    }

    /// A byte string literal in this database's dialect.
    pub fn bytes(&self, b: &[u8]) -> String {
        match self {
            Raw::Sqlite(_) => format!("X'{}'", hex::encode(b)),
            Raw::Postgres(_) => format!("'\\x{}'::bytea", hex::encode(b)),
        }
    }

    /// What an attacker does first: drops the append-only triggers (after
    /// checking that they do refuse a change).
    pub async fn drop_triggers(&self) {
        let refused = self
            .exec("UPDATE audit_entries SET reason = 'x' WHERE idx = 0")
            .await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("append-only")),
            "the trigger refuses an update: {refused:?}"
        );
        let refused = self.exec("DELETE FROM audit_entries WHERE idx = 0").await;
        assert!(refused.is_err(), "the trigger refuses a delete");
        let drops: &[&str] = match self {
            Raw::Sqlite(_) => &[
                "DROP TRIGGER audit_entries_no_update",
                "DROP TRIGGER audit_entries_no_delete",
                "DROP TRIGGER audit_details_no_update",
            ],
            Raw::Postgres(_) => &[
                "DROP TRIGGER audit_entries_no_change ON audit_entries",
                "DROP TRIGGER audit_details_no_update ON audit_details",
            ],
        };
        for d in drops {
            self.exec(d).await.unwrap();
        }
    }
}

pub(crate) async fn world(b: Backend) -> World {
    let db = fresh(b).await;
    let dir = tempfile::tempdir().unwrap();
    let random = Random::os();
    let keys = Arc::new(
        anshin_core::keys::Keys::load_or_create(&dir.path().join("ring"), &random).unwrap(),
    );
    let clock = ManualClock::new(T0);
    let svc = Services::offline(
        db.store.clone(),
        keys,
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        random,
        CoreSettings::default(),
        "https://shop.example",
    )
    .unwrap();
    let signer = Arc::new(AuditSigner::from_seed("shop.example/audit", [5; 32]).unwrap());
    let witness = dir.path().join("witness");
    let checkpointer = Checkpointer::new(
        svc.clone(),
        signer.clone(),
        witness.clone(),
        None,
        std::time::Duration::from_secs(300),
        Duration::from_secs(60),
    );
    World {
        db,
        svc,
        clock,
        signer,
        checkpointer,
        witness,
        _dir: dir,
    }
}

impl World {
    /// `n` audited acts (logins of one member), each its own bundle.
    pub async fn acts(&self, n: usize) {
        let member: MemberId = self.svc.new_id();
        for i in 0..n {
            self.clock.advance(Duration::from_secs(1));
            let e = entry(
                &self.svc,
                Actor::Member(member),
                AuditAction::LoginSucceeded,
                Some(AuditTarget::member(member)),
                Some("203.0.113.9".parse().unwrap()),
                "own_account",
                serde_json::json!({ "method": "code", "n": i }),
            );
            self.svc
                .store
                .commit(&Changes::new().audited(e))
                .await
                .unwrap();
        }
    }

    pub async fn verify(&self) -> VerifyReport {
        let verifier = NoteVerifier::parse(&self.signer.verifier().to_string()).unwrap();
        verify(
            self.svc.store.as_ref(),
            self.svc.keys.audit_key(),
            &verifier,
            &read_witness(&self.witness).unwrap(),
            &mut |_| {},
        )
        .await
        .unwrap()
    }
}

/// 10 entries, a witnessed checkpoint at 10, 3 more entries, a
/// checkpoint at 13.
async fn witnessed(b: Backend) -> World {
    let w = world(b).await;
    w.acts(10).await;
    assert_eq!(w.checkpointer.checkpoint().await.unwrap().unwrap().size, 10);
    w.acts(3).await;
    assert_eq!(w.checkpointer.checkpoint().await.unwrap().unwrap().size, 13);
    w
}

fn problem_at(report: &VerifyReport, index: u64, words: &str) {
    let p = report
        .problem
        .as_ref()
        .unwrap_or_else(|| panic!("verify must fail: {report:?}"));
    assert_eq!(p.index, Some(index), "{p}");
    assert!(p.reason.contains(words), "{p}");
}

async fn c22_an_untouched_log_verifies_and_its_checkpoints_with_the_published_key(b: Backend) {
    let w = witnessed(b).await;
    let r = w.verify().await;
    assert!(r.is_sound(), "{r:?}");
    assert_eq!(r.entries, 13);
    assert_eq!(r.witnessed, Some(13));
    // Two checkpoints, each in the database and the witness directory.
    assert_eq!(r.checkpoints, 4);
    // Nothing new: no new checkpoint.
    assert!(w.checkpointer.checkpoint().await.unwrap().is_none());
    // The notes verify with the published key string and say what the
    // log recomputes to.
    let published = NoteVerifier::parse(&w.signer.verifier().to_string()).unwrap();
    let notes = read_witness(&w.witness).unwrap();
    assert_eq!(notes.len(), 2);
    let cp = published.verify(&notes[1].1).unwrap();
    assert_eq!((cp.size, cp.root), (13, r.root));
    // A key of another name or seed does not verify them.
    let stranger = AuditSigner::from_seed("shop.example/audit", [6; 32]).unwrap();
    assert!(stranger.verifier().verify(&notes[1].1).is_err());
}

async fn c22_an_edited_entry_is_named(b: Backend) {
    let w = witnessed(b).await;
    let raw = Raw::open(&w.db).await;
    raw.drop_triggers().await;
    assert_eq!(
        raw.exec("UPDATE audit_entries SET action = 'logout' WHERE idx = 4")
            .await
            .unwrap(),
        1
    );
    problem_at(&w.verify().await, 4, "does not match the tree head");
}

async fn c22_a_deleted_entry_is_named(b: Backend) {
    let w = witnessed(b).await;
    let raw = Raw::open(&w.db).await;
    raw.drop_triggers().await;
    raw.exec("DELETE FROM audit_entries WHERE idx = 6")
        .await
        .unwrap();
    problem_at(&w.verify().await, 6, "missing");
}

async fn c22_two_swapped_entries_are_named(b: Backend) {
    let w = witnessed(b).await;
    let raw = Raw::open(&w.db).await;
    raw.drop_triggers().await;
    for sql in [
        "UPDATE audit_entries SET idx = 1000 WHERE idx = 3",
        "UPDATE audit_entries SET idx = 3 WHERE idx = 5",
        "UPDATE audit_entries SET idx = 5 WHERE idx = 1000",
    ] {
        raw.exec(sql).await.unwrap();
    }
    problem_at(&w.verify().await, 3, "does not match the tree head");
}

async fn c22_a_truncated_tail_is_named_even_with_the_head_rewritten(b: Backend) {
    let w = witnessed(b).await;
    let raw = Raw::open(&w.db).await;
    raw.drop_triggers().await;
    raw.exec("DELETE FROM audit_entries WHERE idx >= 10")
        .await
        .unwrap();
    problem_at(&w.verify().await, 10, "truncated");
    // The careful attacker also rewinds the head row to 10 entries: the
    // witnessed checkpoint of 13 still names the cut.
    let mut tree = Frontier::new();
    for e in w.svc.store.audit().entries(0, 100).await.unwrap() {
        tree.push(leaf_hash(&e.entry.leaf_bytes(e.index)));
    }
    raw.exec(&format!(
        "UPDATE audit_head SET size = 10, frontier = {} WHERE id = 1",
        raw.bytes(&tree.to_bytes())
    ))
    .await
    .unwrap();
    let r = w.verify().await;
    problem_at(&r, 10, "checkpoint of size 13");
    assert!(
        r.problem.unwrap().reason.contains("witness file"),
        "names the witness"
    );
}

async fn c22_rewritten_recorded_heads_are_caught_by_the_signed_checkpoint(b: Backend) {
    let w = witnessed(b).await;
    let raw = Raw::open(&w.db).await;
    raw.drop_triggers().await;
    raw.exec("UPDATE audit_entries SET reason = 'forged' WHERE idx = 2")
        .await
        .unwrap();
    // Recompute every recorded head after the edit, as an attacker who
    // read the code can (it needs no key).
    let mut tree = Frontier::new();
    for e in w.svc.store.audit().entries(0, 100).await.unwrap() {
        tree.push(leaf_hash(&e.entry.leaf_bytes(e.index)));
        raw.exec(&format!(
            "UPDATE audit_entries SET root = {} WHERE idx = {}",
            raw.bytes(&tree.root()),
            e.index
        ))
        .await
        .unwrap();
    }
    raw.exec(&format!(
        "UPDATE audit_head SET frontier = {} WHERE id = 1",
        raw.bytes(&tree.to_bytes())
    ))
    .await
    .unwrap();
    let r = w.verify().await;
    // The first checkpoint (size 10) is where the forgery shows.
    problem_at(&r, 9, "below index 10");
    // And the checkpoint job refuses to sign the forged log.
    w.acts(1).await;
    let fresh_job = Checkpointer::new(
        w.svc.clone(),
        w.signer.clone(),
        w.witness.clone(),
        None,
        std::time::Duration::from_secs(300),
        Duration::from_secs(60),
    );
    assert!(fresh_job.checkpoint().await.is_err());
}

async fn c22_changed_details_are_named_and_purged_details_still_verify(b: Backend) {
    let w = witnessed(b).await;
    // The retention purge deletes the details of entries before a time.
    let purged = w
        .svc
        .store
        .audit()
        .purge_details(T0 + Duration::from_secs(6))
        .await
        .unwrap();
    assert_eq!(purged, 5);
    let r = w.verify().await;
    assert!(r.is_sound(), "{r:?}");
    assert_eq!(r.purged, 5);
    let raw = Raw::open(&w.db).await;
    raw.drop_triggers().await;
    raw.exec(
        "UPDATE audit_details SET details = '{\"method\":\"password\",\"n\":7}' WHERE idx = 7",
    )
    .await
    .unwrap();
    problem_at(&w.verify().await, 7, "keyed hash");
}

on_both!(
    c22_an_untouched_log_verifies_and_its_checkpoints_with_the_published_key,
    c22_an_edited_entry_is_named,
    c22_a_deleted_entry_is_named,
    c22_two_swapped_entries_are_named,
    c22_a_truncated_tail_is_named_even_with_the_head_rewritten,
    c22_rewritten_recorded_heads_are_caught_by_the_signed_checkpoint,
    c22_changed_details_are_named_and_purged_details_still_verify,
);

/// A new checkpoint is mailed to `audit.security_email` through the
/// outbox, in its own commit; no new entries, no checkpoint and no mail.
async fn c22_a_new_checkpoint_is_mailed_to_the_security_team(b: Backend) {
    let w = world(b).await;
    w.acts(3).await;
    let job = Checkpointer::new(
        w.svc.clone(),
        w.signer.clone(),
        w.witness.clone(),
        anshin_domain::EmailAddress::parse("security@shop.example"),
        std::time::Duration::from_secs(300),
        Duration::from_secs(60),
    );
    assert_eq!(job.checkpoint().await.unwrap().unwrap().size, 3);
    assert!(job.checkpoint().await.unwrap().is_none());
    let now = w.clock.now();
    let mail = w
        .svc
        .store
        .mail()
        .claim_due(now, now + Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the checkpoint mail is queued");
    assert_eq!(mail.kind, "audit_checkpoint");
    assert!(
        w.svc
            .store
            .mail()
            .claim_due(now, now + Duration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "one mail per new checkpoint"
    );
}

on_both!(c22_a_new_checkpoint_is_mailed_to_the_security_team);
