//! `gha-model`: see the crate README.
