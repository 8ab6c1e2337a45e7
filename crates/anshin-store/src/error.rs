//! The one error type of the storage layer.

/// What went wrong below the repository traits. Messages never contain
/// query parameters, because those may be personal data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was violated (for example a duplicate e-mail).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A guarded write of a [`crate::Changes`] found the row not as it
    /// must be (a flow consumed meanwhile, an address that is not the
    /// member's); the whole bundle was rolled back. The text names the
    /// guard, so the use case can tell which one.
    #[error("precondition failed: {0}")]
    Precondition(&'static str),
    /// Data read back was not what the schema promises.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        table: &'static str,
        reason: &'static str,
    },
    /// A data key wrapped under this KEK version was refused: the version
    /// is retired (`anshin keys retire`), so the key could never be
    /// unwrapped again. The writer's key ring is stale.
    #[error("KEK version {0} is retired; no data key may be wrapped under it")]
    RetiredKek(i64),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Any other database error; the text comes from the driver and never
    /// includes bound values.
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    /// Whether this is the failed guard named `guard`.
    pub fn is_precondition(&self, guard: &str) -> bool {
        matches!(self, StoreError::Precondition(g) if *g == guard)
    }
}
