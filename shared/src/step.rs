//! "What happens next in this login": one value that every front door renders — the web
//! page, the PAM conversation, and later the fleet host protocol, which serializes it.
//!
//! The rules that were worked out in each door live here once: which provider asks first
//! (the one the user chose, else their default, else the first usable one), whether its code
//! is sent on entry (SMS and email), what the user types (a 6-digit code or an 8-digit backup
//! code), and why a challenge can no longer be acted on.

use crate::challenge::{Challenge, ChallengeState};
use crate::error::{Error, Result};
use crate::factors::EnrolledProvider;
use crate::providers::ProviderType;
use crate::settings::LockoutLimit;
use crate::Core;
use serde::{Deserialize, Serialize};

/// What the user is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prompt {
    /// A code from an app, an SMS or an email.
    Code {
        /// Length of the code, so a door can size its field and reject a short one early.
        digits: usize,
    },
    /// One of the user's single-use backup codes.
    BackupCode {
        /// Length of a backup code (longer than a one-time code: it never expires).
        digits: usize,
    },
    /// A passkey or security key, through the browser (WebAuthn); nothing is typed.
    Passkey,
    /// Approve the login on the server's approval page, in a browser where any of the user's
    /// second factors works (a passkey included); nothing is typed at the prompt.
    BrowserApproval,
}

impl Prompt {
    /// The one place that decides what a provider makes the user do, so every door asks
    /// alike.
    pub fn for_provider(p: ProviderType) -> Prompt {
        let digits = p.code_digits();
        match p {
            ProviderType::BackupCode => Prompt::BackupCode { digits },
            ProviderType::Webauthn => Prompt::Passkey,
            _ => Prompt::Code { digits },
        }
    }

    /// How many digits the user types; 0 when nothing is typed (passkey, approval).
    pub fn digits(self) -> usize {
        match self {
            Prompt::Code { digits } | Prompt::BackupCode { digits } => digits,
            Prompt::Passkey | Prompt::BrowserApproval => 0,
        }
    }
}

/// Why the login cannot go on; each door words it (a page, a PAM message, a protocol code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The challenge's time limit passed: the login starts again from the password.
    #[error("the time allowed for verification has run out; sign in again")]
    Expired,
    /// The user hit the lockout; only an administrator lifts it.
    #[error("the account is locked; ask an administrator to unlock it")]
    Locked,
    /// The challenge already passed or failed; a challenge is used once.
    #[error("this verification is already finished; sign in again")]
    Closed,
    /// Every factor the login could use went away (removed, or its provider switched off)
    /// while the challenge was open.
    #[error("no second factor is available for this account any more")]
    NoProvider,
    /// The user's only second factor is a passkey, and this door cannot ask for one (a text
    /// conversation such as PAM's).
    #[error("{}", crate::words::PASSKEY_ONLY)]
    PasskeyOnly,
}

impl Refusal {
    /// The core error a door that speaks errors (PAM's return codes) maps this to.
    pub fn to_error(self) -> Error {
        match self {
            Refusal::Expired => Error::ChallengeExpired,
            Refusal::Locked => Error::Locked,
            Refusal::Closed => Error::ChallengeClosed,
            Refusal::NoProvider => Error::refused(crate::words::NO_FACTOR_AVAILABLE),
            Refusal::PasskeyOnly => Error::refused(crate::words::PASSKEY_ONLY),
        }
    }
}

/// Why a challenge in this state cannot be acted on, if it cannot.
pub fn refusal_for(state: ChallengeState) -> Option<Refusal> {
    match state {
        ChallengeState::Pending => None,
        ChallengeState::Expired => Some(Refusal::Expired),
        ChallengeState::Locked => Some(Refusal::Locked),
        ChallengeState::Verified | ChallengeState::Failed => Some(Refusal::Closed),
    }
}

/// The provider that asks now: `wanted` when the user has it, else a passkey (the strongest,
/// the one phishing cannot relay), else the default, else the first usable one.
pub fn current_provider(
    providers: &[EnrolledProvider],
    wanted: Option<ProviderType>,
) -> Option<&EnrolledProvider> {
    wanted
        .and_then(|w| providers.iter().find(|p| p.provider == w))
        .or_else(|| {
            providers
                .iter()
                .find(|p| p.provider == ProviderType::Webauthn)
        })
        .or_else(|| providers.iter().find(|p| p.is_default))
        .or_else(|| providers.first())
}

