//! anshin's core: every use case of the marketplace, as functions that
//! take their dependencies explicitly ([`Services`] or a narrower part),
//! parsed inputs and the time, and return a domain result. Every door
//! calls the same function: the public site and its JSON API, the staff
//! console, the command line, a background job.
//!
//! Rules this crate keeps (see `docs/adr/0007-core-and-write-path.md`):
//! - it never imports the web: no axum, tower, hyper or askama in its
//!   dependency tree, so a second listener or a CLI job can use it without
//!   the public site's state (checked by `scripts/check-layers`);
//! - every side effect of a use case commits in one transaction through a
//!   [`anshin_store::Changes`] bundle: rows, mails, and later audit entries
//!   and ledger postings;
//! - background work runs on one [`jobs::Runner`] with database leases;
//! - time comes from [`clock::Clock`] and randomness from [`random::Random`],
//!   never from the system directly (`clippy.toml`);
//! - personal data is never logged, and leaves a use case only in the
//!   types that redact it.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod background;
pub mod banks;
pub mod centre;
pub mod challenge;
pub mod checkout;
pub mod clock;
pub mod contact;
pub mod counter;
pub mod demo;
pub mod health;
pub mod i18n;
pub mod incidents;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod mail;
pub mod media;
pub mod member_data;
pub mod metrics;
pub mod monitoring;
pub mod orders;
pub mod payments;
pub mod payouts;
pub mod postcodes;
pub mod random;
pub mod retention;
pub mod rotation;
pub mod selfscan;
mod services;
pub mod sessions;
pub mod settings;
pub mod shipping;
pub mod shops;
pub mod staff;
pub mod vdp;
pub mod withdrawal;

pub use anshin_domain as domain;
pub use services::{CoreSettings, Parts, Services};
