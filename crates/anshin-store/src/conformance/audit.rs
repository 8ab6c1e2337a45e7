//! The audit log (C22): gap-free indexes assigned in the writing
//! transaction, the recorded tree heads, details kept apart and purged,
//! checkpoints kept once per size.

use super::fixtures::{at, commit, commit_fails, join_all, new_id, new_member};
use crate::audit::{Frontier, leaf_hash};
use crate::{
    Actor, AuditAction, AuditEntry, AuditTarget, Changes, MemberId, SessionId, Store,
    StoredAuditEntry, StoredCheckpoint, Timestamp, Write, guards,
};

fn entry(member: MemberId, action: AuditAction, now: Timestamp, details: &str) -> AuditEntry {
    AuditEntry {
        actor: Actor::Member(member),
        action,
        target: Some(AuditTarget::member(member)),
        at: now,
        origin: Some("203.0.113.0/24".into()),
        reason: "own_account".into(),
        details_mac: [7; 32],
        details: Some(details.into()),
    }
}

async fn all_entries(store: &dyn Store) -> Vec<StoredAuditEntry> {
    let mut out = Vec::new();
    loop {
        let next = out.len() as u64;
        let page = store.audit().entries(next, 7).await.expect("entries");
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Indexes run 0, 1, 2, … and each recorded head is the RFC 6962 tree
/// hash of the entries up to it; the head row agrees.
fn assert_chain(entries: &[StoredAuditEntry]) -> Frontier {
    let mut tree = Frontier::new();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.index, i as u64, "gap-free indexes");
        tree.push(leaf_hash(&e.entry.leaf_bytes(e.index)));
        assert_eq!(e.root, tree.root(), "recorded head of index {i}");
    }
    tree
}

pub async fn c22_audit_entries_get_gap_free_indexes_and_recorded_heads(store: &dyn Store) {
    let m = new_member("audit@example.com", at(0));
    let member = m.id;
    commit(store, Changes::new().with(Write::CreateMember(m))).await;
    for i in 0..5i64 {
        let mut c = Changes::new().audited(entry(
            member,
            AuditAction::LoginSucceeded,
            at(i),
            &format!("{{\"n\":{i}}}"),
        ));
        if i % 2 == 0 {
            c.push_audit(entry(member, AuditAction::PasswordSet, at(i), "{}"));
        }
        // An entry without details: its writes travel without that row.
        if i == 3 {
            c.push_audit(AuditEntry {
                details: None,
                ..entry(member, AuditAction::Logout, at(i), "")
            });
        }
        commit(store, c).await;
    }
    let entries = all_entries(store).await;
    assert_eq!(entries.len(), 9);
    let tree = assert_chain(&entries);
    assert_eq!(
        entries[0].entry,
        entry(member, AuditAction::LoginSucceeded, at(0), "{\"n\":0}")
    );
    assert_eq!(entries[1].entry.action, AuditAction::PasswordSet);
    assert_eq!(entries[6].entry.action, AuditAction::Logout);
    assert_eq!(entries[6].entry.details, None, "no details row was made");
    assert_eq!(
        entries[7].entry,
        entry(member, AuditAction::LoginSucceeded, at(4), "{\"n\":4}"),
        "the entry after one without details has its own"
    );
    let head = store.audit().head().await.expect("head");
    assert_eq!(head.size, 9);
    assert_eq!(head.frontier.expect("frontier fits").root(), tree.root());
}

pub async fn c22_parallel_audited_bundles_append_a_gap_free_sequence(store: &dyn Store) {
    let member: MemberId = new_id();
    let n = 24;
    let bundles: Vec<Changes> = (0..n)
        .map(|i| Changes::new().audited(entry(member, AuditAction::LoginFailed, at(i), "{}")))
        .collect();
    let results = join_all(bundles.iter().map(|c| store.commit(c))).await;
    for r in results {
        r.expect("every audited bundle commits");
    }
    let entries = all_entries(store).await;
    assert_eq!(entries.len(), n as usize);
    assert_chain(&entries);
    assert_eq!(store.audit().head().await.expect("head").size, n as u64);
}

