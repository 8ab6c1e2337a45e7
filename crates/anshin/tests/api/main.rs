//! The integration suite of the `anshin` binary crate, as one test binary
//! (it links once, not once per file): every behaviour over real HTTPS,
//! real SMTP and real browsers, each database test on SQLite and on
//! PostgreSQL. One module per area; test names carry the claim id they
//! prove (`c08_…`).

// Test code: a panic with a message is how a test reports failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

mod accounts;
mod alerts;
mod audit;
mod bank_and_postcode;
mod challenge;
mod challenge_browser;
mod checkout;
mod commerce;
mod console_centre;
mod console_incidents;
mod console_labels;
mod console_nocopy;
mod console_records;
mod contact;
mod crash;
mod demo;
mod http_edges;
mod incident;
mod jobs;
mod journeys;
mod legal;
mod limits;
mod lockout;
mod login_defence;
mod mail_transport;
mod media_store;
mod member_data;
mod member_pages;
mod outage;
mod ownership;
mod payouts;
mod process;
mod profile;
mod readiness;
mod retention;
mod routes;
mod selfscan;
mod shipping;
mod shops;
mod site;
mod site_ux;
mod staff;
mod staff_passkeys;
mod staff_roles;
mod stock_race;
mod tls;
mod vdp;
mod waf;
mod webhooks;
mod withdrawal;
