//! A login at a Linux host (SSH, console, sudo), decided once for both ways a host asks: the
//! PAM module on the server's own machine (direct mode) and a registered host through the
//! server's host protocol (fleet mode). The module only relays the answers: it asks for the
//! password and the codes, and words what it is told.
//!
//! Everything here is serializable because the host protocol sends it as it is.

use crate::audit::{self, Event, EventKind};
use crate::challenge::{CheckOutcome, SecondFactor};
use crate::core::{Core, RequestContext};
use crate::enrolment::SentCode;
use crate::error::{Error, Result};
use crate::hosts::Host;
use crate::providers::ProviderType;
use crate::step::Step;
use crate::store::hosts as store;
use crate::users::User;
use serde::{Deserialize, Serialize};

/// What the host asks at the start of a login. (`Debug` leaves the password out.)
#[derive(Clone, Serialize, Deserialize)]
pub struct Begin {
    /// The login name PAM was given; it must be a Stepgate username.
    pub user: String,
    /// The Stepgate password, in password mode; absent when the host checked the password
    /// itself (second-factor mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A user with no second factor passes, unless 2FA is enforced for them.
    #[serde(default)]
    pub nullok: bool,
}

impl std::fmt::Debug for Begin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Begin")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("nullok", &self.nullok)
            .finish()
    }
}

/// How a login ended before any code was asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ending", rename_all = "snake_case")]
pub enum Ending {
    /// Second-factor mode: the name is not a Stepgate user.
    UnknownUser,
    /// Password mode: a wrong password or an unknown user, alike.
    BadPassword,
    /// An administrator switched the account off.
    Disabled,
    /// Locked by second-factor failures; only an administrator lifts it.
    Locked,
    /// The user is in none of the host's allowed groups.
    NotAdmitted,
    /// No second factor and `nullok`: passes; `password_verified` says whether Stepgate
    /// checked a password in this login (password mode) or nothing at all.
    NoSecondFactorAllowed {
        /// Whether Stepgate checked the password (the module then may return success).
        password_verified: bool,
    },
    /// No second factor and no `nullok`.
    NoSecondFactor,
    /// 2FA is enforced and the user has set up nothing yet; `url` is where to do it.
    MustEnrol {
        /// The account page, for the message the host shows.
        url: String,
    },
}

/// The answer to [`Begin`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Begun {
    /// A challenge is open: `conversation` continues it (send, check, step), `step` says
    /// what to ask.
    Challenge {
        /// The challenge's id; only the host that began it may continue it.
        conversation: String,
        /// What to ask first.
        step: Step,
    },
    /// The login ended (passed or refused) without a challenge.
    Ended(Ending),
}

/// Why a step of a login cannot go on, as a host is told it. Internal causes are reported as
/// `Unavailable` only: a host learns nothing about the server's insides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum Failure {
    /// See [`Error::Locked`].
    #[error("the account is locked")]
    Locked,
    /// See [`Error::RateLimited`].
    #[error("too many attempts; retry after {retry_after} s")]
    RateLimited {
        /// Seconds until the next check is accepted.
        retry_after: i64,
    },
    /// See [`Error::ChallengeExpired`].
    #[error("the time allowed for verification has run out")]
    Expired,
    /// The challenge is finished, or is not this host's (the two read alike).
    #[error("this verification is already finished")]
    Closed,
    /// See [`Error::Disabled`].
    #[error("the account is disabled")]
    Disabled,
    /// The notifier failed; the user may choose another provider.
    #[error("the code could not be sent")]
    SendFailed,
    /// See [`Error::SendTooSoon`].
    #[error("a code was sent recently; retry after {retry_after} s")]
    SendTooSoon {
        /// Seconds until a new code may be sent.
        retry_after: i64,
    },
    /// See [`Error::ProviderUnavailable`].
    #[error("that provider is not available for this user")]
    ProviderUnavailable,
    /// A rule refused the request; `message` is the English the host shows.
    #[error("refused: {message}")]
    Refused {
        /// The refusal, in English (a host has no catalogue).
        message: String,
    },
    /// A fault on the server (storage, secrets); the module fails closed.
    #[error("verification is unavailable")]
    Unavailable,
}

