//! What every configuration section of the core shares: one error type
//! that names the key and its environment variable, the check each section
//! runs on itself ([`Section`]), and the one way secrets are shown by
//! `anshin config show` ([`redacted`]).
//!
//! The binary's `config` module composes these sections with its own
//! (listeners, TLS, HTTP limits, logging, WAF) and loads them; the core
//! never reads files or the environment for configuration.

use serde::Serializer;

/// A configuration value that is out of range or inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} (env {env}): {reason}", env = env_name(self.key))]
pub struct Invalid {
    /// The dotted key, e.g. `auth.code_ttl_secs`.
    pub key: &'static str,
    pub reason: String,
}

/// `auth.code_ttl_secs` → `ANSHIN_AUTH__CODE_TTL_SECS`.
pub fn env_name(key: &str) -> String {
    format!("ANSHIN_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// An `Err` naming `key` and why.
pub fn invalid<T>(key: &'static str, reason: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid {
        key,
        reason: reason.into(),
    })
}

/// `Err` unless `value` is within `range` (inclusive), with a message
/// that states the range.
pub fn within<T: PartialOrd + std::fmt::Display>(
    key: &'static str,
    value: T,
    min: T,
    max: T,
    unit: &str,
) -> Result<(), Invalid> {
    if value < min || value > max {
        return invalid(key, format!("must be between {min} and {max}{unit}"));
    }
    Ok(())
}

/// A configuration section: checks its own values at start, so a wrong
/// one stops the process with the key named instead of failing under load.
pub trait Section {
    fn check(&self) -> Result<(), Invalid>;
}

/// Serialises a secret as `[redacted]` (or nothing when unset): every
/// secret field of every section uses this, so `config show` can never
/// print one.
pub fn redacted<S: Serializer, T>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key_and_its_variable() {
        let e = within("auth.code_digits", 5, 6, 10, "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "auth.code_digits (env ANSHIN_AUTH__CODE_DIGITS): must be between 6 and 10"
        );
        assert!(within("x.y", 6, 6, 10, "").is_ok());
    }
}
