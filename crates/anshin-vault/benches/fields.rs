//! Throughput of the operations a request performs: field encrypt/decrypt
//! at typical sizes, data-key wrap/unwrap, blind index, one-time code check
//! and (for capacity planning of logins) one Argon2id verification.
//!
//! A small std::time harness rather than criterion, to keep the dependency
//! tree of a security crate small. Run with:
//! `cargo bench --bench fields` (release profile).

#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use anshin_vault::codes::{CodeKey, OneTimeCode, code_hash, verify_code};
use anshin_vault::fields::{FieldContext, decrypt, encrypt};
use anshin_vault::password::{PasswordParams, hash_password, verify_password};
use anshin_vault::{DataKey, KeyRing};

/// Runs `op` in growing batches until `budget` has elapsed; returns ops/s
/// and ns/op.
fn measure(budget: Duration, mut op: impl FnMut()) -> (f64, f64) {
    // Warm-up: caches, branch predictors, CPU frequency.
    let warm = Instant::now();
    while warm.elapsed() < budget / 10 {
        op();
    }
    let mut iterations: u64 = 0;
    let mut batch: u64 = 1;
    let start = Instant::now();
    loop {
        for _ in 0..batch {
            op();
        }
        iterations += batch;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            let secs = elapsed.as_secs_f64();
            return (iterations as f64 / secs, secs * 1e9 / iterations as f64);
        }
        batch = batch.saturating_mul(2).min(1 << 16);
    }
}

fn report(name: &str, (ops, ns): (f64, f64)) {
    println!("{name:<34} {ops:>14.0} ops/s {ns:>12.1} ns/op");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let budget = Duration::from_secs(1);
    let mut rng = rand::rng();
    let ring = KeyRing::generate(&mut rng);
    let dek = DataKey::generate(&mut rng);
    let row = [0x42u8; 16];
    let ctx = FieldContext::new("members", "address", &row);

    println!("{:<34} {:>20} {:>18}", "operation", "throughput", "latency");
    for (label, size) in [
        ("16 B (phone)", 16),
        ("64 B (name)", 64),
        ("256 B (address)", 256),
        ("1 KiB", 1024),
    ] {
        let plaintext = vec![0x61u8; size];
        report(
            &format!("encrypt {label}"),
            measure(budget, || {
                black_box(encrypt(&dek, &ctx, black_box(&plaintext), &mut rng).ok());
            }),
        );
        let ct = encrypt(&dek, &ctx, &plaintext, &mut rng)?;
        report(
            &format!("decrypt {label}"),
            measure(budget, || {
                black_box(decrypt(&dek, &ctx, black_box(&ct)).ok());
            }),
        );
    }

    let member = b"0190b6a2-7c1e-7000-8000-000000000001";
    report(
        "wrap data key",
        measure(budget, || {
            black_box(ring.wrap(&dek, member, &mut rng).ok());
        }),
    );
    let wrapped = ring.wrap(&dek, member, &mut rng)?;
    report(
        "unwrap data key",
        measure(budget, || {
            black_box(ring.unwrap(black_box(wrapped.as_bytes()), member).ok());
        }),
    );

    report(
        "blind index (phone)",
        measure(budget, || {
            black_box(ring.blind_index("phone", black_box(b"+819012345678")));
        }),
    );

    let code_key = CodeKey::generate(&mut rng);
    let code = OneTimeCode::generate(&mut rng, 6)?;
    let stored = code_hash(&code_key, b"flow", &code);
    report(
        "verify one-time code",
        measure(budget, || {
            black_box(verify_code(
                &code_key,
                b"flow",
                black_box(code.expose()),
                &stored,
            ));
        }),
    );

    let params = PasswordParams::owasp_minimum();
    let phc = hash_password(b"correct horse battery staple", &params, &mut rng)?;
    report(
        "argon2id verify (19 MiB, t=2, p=1)",
        measure(Duration::from_secs(3), || {
            black_box(verify_password(b"correct horse battery staple", &phc, &params).ok());
        }),
    );
    Ok(())
}