pub async fn c22_a_failed_bundle_leaves_no_audit_entry_and_no_gap(store: &dyn Store) {
    let member: MemberId = new_id();
    let failing = Changes::new()
        .audited(entry(member, AuditAction::Logout, at(0), "{}"))
        .with(Write::EndMemberSession {
            member,
            session: new_id::<SessionId>(),
        });
    let e = commit_fails(store, failing).await;
    assert!(e.is_precondition(guards::SESSION_NOT_FOUND), "{e:?}");
    assert!(all_entries(store).await.is_empty());
    let malformed = AuditEntry {
        reason: "line\nbreak".into(),
        ..entry(member, AuditAction::Logout, at(0), "{}")
    };
    let e = commit_fails(store, Changes::new().audited(malformed)).await;
    assert!(e.is_precondition(guards::AUDIT_ENTRY_INVALID), "{e:?}");
    commit(
        store,
        Changes::new().audited(entry(member, AuditAction::Logout, at(1), "{}")),
    )
    .await;
    let entries = all_entries(store).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].index, 0);
    assert_chain(&entries);
}

pub async fn c22_purging_details_keeps_the_entries_and_their_heads(store: &dyn Store) {
    let member: MemberId = new_id();
    for i in 0..4i64 {
        commit(
            store,
            Changes::new().audited(entry(
                member,
                AuditAction::EmailChanged,
                at(i * 100),
                "{\"a\":1}",
            )),
        )
        .await;
    }
    let before = all_entries(store).await;
    let purged = store.audit().purge_details(at(150)).await.expect("purge");
    assert_eq!(purged, 2);
    let after = all_entries(store).await;
    assert_eq!(after.len(), 4);
    assert_eq!(after[0].entry.details, None);
    assert_eq!(after[1].entry.details, None);
    assert_eq!(after[2].entry.details.as_deref(), Some("{\"a\":1}"));
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.root, a.root);
        assert_eq!(b.entry.details_mac, a.entry.details_mac);
    }
    assert_chain(&after);
}

pub async fn c22_checkpoints_are_kept_once_per_size_in_order(store: &dyn Store) {
    let cp = |size: u64, seed: u8| StoredCheckpoint {
        size,
        root: [seed; 32],
        at: at(size as i64),
        note: format!("note {size}\n"),
    };
    assert!(store.audit().add_checkpoint(&cp(5, 1)).await.expect("add"));
    assert!(store.audit().add_checkpoint(&cp(2, 2)).await.expect("add"));
    assert!(
        !store
            .audit()
            .add_checkpoint(&cp(5, 9))
            .await
            .expect("add again")
    );
    let all = store.audit().checkpoints().await.expect("list");
    assert_eq!(all, vec![cp(2, 2), cp(5, 1)]);
}

