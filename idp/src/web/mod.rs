//! The pages people see: sign-in, second factor, sign-out, and the small helpers they share
//! (security headers; cookies, CSRF and redirects are `crate::http`'s).

pub mod account;
pub mod admin;
pub mod device;
pub mod headers;
pub mod home;
pub mod login_approval;
pub mod second_factor;
pub mod sign_in;
