//! `gha-actions`: see the crate README.
