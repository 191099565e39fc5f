//! End-to-end preflight tests.
