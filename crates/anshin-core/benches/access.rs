//! The staff access policy's decision cost (issue 14, acceptance 7, policy
//! part; C27): `anshin_core::access::decide` for every role × action,
//! timed side by side in one run with the SHA-256 of a session token,
//! which every console request computes anyway to find its session, so
//! the figure reads as "how much the guard adds to what a request already
//! pays". Not a test: it prints figures for `bench/README.md`.
//!
//! `cargo bench -p anshin-core --bench access [-- ROUNDS]`
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::expect_used)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use anshin_core::access::{Action, Context, StaffSettings, decide};
use anshin_domain::{StaffRole, Timestamp};
use sha2::{Digest, Sha256};

fn main() {
    let rounds: u64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(200_000);
    let settings = StaffSettings::default();
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let contexts: Vec<(Action, Context)> = Action::ALL
        .into_iter()
        .flat_map(|action| {
            StaffRole::ALL
                .into_iter()
                .map(Some)
                .chain([None])
                .map(move |role| {
                    (
                        action,
                        Context {
                            role,
                            second_factor_at: Some(now),
                            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                            now,
                            staff: None,
                            on_shift: true,
                            requester: None,
                        },
                    )
                })
        })
        .collect();
    let token = [7u8; 32];
    let per = contexts.len() as u64;
    // Three alternating rounds of each, so a burst of load on this shared
    // machine hits both.
    let (mut decide_ns, mut hash_ns) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        let mut allowed = 0u64;
        for _ in 0..rounds {
            for (action, ctx) in &contexts {
                if decide(black_box(&settings), black_box(*action), black_box(ctx)).is_allowed() {
                    allowed += 1;
                }
            }
        }
        black_box(allowed);
        decide_ns.push(t.elapsed().as_nanos() as f64 / (rounds * per) as f64);
        let t = Instant::now();
        for _ in 0..rounds * per / 16 {
            black_box(Sha256::digest(black_box(token)));
        }
        hash_ns.push(t.elapsed().as_nanos() as f64 / (rounds * per / 16) as f64);
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (d, h) = (best(&decide_ns), best(&hash_ns));
    println!(
        "policy decisions: ({} roles + no session) x {} actions, {rounds} rounds, best of 3",
        StaffRole::ALL.len(),
        Action::ALL.len()
    );
    println!("decide():               {d:8.1} ns per decision");
    println!("SHA-256 of a token:     {h:8.1} ns per hash");
    println!("ratio decide / hash:    {:8.3}", d / h);
}
