//! `gha-backend-ecs`: see the crate README.