/// One step of a login's second factor.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    /// The challenge's state when the step was built; anything but pending comes with a
    /// refusal.
    pub state: ChallengeState,
    /// When the challenge stops accepting codes (`totalAllowedTimeForVerification`).
    pub expires_at: i64,
    /// Every usable provider, with masked destinations; exactly one is the default.
    pub providers: Vec<EnrolledProvider>,
    /// The provider asking now; `None` when refused.
    pub current: Option<ProviderType>,
    /// The user asked for a provider they do not have (the current one asks instead).
    pub wanted_unavailable: bool,
    /// The current provider's code is sent when the step is entered (SMS, email).
    pub send_on_entry: bool,
    /// What the current provider asks for; `None` when refused.
    pub prompt: Option<Prompt>,
    /// Why the login cannot go on, if it cannot; doors check it before anything else.
    pub refusal: Option<Refusal>,
    /// "Approve in your browser" may be chosen instead of a code (the host protocol only:
    /// the host waits on the server while the user approves on the approval page).
    #[serde(default)]
    pub browser_approval: bool,
    /// Wrong answers the user may still give before lockout (`None`: lockout is off, or the
    /// step is refused). Shared by every door: the same count as the web's.
    #[serde(default)]
    pub attempts_left: Option<u32>,
}

impl Step {
    /// The step for a challenge in `state` with these providers, the user having asked for
    /// `wanted`: the pure rule, for tests and for doors that already hold both.
    pub fn decide(
        state: ChallengeState,
        expires_at: i64,
        providers: Vec<EnrolledProvider>,
        wanted: Option<ProviderType>,
    ) -> Step {
        let refusal = refusal_for(state).or_else(|| {
            current_provider(&providers, wanted)
                .is_none()
                .then_some(Refusal::NoProvider)
        });
        let current = match refusal {
            Some(_) => None,
            None => current_provider(&providers, wanted).map(|p| p.provider),
        };
        Step {
            state,
            expires_at,
            wanted_unavailable: wanted.is_some() && current.is_some() && current != wanted,
            send_on_entry: current.is_some_and(ProviderType::is_sent),
            prompt: current.map(Prompt::for_provider),
            current,
            refusal,
            providers,
            browser_approval: false,
            attempts_left: None,
        }
    }

    /// The first step of a challenge just opened for `user` with these usable providers
    /// (read once, for the decision, the challenge and this step).
    pub(crate) fn first(
        c: &Challenge,
        usable: Vec<EnrolledProvider>,
        user: &crate::users::User,
        settings: &crate::settings::TwoFaSettings,
    ) -> Step {
        Step::decide(c.state, c.expires_at, usable, None).with_failures(
            user.twofa_failures,
            settings.max_verification_failures_before_user_lockout,
        )
    }

    /// This step with the attempts left of a user with `failures` wrong answers so far,
    /// under `maxVerificationFailuresBeforeUserLockout` = `max`.
    pub fn with_failures(mut self, failures: i64, max: LockoutLimit) -> Step {
        if self.refusal.is_none() {
            self.attempts_left = crate::policy::rules::attempts_left(failures, max);
        }
        self
    }

    /// This step for a host that can wait for an approval in the browser: the text step
    /// ([`Step::without_browser`]) with approval offered beside the codes, and, for a user
    /// whose only second factor is a passkey, asked for instead of a refusal.
    pub fn for_host(self) -> Step {
        let mut step = self.without_browser();
        match step.refusal {
            None => step.browser_approval = true,
            Some(Refusal::PasskeyOnly) => {
                step.refusal = None;
                step.browser_approval = true;
                step.prompt = Some(Prompt::BrowserApproval);
            }
            Some(_) => {}
        }
        step
    }

    /// This step for a door that cannot run WebAuthn: the passkey leaves the list (the
    /// default moves to what is left) and asks no more; a passkey-only user is refused with
    /// [`Refusal::PasskeyOnly`].
    pub fn without_browser(self) -> Step {
        if !self.providers.iter().any(|p| p.provider.needs_browser()) {
            return self;
        }
        let mut providers: Vec<EnrolledProvider> = self
            .providers
            .into_iter()
            .filter(|p| !p.provider.needs_browser())
            .collect();
        let default = crate::factors::effective_default(&providers);
        for p in &mut providers {
            p.is_default = Some(p.provider) == default;
        }
        let wanted = self.current.filter(|c| !c.needs_browser());
        let only_passkeys = providers.is_empty() && self.refusal.is_none();
        let mut step = Step::decide(self.state, self.expires_at, providers, wanted);
        step.wanted_unavailable = false;
        if step.refusal.is_none() {
            step.attempts_left = self.attempts_left;
        }
        if only_passkeys {
            step.refusal = Some(Refusal::PasskeyOnly);
        }
        step
    }

