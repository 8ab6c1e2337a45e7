//! Members' encrypted personal data (C13): one data key per member (the
//! first wins), values under it, one default address, shredding by
//! deleting the key, compare-and-swap key maintenance, and KEK retirement
//! decided atomically with new data keys.

use super::fixtures::{
    address, at, commit, commit_fails, drain_outbox, join_all, mail, member_session, new_id,
    sign_up, try_commit, warm_pool,
};
use crate::{
    AddressId, AddressRecord, Changes, Collection, KekRetirement, KekUsage, LoginMethod,
    MailStatus, MemberId, ReauthDraftRecord, ReencryptProgress, Reseal, Rewrap, SealedTable,
    SessionId, Store, StoreError, Timestamp, Write, guards,
};

/// The `is_default` flags of the member's addresses, oldest first.
async fn defaults(store: &dyn Store, member: MemberId) -> Vec<bool> {
    store
        .member_data()
        .list_addresses(member)
        .await
        .expect("list")
        .iter()
        .map(|a| a.is_default)
        .collect()
}

/// (id, is_default, ciphertext) of each address, oldest first.
async fn address_rows(store: &dyn Store, member: MemberId) -> Vec<(AddressId, bool, Vec<u8>)> {
    store
        .member_data()
        .list_addresses(member)
        .await
        .expect("list")
        .into_iter()
        .map(|a| (a.id, a.is_default, a.ciphertext))
        .collect()
}

/// A member with a data key under KEK version 1 and `n` addresses
/// (ciphertexts `[0]`, `[1]`, ...; the first is the default), each a
/// second older than the next. Returns the member and the address ids,
/// oldest first.
async fn member_with_addresses(
    store: &dyn Store,
    address_text: &str,
    seed: u8,
    n: u8,
    now: Timestamp,
) -> (MemberId, Vec<AddressId>) {
    let id = sign_up(store, address_text, now, seed).await;
    store
        .member_data()
        .create_member_key(id, b"wrapped", 1, now)
        .await
        .expect("key");
    let mut ids = Vec::new();
    let mut changes = Changes::new();
    for i in 0..n {
        let a = address(id, vec![i], false, at(i64::from(i)));
        ids.push(a.id);
        changes.push(Write::AddAddress(a));
    }
    commit(store, changes).await;
    (id, ids)
}

fn not_found(err: &StoreError) -> bool {
    err.is_precondition(guards::ADDRESS_NOT_FOUND)
}

