//! The login as a person sees it at an SSH or console prompt, over the verification core.
//!
//! No rule lives here: every limit (lockout, rate limit, replay, time limit, send period, which
//! providers a user may use) is decided by `stepgate-core`, exactly as for a web login. This
//! module only turns the core's answers into prompts, messages and a PAM return code.

use crate::args::{Args, Mode};
use crate::conversation::Conversation;
use crate::outcome::{Outcome, Verdict};
use stepgate_core::challenge::{CheckOutcome, SecondFactor};
use stepgate_core::enrolment::EnrolledProvider;
use stepgate_core::step::{Refusal, Step as LoginStep};
use stepgate_core::users::User;
use stepgate_core::{Core, Error, ProviderType, RequestContext};
use zeroize::Zeroizing;

/// Prompts (codes, menus, empty answers) in one conversation before the module gives up, so a
/// client that keeps answering nothing cannot hold a login open for ever.
const MAX_PROMPTS: u32 = 20;

/// Words a person reads when the verification service cannot be used. Deliberately vague:
/// the details go to syslog for the administrator.
const UNAVAILABLE: &str = "Two-factor verification is unavailable right now; try again later.";

/// Authenticates `username`: the password first in password mode, then the second factor.
pub async fn authenticate(
    core: &Core,
    ctx: &RequestContext,
    args: &Args,
    username: &str,
    conv: &mut dyn Conversation,
) -> Outcome {
    let user = match args.mode {
        Mode::Password => match first_factor(core, ctx, args, username, conv).await {
            Ok(u) => u,
            Err(out) => return out,
        },
        Mode::SecondFactor => match core.user_by_username(username).await {
            Ok(Some(u)) => u,
            // The host already checked the password; whether this Linux user is also a
            // Stepgate user is not a secret worth a fake prompt (see docs/pam.md).
            Ok(None) => {
                return Outcome::new(
                    Verdict::UserUnknown,
                    format!("user {username:?} is not a Stepgate user"),
                )
            }
            Err(e) => return failure(&e, username, conv),
        },
    };
    if let Some(out) = refuse_account(&user, conv) {
        return out;
    }
    match core.second_factor_for(&user).await {
        Ok(SecondFactor::Required) => {}
        Ok(SecondFactor::NotConfigured) if args.nullok => {
            // In password mode this module verified the password itself, so it can say so;
            // in second-factor mode it verified nothing and leaves the decision to the stack.
            return match args.mode {
                Mode::Password => Outcome::new(
                    Verdict::Success,
                    format!("user {username:?}: password verified, no second factor (nullok)"),
                ),
                Mode::SecondFactor => Outcome::new(
                    Verdict::Ignore,
                    format!("user {username:?}: no second factor set up (nullok)"),
                ),
            };
        }
        Ok(SecondFactor::NotConfigured) => {
            conv.error("No second factor is set up for this account.");
            return Outcome::new(
                Verdict::AuthErr,
                format!("user {username:?}: no second factor set up and nullok not given"),
            );
        }
        Ok(SecondFactor::MustEnrol) => {
            conv.error(&format!(
                "Two-factor authentication is required for this account. Set it up at {} first.",
                core.config().server.issuer
            ));
            return Outcome::new(
                Verdict::AuthErr,
                format!("user {username:?}: must enrol a second factor first"),
            );
        }
        Err(e) => return failure(&e, username, conv),
    }
    challenge(core, ctx, args, &user, conv).await
}

/// Account management: refuses users that are disabled or locked in Stepgate, so a login that
/// skips `auth` (an SSH key alone) is still refused.
pub async fn account(core: &Core, username: &str, conv: &mut dyn Conversation) -> Outcome {
    match core.user_by_username(username).await {
        Ok(Some(user)) => match refuse_account(&user, conv) {
            Some(out) => Outcome::new(Verdict::PermDenied, out.reason),
            None => Outcome::new(
                Verdict::Success,
                format!("user {username:?}: account usable"),
            ),
        },
        Ok(None) => Outcome::new(
            Verdict::UserUnknown,
            format!("user {username:?} is not a Stepgate user"),
        ),
        Err(e) => failure(&e, username, conv),
    }
}

