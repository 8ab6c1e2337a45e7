//! The self-hosted proof-of-work challenge, compatible with the ALTCHA
//! protocol (v1, <https://altcha.org/docs/>): no third party sees the
//! visitor, and solving costs a browser a fraction of a second but a bot
//! farm real CPU per attempt.
//!
//! Issuing: a random `salt` carrying its expiry (`<hex>?expires=<unix
//! seconds>&maxnumber=<n>&`, parameters in the salt as ALTCHA does; the
//! final `&` keeps `salt || number` unambiguous), a secret random `number`
//! in `0..=maxnumber`, `challenge = hex(SHA-256(salt || number))` and
//! `signature = hex(HMAC-SHA-256(key, challenge))`. The client brute-forces
//! the number and sends back base64 of the JSON `{algorithm, challenge,
//! number, salt, signature}`.
//!
//! Verifying needs no state except the single-use record (the caller's
//! job, in the database): the signature proves we issued the challenge,
//! the salt is bound to it by the hash, so its expiry and difficulty cannot
//! be changed by the client.
//!
//! This module does no I/O and never reads the clock: `now` is a parameter.
//! It must never panic on client input (a proptest feeds it garbage).

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The only algorithm issued and accepted. ALTCHA also knows SHA-1 and
/// SHA-512; accepting them would only widen what a forger can try.
pub const ALGORITHM: &str = "SHA-256";

/// Longest `altcha` field accepted before decoding (a real one is ~300
/// bytes); bigger input is refused without work.
const MAX_PAYLOAD_BYTES: usize = 2048;

/// HMAC key for signing challenges, derived from the key ring
/// (`anshin/challenge-key/v1`). Its `Debug` shows nothing.
pub struct ChallengeKey(Zeroizing<[u8; 32]>);

impl ChallengeKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// HMAC takes keys of any length, so this is always `Some`; callers
    /// treat `None` as "does not verify" rather than panic.
    fn mac(&self) -> Option<hmac::Hmac<Sha256>> {
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_slice()).ok()
    }

    fn sign(&self, challenge: &str) -> String {
        match self.mac() {
            Some(mut mac) => {
                mac.update(challenge.as_bytes());
                hex::encode(mac.finalize().into_bytes().as_slice())
            }
            None => String::new(),
        }
    }

    /// Constant-time comparison of a presented hex signature.
    fn verify(&self, challenge: &str, signature_hex: &str) -> bool {
        let (Ok(sig), Some(mut mac)) = (hex::decode(signature_hex), self.mac()) else {
            return false;
        };
        mac.update(challenge.as_bytes());
        mac.verify_slice(&sig).is_ok()
    }
}

impl std::fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChallengeKey([redacted])")
    }
}

/// What `GET /api/v1/challenge` returns; the ALTCHA widget's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Always `SHA-256`.
    pub algorithm: String,
    /// hex(SHA-256(salt || number)).
    pub challenge: String,
    /// The secret number is in `0..=maxnumber`.
    pub maxnumber: u64,
    /// Random hex, then `?expires=<unix seconds>&maxnumber=<n>&`.
    pub salt: String,
    /// hex(HMAC-SHA-256(key, challenge)).
    pub signature: String,
}

/// What the client sends back (base64 of this JSON, field `altcha`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Solution {
    pub algorithm: String,
    pub challenge: String,
    pub number: u64,
    pub salt: String,
    pub signature: String,
}

/// Issues a challenge expiring at `expires_at` (Unix seconds).
pub fn create<R: rand::CryptoRng + ?Sized>(
    key: &ChallengeKey,
    maxnumber: u64,
    expires_at: i64,
    rng: &mut R,
) -> Challenge {
    let mut random = [0u8; 12];
    rng.fill(&mut random);
    let salt = format!(
        "{}?expires={expires_at}&maxnumber={maxnumber}&",
        hex::encode(random)
    );
    let number = rng.random_range(0..=maxnumber);
    let challenge = hash_hex(&salt, number);
    Challenge {
        algorithm: ALGORITHM.to_owned(),
        signature: key.sign(&challenge),
        challenge,
        maxnumber,
        salt,
    }
}

