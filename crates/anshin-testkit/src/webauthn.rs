//! A small software authenticator for tests (C21): answers WebAuthn
//! registration and login options as a browser with a platform
//! authenticator would, in the real data formats: client data JSON,
//! authenticator data (RP id hash, flags, signature counter, attested
//! credential data), a CBOR attestation object (`none`, or `packed`
//! self-attestation) with a COSE ES256 key, and ECDSA P-256 signatures
//! (DER) over `authenticatorData ‖ SHA-256(clientDataJSON)`. Keys live in
//! memory; credentials are discoverable (resident) with the user handle
//! the options gave.
//!
//! The answers are the JSON the console's page script posts (byte
//! strings in base64url without padding), so a test can post them to the
//! console as the browser would, and tamper with them first.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Which attestation statement a registration carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attestation {
    /// `fmt: "none"` (what browsers send by default).
    None,
    /// `fmt: "packed"` self-attestation: signed by the credential key.
    PackedSelf,
}

/// One credential the authenticator holds.
#[derive(Debug, Clone)]
pub struct SoftCredential {
    pub id: Vec<u8>,
    pub user_handle: Vec<u8>,
    pub rp_id: String,
    key: SigningKey,
    pub counter: u32,
}

/// The authenticator. `origin` is what its "browser" puts in the client
/// data (`https://localhost:PORT`); the RP id is the origin's host.
#[derive(Debug)]
pub struct SoftAuthenticator {
    pub origin: String,
    pub attestation: Attestation,
    pub credentials: Vec<SoftCredential>,
}

static SEED: AtomicU64 = AtomicU64::new(1);

fn fresh_bytes(label: &str) -> [u8; 32] {
    let n = SEED.fetch_add(1, Ordering::Relaxed);
    let mut h = Sha256::new();
    h.update(b"anshin-testkit/soft-authenticator/");
    h.update(label.as_bytes());
    h.update(n.to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    h.finalize().into()
}

// --- CBOR (RFC 8949), just what attestation objects and COSE keys need.

fn cbor_head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= 0xff {
        out.push(m | 24);
        out.push(n as u8);
    } else if n <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn cbor_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        cbor_head(0, i as u64, out);
    } else {
        cbor_head(1, (-1 - i) as u64, out);
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len() as u64, out);
    out.extend_from_slice(b);
}

fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

/// The COSE_Key of an ES256 public key (RFC 9053): kty EC2, alg -7,
/// crv P-256, x, y.
fn cose_key(key: &SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_sec1_point(false);
    let raw = point.as_bytes();
    let (x, y) = (&raw[1..33], &raw[33..65]);
    let mut out = Vec::new();
    cbor_head(5, 5, &mut out);
    cbor_int(1, &mut out);
    cbor_int(2, &mut out);
    cbor_int(3, &mut out);
    cbor_int(-7, &mut out);
    cbor_int(-1, &mut out);
    cbor_int(1, &mut out);
    cbor_int(-2, &mut out);
    cbor_bytes(x, &mut out);
    cbor_int(-3, &mut out);
    cbor_bytes(y, &mut out);
    out
}