impl From<&Error> for Failure {
    fn from(e: &Error) -> Failure {
        match e {
            Error::Locked => Failure::Locked,
            Error::RateLimited { retry_after } => Failure::RateLimited {
                retry_after: *retry_after,
            },
            Error::ChallengeExpired => Failure::Expired,
            Error::ChallengeClosed => Failure::Closed,
            Error::Disabled => Failure::Disabled,
            Error::SendFailed(_) => Failure::SendFailed,
            Error::SendTooSoon { retry_after } => Failure::SendTooSoon {
                retry_after: *retry_after,
            },
            Error::ProviderUnavailable(_) => Failure::ProviderUnavailable,
            Error::Invalid { .. } | Error::Refused(_) | Error::Conflict(_) => Failure::Refused {
                message: e.to_string(),
            },
            // A conversation the host does not own reads exactly like one that never was.
            Error::NotFound(_) => Failure::Closed,
            Error::BadCredentials | Error::StepUpRequired { .. } => Failure::Refused {
                message: e.to_string(),
            },
            Error::Database(_)
            | Error::Migrate(_)
            | Error::Secrets(_)
            | Error::Password(_)
            | Error::Internal(_) => Failure::Unavailable,
        }
    }
}

/// Whether a user may use an account at a host (PAM `account`: also for logins that skip
/// `auth`, such as an SSH key alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// The account may be used at this host.
    Usable,
    /// No Stepgate user has this name.
    UnknownUser,
    /// An administrator switched the account off.
    Disabled,
    /// Locked by second-factor failures.
    Locked,
    /// The user is in none of the host's allowed groups.
    NotAdmitted,
}

impl Core {
    /// The start of a login at a host: the password (password mode), the account, the host's
    /// groups, and whether a second factor is needed; then the challenge and its first step.
    /// `host` is the registered host asking (fleet mode, or direct mode with `host=`); direct
    /// mode without one applies no group rule.
    pub async fn begin_host_login(
        &self,
        ctx: &RequestContext,
        host: Option<&Host>,
        b: &Begin,
    ) -> Result<Begun> {
        // The user, whether this host admits them and their factors, in one read.
        let found = match (host, &b.password) {
            // In password mode the factors are read after the hash.
            (Some(h), _) => self.user_at_host(&b.user, h, b.password.is_none()).await?,
            // The first factor reads the account itself.
            (None, Some(_)) => None,
            (None, None) => self
                .user_by_username(&b.user)
                .await?
                .map(|u| (u, true, None)),
        };
        // A host learns nothing about the password of a user it does not admit: the groups
        // are checked first, and the password is then not checked at all. (Whether the name
        // exists is no secret from a host: second-factor mode says so.)
        if let (Some(host), Some(_), Some((u, false, _))) = (host, &b.password, &found) {
            self.refuse_at_host(ctx, host, u).await?;
            return Ok(Begun::Ended(Ending::NotAdmitted));
        }
        let (user, admitted, factors) = match (&b.password, found) {
            (Some(pw), _) => match self.first_factor(ctx, &b.user, pw).await {
                // Admission is read again after the hash: the user may have left the host's
                // groups while it ran, and the `nullok` ending is not checked later.
                Ok(u) => (u, None, None),
                Err(Error::BadCredentials) => return Ok(Begun::Ended(Ending::BadPassword)),
                Err(e) => return Err(e),
            },
            (None, Some((u, admitted, factors))) => (u, Some(admitted), factors),
            (None, None) => return Ok(Begun::Ended(Ending::UnknownUser)),
        };
        if let Some(end) = self.account_ending(ctx, host, &user, admitted).await? {
            return Ok(Begun::Ended(end));
        }
        // The user's providers are read once, for the decision, the challenge and its step.
        let settings = self.twofa_settings().await?;
        let usable = match factors {
            Some(stored) => crate::factors::usable_listing(&stored, &settings),
            None => self.usable_providers(&user.id, &settings).await?,
        };
        match SecondFactor::of(&user, &settings, &usable) {
            SecondFactor::Required => {}
            SecondFactor::NotConfigured if b.nullok => {
                return Ok(Begun::Ended(Ending::NoSecondFactorAllowed {
                    password_verified: b.password.is_some(),
                }))
            }
            SecondFactor::NotConfigured => return Ok(Begun::Ended(Ending::NoSecondFactor)),
            SecondFactor::MustEnrol => {
                return Ok(Begun::Ended(Ending::MustEnrol {
                    url: self.config.server.issuer.clone(),
                }))
            }
        }
        let challenge = self
            .open_challenge_with(ctx, &user, &settings, &usable)
            .await?;
        let step = Step::first(&challenge, usable, &user, &settings).without_browser();
        Ok(Begun::Challenge {
            conversation: challenge.id,
            step,
        })
    }

