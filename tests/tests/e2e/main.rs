//! Stepgate's end-to-end tests, in one test binary (linking is the slow part of a Rust test
//! suite, so every area is a module here rather than a binary of its own).

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod account;
mod admin;
mod api;
mod cli;
mod device;
mod device_node;
mod fleet;
mod groups;
mod node_client;
mod oidc;
mod pam;
mod recovery;
mod trust;
