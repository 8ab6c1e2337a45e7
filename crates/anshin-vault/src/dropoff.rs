//! Drop-off codes of anonymous shipping (C19): what a seller shows at the
//! shipping centre's counter, as a QR code or typed by hand.
//!
//! A code is 11 symbols of an alphabet without look-alikes (no 0/O, 1/I,
//! Z/2: `23456789ABCDEFGHJKLMNPQRSTUVWXY`, 31 symbols, a prime), shown as
//! `XXXX-XXXX-XXX`:
//!
//! ```text
//! body (8) = base31(HMAC(K, "anshin/dropoff/body/v1" || shipment id || u32be(generation)))
//! tag  (2) = base31(HMAC(K, "anshin/dropoff/tag/v1"  || body))
//! check(1) = Σ (i+1)·symbol[i] over body and tag, mod 31
//! ```
//!
//! - It carries **no personal data**, encrypted or not: the body is a
//!   keyed pseudo-random function of the shipment's id and the code's
//!   generation, nothing else. Without `K` it says nothing, not even the
//!   shipment id.
//! - The **check symbol** catches a typo at the counter (any single wrong
//!   symbol, any two neighbours swapped): [`DropoffError::Altered`].
//! - The **tag** is a MAC over the body under the site's drop-off key
//!   (derived from the key ring like the other purpose keys): a code made
//!   up by someone without the key, even with a correct check symbol,
//!   fails it with probability 960/961 before the database is asked
//!   ([`DropoffError::Forged`]). The body itself is a MAC output too: a
//!   forged code that passes the tag still matches no stored code.
//! - The database stores only [`lookup_hash`], a keyed hash, so a copy of
//!   it cannot be searched offline for valid codes; the server can still
//!   show the seller their code at any time, since it derives it again
//!   from the shipment id and the generation.
//! - Voiding a code moves the shipment to the next generation: a new,
//!   unrelated code. Single use, voided and reused codes are the store's
//!   business (a code's row says live, accepted or voided).
//!
//! This module does no I/O and never panics on any input
//! (`dropoff_parse_never_panics`).

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::secret::{hmac_sha256, secret_key};

secret_key!(
    /// The drop-off code key (derived from the key ring; its own purpose).
    DropoffKey
);

/// The symbols, in value order.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKLMNPQRSTUVWXY";
const BASE: u64 = 31;
const BODY: usize = 8;
const TAG: usize = 2;
/// Symbols in a code (body, tag, check).
pub const LEN: usize = BODY + TAG + 1;

const BODY_LABEL: &[u8] = b"anshin/dropoff/body/v1";
const TAG_LABEL: &[u8] = b"anshin/dropoff/tag/v1";
const LOOKUP_LABEL: &[u8] = b"anshin/dropoff/lookup/v1";

/// Why a presented code was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropoffError {
    /// Not 11 symbols of the alphabet (after removing spaces and dashes).
    #[error("not a drop-off code")]
    Malformed,
    /// The check symbol does not match: a typo, or a changed symbol.
    #[error("the drop-off code was mistyped or altered")]
    Altered,
    /// The check symbol matches but the MAC does not: made up.
    #[error("the drop-off code is forged")]
    Forged,
}

/// A drop-off code in canonical form (11 symbols, no dashes). Not
/// personal data, but a bearer credential for the parcel: `Debug` redacts
/// it, it is wiped on drop, and only [`DropoffCode::expose`] and
/// [`DropoffCode::display`] show it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DropoffCode(String);

impl std::fmt::Debug for DropoffCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DropoffCode([redacted])")
    }
}

fn value_of(symbol: u8) -> Option<u64> {
    ALPHABET
        .iter()
        .position(|&a| a == symbol)
        .and_then(|p| u64::try_from(p).ok())
}

fn symbol_of(value: u64) -> u8 {
    let i = usize::try_from(value % BASE).unwrap_or(0);
    ALPHABET.get(i).copied().unwrap_or(b'2')
}

/// `n` base-31 symbols of the first 8 bytes of `mac`.
fn symbols(mac: &[u8; 32], n: usize) -> Vec<u8> {
    let mut first = [0u8; 8];
    first.copy_from_slice(mac.get(..8).unwrap_or(&[0u8; 8]));
    let mut v = u64::from_be_bytes(first);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(symbol_of(v));
        v /= BASE;
    }
    out
}