    /// PAM `account` at a host.
    pub async fn host_account(
        &self,
        ctx: &RequestContext,
        host: Option<&Host>,
        username: &str,
    ) -> Result<AccountStatus> {
        let Some(user) = self.user_by_username(username).await? else {
            return Ok(AccountStatus::UnknownUser);
        };
        Ok(match self.account_ending(ctx, host, &user, None).await? {
            None => AccountStatus::Usable,
            Some(Ending::Disabled) => AccountStatus::Disabled,
            Some(Ending::Locked) => AccountStatus::Locked,
            Some(_) => AccountStatus::NotAdmitted,
        })
    }

    /// Disabled, locked, or outside the host's groups (audited with host, service and
    /// address): the reasons an account cannot be used at this host. `admitted`: whether the
    /// host admits the user, when the caller has just read it.
    async fn account_ending(
        &self,
        ctx: &RequestContext,
        host: Option<&Host>,
        user: &User,
        admitted: Option<bool>,
    ) -> Result<Option<Ending>> {
        if user.disabled {
            return Ok(Some(Ending::Disabled));
        }
        if user.locked {
            return Ok(Some(Ending::Locked));
        }
        if let Some(host) = host {
            let admitted = match admitted {
                Some(a) => a,
                None => self.host_admits(host, &user.id).await?,
            };
            if !admitted {
                self.refuse_at_host(ctx, host, user).await?;
                return Ok(Some(Ending::NotAdmitted));
            }
        }
        Ok(None)
    }

    /// Audits a refusal by group, with the host, service and address in `ctx`.
    async fn refuse_at_host(&self, ctx: &RequestContext, host: &Host, user: &User) -> Result<()> {
        audit::record_alone(
            self,
            ctx,
            Event::new(EventKind::HostLoginRefused)
                .user(&user.id, &user.username)
                .detail(format!(
                    "not in the host's allowed groups {:?}",
                    host.allowed_groups
                )),
        )
        .await
    }

    /// Refuses a conversation that `host` did not begin, exactly as one that does not exist,
    /// and one whose user the host no longer admits (taken out of its groups mid-login).
    pub async fn check_host_conversation(&self, host: &Host, conversation: &str) -> Result<()> {
        // The conversation's host and its user's groups in one round trip.
        match store::conversation_host_and_groups(self.db.pool(), conversation).await? {
            Some((Some(h), groups)) if h == host.name => {
                if crate::hosts::admits(&host.allowed_groups, &groups) {
                    Ok(())
                } else {
                    Err(Error::refused(crate::words::HOST_LOGIN_NO_LONGER))
                }
            }
            _ => Err(Error::NotFound("conversation")),
        }
    }

    /// Sends a code in a host's conversation.
    pub async fn host_send(
        &self,
        ctx: &RequestContext,
        host: &Host,
        conversation: &str,
        provider: ProviderType,
    ) -> Result<SentCode> {
        self.check_host_conversation(host, conversation).await?;
        self.send_code(ctx, conversation, provider).await
    }

    /// Checks a code in a host's conversation.
    pub async fn host_check(
        &self,
        ctx: &RequestContext,
        host: &Host,
        conversation: &str,
        provider: ProviderType,
        code: &str,
    ) -> Result<CheckOutcome> {
        let code = crate::codes::normalize_code(code);
        self.check(
            ctx,
            Some(host),
            conversation,
            provider,
            crate::challenge::Answer::Code(code),
        )
        .await
        .map(|checked| checked.outcome)
    }

    /// What to ask next in a host's conversation (after a provider went away).
    pub async fn host_step(&self, host: &Host, conversation: &str) -> Result<Step> {
        self.check_host_conversation(host, conversation).await?;
        self.text_login_step(conversation, None).await
    }

    /// Ends a host's conversation that the person gave up on; a finished one stays as it is.
    pub async fn host_cancel(&self, host: &Host, conversation: &str) -> Result<()> {
        self.check_host_conversation(host, conversation).await?;
        store::fail_pending_challenge(self.db.writer(), conversation, self.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_reach_a_host_as_unavailable_only() {
        let e = Error::Internal("disk on fire at /var/lib/x".into());
        assert_eq!(Failure::from(&e), Failure::Unavailable);
        assert_eq!(
            Failure::from(&Error::NotFound("challenge")),
            Failure::Closed
        );
        let json = serde_json::to_string(&Failure::RateLimited { retry_after: 7 }).unwrap();
        assert_eq!(json, r#"{"error":"rate_limited","retry_after":7}"#);
        let back: Failure = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Failure::RateLimited { retry_after: 7 });
    }

    #[test]
    fn endings_round_trip() {
        for e in [
            Ending::UnknownUser,
            Ending::NoSecondFactorAllowed {
                password_verified: true,
            },
            Ending::MustEnrol {
                url: "https://idp".into(),
            },
        ] {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<Ending>(&json).unwrap(), e);
        }
    }
}
