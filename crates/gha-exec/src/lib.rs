//! `gha-exec`: see the crate README.
