//! `gha-backend-docker`: see the crate README.
