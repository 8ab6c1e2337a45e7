//! The store as a whole: its schema is current after migrating, migrating
//! again changes nothing, and the key check keeps the first value.

use crate::Store;

pub async fn schema_is_current_after_migrate(store: &dyn Store) {
    store.migrate().await.expect("migrate");
    store.ping().await.expect("ping");
    let status = store.schema_status().await.expect("schema status");
    assert!(status.known > 0, "no migrations embedded");
    assert!(status.is_current(), "schema not current: {status:?}");
}

pub async fn migrate_is_idempotent(store: &dyn Store) {
    store.migrate().await.expect("first migrate");
    store.migrate().await.expect("second migrate");
    let status = store.schema_status().await.expect("status");
    assert!(status.is_current(), "schema not current: {status:?}");
    assert_eq!(status.applied, status.known);
}

pub async fn key_check_keeps_the_first_value(store: &dyn Store) {
    assert_eq!(store.key_check(b"first").await.expect("set"), b"first");
    assert_eq!(store.key_check(b"second").await.expect("get"), b"first");
    assert_eq!(store.key_check(b"first").await.expect("get"), b"first");
}
