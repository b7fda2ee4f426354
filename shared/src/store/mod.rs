//! Storage: the statements of a part of the core, as functions over a transaction or the pool,
//! with no rule in them. The modules beside `store` decide; these read and write what they
//! decided on, so a rule can be read without SQL and a table's statements without the rules.
//!
//! (Moved here so far: enrolment's tables; groups, hosts (with a login at a host) and users;
//! the policy counters and sent codes; the platform settings. Other modules still hold their
//! own statements.)

pub(crate) mod enrolment;
pub(crate) mod groups;
pub(crate) mod hosts;
pub(crate) mod policy;
pub(crate) mod settings;
pub(crate) mod users;