fn refuse_account(user: &User, conv: &mut dyn Conversation) -> Option<Outcome> {
    if user.disabled {
        conv.error("This account is disabled.");
        return Some(Outcome::new(
            Verdict::AuthErr,
            format!("user {:?} is disabled", user.username),
        ));
    }
    if user.locked {
        conv.error(LOCKED);
        return Some(Outcome::new(
            Verdict::MaxTries,
            format!("user {:?} is locked", user.username),
        ));
    }
    None
}

const LOCKED: &str =
    "This account is locked after too many wrong codes; ask an administrator to unlock it.";

/// Password mode: checks the Stepgate password (`use_first_pass` / `try_first_pass` honoured).
/// Unknown users and wrong passwords end alike, after the same argon2 work, as on the web.
async fn first_factor(
    core: &Core,
    ctx: &RequestContext,
    args: &Args,
    username: &str,
    conv: &mut dyn Conversation,
) -> Result<User, Outcome> {
    let bad = || {
        Outcome::new(
            Verdict::AuthErr,
            format!("user {username:?}: wrong password or unknown user"),
        )
    };
    if args.use_first_pass || args.try_first_pass {
        match conv.stored_password() {
            Some(pw) => match core.first_factor(ctx, username, &pw).await {
                Ok(u) => return Ok(u),
                Err(Error::BadCredentials) if args.try_first_pass => {}
                Err(Error::BadCredentials) => return Err(bad()),
                Err(e) => return Err(failure(&e, username, conv)),
            },
            None if args.use_first_pass => {
                return Err(Outcome::new(
                    Verdict::AuthErr,
                    "use_first_pass: no password from an earlier module",
                ))
            }
            None => {}
        }
    }
    let pw = ask(conv, "Password: ", false)?;
    // Like pam_unix: later modules of the stack may `use_first_pass` what was typed here.
    conv.store_password(&pw);
    match core.first_factor(ctx, username, &pw).await {
        Ok(u) => Ok(u),
        Err(Error::BadCredentials) => {
            conv.error("Wrong password.");
            Err(bad())
        }
        Err(e) => Err(failure(&e, username, conv)),
    }
}

fn ask(
    conv: &mut dyn Conversation,
    prompt: &str,
    echo: bool,
) -> Result<Zeroizing<String>, Outcome> {
    conv.ask(prompt, echo)
        .map_err(|_| Outcome::new(Verdict::ConvErr, "the application's conversation failed"))
}

/// How a provider is named in prompts and the menu.
fn describe(p: &EnrolledProvider) -> String {
    match (p.provider, p.destination.as_deref()) {
        (ProviderType::Sms, Some(d)) => format!("SMS to {d}"),
        (ProviderType::Email, Some(d)) => format!("email to {d}"),
        (other, _) => other.label().to_string(),
    }
}

/// The state of one challenge as the conversation goes on.
struct Round<'a> {
    core: &'a Core,
    ctx: &'a RequestContext,
    args: &'a Args,
    user: &'a User,
    challenge_id: String,
    providers: Vec<EnrolledProvider>,
    /// The core's answer to "what next": which provider asks first, and whether its code is
    /// sent on entry.
    next: LoginStep,
}

enum Step {
    /// Ask for a code with this provider.
    Ask(ProviderType),
    /// Send a code with this provider, then ask for it.
    Send(ProviderType),
    /// Show the "try another way" menu; `from` is asked again when nothing is chosen.
    Menu { from: ProviderType },
}

