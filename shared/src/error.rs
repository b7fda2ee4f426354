//! The core's error type: one enum that both front doors can match to choose a page, an OAuth
//! error or a PAM return code.

use crate::providers::ProviderType;
use crate::words::Said;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("secrets: {0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("password hashing: {0}")]
    Password(#[from] crate::password::PasswordError),
    /// A bad value from a person or a script; `field` names what to fix. `words`, when set,
    /// is the refusal a page says in the reader's language (`message` is its English).
    #[error("{field}: {message}")]
    Invalid {
        field: String,
        message: String,
        words: Option<Said>,
    },
    /// Wrong password or unknown user: one message for both, so nobody learns who exists.
    #[error("invalid username or password")]
    BadCredentials,
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
    #[error("the provider {0} is not available for this user")]
    ProviderUnavailable(ProviderType),
    /// The notifier failed; no counter was spent, the user may try another way.
    #[error("could not send the code; try another way")]
    SendFailed(#[source] crate::notify::NotifyError),
    #[error("a code was sent recently; wait {retry_after} s before asking for another")]
    SendTooSoon { retry_after: i64 },
    #[error("too many attempts; wait {retry_after} s and try again")]
    RateLimited { retry_after: i64 },
    #[error("the account is locked; ask an administrator to unlock it")]
    Locked,
    #[error("the account is disabled")]
    Disabled,
    #[error("the time allowed for verification has run out; sign in again")]
    ChallengeExpired,
    #[error("this verification is already finished; sign in again")]
    ChallengeClosed,
    /// A sensitive change needs a sign-in no older than `max_age` seconds, with a second
    /// factor when `second_factor` (see [`crate::reauth`]).
    #[error("confirm it is you: sign in again (password{}) and retry within {max_age} s",
        if *second_factor { " and second factor" } else { "" })]
    StepUpRequired { max_age: i64, second_factor: bool },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
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
