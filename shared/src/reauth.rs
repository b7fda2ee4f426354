//! Fresh proof for sensitive account changes: adding, replacing or removing a second factor,
//! regenerating backup codes, changing the password.
//!
//! A session or an access token proves that someone signed in once; it can be left open in a
//! borrowed browser or taken from an application. Planting a factor with it would pass the
//! second factor everywhere from then on (web and PAM), so these changes need a sign-in that is
//! recent — and that passed a second factor when the user has one. Both front doors ask the
//! same question here: the web from its session, the API from the token's `auth_time`/`acr`.

use crate::error::{Error, Result};
use crate::users::User;
use crate::{Core, ProviderType, RequestContext};

/// When the caller last proved who they are, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proof {
    /// Unix time of the sign-in (OpenID Connect `auth_time`).
    pub at: i64,
    /// Whether that sign-in passed a second factor.
    pub second_factor: bool,
}

/// The rule, without storage: a proof no older than `window` seconds, with a second factor
/// when the user had one at the time of the proof. `oldest_factor` is when the user's oldest
/// usable factor was set up (`None`: no factor). A password-only sign-in by a user who had
/// no factor then is the whole proof they could give: the factors they set up since, within
/// the window, do not make it stale (so a new user can add an app and then backup codes).
/// A proof from the future (clock skew between instances) counts only by the same margin.
pub fn check(
    proof: Option<Proof>,
    oldest_factor: Option<i64>,
    now: i64,
    window: i64,
) -> Result<()> {
    // Strictly before: a factor set up in the same second as the sign-in came after it (a
    // sign-in by a user who had a usable factor always asks for it).
    let had_factor = |at: i64| oldest_factor.is_some_and(|t| t < at);
    let fresh = proof.is_some_and(|p| {
        let age = now - p.at;
        age <= window && age >= -window && (p.second_factor || !had_factor(p.at))
    });
    if fresh {
        Ok(())
    } else {
        Err(Error::StepUpRequired {
            max_age: window,
            second_factor: oldest_factor.is_some(),
        })
    }
}

impl Core {
    /// Whether `proof` is fresh enough for `user` to change their factors or password now.
    pub async fn check_fresh(&self, user: &User, proof: Option<Proof>) -> Result<()> {
        let settings = self.twofa_settings().await?;
        let oldest_factor = self
            .usable_providers(&user.id, &settings)
            .await?
            .iter()
            .map(|p| p.created_at)
            .min();
        check(
            proof,
            oldest_factor,
            self.now(),
            i64::from(self.config().account.reauth_seconds),
        )
    }

    /// The user turns one of their own factors off: a fresh sign-in, and the password entered
    /// again (a removal weakens the account, so it asks for more than an addition does).
    pub async fn remove_own_provider(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
        password: &str,
        proof: Option<Proof>,
    ) -> Result<()> {
        self.check_fresh(user, proof).await?;
        self.first_factor(ctx, &user.username, password).await?;
        self.remove_provider(ctx, user, provider).await
    }

    /// Seconds a sign-in stays fresh enough for sensitive changes (`[account] reauth_seconds`).
    pub fn reauth_seconds(&self) -> i64 {
        i64::from(self.config().account.reauth_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn proof(age: i64, second_factor: bool) -> Option<Proof> {
        Some(Proof {
            at: NOW - age,
            second_factor,
        })
    }

    const LONG_AGO: Option<i64> = Some(NOW - 10_000);

    #[test]
    fn a_recent_two_factor_sign_in_is_fresh() {
        assert!(check(proof(0, true), LONG_AGO, NOW, 300).is_ok());
        assert!(check(proof(300, true), LONG_AGO, NOW, 300).is_ok());
    }

    #[test]
    fn an_old_sign_in_needs_a_new_one() {
        let e = check(proof(301, true), LONG_AGO, NOW, 300).unwrap_err();
        assert!(matches!(
            e,
            Error::StepUpRequired {
                max_age: 300,
                second_factor: true
            }
        ));
        assert!(check(None, None, NOW, 300).is_err());
        assert!(check(proof(-301, true), LONG_AGO, NOW, 300).is_err());
    }

    #[test]
    fn a_password_only_sign_in_is_enough_only_without_a_factor_at_that_time() {
        assert!(check(proof(10, false), None, NOW, 300).is_ok());
        // Set up after that sign-in (5 s ago): the sign-in was all the user could prove.
        assert!(check(proof(10, false), Some(NOW - 5), NOW, 300).is_ok());
        assert!(check(proof(10, false), Some(NOW - 10), NOW, 300).is_ok());
        // Set up before it: the sign-in should have asked for it, and did not.
        let e = check(proof(10, false), Some(NOW - 11), NOW, 300).unwrap_err();
        assert!(matches!(
            e,
            Error::StepUpRequired {
                second_factor: true,
                ..
            }
        ));
    }
}