async fn challenge(
    core: &Core,
    ctx: &RequestContext,
    args: &Args,
    user: &User,
    conv: &mut dyn Conversation,
) -> Outcome {
    let name = &user.username;
    let challenge = match core.open_challenge(ctx, user).await {
        Ok(c) => c,
        Err(e) => return failure(&e, name, conv),
    };
    let next = match core.text_step_of(&challenge, None).await {
        Ok(s) if s.refusal.is_none() => s,
        Ok(s) if s.refusal == Some(Refusal::PasskeyOnly) => {
            conv.error(
                "Your only second factor is a passkey, which cannot be used here. Add an \
                 authenticator app or backup codes on your account page.",
            );
            return Outcome::new(
                Verdict::AuthErr,
                format!("user {name:?}: only a passkey, which a PAM conversation cannot use"),
            );
        }
        Ok(s) if s.refusal != Some(Refusal::NoProvider) => {
            let refused = s.refusal.map_or(Error::ChallengeClosed, Refusal::to_error);
            return failure(&refused, name, conv);
        }
        Ok(_) => {
            conv.error("No second factor is set up for this account.");
            return Outcome::new(
                Verdict::AuthErr,
                format!("user {name:?}: no usable provider"),
            );
        }
        Err(e) => return failure(&e, name, conv),
    };
    let mut round = Round {
        core,
        ctx,
        args,
        user,
        challenge_id: challenge.id,
        providers: next.providers.clone(),
        next,
    };
    let Some(first) = round.next.current else {
        return Outcome::new(
            Verdict::AuthErr,
            format!("user {name:?}: no usable provider"),
        );
    };
    if round.providers.len() > 1 {
        conv.info("Press Enter at the code prompt to try another way.");
    }
    let mut step = if round.next.send_on_entry {
        Step::Send(first)
    } else {
        Step::Ask(first)
    };
    let mut wrong = 0u32;
    let mut prompts = 0u32;
    loop {
        if prompts >= MAX_PROMPTS {
            conv.error("Too many prompts; log in again.");
            return Outcome::new(
                Verdict::AuthErr,
                format!("user {name:?}: gave up after {MAX_PROMPTS} prompts"),
            );
        }
        step = match step {
            Step::Send(p) => match round.send(p, conv).await {
                Ok(true) => Step::Ask(p),
                Ok(false) => Step::Menu { from: p },
                Err(out) => return out,
            },
            Step::Menu { from } => {
                prompts += 1;
                match round.menu(from, conv) {
                    Ok(Some(p)) if p.is_sent() => Step::Send(p),
                    Ok(Some(p)) => Step::Ask(p),
                    Ok(None) => Step::Ask(from),
                    Err(out) => return out,
                }
            }
            Step::Ask(p) => {
                prompts += 1;
                let answer = match ask(conv, &round.prompt_for(p), false) {
                    Ok(a) => a,
                    Err(out) => return out,
                };
                let code = answer.trim();
                if code.is_empty() || code == "?" {
                    Step::Menu { from: p }
                } else {
                    match core.check_code(ctx, &round.challenge_id, p, code).await {
                        Ok(CheckOutcome::Verified(by)) => {
                            return Outcome::new(
                                Verdict::Success,
                                format!("user {name:?}: verified with {by}"),
                            )
                        }
                        Ok(CheckOutcome::WrongCode { attempts_left }) => {
                            wrong += 1;
                            let mut msg = String::from("Wrong code.");
                            if let Some(n) = attempts_left.filter(|n| *n <= 3) {
                                msg.push_str(&format!(
                                    " {n} more wrong code{} will lock the account.",
                                    if n == 1 { "" } else { "s" }
                                ));
                            }
                            conv.error(&msg);
                            if wrong >= args.tries {
                                return Outcome::new(
                                    Verdict::AuthErr,
                                    format!("user {name:?}: {wrong} wrong codes"),
                                );
                            }
                            Step::Ask(p)
                        }
                        Err(Error::ProviderUnavailable(_)) => {
                            // Switched off by an administrator since the prompt was shown.
                            conv.error("That way to verify is no longer available.");
                            if let Err(e) = round.refresh().await {
                                return failure(&e, name, conv);
                            }
                            match round.next.current {
                                None => {
                                    return Outcome::new(
                                        Verdict::AuthErr,
                                        format!("user {name:?}: no usable provider left"),
                                    )
                                }
                                Some(d) if round.providers.len() > 1 => Step::Menu { from: d },
                                Some(d) if round.next.send_on_entry => Step::Send(d),
                                Some(d) => Step::Ask(d),
                            }
                        }
                        Err(e) => return failure(&e, name, conv),
                    }
                }
            }
        };
    }
}

