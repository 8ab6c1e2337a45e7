//! The shipping centre's terminals, shifts and void requests (C24, C25):
//! the rules the database keeps whatever instance writes.

use super::fixtures::{at, commit, commit_fails, email, join_all, new_id};
use crate::centre::{NewShift, NewTerminal, NewVoidRequest, ShiftEnd, TerminalStatus, VoidStatus};
use crate::staff::NewStaff;
use crate::{
    Changes, ShiftId, StaffId, StaffRole, Store, StoreError, TerminalId, Timestamp, Write, guards,
};

async fn staff(store: &dyn Store, address: &str, role: StaffRole, seed: u8) -> StaffId {
    let id = new_id();
    commit(
        store,
        Changes::new().with(Write::CreateStaff(NewStaff {
            id,
            email: email(address),
            role,
            created_at: at(0),
            enrol_token_hash: [seed; 32],
            enrol_expires_at: at(3600),
        })),
    )
    .await;
    id
}

async fn terminal(store: &dyn Store, label: &str, by: StaffId) -> TerminalId {
    let id = new_id();
    commit(
        store,
        Changes::new().with(Write::RegisterTerminal(NewTerminal {
            id,
            label: label.into(),
            serial: format!("SN-{label}"),
            registered_at: at(0),
            registered_by: by,
        })),
    )
    .await;
    id
}

fn check_in(staff: StaffId, terminal: TerminalId, now: Timestamp) -> (ShiftId, Changes) {
    let id = new_id();
    (
        id,
        Changes::new().with(Write::OpenShift(NewShift {
            id,
            staff,
            terminal,
            session: new_id(),
            started_at: now,
        })),
    )
}

