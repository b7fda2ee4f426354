//! The verification challenge: the one place a login's second factor is decided.
//!
//! After the first factor (or, for PAM in second-factor mode, after the host checked the
//! password) a front door opens a challenge, lists its providers, asks for codes to be sent and
//! checks codes. "Try another way" is simply a check with another provider of the same
//! challenge. The challenge ends `verified`, `failed`, `expired` or `locked`; it and every
//! counter live in the database, so any instance or PAM process can continue it.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::db::{lock_user, Backend, Batch};
use crate::enrolment::{SentCode, BACKUP_CODE_DIGITS};
use crate::error::{Error, Result};
use crate::factors::EnrolledProvider;
use crate::hosts::Host;
use crate::policy;
use crate::providers::ProviderType;
use crate::settings::TwoFaSettings;
use crate::step::Step;
use crate::store::challenge as store;
use crate::users::User;
use base64::Engine;
use serde::Serialize;

/// Where a challenge stands. Only `Pending` accepts answers; every other state is final, so a
/// finished login cannot be replayed or continued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeState {
    /// Waiting for a second factor.
    Pending,
    /// A second factor passed: the front door may finish the login.
    Verified,
    /// Ended without a pass (denied on the approval page, or the user was disabled while it
    /// waited); also what an unknown stored state reads as, so a damaged row never passes.
    Failed,
    /// The time allowed for verification ran out.
    Expired,
    /// The user was locked out during this challenge.
    Locked,
}

impl ChallengeState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChallengeState::Pending => "pending",
            ChallengeState::Verified => "verified",
            ChallengeState::Failed => "failed",
            ChallengeState::Expired => "expired",
            ChallengeState::Locked => "locked",
        }
    }
    pub(crate) fn parse(s: &str) -> ChallengeState {
        match s {
            "pending" => ChallengeState::Pending,
            "verified" => ChallengeState::Verified,
            "expired" => ChallengeState::Expired,
            "locked" => ChallengeState::Locked,
            _ => ChallengeState::Failed,
        }
    }
}

/// One login's second-factor step, as stored: the state every door reads before it acts.
#[derive(Clone, Debug, Serialize)]
pub struct Challenge {
    /// 256 random bits; whoever holds it may continue this login, so front doors keep it in an
    /// HttpOnly cookie or in the PAM handle only.
    pub id: String,
    /// The user who passed the first factor; the challenge can only verify this user.
    pub user_id: String,
    /// Where it stands; only `Pending` accepts answers.
    pub state: ChallengeState,
    /// The provider that passed, once verified; the front doors record how the user proved
    /// themselves from it.
    pub verified_provider: Option<ProviderType>,
    /// When the first factor passed (Unix seconds).
    pub created_at: i64,
    /// `created_at` plus the time allowed for verification; no answer counts after it.
    pub expires_at: i64,
}

/// What a login must do about the second factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// The user has usable providers: open a challenge.
    Required,
    /// None enrolled, and 2FA is enforced for this user: send them to enrolment.
    MustEnrol,
    /// None enrolled and not enforced: the front door decides (PAM `nullok`, OIDC `acr`).
    NotConfigured,
}

impl SecondFactor {
    /// The rule, from the user's usable providers under the current settings.
    pub fn of(user: &User, settings: &TwoFaSettings, usable: &[EnrolledProvider]) -> SecondFactor {
        if !usable.is_empty() {
            SecondFactor::Required
        } else if settings.enforced_for(user.is_admin()) {
            SecondFactor::MustEnrol
        } else {
            SecondFactor::NotConfigured
        }
    }
}

/// What a login does after a correct password ([`Core::after_password`]).
#[derive(Clone, Debug)]
pub enum AfterPassword {
    /// A challenge is open; `step` says what to ask first.
    Challenge {
        /// The challenge the second-factor page continues.
        challenge: Challenge,
        /// Its first step.
        step: Step,
    },
    /// See [`SecondFactor::MustEnrol`].
    MustEnrol,
    /// See [`SecondFactor::NotConfigured`].
    NotConfigured,
}

