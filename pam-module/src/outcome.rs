//! What a module call ends with: the PAM return code, and a reason for syslog.

/// The PAM return codes this module gives, each for one kind of ending (see `docs/pam.md`).
///
/// Kept separate from the `pam` crate's `PamResultCode` so the login flow stays plain Rust
/// that tests can compare and copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `PAM_SUCCESS`: the second factor (and, in password mode, the password) was verified.
    Success,
    /// `PAM_AUTH_ERR`: wrong codes or password, expired verification, refused account.
    AuthErr,
    /// `PAM_MAXTRIES`: the account is locked, or checks are rate limited; retrying now is
    /// pointless, and PAM applications stop asking when they see it.
    MaxTries,
    /// `PAM_USER_UNKNOWN`: second-factor mode, the user does not exist in Stepgate.
    UserUnknown,
    /// `PAM_IGNORE`: `nullok` and the user has no second factor; the rest of the stack decides.
    Ignore,
    /// `PAM_AUTHINFO_UNAVAIL`: the configuration, key or database cannot be used; fail closed.
    AuthInfoUnavail,
    /// `PAM_CONV_ERR`: the application's conversation broke (client hung up).
    ConvErr,
    /// `PAM_PERM_DENIED`: account management refuses a disabled or locked user.
    PermDenied,
    /// `PAM_SERVICE_ERR`: the PAM configuration itself is wrong (bad module argument).
    ServiceErr,
}

/// The end of one module call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    /// For the administrator's syslog: what happened, never a code or a password.
    pub reason: String,
}

impl Outcome {
    pub fn new(verdict: Verdict, reason: impl Into<String>) -> Outcome {
        Outcome {
            verdict,
            reason: reason.into(),
        }
    }
}
