//! The conformance suite (being rewritten for the Changes API).