/// The first data key wins; phone, addresses and bank account round-trip
/// as ciphertext; addresses keep one default; shredding the key deletes
/// every value by cascade (and keeps the account).
pub async fn c13_member_data_round_trip_defaults_and_shred(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "md@example.jp", now, 71).await;
    let md = store.member_data();
    assert!(md.member_key(id).await.expect("key").is_none());

    // No value without the member's key.
    let err = commit_fails(
        store,
        Changes::new().with(Write::SetPhone {
            member: id,
            ciphertext: b"ct0".to_vec(),
            index: [1; 32],
            at: now,
        }),
    )
    .await;
    assert!(
        !matches!(err, StoreError::Precondition(_)),
        "no guard names this: {err:?}"
    );
    assert!(md.phone(id).await.expect("phone").is_none());

    let k = md
        .create_member_key(id, b"first", 1, now)
        .await
        .expect("create");
    assert_eq!(k.wrapped_key, b"first");
    assert_eq!(k.kek_version, 1);
    assert_eq!(k.member_id, id);
    let again = md
        .create_member_key(id, b"second", 1, now)
        .await
        .expect("create again");
    assert_eq!(again.wrapped_key, b"first", "the first key wins");
    assert_eq!(md.member_key(id).await.expect("key"), Some(k));

    for (ct, index) in [(b"ct1", [1; 32]), (b"ct2", [2; 32])] {
        commit(
            store,
            Changes::new().with(Write::SetPhone {
                member: id,
                ciphertext: ct.to_vec(),
                index,
                at: now,
            }),
        )
        .await;
    }
    assert_eq!(
        md.phone(id).await.expect("phone").as_deref(),
        Some(&b"ct2"[..])
    );
    assert_eq!(
        md.members_with_phone(&[2; 32]).await.expect("index"),
        vec![id]
    );
    assert!(
        md.members_with_phone(&[1; 32])
            .await
            .expect("index")
            .is_empty(),
        "the old blind index still finds the member"
    );

    let mut ids = Vec::new();
    for (i, default) in [(0u8, false), (1, false), (2, true)] {
        let a = address(id, vec![i], default, at(i64::from(i)));
        ids.push(a.id);
        commit(store, Changes::new().with(Write::AddAddress(a))).await;
    }
    assert_eq!(
        defaults(store, id).await,
        [false, false, true],
        "the first address became the default, then a new default took the flag"
    );
    commit(
        store,
        Changes::new().with(Write::UpdateAddress {
            member: id,
            address: ids[0],
            ciphertext: b"new".to_vec(),
            make_default: true,
            at: now,
        }),
    )
    .await;
    assert_eq!(defaults(store, id).await, [true, false, false]);
    assert_eq!(address_rows(store, id).await[0].2, b"new");
    let err = commit_fails(
        store,
        Changes::new().with(Write::UpdateAddress {
            member: new_id(),
            address: ids[0],
            ciphertext: b"x".to_vec(),
            make_default: false,
            at: now,
        }),
    )
    .await;
    assert!(not_found(&err), "updated another member's address: {err:?}");
    assert_eq!(address_rows(store, id).await[0].2, b"new");
    commit(
        store,
        Changes::new().with(Write::DeleteAddress {
            member: id,
            address: ids[0],
        }),
    )
    .await;
    assert_eq!(defaults(store, id).await, [true, false], "oldest promoted");
    let err = commit_fails(
        store,
        Changes::new().with(Write::DeleteAddress {
            member: id,
            address: ids[0],
        }),
    )
    .await;
    assert!(not_found(&err), "deleted twice: {err:?}");

    let pending = store
        .mail()
        .count_by_status(MailStatus::Pending)
        .await
        .expect("count");
    commit(
        store,
        Changes::new()
            .with(Write::SetBankAccount {
                member: id,
                ciphertext: b"bank".to_vec(),
                at: now,
            })
            .mail(mail("bank_account_changed", now)),
    )
    .await;
    assert_eq!(
        md.bank_account(id).await.expect("bank").as_deref(),
        Some(&b"bank"[..])
    );
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        pending + 1,
        "the notice is queued with the change"
    );

    assert_eq!(
        md.kek_usage().await.expect("usage"),
        [KekUsage {
            kek_version: 1,
            data_keys: 1,
            values: 4
        }],
        "one key protecting a phone, two addresses and a bank account"
    );

    commit(store, Changes::new().with(Write::Shred { member: id })).await;
    assert!(md.member_key(id).await.expect("key").is_none());
    assert!(md.phone(id).await.expect("phone").is_none());
    assert!(
        md.members_with_phone(&[2; 32])
            .await
            .expect("index")
            .is_empty()
    );
    assert!(md.bank_account(id).await.expect("bank").is_none());
    assert!(md.list_addresses(id).await.expect("list").is_empty());
    assert!(md.kek_usage().await.expect("usage").is_empty());
    assert!(
        store
            .accounts()
            .find_member(id)
            .await
            .expect("find")
            .is_some(),
        "shredding the data deleted the account"
    );
    // Shredding twice is harmless.
    commit(store, Changes::new().with(Write::Shred { member: id })).await;
}