/// How a successful check ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// The answer passed with this provider; the challenge is now verified.
    Verified(ProviderType),
    /// The code was wrong; `attempts_left` before lockout, when lockout is on.
    WrongCode {
        /// Wrong answers left before the lockout; `None` when lockout is off.
        attempts_left: Option<u32>,
    },
}

/// A check's outcome with the user it was for, as the check read them under the user's lock:
/// a door that signs the user in once the check passes needs neither read again.
#[derive(Clone, Debug)]
pub struct Checked {
    /// How the check ended.
    pub outcome: CheckOutcome,
    /// The challenge's user.
    pub user: User,
}

/// What the user answered: a code they typed, a passkey's assertion, or their decision on
/// the approval page (`authorization`: the approval's id, answered in the same transaction).
///
/// It owns its text: a check travels to the database writer's thread (`Db::on_writer_thread`).
#[derive(Clone)]
pub(crate) enum Answer {
    Code(String),
    Assertion(String),
    Approval {
        authorization: String,
        approve: bool,
        /// Where the browser that answered is (the check's context is the login's, at the host).
        browser: Option<String>,
    },
}

/// How a check of an answer came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Ok,
    Bad,
    /// A passkey whose signature counter went backwards: refused, and audited as a possible
    /// clone.
    Cloned,
    /// The user denied the login on the approval page: a failure, and the login's end.
    Denied,
}

/// How long a finished or expired challenge is kept before the purge removes it: long enough for a host waiting on an approval in the browser to hear the answer.
const FINISHED_KEPT_SECONDS: i64 = 600;

