//! Stepgate's end-to-end tests, in one test binary (linking is the slow part of a Rust test
//! suite, so every area is a module here rather than a binary of its own).

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
