//! The PostgreSQL backend's one test binary: the shared conformance suite
//! (one test per check, each on its own scratch database) and the schema
//! parity with the SQLite backend. PostgreSQL must be running: see
//! `anshin_store_postgres::scratch` (`ANSHIN_TEST_POSTGRES_URL`).
// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod conformance;
mod idle_check;
mod purge_plans;
mod relaxed;
mod schema_parity;
