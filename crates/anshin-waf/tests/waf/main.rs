//! The integration suite of `anshin-waf`, as one test binary: the CRS
//! regression corpus, the behaviour of CRS rules through the engine, the
//! tuning profile against what members type and against attacks, and
//! ReDoS resistance. All C6.

// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod corpus;
mod crs_behaviour;
mod crs_regression;
mod redos;
