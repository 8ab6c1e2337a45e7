//! anshin: a creator marketplace whose security statement
//! (`../shared/mission/security-statement.md`, claims C1–C30) is made true
//! by the code in this crate and proved by its tests.
//!
//! Layout: `config` (settings), `server` (listeners, TLS, shutdown),
//! `tls` (C1), `web` (routes, pages, middleware), `ops` (health and
//! readiness), `db` (opening a store), `i18n` (Japanese and English),
//! `clock` (injected time), `mail` (composing and delivering mail),
//! `challenge` (bot challenges, C7),
//! `cli` (the `anshin` command).
//!
//! This crate must never log personal data, never build SQL (the store
//! crates do), and never read the clock except through [`clock::Clock`].

pub mod accounts;
pub mod challenge;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod i18n;
pub mod keys;
pub mod logging;
pub mod mail;
pub mod member_data;
pub mod metrics;
pub mod ops;
pub mod rotation;
pub mod server;
pub mod tls;
pub mod web;