/// An ECDSA signature as ASN.1 DER (`SEQUENCE { INTEGER r, INTEGER s }`),
/// the form WebAuthn carries for ES256.
fn der(sig: &Signature) -> Vec<u8> {
    let bytes = sig.to_bytes();
    let int = |v: &[u8]| {
        let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        if v.is_empty() || v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let mut body = int(&bytes[..32]);
    body.extend(int(&bytes[32..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

fn rp_id_of(origin: &str) -> String {
    url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

fn public_key_of(options: &Value) -> &Value {
    options.get("publicKey").unwrap_or(options)
}

impl SoftAuthenticator {
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            attestation: Attestation::None,
            credentials: Vec::new(),
        }
    }

    pub fn rp_id(&self) -> String {
        rp_id_of(&self.origin)
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    /// `navigator.credentials.create(options)`: makes a credential for the
    /// options' user and answers with a registration (the JSON the page
    /// posts). Refuses, as an authenticator does, when the options
    /// exclude a credential it holds for this RP, or name another RP.
    pub fn register(&mut self, options: &Value) -> Result<Value, String> {
        let pk = public_key_of(options);
        let rp_id = self.rp_id();
        let named = pk["rp"]["id"].as_str().unwrap_or_default();
        if named != rp_id {
            return Err(format!(
                "the options name RP {named:?}, the origin is {rp_id:?}"
            ));
        }
        if let Some(excluded) = pk["excludeCredentials"].as_array() {
            for c in excluded {
                let id = B64
                    .decode(c["id"].as_str().unwrap_or_default())
                    .unwrap_or_default();
                if self
                    .credentials
                    .iter()
                    .any(|h| h.id == id && h.rp_id == rp_id)
                {
                    return Err("InvalidStateError: a credential of this user is here".into());
                }
            }
        }
        let challenge = pk["challenge"].as_str().ok_or("no challenge")?;
        let user_handle = B64
            .decode(pk["user"]["id"].as_str().ok_or("no user id")?)
            .map_err(|e| e.to_string())?;
        let key = SigningKey::from_slice(&fresh_bytes("key")).map_err(|e| e.to_string())?;
        let id = fresh_bytes("credential-id")[..16].to_vec();
        let client_data = self.client_data("webauthn.create", challenge);

        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV | AT);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_key(&key));

        let mut att = Vec::new();
        cbor_head(5, 3, &mut att);
        cbor_text("fmt", &mut att);
        match self.attestation {
            Attestation::None => {
                cbor_text("none", &mut att);
                cbor_text("attStmt", &mut att);
                cbor_head(5, 0, &mut att);
            }
            Attestation::PackedSelf => {
                cbor_text("packed", &mut att);
                cbor_text("attStmt", &mut att);
                let mut signed = auth_data.clone();
                signed.extend_from_slice(&Sha256::digest(&client_data));
                let sig: Signature = key.sign(&signed);
                cbor_head(5, 2, &mut att);
                cbor_text("alg", &mut att);
                cbor_int(-7, &mut att);
                cbor_text("sig", &mut att);
                cbor_bytes(&der(&sig), &mut att);
            }
        }
        cbor_text("authData", &mut att);
        cbor_bytes(&auth_data, &mut att);

        self.credentials.push(SoftCredential {
            id: id.clone(),
            user_handle,
            rp_id,
            key,
            counter: 0,
        });
        Ok(json!({
            "id": B64.encode(&id),
            "rawId": B64.encode(&id),
            "type": "public-key",
            "response": {
                "attestationObject": B64.encode(&att),
                "clientDataJSON": B64.encode(&client_data),
                "transports": ["internal"],
            },
            "extensions": {},
        }))
    }

    /// `navigator.credentials.get(options)` with the credential at
    /// `index` (a discoverable one when the options allow any): signs
    /// the challenge, counting up.
    pub fn login_with(&mut self, options: &Value, index: usize) -> Result<Value, String> {
        let pk = public_key_of(options);
        let rp_id = self.rp_id();
        let named = pk["rpId"].as_str().unwrap_or_default();
        if named != rp_id {
            return Err(format!(
                "the options name RP {named:?}, the origin is {rp_id:?}"
            ));
        }
        let challenge = pk["challenge"].as_str().ok_or("no challenge")?.to_owned();
        let client_data = self.client_data("webauthn.get", &challenge);
        let cred = self
            .credentials
            .get_mut(index)
            .ok_or("no such credential")?;
        if let Some(allowed) = pk["allowCredentials"].as_array()
            && !allowed.is_empty()
            && !allowed.iter().any(|c| {
                B64.decode(c["id"].as_str().unwrap_or_default()).ok() == Some(cred.id.clone())
            })
        {
            return Err("NotAllowedError: the credential is not allowed".into());
        }
        cred.counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV);
        auth_data.extend_from_slice(&cred.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let sig: Signature = cred.key.sign(&signed);
        Ok(json!({
            "id": B64.encode(&cred.id),
            "rawId": B64.encode(&cred.id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(der(&sig)),
                "userHandle": B64.encode(&cred.user_handle),
            },
            "extensions": {},
        }))
    }

    /// [`Self::login_with`] the first credential.
    pub fn login(&mut self, options: &Value) -> Result<Value, String> {
        self.login_with(options, 0)
    }
}

/// Flips one bit of a base64url field of an answer's `response` (e.g.
/// `"signature"`): the tampered answer a test expects refused.
pub fn tamper(answer: &mut Value, field: &str) {
    let s = answer["response"][field].as_str().unwrap_or_default();
    let mut bytes = B64.decode(s).unwrap_or_default();
    if let Some(last) = bytes.last_mut() {
        *last ^= 0x01;
    }
    answer["response"][field] = Value::String(B64.encode(bytes));
}

/// Replaces an answer's user handle (another account's id).
pub fn set_user_handle(answer: &mut Value, handle: &[u8]) {
    answer["response"]["userHandle"] = Value::String(B64.encode(handle));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_heads_use_the_shortest_form() {
        let mut out = Vec::new();
        cbor_int(-7, &mut out);
        cbor_int(23, &mut out);
        cbor_int(24, &mut out);
        cbor_bytes(&[0; 300], &mut out);
        assert_eq!(&out[..5], &[0x26, 0x17, 0x18, 0x18, 0x59]);
        assert_eq!(&out[5..7], &300u16.to_be_bytes());
    }

    #[test]
    fn der_signatures_are_minimal_and_positive() {
        let key = SigningKey::from_slice(&fresh_bytes("t")).unwrap();
        let sig: Signature = key.sign(b"x");
        let d = der(&sig);
        assert_eq!(d[0], 0x30);
        assert_eq!(d[1] as usize, d.len() - 2);
        assert_eq!(d[2], 0x02);
    }
}
