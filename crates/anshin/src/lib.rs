//! anshin: a creator marketplace whose security statement
//! (`../shared/mission/security-statement.md`, claims C1–C30) is made true
//! by the code of this workspace and proved by its tests.
//!
//! This crate is the binary and its doors: `config` (settings), `server`
//! (listeners, TLS, shutdown, the job runner), `tls` (C1), `web` (the
//! public site and JSON API: `web::common` and `web::site`), `ops`
//! (health, readiness, metrics), `db` (opening a store), `media` (the
//! S3 media store and the choice of store), `siteverify` (the HTTP side
//! of third-party bot challenges), `stripe` (the card processor's REST
//! API, C15), `cli` (the `anshin` command). Every use case is in
//! `anshin-core`; this crate only parses,
//! calls and renders.
//!
//! This crate must never log personal data, never build SQL (the store
//! crates do), never call the store from `web` (the core does), and never
//! read the clock or the random generator except through the core's
//! `Clock` and `Random`.

/// mimalloc instead of the C library's allocator for every binary built
/// on this crate: a login allocates and frees many small buffers (TLS
/// records, HTTP/2 frames, the WAF's transaction, JSON), and glibc's
/// malloc/free took ~2 % of both cores in the login benchmark
/// (`bench/README.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod alerting;
pub mod cli;
pub mod config;
pub mod db;
pub mod logging;
pub mod media;
pub mod ops;
pub mod selfscan;
pub mod server;
pub mod siteverify;
pub mod stripe;
pub mod tls;
pub mod web;

pub use anshin_core as core;