/// A terminal registers once per label and serial; it is checked out by
/// one open shift at a time, a worker holds one open shift at a time; a
/// checked-out terminal cannot be retired, a retired one cannot be
/// checked out; the shift log reads back who, which terminal, from, to.
pub async fn c24_a_shift_holds_one_terminal_and_a_terminal_one_shift(store: &dyn Store) {
    let manager = staff(store, "m@example.jp", StaffRole::ShippingManager, 1).await;
    let worker = staff(store, "w@example.jp", StaffRole::ShippingWorker, 2).await;
    let other = staff(store, "o@example.jp", StaffRole::ShippingWorker, 3).await;
    let t1 = terminal(store, "T-01", manager).await;
    let t2 = terminal(store, "T-02", manager).await;
    let dup = commit_fails(
        store,
        Changes::new().with(Write::RegisterTerminal(NewTerminal {
            id: new_id(),
            label: "T-01".into(),
            serial: "other".into(),
            registered_at: at(1),
            registered_by: manager,
        })),
    )
    .await;
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");

    let (shift, changes) = check_in(worker, t1, at(10));
    commit(store, changes).await;
    let repo = store.centre();
    let open = repo
        .open_shift_of(worker)
        .await
        .expect("read")
        .expect("open");
    assert_eq!(
        (open.id, open.terminal, open.started_at),
        (shift, t1, at(10))
    );
    assert_eq!(open.terminal_label, "T-01");
    assert!(open.is_open());
    let t = repo.find_terminal(t1).await.expect("read").expect("found");
    assert_eq!(t.checked_out_to, Some(shift));

    // The worker again (another terminal), another worker on t1.
    let again = commit_fails(store, check_in(worker, t2, at(11)).1).await;
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let taken = commit_fails(store, check_in(other, t1, at(11)).1).await;
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken:?}");

    // No retiring a terminal in use.
    let in_use = commit_fails(
        store,
        Changes::new().with(Write::RetireTerminal {
            terminal: t1,
            at: at(12),
        }),
    )
    .await;
    assert!(
        matches!(in_use, StoreError::Precondition(g) if g == guards::TERMINAL_IN_USE),
        "{in_use:?}"
    );

    // Someone else's shift does not end by naming it.
    let not_theirs = commit_fails(
        store,
        Changes::new().with(Write::EndShift {
            shift,
            staff: other,
            end: ShiftEnd::CheckedOut,
            at: at(13),
        }),
    )
    .await;
    assert!(
        matches!(not_theirs, StoreError::Precondition(g) if g == guards::SHIFT_NOT_OPEN),
        "{not_theirs:?}"
    );
    commit(
        store,
        Changes::new().with(Write::EndShift {
            shift,
            staff: worker,
            end: ShiftEnd::CheckedOut,
            at: at(20),
        }),
    )
    .await;
    assert!(repo.open_shift_of(worker).await.expect("read").is_none());
    let twice = commit_fails(
        store,
        Changes::new().with(Write::EndShift {
            shift,
            staff: worker,
            end: ShiftEnd::CheckedOut,
            at: at(21),
        }),
    )
    .await;
    assert!(
        matches!(twice, StoreError::Precondition(g) if g == guards::SHIFT_NOT_OPEN),
        "{twice:?}"
    );

    // Returned: the terminal may be retired, and then not checked out.
    commit(
        store,
        Changes::new().with(Write::RetireTerminal {
            terminal: t1,
            at: at(30),
        }),
    )
    .await;
    let retired = repo.find_terminal(t1).await.expect("read").expect("found");
    assert_eq!(retired.status, TerminalStatus::Retired);
    assert_eq!(retired.retired_at, Some(at(30)));
    assert_eq!(retired.checked_out_to, None);
    let gone = commit_fails(store, check_in(other, t1, at(31)).1).await;
    assert!(
        matches!(gone, StoreError::Precondition(g) if g == guards::TERMINAL_NOT_AVAILABLE),
        "{gone:?}"
    );
    let unknown = commit_fails(store, check_in(other, new_id(), at(31)).1).await;
    assert!(
        matches!(unknown, StoreError::Precondition(g) if g == guards::TERMINAL_NOT_AVAILABLE),
        "{unknown:?}"
    );

    // The shift log: newest first, with its end.
    let (second, changes) = check_in(other, t2, at(40));
    commit(store, changes).await;
    commit(
        store,
        Changes::new().with(Write::EndOpenShiftOf {
            staff: other,
            end: ShiftEnd::StaffDisabled,
            at: at(50),
        }),
    )
    .await;
    let log = repo.list_shifts(10).await.expect("log");
    assert_eq!(
        log.iter()
            .map(|s| (s.id, s.staff, s.terminal, s.ended_at, s.end))
            .collect::<Vec<_>>(),
        vec![
            (
                second,
                other,
                t2,
                Some(at(50)),
                Some(ShiftEnd::StaffDisabled)
            ),
            (shift, worker, t1, Some(at(20)), Some(ShiftEnd::CheckedOut)),
        ]
    );
    let terminals = repo.list_terminals().await.expect("list");
    assert_eq!(
        terminals.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![t1, t2]
    );
}

/// Check-ins racing each other (as two instances would): of many workers
/// checking in on one terminal at once exactly one gets it, and of one
/// worker checking in on many terminals at once exactly one shift opens.
pub async fn c24_racing_check_ins_open_one_shift(store: &dyn Store) {
    let manager = staff(store, "m@example.jp", StaffRole::ShippingManager, 1).await;
    let mut workers = Vec::new();
    for i in 0..6u8 {
        let address = format!("w{i}@example.jp");
        workers.push(staff(store, &address, StaffRole::ShippingWorker, 10 + i).await);
    }
    let one = terminal(store, "T-shared", manager).await;
    let bundles: Vec<Changes> = workers.iter().map(|w| check_in(*w, one, at(5)).1).collect();
    let results = join_all(bundles.iter().map(|c| store.commit(c))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))),
        "{results:?}"
    );

    let mut terminals = Vec::new();
    for i in 0..6 {
        terminals.push(terminal(store, &format!("T-{i}"), manager).await);
    }
    let solo = staff(store, "solo@example.jp", StaffRole::ShippingWorker, 30).await;
    let bundles: Vec<Changes> = terminals
        .iter()
        .map(|t| check_in(solo, *t, at(6)).1)
        .collect();
    let results = join_all(bundles.iter().map(|c| store.commit(c))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let log = store.centre().list_shifts(100).await.expect("log");
    assert_eq!(log.iter().filter(|s| s.is_open()).count(), 2);
}