/// Rewrap and reseal apply only to rows still holding the old bytes, in id
/// order, and reseal records its progress in the same transaction.
pub async fn c13_member_data_maintenance_is_compare_and_swap(store: &dyn Store) {
    let now = at(0);
    let id = sign_up(store, "cas@example.jp", now, 72).await;
    let md = store.member_data();
    md.create_member_key(id, b"w1", 1, now).await.expect("key");
    let keys = md.wrapped_keys_after(None, 1000).await.expect("keys");
    assert_eq!(keys.iter().map(|k| k.member_id).collect::<Vec<_>>(), [id]);
    assert!(
        md.wrapped_keys_after(Some(id), 1000)
            .await
            .expect("keys")
            .is_empty(),
        "keys after the last one"
    );
    let stale = Rewrap {
        member_id: id,
        old: b"nope".to_vec(),
        new: b"w2".to_vec(),
        new_version: 2,
    };
    assert_eq!(
        md.replace_wrapped_keys(&[stale], now)
            .await
            .expect("rewrap"),
        0
    );
    assert_eq!(
        md.member_key(id)
            .await
            .expect("key")
            .expect("some")
            .wrapped_key,
        b"w1",
        "a stale rewrap changed the key"
    );
    let good = Rewrap {
        member_id: id,
        old: b"w1".to_vec(),
        new: b"w2".to_vec(),
        new_version: 2,
    };
    assert_eq!(
        md.replace_wrapped_keys(&[good], now).await.expect("rewrap"),
        1
    );
    let key = md.member_key(id).await.expect("key").expect("some");
    assert_eq!(key.kek_version, 2);
    assert_eq!(key.wrapped_key, b"w2");

    commit(
        store,
        Changes::new().with(Write::SetPhone {
            member: id,
            ciphertext: b"p1".to_vec(),
            index: [3; 32],
            at: now,
        }),
    )
    .await;
    let page = md
        .sealed_after(SealedTable::Phones, None, 1000)
        .await
        .expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, id.as_uuid());
    assert_eq!(page[0].member_id, id);
    assert_eq!(page[0].ciphertext, b"p1");
    assert!(
        md.sealed_after(SealedTable::Phones, Some(id.as_uuid()), 1000)
            .await
            .expect("after")
            .is_empty()
    );
    let progress = ReencryptProgress {
        stage: SealedTable::Phones,
        last_id: id.as_uuid(),
        done: 1,
    };
    let reseals = [
        Reseal {
            id: id.as_uuid(),
            old: b"p1".to_vec(),
            new: b"p2".to_vec(),
        },
        Reseal {
            id: id.as_uuid(),
            old: b"p1".to_vec(),
            new: b"p3".to_vec(),
        },
    ];
    assert_eq!(
        md.reseal(SealedTable::Phones, &reseals, &progress, now)
            .await
            .expect("reseal"),
        1
    );
    assert_eq!(
        md.phone(id).await.expect("phone").as_deref(),
        Some(&b"p2"[..])
    );
    assert_eq!(
        md.reencrypt_progress().await.expect("progress"),
        Some(progress)
    );
    md.clear_reencrypt_progress().await.expect("clear");
    assert_eq!(md.reencrypt_progress().await.expect("progress"), None);
}

/// Address pages walk in id order, batch by batch.
pub async fn c13_sealed_addresses_are_walked_in_id_order(store: &dyn Store) {
    let now = at(0);
    let (owner, ids) = member_with_addresses(store, "walk@example.jp", 1, 5, now).await;
    let md = store.member_data();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = md
            .sealed_after(SealedTable::Addresses, after, 2)
            .await
            .expect("page");
        assert!(page.len() <= 2, "a page larger than asked");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.iter().map(|v| (v.id, v.member_id)));
    }
    let mut expected: Vec<_> = ids.iter().map(|a| (a.as_uuid(), owner)).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

