//! One-time codes sent by e-mail (sign-in, e-mail change, sensitive actions).
//!
//! A code is 6 to 10 decimal digits, each drawn from the caller's CSPRNG
//! with rand's [`Uniform`] distribution, which uses Lemire's
//! widening-multiply rejection method: exactly uniform, no modulo bias.
//! (`Rng::random_range` would use a faster method whose bias, though below
//! 2^-56, is not zero.) The server
//! stores only `HMAC-SHA-256(CodeKey, "anshin/otp/v1" || u32be(len flow_id)
//! || flow_id || code)`: the hash is bound to the flow it was issued for, and
//! a database copy cannot be brute-forced offline without the key (a
//! 6-digit space is only 10^6, so an unkeyed hash would be worthless).
//!
//! What an attacker tries, and why it fails:
//! - replaying a code from another flow (their own sign-in) on the victim's
//!   flow: `c11_code_from_another_flow_fails`;
//! - timing the comparison: [`verify_code`] compares in constant time;
//! - odd input (letters, 11 digits, megabytes of text, non-ASCII digits):
//!   refused without panicking (`c11_verification_never_panics`).
//!
//! Not here, because they need the clock or storage (NIST SP 800-63B §5.1.3
//! and §5.2.2): expiry (minutes), single use, and a cap on attempts per flow.
//! With 6 digits and 5 attempts the guessing odds are 5 in 10^6.
//! Spec: NIST SP 800-63B (rev. 3) <https://pages.nist.gov/800-63-3/sp800-63b.html>.

use rand::CryptoRng;
use rand::distr::{Distribution, Uniform};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::secret::{hmac_sha256, len_prefix, secret_key};

/// Fewest digits a code may have.
pub const MIN_DIGITS: u8 = 6;
/// Most digits a code may have.
pub const MAX_DIGITS: u8 = 10;
/// Domain label at the start of every code MAC input.
const LABEL: &[u8] = b"anshin/otp/v1";

secret_key!(
    /// The HMAC key for code hashes. Its own key: never a KEK or the
    /// blind-index key.
    CodeKey
);

/// Why a code could not be generated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodeError {
    #[error("a one-time code must have 6 to 10 digits, not {0}")]
    Digits(u8),
    /// Unreachable: the digit range 0..10 is never empty.
    #[error("internal error: the digit distribution could not be built")]
    Distribution,
}

/// A one-time code as sent to the user. Redacted in `Debug`, wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct OneTimeCode(String);

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeCode([redacted])")
    }
}

impl OneTimeCode {
    /// `digits` uniformly random decimal digits (6..=10).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, digits: u8) -> Result<Self, CodeError> {
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
            return Err(CodeError::Digits(digits));
        }
        let digit = Uniform::new_inclusive(b'0', b'9').map_err(|_| CodeError::Distribution)?;
        let mut text = String::with_capacity(usize::from(MAX_DIGITS));
        for _ in 0..digits {
            text.push(char::from(digit.sample(rng)));
        }
        Ok(Self(text))
    }

    /// The code text for the e-mail. Named `expose` so uses stand out.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The value to store for a code issued in flow `flow_id`.
pub fn code_hash(key: &CodeKey, flow_id: &[u8], code: &OneTimeCode) -> [u8; 32] {
    mac(key, flow_id, code.0.as_bytes())
}

fn mac(key: &CodeKey, flow_id: &[u8], digits: &[u8]) -> [u8; 32] {
    // A flow id over 4 GiB cannot occur; saturating keeps the function total.
    let prefix = len_prefix(flow_id).unwrap_or([0xff; 4]);
    hmac_sha256(key.expose_bytes(), &[LABEL, &prefix, flow_id, digits])
}

/// Normalizes what the user typed: surrounding whitespace is trimmed and
/// full-width digits (U+FF10..U+FF19, common with Japanese input methods)
/// become ASCII. Anything else that is not a digit, or a length outside
/// 6..=10, is refused.
fn normalize(presented: &str) -> Option<Zeroizing<Vec<u8>>> {
    let trimmed = presented.trim();
    // Longest acceptable input: 10 full-width digits of 3 UTF-8 bytes each.
    if trimmed.len() > usize::from(MAX_DIGITS) * 3 {
        return None;
    }
    // Capacity for the longest input, so pushing never reallocates and
    // leaves an unwiped copy behind.
    let mut digits = Zeroizing::new(Vec::with_capacity(usize::from(MAX_DIGITS) * 3));
    for c in trimmed.chars() {
        let digit = match c {
            '0'..='9' => u32::from(c).checked_sub(u32::from('0'))?,
            '\u{FF10}'..='\u{FF19}' => u32::from(c).checked_sub(0xFF10)?,
            _ => return None,
        };
        // `digit` is 0..=9 here; the conversion cannot fail.
        digits.push(b'0'.checked_add(u8::try_from(digit).ok()?)?);
    }
    let len = digits.len();
    if len < usize::from(MIN_DIGITS) || len > usize::from(MAX_DIGITS) {
        return None;
    }
    Some(digits)
}