/// A void request is one pending per shipment, decided once, by someone
/// other than its requester, who is on an open shift.
pub async fn c25_a_void_is_decided_once_by_another_person_on_shift(store: &dyn Store) {
    let manager = staff(store, "m@example.jp", StaffRole::ShippingManager, 1).await;
    let worker = staff(store, "w@example.jp", StaffRole::ShippingWorker, 2).await;
    let t1 = terminal(store, "T-1", manager).await;
    let t2 = terminal(store, "T-2", manager).await;
    let (w_shift, c) = check_in(worker, t1, at(1));
    commit(store, c).await;
    let (m_shift, c) = check_in(manager, t2, at(1));
    commit(store, c).await;
    let shipment: crate::ShipmentId = new_id();
    let request = |id, by, shift| NewVoidRequest {
        id,
        shipment,
        requested_by: by,
        shift,
        reason: "label torn".into(),
        at: at(2),
    };
    let id = new_id();
    commit(
        store,
        Changes::new().with(Write::RequestVoid(request(id, worker, w_shift))),
    )
    .await;
    let second = commit_fails(
        store,
        Changes::new().with(Write::RequestVoid(request(new_id(), worker, w_shift))),
    )
    .await;
    assert!(matches!(second, StoreError::Conflict(_)), "{second:?}");
    let off_shift = commit_fails(
        store,
        Changes::new().with(Write::RequestVoid(request(new_id(), manager, w_shift))),
    )
    .await;
    assert!(
        matches!(off_shift, StoreError::Precondition(g) if g == guards::SHIFT_NOT_OPEN),
        "{off_shift:?}"
    );
    let pending = store
        .centre()
        .list_void_requests(VoidStatus::Pending, 10)
        .await
        .expect("list");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].reason, "label torn");
    assert_eq!(pending[0].requested_by, worker);

    let decide = |by, shift, status| {
        Changes::new().with(Write::DecideVoid {
            request: id,
            by,
            shift,
            status,
            at: at(3),
        })
    };
    let own = commit_fails(store, decide(worker, w_shift, VoidStatus::Approved)).await;
    assert!(
        matches!(own, StoreError::Precondition(g) if g == guards::VOID_OWN_REQUEST),
        "{own:?}"
    );
    let not_on_shift = commit_fails(store, decide(manager, w_shift, VoidStatus::Approved)).await;
    assert!(
        matches!(not_on_shift, StoreError::Precondition(g) if g == guards::SHIFT_NOT_OPEN),
        "{not_on_shift:?}"
    );
    let unknown = commit_fails(
        store,
        Changes::new().with(Write::DecideVoid {
            request: new_id(),
            by: manager,
            shift: m_shift,
            status: VoidStatus::Approved,
            at: at(3),
        }),
    )
    .await;
    assert!(
        matches!(unknown, StoreError::Precondition(g) if g == guards::VOID_NOT_FOUND),
        "{unknown:?}"
    );
    // Two decisions at once: one wins.
    let a = decide(manager, m_shift, VoidStatus::Approved);
    let b = decide(manager, m_shift, VoidStatus::Rejected);
    let results = join_all([&a, &b].map(|c| store.commit(c))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(StoreError::Precondition(g)) if *g == guards::VOID_DECIDED))
    );
    let decided = store
        .centre()
        .find_void_request(id)
        .await
        .expect("read")
        .expect("found");
    assert_ne!(decided.status, VoidStatus::Pending);
    assert_eq!(decided.decided_by, Some(manager));
    assert_eq!(decided.decided_shift, Some(m_shift));
    assert_eq!(decided.decided_at, Some(at(3)));
    // Decided, the shipment may get a new request.
    commit(
        store,
        Changes::new().with(Write::RequestVoid(request(new_id(), worker, w_shift))),
    )
    .await;
}