/// "Make default" sets the flag of the owner's address and clears the
/// others in one transaction, and never writes a ciphertext: an edit saved
/// between the page's read and this call is kept. Another member's id, or
/// no address at all, fails the guard and changes nothing.
pub async fn c13_set_default_address_touches_only_the_flag_of_the_owners_address(
    store: &dyn Store,
) {
    let now = at(0);
    let md = store.member_data();
    let (owner, ids) = member_with_addresses(store, "default@example.jp", 150, 3, now).await;
    let (other, other_ids) = member_with_addresses(store, "other@example.jp", 151, 1, now).await;
    let before = address_rows(store, owner).await;
    let other_before = address_rows(store, other).await;
    assert_eq!(
        before.iter().map(|a| a.1).collect::<Vec<_>>(),
        [true, false, false]
    );

    // Someone else's address id, an unknown id, a member without a key:
    // the guard fails, and no flag moved (the cleared default is rolled
    // back).
    for (member, address) in [
        (other, ids[2]),
        (owner, other_ids[0]),
        (owner, new_id()),
        (new_id(), ids[2]),
    ] {
        let err = commit_fails(
            store,
            Changes::new().with(Write::SetDefaultAddress {
                member,
                address,
                at: now,
            }),
        )
        .await;
        assert!(not_found(&err), "{err:?}");
    }
    assert_eq!(address_rows(store, owner).await, before, "owner unchanged");
    assert_eq!(
        address_rows(store, other).await,
        other_before,
        "other unchanged"
    );

    // The page read the third address, then an edit of it was saved, then
    // the owner pressed "make default": the edit stays.
    let stale = before[2].2.clone();
    commit(
        store,
        Changes::new().with(Write::UpdateAddress {
            member: owner,
            address: ids[2],
            ciphertext: b"edited".to_vec(),
            make_default: false,
            at: at(1),
        }),
    )
    .await;
    commit(
        store,
        Changes::new().with(Write::SetDefaultAddress {
            member: owner,
            address: ids[2],
            at: at(2),
        }),
    )
    .await;
    let after = address_rows(store, owner).await;
    assert_eq!(
        after.iter().map(|a| a.1).collect::<Vec<_>>(),
        [false, false, true],
        "exactly one default, the chosen one"
    );
    assert_eq!(after[2].2, b"edited", "the edit is kept");
    assert_ne!(after[2].2, stale);
    assert_eq!(after[0].2, before[0].2, "other ciphertexts untouched");
    assert_eq!(after[1].2, before[1].2, "other ciphertexts untouched");
    let updated = md
        .list_addresses(owner)
        .await
        .expect("list")
        .into_iter()
        .find(|a| a.id == ids[2])
        .expect("present")
        .updated_at;
    assert_eq!(updated, at(2));
    // Again on the default: still exactly one.
    commit(
        store,
        Changes::new().with(Write::SetDefaultAddress {
            member: owner,
            address: ids[2],
            at: at(3),
        }),
    )
    .await;
    assert_eq!(
        address_rows(store, owner)
            .await
            .iter()
            .filter(|a| a.1)
            .count(),
        1
    );
}

fn one_write(write: Write) -> Changes {
    Changes::new().with(write)
}

