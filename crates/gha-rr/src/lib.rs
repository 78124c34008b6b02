//! `gha-rr`: see the crate README.