/// The console's search (C22): newest first, by person (actor, or a
/// member or staff record that is theirs), by record, by time, and a page
/// at a time below an index; purged details read back as `None`.
pub async fn c22_the_audit_search_filters_by_person_record_and_time_in_pages(store: &dyn Store) {
    let a = new_member("search-a@example.com", at(0));
    let b = new_member("search-b@example.com", at(0));
    let (ma, mb) = (a.id, b.id);
    commit(
        store,
        Changes::new()
            .with(Write::CreateMember(a))
            .with(Write::CreateMember(b)),
    )
    .await;
    let staff = uuid::Uuid::from_u128(42);
    for i in 0..6i64 {
        let member = if i % 2 == 0 { ma } else { mb };
        commit(
            store,
            Changes::new().audited(entry(member, AuditAction::LoginSucceeded, at(i * 10), "{}")),
        )
        .await;
    }
    // A staff member views member a: actor staff, target a.
    commit(
        store,
        Changes::new().audited(AuditEntry {
            actor: Actor::Staff(staff),
            action: AuditAction::MemberDataViewed,
            target: Some(AuditTarget::member(ma)),
            ..entry(ma, AuditAction::LoginSucceeded, at(100), "{}")
        }),
    )
    .await;
    let audit = store.audit();
    let search = |q: crate::AuditQuery| async move {
        audit
            .search(&q)
            .await
            .expect("search")
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>()
    };
    let q = crate::AuditQuery {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        search(q.clone()).await,
        [6, 5, 4, 3, 2, 1, 0],
        "newest first"
    );
    let by_a = crate::AuditQuery {
        person: Some(ma.to_string()),
        ..q.clone()
    };
    assert_eq!(search(by_a.clone()).await, [6, 4, 2, 0]);
    let by_staff = crate::AuditQuery {
        person: Some(staff.to_string()),
        ..q.clone()
    };
    assert_eq!(search(by_staff).await, [6]);
    let record_b = crate::AuditQuery {
        record: Some(mb.to_string()),
        ..q.clone()
    };
    assert_eq!(search(record_b).await, [5, 3, 1]);
    let window = crate::AuditQuery {
        since: Some(at(10)),
        until: Some(at(40)),
        ..q.clone()
    };
    assert_eq!(
        search(window).await,
        [3, 2, 1],
        "since inclusive, until not"
    );
    let page = crate::AuditQuery {
        before_index: Some(4),
        limit: 2,
        ..by_a
    };
    assert_eq!(search(page).await, [2, 0]);
    assert_eq!(audit.purge_details(at(15)).await.expect("purge"), 2);
    let found = audit.search(&q).await.expect("search");
    let kept: Vec<bool> = found.iter().map(|e| e.entry.details.is_some()).collect();
    assert_eq!(kept, [true, true, true, true, true, false, false]);
}

/// `scan` (the verifier's read) gives the same entries as `entries`, page
/// by page: the same indexes, the same canonical bytes, recorded heads,
/// keyed hashes and details (text with quotes, backslashes, control
/// characters and non-ASCII, as JSON carries it), purged details as
/// absent, entries without target or network; an empty page at the end.
pub async fn c22_the_verifiers_scan_reads_what_entries_reads(store: &dyn Store) {
    let m = new_member("scan@example.com", at(0));
    let member = m.id;
    commit(store, Changes::new().with(Write::CreateMember(m))).await;
    let odd = "{\"note\":\"a \\\"quote\\\", a \\\\, \\u0001, \u{1}\t\n and 安心 \u{1F600}\"}";
    for i in 0..9i64 {
        let mut e = entry(member, AuditAction::LoginSucceeded, at(i), odd);
        e.details_mac = [u8::try_from(i).unwrap_or(0).wrapping_mul(29); 32];
        if i % 3 == 1 {
            e.actor = Actor::System;
            e.target = None;
            e.origin = None;
            e.details = None;
        }
        if i == 5 {
            e.actor = Actor::Staff(uuid::Uuid::now_v7());
            e.target = Some(AuditTarget::staff(uuid::Uuid::now_v7()));
            e.details = Some(String::new());
        }
        commit(store, Changes::new().audited(e)).await;
    }
    store
        .audit()
        .purge_details(at(3))
        .await
        .expect("purge the first three");
    let want = all_entries(store).await;
    assert_eq!(want.len(), 9);
    let mut got = Vec::new();
    let mut from = 0;
    loop {
        let page = store.audit().scan(from, 4).await.expect("scan");
        let rows = page.rows().expect("rows");
        let Some(last) = page.last_index() else {
            assert!(rows.is_empty());
            break;
        };
        assert_eq!(rows.last().map(|r| r.index().expect("index")), Some(last));
        for r in &rows {
            let index = r.index().expect("index");
            let mut leaf = Vec::new();
            r.write_leaf_bytes(index, &mut leaf).expect("leaf");
            got.push((
                index,
                leaf,
                r.root().expect("root"),
                r.details_mac().expect("mac"),
                r.details().map(str::to_owned),
            ));
        }
        from = last + 1;
    }
    let want: Vec<_> = want
        .iter()
        .map(|e| {
            (
                e.index,
                e.entry.leaf_bytes(e.index),
                e.root,
                e.entry.details_mac,
                e.entry.details.clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(got.iter().filter(|g| g.4.is_none()).count() >= 3, "purged");
    assert_eq!(got[6].4.as_deref(), Some(odd));
}
