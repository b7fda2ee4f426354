//! Storage: the statements of a part of the core, as functions over a transaction or the pool,
//! with no rule in them. The modules beside `store` decide; these read and write what they
//! decided on, so a rule can be read without SQL and a table's statements without the rules.
//!
//! (Moved here so far: the tables of enrolment, passkeys, device authorizations, login
//! approvals and stored factors. Other modules still hold their own statements.)

pub(crate) mod approval;
pub(crate) mod device;
pub(crate) mod enrolment;
pub(crate) mod factors;
pub(crate) mod passkeys;