fn check_symbol(symbols: &[u8]) -> u8 {
    let mut sum = 0u64;
    for (i, &s) in symbols.iter().enumerate() {
        let w = u64::try_from(i).unwrap_or(0) + 1;
        sum = (sum + w * value_of(s).unwrap_or(0)) % BASE;
    }
    symbol_of(sum)
}

fn tag_of(key: &DropoffKey, body: &[u8]) -> Vec<u8> {
    symbols(&hmac_sha256(key.expose_bytes(), &[TAG_LABEL, body]), TAG)
}

impl DropoffCode {
    /// The code of `shipment`'s `generation` (the same inputs always give
    /// the same code; each generation an unrelated one).
    pub fn derive(key: &DropoffKey, shipment: &[u8; 16], generation: u32) -> Self {
        let body = symbols(
            &hmac_sha256(
                key.expose_bytes(),
                &[BODY_LABEL, shipment, &generation.to_be_bytes()],
            ),
            BODY,
        );
        let mut code = body.clone();
        code.extend(tag_of(key, &body));
        code.push(check_symbol(&code));
        Self(String::from_utf8(code).unwrap_or_default())
    }

    /// What was typed or scanned, checked: spaces, dashes and a
    /// `anshin-dropoff:` prefix (the QR form) are dropped, lower case and
    /// full-width forms are accepted; then the check symbol, then the MAC.
    pub fn parse(key: &DropoffKey, presented: &str) -> Result<Self, DropoffError> {
        if presented.len() > 200 {
            return Err(DropoffError::Malformed);
        }
        let rest = presented.trim();
        let rest = rest.strip_prefix(QR_PREFIX).unwrap_or(rest);
        let mut code = Vec::with_capacity(LEN);
        for c in rest.chars() {
            // Full-width ASCII (U+FF01..U+FF5E), common with Japanese
            // input methods, to ASCII.
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                other => other,
            };
            if matches!(c, ' ' | '-' | '\u{30FC}') {
                continue;
            }
            let c = c.to_ascii_uppercase();
            if !c.is_ascii() || code.len() >= LEN {
                return Err(DropoffError::Malformed);
            }
            let b = u8::try_from(c).map_err(|_| DropoffError::Malformed)?;
            if value_of(b).is_none() {
                return Err(DropoffError::Malformed);
            }
            code.push(b);
        }
        if code.len() != LEN {
            return Err(DropoffError::Malformed);
        }
        let (head, check) = code.split_at(LEN - 1);
        if check.first().copied() != Some(check_symbol(head)) {
            return Err(DropoffError::Altered);
        }
        let (body, tag) = head.split_at(BODY);
        let want = tag_of(key, body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(tag, want.as_slice())) {
            return Err(DropoffError::Forged);
        }
        Ok(Self(
            String::from_utf8(code).map_err(|_| DropoffError::Malformed)?,
        ))
    }

    /// The canonical 11 symbols (what the QR carries after its prefix).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `XXXX-XXXX-XXX`, for people.
    pub fn display(&self) -> String {
        let s = &self.0;
        format!(
            "{}-{}-{}",
            s.get(..4).unwrap_or(""),
            s.get(4..8).unwrap_or(""),
            s.get(8..).unwrap_or("")
        )
    }

    /// What the QR code holds: the prefix and the canonical symbols.
    pub fn qr_text(&self) -> String {
        format!("{QR_PREFIX}{}", self.0)
    }

    /// The value stored for this code: a keyed hash, so a copy of the
    /// database cannot be searched for codes without the key.
    pub fn lookup_hash(&self, key: &DropoffKey) -> [u8; 32] {
        lookup_hash(key, self)
    }
}

/// What a QR code's text starts with.
pub const QR_PREFIX: &str = "anshin-dropoff:";