pub(crate) fn new_challenge_id() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Core {
    /// Decides whether this user's login needs a challenge, enrolment, or neither.
    pub async fn second_factor_for(&self, user: &User) -> Result<SecondFactor> {
        let settings = self.twofa_settings().await?;
        let usable = self.usable_providers(&user.id, &settings).await?;
        Ok(SecondFactor::of(user, &settings, &usable))
    }

    /// [`Core::second_factor_for`] and, when a challenge is required, [`Core::open_challenge`]
    /// and its first step, on one read of the user's factors: the web's sign-in form answers
    /// with the second-factor page at once.
    pub async fn after_password(&self, ctx: &RequestContext, user: &User) -> Result<AfterPassword> {
        let settings = self.twofa_settings().await?;
        let usable = self.usable_providers(&user.id, &settings).await?;
        match SecondFactor::of(user, &settings, &usable) {
            SecondFactor::Required => {}
            SecondFactor::MustEnrol => return Ok(AfterPassword::MustEnrol),
            SecondFactor::NotConfigured => return Ok(AfterPassword::NotConfigured),
        }
        let challenge = self
            .open_challenge_with(ctx, user, &settings, &usable)
            .await?;
        let step = Step::first(&challenge, usable, user, &settings);
        Ok(AfterPassword::Challenge { challenge, step })
    }

    /// Opens a challenge for a user who passed the first factor. The time limit
    /// (`totalAllowedTimeForVerification`) starts now. A challenge opened with `ctx.host`
    /// can be continued through the host protocol by that host only.
    pub async fn open_challenge(&self, ctx: &RequestContext, user: &User) -> Result<Challenge> {
        let settings = self.twofa_settings().await?;
        let usable = self.usable_providers(&user.id, &settings).await?;
        self.open_challenge_with(ctx, user, &settings, &usable)
            .await
    }

    /// [`Core::open_challenge`] for a caller that has just read the user's usable providers
    /// (a host login and [`Core::after_password`] read them once for the decision, the
    /// challenge and its first step).
    pub(crate) async fn open_challenge_with(
        &self,
        ctx: &RequestContext,
        user: &User,
        settings: &TwoFaSettings,
        usable: &[EnrolledProvider],
    ) -> Result<Challenge> {
        if user.disabled {
            return Err(Error::Disabled);
        }
        if user.locked {
            return Err(Error::Locked);
        }
        if usable.is_empty() {
            return Err(Error::refused(crate::words::NO_FACTOR_SET_UP));
        }
        let now = self.now();
        let c = Challenge {
            id: new_challenge_id(),
            user_id: user.id.clone(),
            state: ChallengeState::Pending,
            verified_provider: None,
            created_at: now,
            expires_at: settings.total_allowed_time_for_verification.after(now),
        };
        let db = self.db.clone();
        let ctx = ctx.clone();
        let (user_id, username) = (user.id.clone(), user.username.clone());
        self.db
            .on_writer_thread(async move {
                // The event first (see `Db::write`): a failure between the two leaves a
                // recorded attempt, never an unrecorded challenge.
                let mut batch = Batch::new(db.backend());
                audit::push(
                    &mut batch,
                    &ctx,
                    now,
                    Event::new(EventKind::ChallengeOpened).user(&user_id, &username),
                );
                store::push_open(
                    &mut batch,
                    &c.id,
                    &user_id,
                    ctx.source.as_str(),
                    now,
                    c.expires_at,
                    ctx.host.as_deref(),
                );
                db.write(batch).await?;
                Ok(c)
            })
            .await
    }

    /// Deletes challenges that finished or expired over ten minutes ago, a
    /// batch at a time so the write lock is never held long; returns how many went. Not at
    /// once: a host may not yet have heard that its login was approved in the browser.
    pub async fn purge_finished_challenges(&self) -> Result<u64> {
        let before = self.now() - FINISHED_KEPT_SECONDS;
        let mut total = 0;
        loop {
            let gone = store::delete_finished_before(self.db.writer(), before, 1000).await?;
            total += gone;
            if gone < 1000 {
                return Ok(total);
            }
        }
    }

    /// Reads a challenge (unknown ids are `NotFound`).
    pub async fn challenge(&self, id: &str) -> Result<Challenge> {
        let mut c = store::by_id(self.db.pool(), id)
            .await?
            .ok_or(Error::NotFound("challenge"))?;
        if c.state == ChallengeState::Pending && self.now() >= c.expires_at {
            c.state = ChallengeState::Expired;
        }
        Ok(c)
    }

    /// The providers this challenge may use, with masked destinations; one is the default.
    pub async fn challenge_providers(&self, id: &str) -> Result<Vec<EnrolledProvider>> {
        let c = self.challenge(id).await?;
        self.providers_of(&c).await
    }

    /// [`Core::challenge_providers`] for a challenge the caller has just read or opened, so
    /// a page does not read it twice.
    pub async fn providers_of(&self, c: &Challenge) -> Result<Vec<EnrolledProvider>> {
        let settings = self.twofa_settings().await?;
        self.usable_providers(&c.user_id, &settings).await
    }

    /// Loads a challenge that may still be acted on, with its user.
    async fn live_challenge(&self, id: &str) -> Result<(Challenge, User)> {
        let c = self.challenge(id).await?;
        if let Some(refused) = crate::step::refusal_for(c.state) {
            return Err(refused.to_error());
        }
        let user = self
            .user_by_id(&c.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if user.locked || user.disabled {
            let mut tx = self.db.begin().await?;
            let refused = self.refuse_blocked_user(&mut tx, &c.id, &user).await;
            tx.commit().await?;
            refused?;
        }
        Ok((c, user))
    }

    /// A locked user may not continue; a login cannot finish for a user disabled while it
    /// waited for the code (the challenge fails, and that is committed).
    async fn refuse_blocked_user(
        &self,
        tx: &mut crate::db::Tx,
        challenge_id: &str,
        user: &User,
    ) -> Result<()> {
        if user.locked {
            return Err(Error::Locked);
        }
        if user.disabled {
            self.set_challenge_state(tx, challenge_id, ChallengeState::Failed, None, self.now())
                .await?;
            return Err(Error::Disabled);
        }
        Ok(())
    }

    /// Sends a code by SMS or email for this challenge. Obeys `minVerificationCodeSendPeriod`;
    /// a new code replaces the previous one; a failed delivery spends nothing.
    pub async fn send_code(
        &self,
        ctx: &RequestContext,
        challenge_id: &str,
        provider: ProviderType,
    ) -> Result<SentCode> {
        let (_, user) = self.live_challenge(challenge_id).await?;
        if !provider.is_sent() {
            return Err(Error::refused_as(
                "provider",
                crate::words::CODES_NOT_SENT.with("provider", provider),
            ));
        }
        let settings = self.twofa_settings().await?;
        let usable = self.usable_providers(&user.id, &settings).await?;
        if !usable.iter().any(|p| p.provider == provider) {
            return Err(Error::ProviderUnavailable(provider));
        }
        self.send_login_code(ctx, &user, provider, &settings).await
    }

    /// Checks a code with one of the challenge's providers. A backup code is accepted wherever
    /// a code is asked (it has 8 digits, the others 6). Wrong codes count towards lockout;
    /// checks beyond the rate limit are refused without counting.
    pub async fn check_code(
        &self,
        ctx: &RequestContext,
        challenge_id: &str,
        provider: ProviderType,
        code: &str,
    ) -> Result<CheckOutcome> {
        Ok(self
            .check_code_with_user(ctx, challenge_id, provider, code)
            .await?
            .outcome)
    }

    /// [`Core::check_code`] with the challenge's user, for a door that signs them in next.
    pub async fn check_code_with_user(
        &self,
        ctx: &RequestContext,
        challenge_id: &str,
        provider: ProviderType,
        code: &str,
    ) -> Result<Checked> {
        let code = crate::codes::normalize_code(code);
        self.check(ctx, None, challenge_id, provider, Answer::Code(code))
            .await
    }

    /// Checks a passkey's assertion (the browser's `PublicKeyCredential` as JSON) for this
    /// challenge, under the same rate limit, lockout and time limit as a code: a rejected
    /// assertion is a wrong code.
    pub async fn check_passkey(
        &self,
        ctx: &RequestContext,
        challenge_id: &str,
        assertion: &str,
    ) -> Result<CheckOutcome> {
        Ok(self
            .check_passkey_with_user(ctx, challenge_id, assertion)
            .await?
            .outcome)
    }

    /// [`Core::check_passkey`] with the challenge's user, for a door that signs them in next.
    pub async fn check_passkey_with_user(
        &self,
        ctx: &RequestContext,
        challenge_id: &str,
        assertion: &str,
    ) -> Result<Checked> {
        self.check(
            ctx,
            None,
            challenge_id,
            ProviderType::Webauthn,
            Answer::Assertion(assertion.to_string()),
        )
        .await
    }

    /// The one check of an answer. `at`: the registered host answering through the host
    /// protocol; a conversation it did not begin is refused exactly as one that does not
    /// exist, and one whose user it no longer admits (taken out of its groups mid-login) is
    /// refused, both before anything is counted.
    pub(crate) async fn check(
        &self,
        ctx: &RequestContext,
        at: Option<&Host>,
        challenge_id: &str,
        provider: ProviderType,
        answer: Answer,
    ) -> Result<Checked> {
        // The whole check holds the writer (its transaction begins first): it runs where the
        // writer's hand-offs wait for nothing else (see `Db::on_writer_thread`). The
        // administrator is told of a lockout here, after it, on the caller's runtime (whose
        // mailer connections live there).
        let core = self.clone();
        let (ctx, at, id) = (ctx.clone(), at.cloned(), challenge_id.to_string());
        let (outcome, locked_now) = self
            .db
            .on_writer_thread(async move {
                let mut locked_now = None;
                let outcome = core
                    .check_here(&ctx, at.as_ref(), &id, provider, &answer, &mut locked_now)
                    .await;
                Ok((outcome, locked_now))
            })
            .await?;
        if let Some(user) = locked_now {
            self.tell_admin_about_lockout(&user).await;
        }
        outcome
    }

    /// [`Core::check`] itself; `locked_now`: the user, if this check locked them out.
    async fn check_here(
        &self,
        ctx: &RequestContext,
        at: Option<&Host>,
        challenge_id: &str,
        provider: ProviderType,
        answer: &Answer,
        locked_now: &mut Option<User>,
    ) -> Result<Checked> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        // Read under the user's lock: another process may have finished the challenge or
        // locked the user meanwhile. SQLite's `BEGIN IMMEDIATE` already holds the write lock;
        // PostgreSQL takes the user's row lock first, which needs the user's id.
        if self.db.backend() == Backend::Postgres {
            // A host finds only its own conversations, before any lock is taken.
            let user_id =
                store::user_id_at_host(&mut tx, challenge_id, at.map_or("", |h| h.name.as_str()))
                    .await?
                    .ok_or(Error::NotFound("challenge"))?;
            lock_user(&mut tx, Backend::Postgres, &user_id).await?;
        }
        let settings = self.twofa_settings_on(&mut tx).await?;
        // The challenge, its user, (for a host) whether the host still admits the user, the
        // user's checks in the rate limit's window and the user's factors (a row each), in one
        // round trip.
        let read = store::check_read(
            &mut tx,
            challenge_id,
            at.map_or("", |h| h.id.as_str()),
            policy::check_window_start(&settings, now),
        )
        .await?;
        if let Some(host) = at {
            if read.host.as_deref() != Some(host.name.as_str()) {
                return Err(Error::NotFound("conversation"));
            }
            if read.admitting_groups == 0 {
                return Err(Error::refused(crate::words::HOST_LOGIN_NO_LONGER));
            }
        }
        let store::CheckRead {
            state,
            expires_at,
            checks_in_window,
            user,
            rows,
            ..
        } = read;
        if let Some(refused) = crate::step::refusal_for(state) {
            return Err(refused.to_error());
        }
        if now >= expires_at {
            self.set_challenge_state(&mut tx, challenge_id, ChallengeState::Expired, None, now)
                .await?;
            tx.commit().await?;
            return Err(Error::ChallengeExpired);
        }
        if let Err(refused) = self.refuse_blocked_user(&mut tx, challenge_id, &user).await {
            tx.commit().await?;
            return Err(refused);
        }
        let stored = self.stored_factors_of_rows(&user.id, &rows)?;
        let usable = crate::factors::usable(&stored, &settings);
        let factor = |p: ProviderType| usable.iter().find(|u| u.shown.provider == p);
        let has = |p: ProviderType| factor(p).is_some();
        // A denial in the browser needs no provider and is never rate limited: a person must
        // always be able to stop a login they did not start.
        let denial = matches!(answer, Answer::Approval { approve: false, .. });
        if !has(provider) && !denial {
            return Err(Error::ProviderUnavailable(provider));
        }
        let provider = match answer {
            Answer::Code(code)
                if provider != ProviderType::BackupCode
                    && code.len() == BACKUP_CODE_DIGITS
                    && has(ProviderType::BackupCode) =>
            {
                ProviderType::BackupCode
            }
            _ => provider,
        };
        // The check's writes that need no answer go in one hand-off before the commit: its
        // count, a TOTP step, the challenge's end and the events (SQLite's writer is held).
        let mut writes = Batch::new(tx.backend());
        let admitted = if denial {
            Ok(())
        } else {
            policy::admit_counted(&mut writes, &user.id, &settings, checks_in_window, now)
        };
        if let Err(e) = admitted {
            audit::push(
                &mut writes,
                ctx,
                now,
                Event::new(EventKind::CodeCheckRateLimited)
                    .user(&user.id, &user.username)
                    .provider(provider),
            );
            writes.run(&mut tx).await?;
            tx.commit().await?;
            return Err(e);
        }
        let verdict = match answer {
            Answer::Code(_) if provider == ProviderType::Webauthn => Verdict::Bad,
            Answer::Code(code) => match factor(provider) {
                Some(u)
                    if self
                        .verify_code(&mut tx, &mut writes, &user.id, u.factor, code, now)
                        .await? =>
                {
                    Verdict::Ok
                }
                _ => Verdict::Bad,
            },
            Answer::Assertion(_) if provider != ProviderType::Webauthn => Verdict::Bad,
            Answer::Assertion(json) => {
                self.verify_assertion(&mut tx, &user, challenge_id, json, &settings, now)
                    .await?
            }
            Answer::Approval {
                authorization,
                approve,
                ..
            } => {
                crate::approval::answer(&mut tx, authorization, challenge_id, &user, *approve, now)
                    .await?;
                if *approve {
                    Verdict::Ok
                } else {
                    Verdict::Denied
                }
            }
        };
        let approval = match answer {
            Answer::Approval {
                authorization,
                browser,
                ..
            } => Some(format!(
                "in the browser: device_authorization={authorization} browser={}",
                browser.as_deref().unwrap_or("?")
            )),
            _ => None,
        };
        if verdict == Verdict::Ok {
            if user.twofa_failures != 0 {
                policy::record_success(&mut tx, &user.id).await?;
            }
            let mut ok = Event::new(EventKind::CodeCheckOk)
                .user(&user.id, &user.username)
                .provider(provider);
            if let Some(how) = approval {
                ok = ok.detail(format!("approved {how}"));
            }
            store::push_state(
                &mut writes,
                challenge_id,
                ChallengeState::Verified,
                Some(provider),
                now,
            );
            audit::push(&mut writes, ctx, now, ok);
            writes.run(&mut tx).await?;
            tx.commit().await?;
            return Ok(Checked {
                outcome: CheckOutcome::Verified(provider),
                user,
            });
        }
        let mut bad = Event::new(EventKind::CodeCheckBad)
            .user(&user.id, &user.username)
            .provider(provider);
        if verdict == Verdict::Cloned {
            audit::push(
                &mut writes,
                ctx,
                now,
                Event::new(EventKind::PasskeyCounterRegressed)
                    .user(&user.id, &user.username)
                    .provider(provider)
                    .detail("signature counter did not increase: possibly a cloned authenticator"),
            );
            bad = bad.detail("passkey refused: counter regression");
        }
        if let Some(how) = approval {
            bad = bad.detail(format!("denied {how}"));
        }
        audit::push(&mut writes, ctx, now, bad);
        writes.run(&mut tx).await?;
        let after = policy::record_failure(&mut tx, ctx, &user, &settings, now).await?;
        let locked = after == policy::rules::AfterFailure::Lock;
        if locked {
            self.set_challenge_state(&mut tx, challenge_id, ChallengeState::Locked, None, now)
                .await?;
        } else if verdict == Verdict::Denied {
            // A denied login is over; the host hears so when it next polls.
            self.set_challenge_state(&mut tx, challenge_id, ChallengeState::Failed, None, now)
                .await?;
        }
        tx.commit().await?;
        match after {
            policy::rules::AfterFailure::Lock => {
                *locked_now = Some(user);
                Err(Error::Locked)
            }
            policy::rules::AfterFailure::Continue { attempts_left } => Ok(Checked {
                outcome: CheckOutcome::WrongCode { attempts_left },
                user,
            }),
        }
    }

    async fn set_challenge_state(
        &self,
        tx: &mut crate::db::Tx,
        id: &str,
        state: ChallengeState,
        provider: Option<ProviderType>,
        now: i64,
    ) -> Result<()> {
        let mut batch = Batch::new(tx.backend());
        store::push_state(&mut batch, id, state, provider, now);
        batch.run(tx).await
    }

    /// Emails `[twofa] lockout_notification_email`; a failure is logged, never fatal.
    async fn tell_admin_about_lockout(&self, user: &User) {
        let Some(to) = self.config.twofa.lockout_notification_email.clone() else {
            return;
        };
        if self.mailer.is_none() {
            tracing::warn!(user = %user.username, "account locked; no [smtp] to notify the administrator");
            return;
        }
        let mail = crate::mail::lockout(&user.username);
        if let Err(e) = self.send_email(&to, &mail.subject, &mail.body).await {
            tracing::warn!(user = %user.username, error = %e, "could not send the lockout notification");
        }
    }
}