/// hex(SHA-256(salt || decimal number)), what the client brute-forces.
pub fn hash_hex(salt: &str, number: u64) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(number.to_string().as_bytes());
    hex::encode(h.finalize().as_slice())
}

/// A solution that passed every check but the single-use one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The challenge text; its hash is the single-use record's key.
    pub challenge: String,
    /// Unix seconds; the single-use record may be purged after it.
    pub expires_at: i64,
    /// The difficulty the challenge was issued with.
    pub maxnumber: u64,
}

/// Why a presented solution is refused. Clients only ever learn
/// "challenge_failed"; the variant is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AltchaError {
    #[error("not base64 of the expected JSON")]
    Malformed,
    #[error("unsupported algorithm")]
    Algorithm,
    #[error("signature does not match")]
    Signature,
    #[error("number does not solve the challenge")]
    WrongNumber,
    #[error("salt carries no valid expiry")]
    NoExpiry,
    #[error("expired")]
    Expired,
}

/// Checks a presented `altcha` field at `now` (Unix seconds).
pub fn verify(key: &ChallengeKey, presented: &str, now: i64) -> Result<Verified, AltchaError> {
    let presented = presented.trim();
    if presented.len() > MAX_PAYLOAD_BYTES {
        return Err(AltchaError::Malformed);
    }
    let json = base64::engine::general_purpose::STANDARD
        .decode(presented)
        .map_err(|_| AltchaError::Malformed)?;
    let s: Solution = serde_json::from_slice(&json).map_err(|_| AltchaError::Malformed)?;
    if s.algorithm != ALGORITHM {
        return Err(AltchaError::Algorithm);
    }
    // Signature first: nothing else about an unsigned challenge matters.
    if !key.verify(&s.challenge, &s.signature) {
        return Err(AltchaError::Signature);
    }
    // Not secret (the client sent both), so a plain comparison is fine.
    if hash_hex(&s.salt, s.number) != s.challenge.to_ascii_lowercase() {
        return Err(AltchaError::WrongNumber);
    }
    let expires_at = salt_param(&s.salt, "expires")
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or(AltchaError::NoExpiry)?;
    if now >= expires_at {
        return Err(AltchaError::Expired);
    }
    let maxnumber = salt_param(&s.salt, "maxnumber")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(Verified {
        challenge: s.challenge,
        expires_at,
        maxnumber,
    })
}

/// A parameter of the salt's query part (`<hex>?a=1&b=2&`).
fn salt_param<'a>(salt: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = salt.split_once('?')?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Finds the number by brute force, as the browser widget does; for tests
/// and tools. `None` if no number up to `maxnumber` solves it.
pub fn solve(challenge: &Challenge) -> Option<u64> {
    (0..=challenge.maxnumber).find(|n| hash_hex(&challenge.salt, *n) == challenge.challenge)
}

