//! The core's error type: one enum that both front doors can match to choose a page, an OAuth
//! error or a PAM return code.

use crate::providers::ProviderType;
use crate::words::Said;

/// The core's result: every public operation fails with an [`Error`] unless it says otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the core refused or failed. Each variant is a distinct answer a front door may give
/// (a page, an OAuth error, a PAM code), so callers match on it instead of reading messages;
/// the `Display` text is English for logs and the CLI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage failed; nothing about the request itself is known to be wrong, so the
    /// front doors answer with a server error (and the module fails closed).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date at start-up: the process must not serve.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The sealing key is missing, unreadable or does not open what was sealed with it.
    #[error("secrets: {0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    /// Hashing or checking a password failed for a reason other than a wrong password
    /// (a malformed stored hash, bad parameters).
    #[error("password hashing: {0}")]
    Password(#[from] crate::password::PasswordError),
    /// A bad value from a person or a script; `field` names what to fix. `words`, when set,
    /// is the refusal a page says in the reader's language (`message` is its English).
    #[error("{field}: {message}")]
    Invalid {
        /// The form field or config key at fault, so a page can mark it.
        field: String,
        /// What is wrong with it, in English.
        message: String,
        /// The same refusal in every language, when the core has the words for it.
        words: Option<Said>,
    },
    /// Wrong password or unknown user: one message for both, so nobody learns who exists.
    #[error("invalid username or password")]
    BadCredentials,
    /// The named kind of thing (user, client, host…) does not exist, or the caller may not
    /// see it; the front doors answer 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// What was asked for clashes with what is (a name taken, a group still in use); the
    /// words say how, in every language (the English: `Display`).
    #[error("{0}")]
    Conflict(Said),
    /// A rule of the 2FA policy refused the request (e.g. "set up another method first"), in
    /// words every language has.
    #[error("{0}")]
    Refused(Said),
    /// The asked-for second factor is not enrolled for this user, or switched off for the
    /// deployment: the login must pick another one.
    #[error("the provider {0} is not available for this user")]
    ProviderUnavailable(ProviderType),
    /// The notifier failed; no counter was spent, the user may try another way.
    #[error("could not send the code; try another way")]
    SendFailed(#[source] crate::notify::NotifyError),
    /// The send period has not passed since the last code went out: a second message would
    /// cost money and flood the user without raising the chance of a login.
    #[error("a code was sent recently; wait {retry_after} s before asking for another")]
    SendTooSoon {
        /// Seconds until a new code may be sent.
        retry_after: i64,
    },
    /// Too many checks in the rate window: guessing is slowed down before it reaches the
    /// lockout.
    #[error("too many attempts; wait {retry_after} s and try again")]
    RateLimited {
        /// Seconds until the next check is accepted.
        retry_after: i64,
    },
    /// Too many failed checks in a row: only an administrator lifts it, so a guesser cannot
    /// simply wait.
    #[error("the account is locked; ask an administrator to unlock it")]
    Locked,
    /// An administrator switched the account off: no login passes, whatever the factors say.
    #[error("the account is disabled")]
    Disabled,
    /// The challenge outlived its time limit: the password it followed is no longer trusted,
    /// so the whole login starts again.
    #[error("the time allowed for verification has run out; sign in again")]
    ChallengeExpired,
    /// The challenge already passed, failed or was cancelled; a challenge is used once.
    #[error("this verification is already finished; sign in again")]
    ChallengeClosed,
    /// A sensitive change needs a sign-in no older than `max_age` seconds, with a second
    /// factor when `second_factor` (see [`crate::reauth`]).
    #[error("confirm it is you: sign in again (password{}) and retry within {max_age} s",
        if *second_factor { " and second factor" } else { "" })]
    StepUpRequired {
        /// The oldest sign-in, in seconds, the change accepts.
        max_age: i64,
        /// Whether that sign-in must have passed a second factor too.
        second_factor: bool,
    },
    /// A broken invariant or an unexpected failure of a dependency; its text is for the
    /// logs, never shown to the user.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A bad value with an English message only, for refusals no page translates (the CLI,
    /// the config file).
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
            words: None,
        }
    }

    /// A bad value, in words every language has (see `crate::words`).
    pub fn refused_as(field: impl Into<String>, words: impl Into<Said>) -> Self {
        let words = words.into();
        Error::Invalid {
            field: field.into(),
            message: words.english(),
            words: Some(words),
        }
    }

    /// A refusal of the 2FA policy (see [`Error::Refused`]).
    pub fn refused(words: impl Into<Said>) -> Self {
        Error::Refused(words.into())
    }

    /// A clash with what is (see [`Error::Conflict`]).
    pub fn conflict(words: impl Into<Said>) -> Self {
        Error::Conflict(words.into())
    }
}