/// Many "make default" presses on different addresses at once, while the
/// member edits one of them: every commit succeeds, exactly one address
/// is the default afterwards, and the last edit is what is stored.
pub async fn c13_parallel_default_changes_and_edits_keep_one_default_and_every_edit(
    store: &dyn Store,
) {
    let now = at(0);
    let (owner, ids) = member_with_addresses(store, "parallel@example.jp", 152, 3, now).await;
    let presses = (0..12usize).map(|i| {
        try_commit(
            store,
            one_write(Write::SetDefaultAddress {
                member: owner,
                address: ids[i % 3],
                at: at(1),
            }),
        )
    });
    let edits = async {
        for i in 0..12u8 {
            store
                .commit(&one_write(Write::UpdateAddress {
                    member: owner,
                    address: ids[1],
                    ciphertext: vec![b'e', i],
                    make_default: false,
                    at: at(1),
                }))
                .await
                .expect("edit");
        }
    };
    let (results, ()) = tokio::join!(join_all(presses), edits);
    for r in results {
        r.expect("make default (no unique-index conflict)");
    }
    let rows = address_rows(store, owner).await;
    assert_eq!(
        rows.iter().filter(|a| a.1).count(),
        1,
        "exactly one default: {rows:?}"
    );
    assert_eq!(rows[1].2, [b'e', 11], "the last edit is stored");
    // New addresses marked default and edits that make one default, all at
    // once: no unique-index conflict, still exactly one default.
    let adds = (0..8u8).map(|i| {
        let a = address(owner, vec![b'n', i], true, at(10 + i64::from(i)));
        try_commit(store, one_write(Write::AddAddress(a)))
    });
    let make_default = (0..8usize).map(|i| {
        try_commit(
            store,
            one_write(Write::UpdateAddress {
                member: owner,
                address: ids[i % 3],
                ciphertext: b"d".to_vec(),
                make_default: true,
                at: at(11),
            }),
        )
    });
    let (added, updated) = tokio::join!(join_all(adds), join_all(make_default));
    for r in added {
        r.expect("add a default address (no unique-index conflict)");
    }
    for r in updated {
        r.expect("edit making it default (no unique-index conflict)");
    }
    let rows = address_rows(store, owner).await;
    assert_eq!(rows.len(), 11);
    assert_eq!(
        rows.iter().filter(|a| a.1).count(),
        1,
        "exactly one default: {rows:?}"
    );
}

/// Deleting addresses (the default among them) while other addresses are
/// made the default, edited into the default or added as the default, all
/// at once: every commit succeeds and exactly one address is the default.
pub async fn c13_parallel_deletes_and_default_changes_keep_one_default(store: &dyn Store) {
    for round in 0..6u8 {
        let (owner, ids) = member_with_addresses(
            store,
            &format!("delete{round}@example.jp"),
            160 + round,
            8,
            at(0),
        )
        .await;
        let deletes = ids[..3].iter().map(|&address| {
            try_commit(
                store,
                one_write(Write::DeleteAddress {
                    member: owner,
                    address,
                }),
            )
        });
        let presses = ids[3..6].iter().map(|&address| {
            try_commit(
                store,
                one_write(Write::SetDefaultAddress {
                    member: owner,
                    address,
                    at: at(20),
                }),
            )
        });
        let edit = try_commit(
            store,
            one_write(Write::UpdateAddress {
                member: owner,
                address: ids[6],
                ciphertext: b"edited".to_vec(),
                make_default: true,
                at: at(20),
            }),
        );
        let add = try_commit(
            store,
            one_write(Write::AddAddress(address(
                owner,
                b"added".to_vec(),
                true,
                at(20),
            ))),
        );
        let all: Vec<_> = deletes.chain(presses).chain([edit, add]).collect();
        for r in join_all(all).await {
            r.expect("no unique-index conflict, no missing address");
        }
        let rows = address_rows(store, owner).await;
        assert_eq!(rows.len(), 6, "round {round}: {rows:?}");
        assert_eq!(
            rows.iter().filter(|a| a.1).count(),
            1,
            "round {round}: exactly one default: {rows:?}"
        );
    }
}

