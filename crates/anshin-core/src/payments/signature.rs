//! The `Stripe-Signature` header of a webhook: HMAC-SHA256 under the
//! endpoint's signing secret over `"{t}.{raw body}"`, hex-encoded in one or
//! more `v1=` values (several while a secret is being rolled), with the
//! signing time `t` in Unix seconds. See
//! <https://docs.stripe.com/webhooks#verify-manually>.
//!
//! What this refuses, and why it is safe:
//! - a header without `t` or without a `v1` value, or with two `t`;
//! - a body changed after signing (the MAC covers every raw byte; the
//!   caller must pass the body exactly as received, before any parsing);
//! - a forged signature (compared in constant time with `hmac`'s
//!   `verify_slice`, one fresh MAC per candidate, so timing tells nothing
//!   about how many bytes matched);
//! - a replay of an old delivery: `t` more than the tolerance away from
//!   now, in either direction (the MAC covers `t`, so it cannot be moved).
//!   A replay within the tolerance is refused later by the event id's
//!   unique constraint.
//!
//! Other schemes (`v0`, the test-mode scheme) are ignored, never accepted.

use anshin_domain::{Duration, Timestamp};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Why a webhook's signature is refused. Carries nothing of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header, or not in its format")]
    Malformed,
    #[error("no v1 signature matches")]
    Mismatch,
    #[error("signed outside the tolerance (a replay, or a clock far off)")]
    Stale,
}

/// The most `v1` values looked at: a header cannot make us compute MACs
/// without bound.
const MAX_SIGNATURES: usize = 8;

/// Verifies `header` for `body` at `now`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: Timestamp,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut t: Option<i64> = None;
    let mut candidates: Vec<[u8; 32]> = Vec::new();
    if header.len() > 4096 {
        return Err(SignatureError::Malformed);
    }
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return Err(SignatureError::Malformed);
        };
        match k {
            "t" => {
                if t.is_some() || v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SignatureError::Malformed);
                }
                t = Some(v.parse().map_err(|_| SignatureError::Malformed)?);
            }
            "v1" => {
                // A value that is not 64 hex digits can match nothing.
                let mut mac = [0u8; 32];
                if hex::decode_to_slice(v, &mut mac).is_ok() && candidates.len() < MAX_SIGNATURES {
                    candidates.push(mac);
                }
            }
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut base = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Malformed)?;
    base.update(t.to_string().as_bytes());
    base.update(b".");
    base.update(body);
    let matched = candidates
        .iter()
        .fold(false, |ok, c| base.clone().verify_slice(c).is_ok() | ok);
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let skew = now.secs().abs_diff(t);
    if skew > u64::try_from(tolerance.secs()).unwrap_or(0) {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The header a processor would send: for tests and the tools that play
/// the processor.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"whsec_test";
    const TOL: Duration = Duration::from_micros(300_000_000);

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * 1_000_000)
    }

    #[test]
    fn a_signed_body_passes_and_every_alteration_fails() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
        let h = sign(SECRET, 1_800_000_000, body);
        assert_eq!(verify(SECRET, &h, body, at(1_800_000_000), TOL), Ok(()));
        let mut changed = body.to_vec();
        changed[10] ^= 1;
        assert_eq!(
            verify(SECRET, &h, &changed, at(1_800_000_000), TOL),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"whsec_other", &h, body, at(1_800_000_000), TOL),
            Err(SignatureError::Mismatch)
        );
        // The time is covered by the MAC: it cannot be refreshed.
        let moved = h.replace("t=1800000000", "t=1800000400");
        assert_eq!(
            verify(SECRET, &moved, body, at(1_800_000_400), TOL),
            Err(SignatureError::Mismatch)
        );
        // Too old, too far ahead; the edge of the tolerance passes.
        assert_eq!(
            verify(SECRET, &h, body, at(1_800_000_301), TOL),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, &h, body, at(1_799_999_699), TOL),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify(SECRET, &h, body, at(1_800_000_300), TOL), Ok(()));
    }

    #[test]
    fn several_v1_values_any_may_match_and_v0_never_counts() {
        let body = b"{}";
        let good = sign(SECRET, 100, body);
        let mac = good.split("v1=").nth(1).unwrap();
        let h = format!("t=100,v1={},v1={mac},v0={mac}", "0".repeat(64));
        assert_eq!(verify(SECRET, &h, body, at(100), TOL), Ok(()));
        let only_v0 = format!("t=100,v0={mac}");
        assert_eq!(
            verify(SECRET, &only_v0, body, at(100), TOL),
            Err(SignatureError::Malformed)
        );
        for bad in [
            "",
            "t=100",
            "v1=00",
            "t=1,t=1,v1=aa",
            "t=-5,v1=aa",
            "garbage",
            "t=abc,v1=00",
        ] {
            assert!(verify(SECRET, bad, body, at(100), TOL).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn no_header_panics_or_passes_unsigned(h in ".{0,300}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert!(verify(SECRET, &h, &body, at(100), TOL).is_err());
        }
    }
}
