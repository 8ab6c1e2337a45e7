//! Bearer tokens (session ids) and the CSRF tokens bound to them.
//!
//! A session token is 256 bits from a CSPRNG, sent to the browser in a
//! cookie as unpadded base64url and stored server-side only as its SHA-256
//! hash ([`TokenHash`]): a copy of the database cannot be replayed as a
//! cookie. SHA-256 without a key suffices because the input has full
//! entropy; no dictionary or brute-force attack applies.
//!
//! The CSRF token of a session is derived from the session token with
//! HMAC-SHA-256 under a fixed label (see `docs/adr/0003-csrf.md`): it is
//! per session, unguessable without the session cookie, and checking it
//! needs no extra storage. The server still requires the session to exist
//! server-side, which makes this a synchronizer token in OWASP's sense.
//!
//! What an attacker tries, and why it fails:
//! - guessing a token: 2^256 space;
//! - reading the database: only hashes are stored;
//! - timing the comparison: [`CsrfToken::verify`] is constant-time;
//! - a malformed or over-long cookie: [`SessionToken::parse`] rejects it
//!   before anything else happens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use rand::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a session token in bytes (256 bits).
const TOKEN_BYTES: usize = 32;
/// Length of its unpadded base64url text.
const TOKEN_TEXT_LEN: usize = 43;
/// Domain-separation label for CSRF token derivation.
const CSRF_LABEL: &[u8] = b"anshin csrf v1";

/// Why a presented token was refused. Deliberately vague: the caller treats
/// every variant as "no session".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token has the wrong length")]
    Length,
    #[error("token is not base64url")]
    Encoding,
}

/// A session's bearer secret. Redacted in `Debug`, wiped on drop, and
/// shown in clear only through [`SessionToken::expose`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionToken([u8; TOKEN_BYTES]);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

impl SessionToken {
    /// A fresh token from the given CSPRNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses the cookie text form. Anything but exactly 43 base64url
    /// characters is refused without decoding further.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        if text.len() != TOKEN_TEXT_LEN {
            return Err(TokenError::Length);
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        let n = URL_SAFE_NO_PAD
            .decode_slice(text.as_bytes(), &mut bytes)
            .map_err(|_| TokenError::Encoding)?;
        if n != TOKEN_BYTES {
            bytes.zeroize();
            return Err(TokenError::Length);
        }
        Ok(Self(bytes))
    }

    /// The cookie text. Named `expose` so that every use stands out in review.
    pub fn expose(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the database stores and looks sessions up by.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }

    /// The CSRF token that forms of this session must carry.
    pub fn csrf_token(&self) -> CsrfToken {
        // HMAC accepts keys of any length, so this cannot fail; the fallback
        // keeps the function total without a panic path.
        let tag: [u8; 32] = match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mut mac) => {
                mac.update(CSRF_LABEL);
                mac.finalize().into_bytes().into()
            }
            Err(_) => [0u8; 32],
        };
        CsrfToken(URL_SAFE_NO_PAD.encode(tag))
    }
}

/// SHA-256 of a session token: safe to store and to log as an identifier
/// of a session (it cannot be turned back into the cookie).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Rebuilds a hash read back from storage; `None` if the length is wrong.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Eight bytes are plenty to tell sessions apart in a debug print.
        let prefix = self.0.get(..8).unwrap_or(&[]);
        write!(f, "TokenHash({}…)", URL_SAFE_NO_PAD.encode(prefix))
    }
}

/// The CSRF token of one session, as rendered into forms.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfToken([redacted])")
    }
}

impl CsrfToken {
    /// The text placed in the hidden form field.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with what a request presented.
    pub fn verify(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_through_cookie_text() {
        let t = SessionToken::generate(&mut rand::rng());
        let text = t.expose();
        assert_eq!(text.len(), TOKEN_TEXT_LEN);
        let back = SessionToken::parse(&text).unwrap();
        assert_eq!(back.hash(), t.hash());
    }

    #[test]
    fn two_tokens_differ() {
        let a = SessionToken::generate(&mut rand::rng());
        let b = SessionToken::generate(&mut rand::rng());
        assert_ne!(a.hash(), b.hash());
        assert_ne!(a.csrf_token(), b.csrf_token());
    }

    #[test]
    fn debug_redacts_secrets() {
        let t = SessionToken::generate(&mut rand::rng());
        let shown = format!("{t:?} {:?}", t.csrf_token());
        assert!(!shown.contains(&t.expose()));
        assert!(!shown.contains(t.csrf_token().as_str()));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn csrf_token_is_bound_to_its_session() {
        let a = SessionToken::generate(&mut rand::rng());
        let b = SessionToken::generate(&mut rand::rng());
        assert!(a.csrf_token().verify(a.csrf_token().as_str()));
        assert!(!a.csrf_token().verify(b.csrf_token().as_str()));
        assert!(!a.csrf_token().verify(""));
    }

    #[test]
    fn rejects_bad_lengths_and_alphabets() {
        assert_eq!(SessionToken::parse("").unwrap_err(), TokenError::Length);
        assert_eq!(
            SessionToken::parse(&"a".repeat(44)).unwrap_err(),
            TokenError::Length
        );
        assert_eq!(
            SessionToken::parse(&"+".repeat(43)).unwrap_err(),
            TokenError::Encoding
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,100}") {
            let _ = SessionToken::parse(&s);
        }
    }
}