/// A KEK version with a data key under it cannot be retired (and the
/// refusal records nothing); once retired, no data key wrapped under it is
/// stored, whoever tries.
pub async fn c13_retired_kek_version_takes_no_new_data_key(store: &dyn Store) {
    let now = at(0);
    let md = store.member_data();
    let m1 = sign_up(store, "kek1@example.jp", now, 153).await;
    let m2 = sign_up(store, "kek2@example.jp", now, 154).await;
    let m3 = sign_up(store, "kek3@example.jp", now, 155).await;
    md.create_member_key(m1, b"w1", 901, now)
        .await
        .expect("key under 901");
    assert_eq!(
        md.retire_kek_version(901, now).await.expect("retire"),
        KekRetirement::InUse { data_keys: 1 }
    );
    // Refused retirement leaves the version usable.
    md.create_member_key(m2, b"w2", 901, now)
        .await
        .expect("901 still live");
    assert_eq!(
        md.retire_kek_version(901, now).await.expect("retire"),
        KekRetirement::InUse { data_keys: 2 }
    );
    // Rewrapped away (what `keys rotate` does): now it retires, twice.
    for m in [m1, m2] {
        let old = md.member_key(m).await.expect("key").expect("some");
        let r = Rewrap {
            member_id: m,
            old: old.wrapped_key,
            new: b"w-902".to_vec(),
            new_version: 902,
        };
        assert_eq!(md.replace_wrapped_keys(&[r], now).await.expect("rewrap"), 1);
    }
    assert_eq!(
        md.retire_kek_version(901, now).await.expect("retire"),
        KekRetirement::Retired
    );
    assert_eq!(
        md.retire_kek_version(901, at(1)).await.expect("again"),
        KekRetirement::Retired
    );
    // A server still wrapping under 901 is refused, and nothing is stored.
    assert!(matches!(
        md.create_member_key(m3, b"w3", 901, now).await,
        Err(StoreError::RetiredKek(901))
    ));
    assert!(md.member_key(m3).await.expect("key").is_none());
    assert_eq!(
        md.kek_usage().await.expect("usage"),
        [KekUsage {
            kek_version: 902,
            data_keys: 2,
            values: 0
        }]
    );
    // A version never used retires at once.
    assert_eq!(
        md.retire_kek_version(800, now).await.expect("unused"),
        KekRetirement::Retired
    );
    // Under the current version it works.
    let k = md
        .create_member_key(m3, b"w3", 902, now)
        .await
        .expect("key under 902");
    assert_eq!(k.kek_version, 902);
}

/// `keys retire` and a server storing a new data key under the same
/// version, at the same moment, many times: never both succeed, so no
/// stored key is ever wrapped under a retired version.
pub async fn c13_retire_and_a_new_data_key_never_both_succeed(store: &dyn Store) {
    let now = at(0);
    let md = store.member_data();
    let mut members = Vec::new();
    for i in 0..24u8 {
        members.push(sign_up(store, &format!("race{i}@example.jp"), now, 160 + i).await);
    }
    let mut retired = 0;
    let mut stored = 0;
    for (version, m) in (910i64..).zip(&members) {
        let (key, retire) = tokio::join!(
            md.create_member_key(*m, b"w", version, now),
            md.retire_kek_version(version, now),
        );
        let key_stored = match key {
            Ok(k) => {
                assert_eq!(k.kek_version, version);
                true
            }
            Err(e) => {
                assert!(
                    matches!(e, StoreError::RetiredKek(v) if v == version),
                    "create_member_key: {e}"
                );
                false
            }
        };
        match retire.expect("retire") {
            KekRetirement::Retired => {
                retired += 1;
                assert!(
                    !key_stored,
                    "v{version}: retired with a key stored under it"
                );
                assert!(md.member_key(*m).await.expect("key").is_none());
            }
            KekRetirement::InUse { data_keys } => {
                stored += 1;
                assert!(key_stored, "v{version}: refused without a key");
                assert_eq!(data_keys, 1);
            }
        }
    }
    assert_eq!(retired + stored, members.len());
}

