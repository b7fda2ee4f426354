//! Storage: the statements of a part of the core, as functions over a transaction or the pool,
//! with no rule in them. The modules beside `store` decide; these read and write what they
//! decided on, so a rule can be read without SQL and a table's statements without the rules.
//!
//! Two modules keep their own statements because storage is what they are: `audit` (the
//! audit log: write, list, prune) and `db` (connections, locks, migrations).

pub(crate) mod approval;
pub(crate) mod challenge;
pub(crate) mod device;
pub(crate) mod enrolment;
pub(crate) mod factors;
pub(crate) mod groups;
pub(crate) mod hosts;
pub(crate) mod passkeys;
pub(crate) mod policy;
pub(crate) mod settings;
pub(crate) mod users;