impl Round<'_> {
    fn find(&self, p: ProviderType) -> Option<&EnrolledProvider> {
        self.providers.iter().find(|e| e.provider == p)
    }

    fn prompt_for(&self, p: ProviderType) -> String {
        let what = self
            .find(p)
            .map(describe)
            .unwrap_or_else(|| p.label().to_string());
        self.args.prompt.replace("{provider}", &what)
    }

    async fn refresh(&mut self) -> Result<(), Error> {
        self.next = self.core.text_login_step(&self.challenge_id, None).await?;
        self.providers = self.next.providers.clone();
        Ok(())
    }

    /// Sends an SMS or email code. `Ok(false)`: nothing was sent and the person should pick
    /// another way; `Err`: the login ends.
    async fn send(&self, p: ProviderType, conv: &mut dyn Conversation) -> Result<bool, Outcome> {
        let name = &self.user.username;
        let how = self.find(p).map(describe).unwrap_or_default();
        match self.core.send_code(self.ctx, &self.challenge_id, p).await {
            Ok(sent) => {
                conv.info(&format!(
                    "A code was sent by {how}; it is valid for {} seconds.",
                    sent.expires_in
                ));
                Ok(true)
            }
            Err(Error::SendTooSoon { retry_after }) => {
                // The earlier code is still the outstanding one: it can be typed now.
                conv.info(&format!(
                    "A code was sent by {how} moments ago; enter it, or wait {retry_after} \
                     seconds and choose this way again for a new one."
                ));
                Ok(true)
            }
            Err(Error::SendFailed(_)) => {
                conv.error("The code could not be sent; try another way.");
                if self.providers.len() > 1 {
                    Ok(false)
                } else {
                    Err(Outcome::new(
                        Verdict::AuthErr,
                        format!("user {name:?}: {p} code could not be sent and no other way"),
                    ))
                }
            }
            Err(e) => Err(failure(&e, name, conv)),
        }
    }

    /// "Try another way": a numbered list of the user's providers. `Ok(None)` when nothing
    /// (valid) was chosen, and the previous prompt comes back.
    fn menu(
        &self,
        from: ProviderType,
        conv: &mut dyn Conversation,
    ) -> Result<Option<ProviderType>, Outcome> {
        if self.providers.len() < 2 {
            conv.error("No other way to verify is set up for this account.");
            return Ok(None);
        }
        let mut text = String::from("Try another way:");
        for (i, p) in self.providers.iter().enumerate() {
            text.push_str(&format!("\n  {}) {}", i + 1, describe(p)));
        }
        conv.info(&text);
        let n = self.providers.len();
        let answer = ask(conv, &format!("Choose 1-{n}: "), true)?;
        let answer = answer.trim();
        if answer.is_empty() {
            return Ok(None);
        }
        match answer.parse::<usize>() {
            Ok(i) if (1..=n).contains(&i) => Ok(Some(self.providers[i - 1].provider)),
            _ => {
                conv.error(&format!(
                    "Not one of the choices; back to the {}.",
                    self.find(from).map(describe).unwrap_or_default()
                ));
                Ok(None)
            }
        }
    }
}

/// Maps a core error that ends the login to its message and PAM code.
fn failure(e: &Error, username: &str, conv: &mut dyn Conversation) -> Outcome {
    let reason = format!("user {username:?}: {e}");
    match e {
        Error::Locked => {
            conv.error(LOCKED);
            Outcome::new(Verdict::MaxTries, reason)
        }
        Error::RateLimited { retry_after } => {
            conv.error(&format!(
                "Too many attempts; wait {retry_after} seconds and try again."
            ));
            Outcome::new(Verdict::MaxTries, reason)
        }
        Error::ChallengeExpired => {
            conv.error("The time allowed for verification has run out; log in again.");
            Outcome::new(Verdict::AuthErr, reason)
        }
        Error::ChallengeClosed => {
            conv.error("This verification is already finished; log in again.");
            Outcome::new(Verdict::AuthErr, reason)
        }
        Error::Disabled => {
            conv.error("This account is disabled.");
            Outcome::new(Verdict::AuthErr, reason)
        }
        Error::Database(_)
        | Error::Migrate(_)
        | Error::Secrets(_)
        | Error::Password(_)
        | Error::Internal(_) => {
            conv.error(UNAVAILABLE);
            Outcome::new(Verdict::AuthInfoUnavail, reason)
        }
        Error::BadCredentials
        | Error::Invalid { .. }
        | Error::NotFound(_)
        | Error::Conflict(_)
        | Error::Refused(_)
        | Error::ProviderUnavailable(_)
        | Error::SendFailed(_)
        | Error::SendTooSoon { .. }
        | Error::StepUpRequired { .. } => Outcome::new(Verdict::AuthErr, reason),
    }
}