/// Whether `presented` is the code whose hash was stored for `flow_id`.
/// Constant-time in the comparison; never panics on any input.
pub fn verify_code(key: &CodeKey, flow_id: &[u8], presented: &str, stored_hash: &[u8]) -> bool {
    let Some(digits) = normalize(presented) else {
        return false;
    };
    let computed = mac(key, flow_id, &digits);
    // ct_eq on slices of different lengths returns false without panicking.
    computed.as_slice().ct_eq(stored_hash).into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn key() -> CodeKey {
        CodeKey::generate(&mut rand::rng())
    }

    #[test]
    fn c11_code_has_requested_digits() {
        for digits in MIN_DIGITS..=MAX_DIGITS {
            let code = OneTimeCode::generate(&mut rand::rng(), digits).unwrap();
            assert_eq!(code.expose().len(), usize::from(digits));
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(
            OneTimeCode::generate(&mut rand::rng(), 5).unwrap_err(),
            CodeError::Digits(5)
        );
        assert_eq!(
            OneTimeCode::generate(&mut rand::rng(), 11).unwrap_err(),
            CodeError::Digits(11)
        );
    }

    #[test]
    fn c11_digits_are_roughly_uniform() {
        // 10_000 codes * 6 digits = 60_000 digits, 6_000 expected per value.
        // Chi-square with 9 degrees of freedom against 27.88, the 0.1%
        // critical value. A seeded CSPRNG (ChaCha) keeps the test
        // deterministic; the sampling code under test is the same.
        use rand::SeedableRng;
        let mut counts = [0u32; 10];
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x616e_7368_696e);
        for _ in 0..10_000 {
            let code = OneTimeCode::generate(&mut rng, 6).unwrap();
            for b in code.expose().bytes() {
                if let Some(c) = counts.get_mut(usize::from(b - b'0')) {
                    *c += 1;
                }
            }
        }
        let expected = 6_000.0f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (f64::from(c) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 27.88, "chi2 = {chi2}, counts = {counts:?}");
    }

    #[test]
    fn c11_correct_code_verifies() {
        let k = key();
        let code = OneTimeCode::generate(&mut rand::rng(), 6).unwrap();
        let stored = code_hash(&k, b"flow-1", &code);
        assert!(verify_code(&k, b"flow-1", code.expose(), &stored));
        assert!(verify_code(
            &k,
            b"flow-1",
            &format!("  {}\n", code.expose()),
            &stored
        ));
    }

    #[test]
    fn c11_code_from_another_flow_fails() {
        let k = key();
        let code = OneTimeCode::generate(&mut rand::rng(), 6).unwrap();
        let stored_for_victim = code_hash(&k, b"flow-victim", &code);
        let stored_for_attacker = code_hash(&k, b"flow-attacker", &code);
        assert_ne!(stored_for_victim, stored_for_attacker);
        assert!(!verify_code(
            &k,
            b"flow-victim",
            code.expose(),
            &stored_for_attacker
        ));
    }

    #[test]
    fn c11_wrong_code_or_key_fails() {
        let k = key();
        let code = OneTimeCode::from_test("123456");
        let stored = code_hash(&k, b"f", &code);
        assert!(!verify_code(&k, b"f", "123457", &stored));
        assert!(!verify_code(&key(), b"f", "123456", &stored));
        // A prefix or extension of the code is a different code.
        assert!(!verify_code(&k, b"f", "1234560", &stored));
    }

    #[test]
    fn c11_malformed_input_is_refused() {
        let k = key();
        let code = OneTimeCode::from_test("123456");
        let stored = code_hash(&k, b"f", &code);
        for bad in [
            "",
            "12345",
            "12 3456",
            "12345a",
            "１２３４５",
            "12345678901",
            "+123456",
            "-123456",
        ] {
            assert!(!verify_code(&k, b"f", bad, &stored), "{bad:?}");
        }
        assert!(!verify_code(&k, b"f", "123456", stored.get(..31).unwrap()));
        assert!(!verify_code(&k, b"f", "123456", &[]));
    }

    #[test]
    fn c11_full_width_digits_are_accepted() {
        let k = key();
        let stored = code_hash(&k, b"f", &OneTimeCode::from_test("123456"));
        assert!(verify_code(&k, b"f", "１２３４５６", &stored));
    }

    #[test]
    fn c11_debug_redacts_code() {
        let code = OneTimeCode::from_test("987654");
        assert!(!format!("{code:?}").contains("987654"));
        assert_eq!(format!("{:?}", key()), "CodeKey([redacted])");
    }

    impl OneTimeCode {
        fn from_test(s: &str) -> Self {
            Self(s.to_string())
        }
    }

    proptest! {
        #[test]
        fn c11_verification_never_panics(s in "\\PC{0,64}", stored in proptest::collection::vec(any::<u8>(), 0..40)) {
            let k = key();
            let _ = verify_code(&k, b"flow", &s, &stored);
        }

        #[test]
        fn c11_only_the_issued_code_verifies(a in "[0-9]{6,10}", b in "[0-9]{6,10}") {
            let k = key();
            let stored = code_hash(&k, b"flow", &OneTimeCode::from_test(&a));
            prop_assert_eq!(verify_code(&k, b"flow", &b, &stored), a == b);
        }
    }
}
