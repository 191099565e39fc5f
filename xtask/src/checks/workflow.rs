//! (placeholder: owned by the issue that implements it)
