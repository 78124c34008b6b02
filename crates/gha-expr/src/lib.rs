//! `gha-expr`: see the crate README.