    /// The providers other than the current one ("try another way").
    pub fn alternatives(&self) -> impl Iterator<Item = &EnrolledProvider> {
        self.providers
            .iter()
            .filter(move |p| Some(p.provider) != self.current)
    }

    /// The current provider as listed (with its masked destination).
    pub fn current_listed(&self) -> Option<&EnrolledProvider> {
        let current = self.current?;
        self.providers.iter().find(|p| p.provider == current)
    }
}

impl Core {
    /// What happens next in the login of challenge `id`, the user having asked for `wanted`.
    pub async fn login_step(&self, id: &str, wanted: Option<ProviderType>) -> Result<Step> {
        let c = self.challenge(id).await?;
        self.step_of(&c, wanted).await
    }

    /// [`Core::login_step`] for a challenge the caller has just read or opened.
    pub async fn step_of(&self, c: &Challenge, wanted: Option<ProviderType>) -> Result<Step> {
        if refusal_for(c.state).is_some() {
            return Ok(Step::decide(c.state, c.expires_at, Vec::new(), wanted));
        }
        let settings = self.twofa_settings().await?;
        let providers = self.usable_providers(&c.user_id, &settings).await?;
        let failures = crate::store::users::twofa_failures(self.db.pool(), &c.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        Ok(
            Step::decide(c.state, c.expires_at, providers, wanted).with_failures(
                failures,
                settings.max_verification_failures_before_user_lockout,
            ),
        )
    }

    /// [`Core::login_step`] for a door without a browser (a PAM text conversation): passkeys
    /// are not offered, and a user who has nothing else is told so.
    pub async fn text_login_step(&self, id: &str, wanted: Option<ProviderType>) -> Result<Step> {
        let c = self.challenge(id).await?;
        self.text_step_of(&c, wanted).await
    }

    /// [`Core::text_login_step`] for a challenge the caller has just read or opened.
    pub async fn text_step_of(&self, c: &Challenge, wanted: Option<ProviderType>) -> Result<Step> {
        Ok(self.step_of(c, wanted).await?.without_browser())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderType::*;

    fn listed(list: &[(ProviderType, bool)]) -> Vec<EnrolledProvider> {
        list.iter()
            .map(|&(provider, is_default)| EnrolledProvider {
                provider,
                is_default,
                destination: None,
                created_at: 0,
                updated_at: 0,
            })
            .collect()
    }

    #[test]
    fn the_default_asks_first_and_a_sent_one_is_sent_on_entry() {
        let s = Step::decide(
            ChallengeState::Pending,
            100,
            listed(&[(Totp, false), (Sms, true), (BackupCode, false)]),
            None,
        );
        assert_eq!(s.current, Some(Sms));
        assert!(s.send_on_entry);
        assert_eq!(s.prompt, Some(Prompt::Code { digits: 6 }));
        let others: Vec<_> = s.alternatives().map(|p| p.provider).collect();
        assert_eq!(others, [Totp, BackupCode]);
    }

    #[test]
    fn the_users_choice_wins_when_they_have_it() {
        let list = listed(&[(Totp, true), (BackupCode, false)]);
        let s = Step::decide(ChallengeState::Pending, 100, list.clone(), Some(BackupCode));
        assert_eq!(s.current, Some(BackupCode));
        assert_eq!(s.prompt, Some(Prompt::BackupCode { digits: 8 }));
        assert!(!s.send_on_entry && !s.wanted_unavailable);
        let s = Step::decide(ChallengeState::Pending, 100, list, Some(Email));
        assert_eq!(s.current, Some(Totp));
        assert!(s.wanted_unavailable);
    }

    #[test]
    fn a_passkey_asks_first_and_a_text_door_drops_it() {
        let list = listed(&[(Totp, true), (Webauthn, false), (BackupCode, false)]);
        let s = Step::decide(ChallengeState::Pending, 100, list.clone(), None);
        assert_eq!(s.current, Some(Webauthn));
        assert_eq!(s.prompt, Some(Prompt::Passkey));
        assert!(!s.send_on_entry);
        let others: Vec<_> = s.alternatives().map(|p| p.provider).collect();
        assert_eq!(others, [Totp, BackupCode]);
        // "Try another way" from the passkey.
        let s = Step::decide(ChallengeState::Pending, 100, list.clone(), Some(Totp));
        assert_eq!(s.current, Some(Totp));
        // PAM: no passkey, the default asks.
        let s = Step::decide(ChallengeState::Pending, 100, list, None).without_browser();
        assert_eq!(s.current, Some(Totp));
        assert!(s.providers.iter().all(|p| p.provider != Webauthn));
        assert_eq!(s.refusal, None);
        // Passkey as the stored default: the next one becomes the default.
        let s = Step::decide(
            ChallengeState::Pending,
            100,
            listed(&[(Sms, false), (Webauthn, true)]),
            None,
        )
        .without_browser();
        assert_eq!(s.current, Some(Sms));
        assert!(s.send_on_entry);
        assert!(s.providers[0].is_default);
    }

    #[test]
    fn a_passkey_only_user_is_told_so_by_a_text_door() {
        let s = Step::decide(
            ChallengeState::Pending,
            100,
            listed(&[(Webauthn, true)]),
            None,
        )
        .without_browser();
        assert_eq!(s.refusal, Some(Refusal::PasskeyOnly));
        assert_eq!(s.current, None);
        assert!(Refusal::PasskeyOnly.to_string().contains("passkey"));
        // A closed challenge keeps its own refusal.
        let s = Step::decide(ChallengeState::Locked, 100, Vec::new(), None).without_browser();
        assert_eq!(s.refusal, Some(Refusal::Locked));
    }

    #[test]
    fn a_host_offers_approval_and_asks_it_of_a_passkey_only_user() {
        let s = Step::decide(
            ChallengeState::Pending,
            100,
            listed(&[(Totp, true), (Webauthn, false)]),
            None,
        )
        .for_host();
        assert_eq!(s.current, Some(Totp));
        assert!(s.browser_approval);
        assert_eq!(s.prompt, Some(Prompt::Code { digits: 6 }));
        let s = Step::decide(
            ChallengeState::Pending,
            100,
            listed(&[(Webauthn, true)]),
            None,
        )
        .for_host();
        assert_eq!(s.refusal, None);
        assert_eq!(s.current, None);
        assert_eq!(s.prompt, Some(Prompt::BrowserApproval));
        assert!(s.browser_approval);
        // A closed challenge offers nothing.
        let s = Step::decide(ChallengeState::Locked, 100, Vec::new(), None).for_host();
        assert_eq!(s.refusal, Some(Refusal::Locked));
        assert!(!s.browser_approval);
        // The text door (direct PAM) never offers it.
        let s = Step::decide(ChallengeState::Pending, 100, listed(&[(Totp, true)]), None)
            .without_browser();
        assert!(!s.browser_approval);
    }

    #[test]
    fn attempts_left_are_told_while_the_login_can_go_on() {
        let list = listed(&[(Totp, true), (Webauthn, false)]);
        let s = Step::decide(ChallengeState::Pending, 100, list, None)
            .with_failures(2, LockoutLimit::after(5));
        assert_eq!(s.attempts_left, Some(3));
        // Kept when the text door drops the passkey.
        assert_eq!(s.without_browser().attempts_left, Some(3));
        let off = Step::decide(ChallengeState::Pending, 100, listed(&[(Totp, true)]), None)
            .with_failures(2, LockoutLimit::Never);
        assert_eq!(off.attempts_left, None);
        let locked = Step::decide(ChallengeState::Locked, 100, Vec::new(), None)
            .with_failures(5, LockoutLimit::after(5));
        assert_eq!(locked.attempts_left, None);
    }

    #[test]
    fn a_closed_challenge_or_no_provider_is_a_refusal() {
        for (state, refusal) in [
            (ChallengeState::Expired, Refusal::Expired),
            (ChallengeState::Locked, Refusal::Locked),
            (ChallengeState::Verified, Refusal::Closed),
            (ChallengeState::Failed, Refusal::Closed),
        ] {
            let s = Step::decide(state, 100, listed(&[(Totp, true)]), None);
            assert_eq!(s.refusal, Some(refusal));
            assert_eq!(s.current, None);
            assert_eq!(s.prompt, None);
        }
        let s = Step::decide(ChallengeState::Pending, 100, Vec::new(), None);
        assert_eq!(s.refusal, Some(Refusal::NoProvider));
    }
}
