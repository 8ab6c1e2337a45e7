//! Mail: composing letters (`compose`), sealing them into the outbox in
//! the same transaction as the event that causes them, and delivering them
//! (`outbox` worker, `transport`).
//!
//! Mail must never appear in logs: not the recipient, not the subject (it
//! may name what happened), not the body (it may hold a one-time code).

pub mod compose;