/// Removing the phone or the bank account deletes the ciphertext (and the
/// phone's blind index), touches nothing else, and is fine when there is
/// nothing to remove.
pub async fn c13_removing_phone_and_bank_account_deletes_their_ciphertext(store: &dyn Store) {
    let now = at(0);
    let md = store.member_data();
    let mut members = Vec::new();
    for (n, text) in [(81u8, "rm1@example.jp"), (82, "rm2@example.jp")] {
        let id = sign_up(store, text, now, n).await;
        md.create_member_key(id, b"wrapped", 1, now)
            .await
            .expect("key");
        commit(
            store,
            Changes::new()
                .with(Write::SetPhone {
                    member: id,
                    ciphertext: vec![n],
                    index: [9; 32],
                    at: now,
                })
                .with(Write::SetBankAccount {
                    member: id,
                    ciphertext: vec![n, n],
                    at: now,
                }),
        )
        .await;
        members.push(id);
    }
    let (a, b) = (members[0], members[1]);
    commit(store, Changes::new().with(Write::RemovePhone { member: a })).await;
    assert!(md.phone(a).await.expect("phone").is_none());
    assert_eq!(md.members_with_phone(&[9; 32]).await.expect("index"), [b]);
    assert_eq!(md.bank_account(a).await.expect("bank"), Some(vec![81, 81]));
    commit(
        store,
        Changes::new().with(Write::RemoveBankAccount { member: a }),
    )
    .await;
    assert!(md.bank_account(a).await.expect("bank").is_none());
    // The other member keeps theirs; removing twice is fine.
    assert_eq!(md.phone(b).await.expect("phone"), Some(vec![82]));
    assert_eq!(md.bank_account(b).await.expect("bank"), Some(vec![82, 82]));
    commit(
        store,
        Changes::new()
            .with(Write::RemovePhone { member: a })
            .with(Write::RemoveBankAccount { member: a }),
    )
    .await;
    assert!(
        md.member_key(a).await.expect("key").is_some(),
        "the key stays"
    );
}

fn draft(
    session: SessionId,
    member: MemberId,
    ct: &[u8],
    expires_at: Timestamp,
) -> ReauthDraftRecord {
    ReauthDraftRecord {
        session,
        member_id: member,
        kind: "bank_account".into(),
        ciphertext: ct.to_vec(),
        expires_at,
    }
}

/// A draft kept across a re-authentication belongs to one session and
/// kind: a newer one replaces it, another session sees nothing, it is
/// unreadable once expired and purged with expired sessions, and it goes
/// with its session and with the member's key.
pub async fn c13_reauth_drafts_are_per_session_expire_and_go_with_the_session(store: &dyn Store) {
    let now = at(0);
    let md = store.member_data();
    let member = sign_up(store, "draft@example.jp", now, 91).await;
    md.create_member_key(member, b"wrapped", 1, now)
        .await
        .expect("key");
    let one = member_session(member, 92, now, LoginMethod::Code);
    let two = member_session(member, 93, now, LoginMethod::Code);
    let (s1, s2) = (one.id, two.id);
    commit(
        store,
        Changes::new()
            .with(Write::CreateSession(one))
            .with(Write::CreateSession(two)),
    )
    .await;
    let later = at(600);
    commit(
        store,
        Changes::new().with(Write::KeepReauthDraft(draft(s1, member, b"a", later))),
    )
    .await;
    commit(
        store,
        Changes::new().with(Write::KeepReauthDraft(draft(s1, member, b"b", later))),
    )
    .await;
    let got = md
        .reauth_draft(s1, "bank_account", now)
        .await
        .expect("draft");
    assert_eq!(
        got.map(|d| d.ciphertext),
        Some(b"b".to_vec()),
        "the newer one"
    );
    assert!(
        md.reauth_draft(s2, "bank_account", now)
            .await
            .expect("draft")
            .is_none()
    );
    assert!(
        md.reauth_draft(s1, "other", now)
            .await
            .expect("draft")
            .is_none()
    );
    // Expired: not returned, then purged.
    assert!(
        md.reauth_draft(s1, "bank_account", later)
            .await
            .expect("draft")
            .is_none()
    );
    store.sessions().purge_expired(later).await.expect("purge");
    assert!(
        md.reauth_draft(s1, "bank_account", now)
            .await
            .expect("draft")
            .is_none()
    );
    // Dropped explicitly.
    commit(
        store,
        Changes::new().with(Write::KeepReauthDraft(draft(s2, member, b"c", later))),
    )
    .await;
    commit(
        store,
        Changes::new().with(Write::DropReauthDraft {
            session: s2,
            kind: "bank_account".into(),
        }),
    )
    .await;
    assert!(
        md.reauth_draft(s2, "bank_account", now)
            .await
            .expect("draft")
            .is_none()
    );
    // Gone with the session, and with the member's key.
    commit(
        store,
        Changes::new().with(Write::KeepReauthDraft(draft(s1, member, b"d", later))),
    )
    .await;
    commit(
        store,
        Changes::new().with(Write::KeepReauthDraft(draft(s2, member, b"e", later))),
    )
    .await;
    commit(store, Changes::new().with(Write::EndSession(s1))).await;
    assert!(
        md.reauth_draft(s1, "bank_account", now)
            .await
            .expect("draft")
            .is_none()
    );
    assert!(
        md.reauth_draft(s2, "bank_account", now)
            .await
            .expect("draft")
            .is_some()
    );
    commit(store, Changes::new().with(Write::Shred { member })).await;
    assert!(
        md.reauth_draft(s2, "bank_account", now)
            .await
            .expect("draft")
            .is_none()
    );
}