/// See [`DropoffCode::lookup_hash`].
pub fn lookup_hash(key: &DropoffKey, code: &DropoffCode) -> [u8; 32] {
    hmac_sha256(key.expose_bytes(), &[LOOKUP_LABEL, code.0.as_bytes()])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use proptest::prelude::*;

    fn key() -> DropoffKey {
        DropoffKey::from_bytes([7; 32])
    }

    const SHIP: [u8; 16] = [1; 16];

    #[test]
    fn c19_a_derived_code_parses_back_in_every_form() {
        let code = DropoffCode::derive(&key(), &SHIP, 0);
        assert_eq!(code.expose().len(), LEN);
        for form in [
            code.expose().to_owned(),
            code.display(),
            code.display().to_lowercase(),
            code.qr_text(),
            format!("  {}  ", code.display().replace('-', " ")),
            code.expose()
                .chars()
                .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap())
                .collect::<String>(),
        ] {
            assert_eq!(
                DropoffCode::parse(&key(), &form),
                Ok(code.clone()),
                "{form}"
            );
        }
    }

    #[test]
    fn c19_each_generation_and_shipment_has_another_code() {
        let a = DropoffCode::derive(&key(), &SHIP, 0);
        assert_eq!(a, DropoffCode::derive(&key(), &SHIP, 0));
        assert_ne!(a, DropoffCode::derive(&key(), &SHIP, 1));
        assert_ne!(a, DropoffCode::derive(&key(), &[2; 16], 0));
        assert_ne!(
            a,
            DropoffCode::derive(&DropoffKey::from_bytes([8; 32]), &SHIP, 0)
        );
        assert_ne!(
            a.lookup_hash(&key()),
            DropoffCode::derive(&key(), &SHIP, 1).lookup_hash(&key())
        );
    }

    #[test]
    fn c19_a_changed_symbol_is_refused_as_altered() {
        let code = DropoffCode::derive(&key(), &SHIP, 3);
        let bytes = code.expose().as_bytes().to_vec();
        for i in 0..LEN {
            for &s in ALPHABET.iter() {
                if s == bytes[i] {
                    continue;
                }
                let mut b = bytes.clone();
                b[i] = s;
                let text = String::from_utf8(b).unwrap();
                assert_eq!(
                    DropoffCode::parse(&key(), &text),
                    Err(DropoffError::Altered),
                    "position {i}"
                );
            }
        }
        // Two neighbours swapped.
        for i in 0..LEN - 2 {
            let mut b = bytes.clone();
            if b[i] == b[i + 1] {
                continue;
            }
            b.swap(i, i + 1);
            let text = String::from_utf8(b).unwrap();
            assert_eq!(
                DropoffCode::parse(&key(), &text),
                Err(DropoffError::Altered)
            );
        }
    }

    #[test]
    fn c19_a_made_up_code_with_a_right_check_symbol_is_forged() {
        // Take a real body, change it, and fix the check symbol up: the
        // tag no longer matches (unless by a 1-in-961 chance, so count).
        let mut forged = 0;
        for g in 0..200u32 {
            let code = DropoffCode::derive(&key(), &SHIP, g);
            let mut b = code.expose().as_bytes()[..LEN - 1].to_vec();
            b[0] = if b[0] == b'2' { b'3' } else { b'2' };
            b.push(check_symbol(&b));
            let text = String::from_utf8(b).unwrap();
            if DropoffCode::parse(&key(), &text) == Err(DropoffError::Forged) {
                forged += 1;
            }
        }
        assert!(forged >= 195, "{forged}");
        // A code made under another key is forged here.
        let other = DropoffCode::derive(&DropoffKey::from_bytes([9; 32]), &SHIP, 0);
        assert_eq!(
            DropoffCode::parse(&key(), other.expose()),
            Err(DropoffError::Forged)
        );
    }

    #[test]
    fn malformed_input_is_refused() {
        for text in [
            "",
            "ABC",
            "0000-0000-000",
            "IIII-IIII-III",
            "22222222222222",
            "ÄÄÄÄ",
        ] {
            assert_eq!(
                DropoffCode::parse(&key(), text),
                Err(DropoffError::Malformed),
                "{text}"
            );
        }
    }

    #[test]
    fn debug_redacts() {
        let code = DropoffCode::derive(&key(), &SHIP, 0);
        let shown = format!("{code:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains(code.expose()));
    }

    proptest! {
        #[test]
        fn dropoff_parse_never_panics(s in ".{0,64}") {
            let _ = DropoffCode::parse(&key(), &s);
        }
    }
}