/// The `altcha` field value for a solved challenge.
pub fn encode_solution(challenge: &Challenge, number: u64) -> String {
    let s = Solution {
        algorithm: challenge.algorithm.clone(),
        challenge: challenge.challenge.clone(),
        number,
        salt: challenge.salt.clone(),
        signature: challenge.signature.clone(),
    };
    let json = serde_json::to_vec(&s).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn key() -> ChallengeKey {
        ChallengeKey::from_bytes([42; 32])
    }

    fn issued(maxnumber: u64) -> Challenge {
        create(
            &key(),
            maxnumber,
            NOW + 600,
            &mut crate::random::Random::os().rng(),
        )
    }

    fn solved(c: &Challenge) -> String {
        encode_solution(c, solve(c).unwrap())
    }

    fn tampered(c: &Challenge, edit: impl FnOnce(&mut Solution)) -> String {
        let mut s = Solution {
            algorithm: c.algorithm.clone(),
            challenge: c.challenge.clone(),
            number: solve(c).unwrap(),
            salt: c.salt.clone(),
            signature: c.signature.clone(),
        };
        edit(&mut s);
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&s).unwrap())
    }

    #[test]
    fn c07_issued_challenge_has_altcha_shape() {
        let c = issued(1000);
        assert_eq!(c.algorithm, "SHA-256");
        assert_eq!(c.maxnumber, 1000);
        assert_eq!(c.challenge.len(), 64);
        assert_eq!(c.signature.len(), 64);
        assert!(
            c.salt.contains(&format!("?expires={}&", NOW + 600)),
            "{}",
            c.salt
        );
        assert!(c.salt.ends_with('&'));
        assert!(key().verify(&c.challenge, &c.signature));
    }

    #[test]
    fn c07_valid_solution_passes() {
        let c = issued(1000);
        let v = verify(&key(), &solved(&c), NOW).unwrap();
        assert_eq!(v.challenge, c.challenge);
        assert_eq!(v.expires_at, NOW + 600);
        assert_eq!(v.maxnumber, 1000);
    }

    #[test]
    fn c07_solution_signed_with_another_key_fails() {
        let c = create(
            &ChallengeKey::from_bytes([1; 32]),
            100,
            NOW + 600,
            &mut crate::random::Random::os().rng(),
        );
        assert_eq!(
            verify(&key(), &solved(&c), NOW),
            Err(AltchaError::Signature)
        );
    }

    #[test]
    fn c07_forged_signature_fails() {
        let c = issued(100);
        let forged = tampered(&c, |s| s.signature = "00".repeat(32));
        assert_eq!(verify(&key(), &forged, NOW), Err(AltchaError::Signature));
        let not_hex = tampered(&c, |s| s.signature = "zz".into());
        assert_eq!(verify(&key(), &not_hex, NOW), Err(AltchaError::Signature));
    }

    #[test]
    fn c07_wrong_number_fails() {
        let c = issued(100);
        let wrong = tampered(&c, |s| s.number += 1);
        assert_eq!(verify(&key(), &wrong, NOW), Err(AltchaError::WrongNumber));
    }

    #[test]
    fn c07_changed_expiry_in_salt_fails() {
        // The salt is bound by the hash: pushing the expiry breaks it.
        let c = issued(100);
        let later = tampered(&c, |s| {
            s.salt = s
                .salt
                .replace(&(NOW + 600).to_string(), &(NOW + 60_000).to_string());
        });
        assert_eq!(verify(&key(), &later, NOW), Err(AltchaError::WrongNumber));
    }

    #[test]
    fn c07_wrong_algorithm_fails() {
        let c = issued(100);
        let sha1 = tampered(&c, |s| s.algorithm = "SHA-1".into());
        assert_eq!(verify(&key(), &sha1, NOW), Err(AltchaError::Algorithm));
    }

    #[test]
    fn c07_malformed_payloads_fail() {
        let k = key();
        for bad in [
            "",
            "not base64!",
            "e30=", // {}
            &base64::engine::general_purpose::STANDARD.encode("[1,2,3]"),
            &base64::engine::general_purpose::STANDARD.encode("{\"number\":-1}"),
            &"A".repeat(MAX_PAYLOAD_BYTES + 4),
        ] {
            assert_eq!(verify(&k, bad, NOW), Err(AltchaError::Malformed), "{bad}");
        }
    }

    #[test]
    fn c07_expired_solution_fails() {
        let c = issued(100);
        let p = solved(&c);
        assert!(verify(&key(), &p, NOW + 599).is_ok());
        assert_eq!(verify(&key(), &p, NOW + 600), Err(AltchaError::Expired));
    }

    #[test]
    fn c07_salt_without_expiry_fails() {
        // Signed by us but without an expiry (as a bare ALTCHA salt would
        // be): refused, so no challenge lives forever.
        let salt = "abcdef".to_owned();
        let challenge = hash_hex(&salt, 3);
        let c = Challenge {
            algorithm: ALGORITHM.into(),
            signature: key().sign(&challenge),
            challenge,
            maxnumber: 10,
            salt,
        };
        assert_eq!(
            verify(&key(), &encode_solution(&c, 3), NOW),
            Err(AltchaError::NoExpiry)
        );
    }

    proptest! {
        #[test]
        fn c07_verifier_never_panics(input in ".{0,400}") {
            let _ = verify(&key(), &input, NOW);
        }

        #[test]
        fn c07_verifier_never_panics_on_base64_json(input in ".{0,300}") {
            let b64 = base64::engine::general_purpose::STANDARD.encode(input);
            prop_assert!(verify(&key(), &b64, NOW).is_err());
        }
    }
}