/// The address limit (issue 19): a bundle guarded by
/// `EnsureRoom { Addresses, max }` fails whole at the limit; many adds at
/// `max - 1` at once leave exactly `max` addresses, and every refused one
/// says why. Another member's addresses do not count.
pub async fn c13_parallel_adds_at_the_address_limit_leave_exactly_the_limit(store: &dyn Store) {
    const MAX: u32 = 4;
    let now = at(0);
    let (owner, _) = member_with_addresses(store, "limit@example.jp", 160, 3, now).await;
    let (_other, _) = member_with_addresses(store, "limit-other@example.jp", 161, 4, now).await;
    let guarded = |a: AddressRecord| {
        Changes::new()
            .with(Write::EnsureRoom {
                member: a.member_id,
                collection: Collection::Addresses,
                max: MAX,
                now: at(5),
            })
            .with(Write::AddAddress(a))
    };
    // A few rounds: each starts at max - 1 with every connection open.
    for round in 0..4u8 {
        warm_pool(store, 8).await;
        let adds = (0..8u8).map(|i| {
            try_commit(
                store,
                guarded(address(owner, vec![b'p', round, i], false, at(5))),
            )
        });
        let results = join_all(adds).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "exactly one add at max - 1 passes: {results:?}");
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(r.is_precondition(guards::LIMIT_REACHED), "{r:?}");
        }
        let rows = address_rows(store, owner).await;
        assert_eq!(rows.len(), MAX as usize);
        if round < 3 {
            let added = rows
                .iter()
                .find(|a| a.2.len() == 3)
                .expect("the added one")
                .0;
            commit(
                store,
                one_write(Write::DeleteAddress {
                    member: owner,
                    address: added,
                }),
            )
            .await;
        }
    }
    // At the limit, the whole bundle is refused (its mail too).
    drain_outbox(store, at(6)).await;
    let err = commit_fails(
        store,
        guarded(address(owner, b"late".to_vec(), true, at(6))).mail(mail("limit", at(6))),
    )
    .await;
    assert!(err.is_precondition(guards::LIMIT_REACHED), "{err:?}");
    assert_eq!(address_rows(store, owner).await.len(), MAX as usize);
    assert_eq!(
        store
            .mail()
            .count_by_status(MailStatus::Pending)
            .await
            .expect("count"),
        0,
        "the refused bundle queued no mail"
    );
    // Room again after a delete.
    let first = address_rows(store, owner).await[0].0;
    commit(
        store,
        one_write(Write::DeleteAddress {
            member: owner,
            address: first,
        }),
    )
    .await;
    commit(
        store,
        guarded(address(owner, b"again".to_vec(), false, at(7))),
    )
    .await;
    assert_eq!(address_rows(store, owner).await.len(), MAX as usize);
}
