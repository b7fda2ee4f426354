//! The login as a person sees it at an SSH or console prompt, over the verification core.
//!
//! No rule lives here: every limit (lockout, rate limit, replay, time limit, send period, which
//! providers a user may use) is decided by `stepgate-core`, exactly as for a web login. This
//! module only turns the core's answers into prompts, messages and a PAM return code.

use crate::args::{Args, Mode};
use crate::conversation::Conversation;
use crate::direct::Direct;
use crate::outcome::{Outcome, Verdict};
use crate::verifier::{Failed, Verifier};
use stepgate_core::approval::ApprovalPoll;
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::factors::EnrolledProvider;
use stepgate_core::host_login::{AccountStatus, Begin, Begun, Ending, Failure};
use stepgate_core::step::{Prompt, Refusal, Step as LoginStep};
use stepgate_core::{Core, ProviderType, RequestContext};
use zeroize::Zeroizing;

/// Prompts (codes, menus, empty answers) in one conversation before the module gives up, so a
/// client that keeps answering nothing cannot hold a login open for ever.
const MAX_PROMPTS: u32 = 20;

/// Words a person reads when the verification service cannot be used. Deliberately vague:
/// the details go to syslog for the administrator.
const UNAVAILABLE: &str = "Two-factor verification is unavailable right now; try again later.";

const LOCKED: &str =
    "This account is locked after too many wrong codes; ask an administrator to unlock it.";

/// Direct mode: authenticates `username` with the core on this machine (`host=` applied).
pub async fn authenticate(
    core: &Core,
    ctx: &RequestContext,
    args: &Args,
    username: &str,
    conv: &mut dyn Conversation,
) -> Outcome {
    match Direct::open(core, ctx.clone(), args.host.as_deref()).await {
        Ok(mut v) => authenticate_with(&mut v, args, username, conv).await,
        Err(f) => failure(&f, username, conv),
    }
}

/// Direct mode: account management with the core on this machine.
pub async fn account(
    core: &Core,
    ctx: &RequestContext,
    args: &Args,
    username: &str,
    conv: &mut dyn Conversation,
) -> Outcome {
    match Direct::open(core, ctx.clone(), args.host.as_deref()).await {
        Ok(mut v) => account_with(&mut v, username, conv).await,
        Err(f) => failure(&f, username, conv),
    }
}

/// Authenticates `username`: the password first in password mode, then the second factor,
/// asking `v` (the core here, or the server in fleet mode) at every step.
pub async fn authenticate_with(
    v: &mut impl Verifier,
    args: &Args,
    username: &str,
    conv: &mut dyn Conversation,
) -> Outcome {
    let begun = match args.mode {
        Mode::Password => match first_factor(v, args, username, conv).await {
            Ok(b) => b,
            Err(out) => return out,
        },
        Mode::SecondFactor => {
            let b = Begin {
                user: username.to_string(),
                password: None,
                nullok: args.nullok,
            };
            match v.begin(&b).await {
                Ok(b) => b,
                Err(f) => return failure(&f, username, conv),
            }
        }
    };
    match begun {
        Begun::Challenge { conversation, step } => {
            challenge(v, args, username, conversation, step, conv).await
        }
        Begun::Ended(end) => ended(&end, args, username, conv),
    }
}

/// Account management: refuses users that are disabled, locked, or outside the host's
/// groups, so a login that skips `auth` (an SSH key alone) is still refused.
pub async fn account_with(
    v: &mut impl Verifier,
    username: &str,
    conv: &mut dyn Conversation,
) -> Outcome {
    match v.account(username).await {
        Ok(AccountStatus::Usable) => Outcome::new(
            Verdict::Success,
            format!("user {username:?}: account usable"),
        ),
        Ok(AccountStatus::UnknownUser) => Outcome::new(
            Verdict::UserUnknown,
            format!("user {username:?} is not a Stepgate user"),
        ),
        Ok(AccountStatus::Disabled) => {
            conv.error("This account is disabled.");
            Outcome::new(
                Verdict::PermDenied,
                format!("user {username:?} is disabled"),
            )
        }
        Ok(AccountStatus::Locked) => {
            conv.error(LOCKED);
            Outcome::new(Verdict::PermDenied, format!("user {username:?} is locked"))
        }
        Ok(AccountStatus::NotAdmitted) => {
            conv.error(NOT_ADMITTED);
            Outcome::new(
                Verdict::PermDenied,
                format!("user {username:?}: not in this host's allowed groups"),
            )
        }
        Err(f) => failure(&f, username, conv),
    }
}

const NOT_ADMITTED: &str = "This account may not log in on this machine.";

/// Words an ending that came before any code and gives its PAM code.
fn ended(end: &Ending, args: &Args, username: &str, conv: &mut dyn Conversation) -> Outcome {
    match end {
        // The host already checked the password; whether this Linux user is also a
        // Stepgate user is not a secret worth a fake prompt (see docs/pam.md).
        Ending::UnknownUser => Outcome::new(
            Verdict::UserUnknown,
            format!("user {username:?} is not a Stepgate user"),
        ),
        Ending::BadPassword => {
            conv.error("Wrong password.");
            Outcome::new(
                Verdict::AuthErr,
                format!("user {username:?}: wrong password or unknown user"),
            )
        }
        Ending::Disabled => {
            conv.error("This account is disabled.");
            Outcome::new(Verdict::AuthErr, format!("user {username:?} is disabled"))
        }
        Ending::Locked => {
            conv.error(LOCKED);
            Outcome::new(Verdict::MaxTries, format!("user {username:?} is locked"))
        }
        Ending::NotAdmitted => {
            conv.error(NOT_ADMITTED);
            Outcome::new(
                Verdict::AuthErr,
                format!("user {username:?}: not in this host's allowed groups"),
            )
        }
        // In password mode this module verified the password, so it can say so; in
        // second-factor mode it verified nothing and leaves the decision to the stack.
        Ending::NoSecondFactorAllowed {
            password_verified: true,
        } if args.mode == Mode::Password => Outcome::new(
            Verdict::Success,
            format!("user {username:?}: password verified, no second factor (nullok)"),
        ),
        Ending::NoSecondFactorAllowed { .. } => Outcome::new(
            Verdict::Ignore,
            format!("user {username:?}: no second factor set up (nullok)"),
        ),
        Ending::NoSecondFactor => {
            conv.error("No second factor is set up for this account.");
            Outcome::new(
                Verdict::AuthErr,
                format!("user {username:?}: no second factor set up and nullok not given"),
            )
        }
        Ending::MustEnrol { url } => {
            conv.error(&format!(
                "Two-factor authentication is required for this account. Set it up at {url} first."
            ));
            Outcome::new(
                Verdict::AuthErr,
                format!("user {username:?}: must enrol a second factor first"),
            )
        }
    }
}

/// Asks `v` to begin, then wipes the password copy in `b`.
async fn begin_zeroized(v: &mut impl Verifier, mut b: Begin) -> Result<Begun, Failed> {
    let answer = v.begin(&b).await;
    if let Some(p) = b.password.as_mut() {
        zeroize::Zeroize::zeroize(p);
    }
    answer
}

/// Password mode: the Stepgate password (`use_first_pass` / `try_first_pass` honoured),
/// checked by the verifier with the rest of the start. Unknown users and wrong passwords end
/// alike, after the same argon2 work, as on the web.
async fn first_factor(
    v: &mut impl Verifier,
    args: &Args,
    username: &str,
    conv: &mut dyn Conversation,
) -> Result<Begun, Outcome> {
    let begin = |pw: &str| Begin {
        user: username.to_string(),
        password: Some(pw.to_string()),
        nullok: args.nullok,
    };
    if args.use_first_pass || args.try_first_pass {
        match conv.stored_password() {
            Some(pw) => match begin_zeroized(v, begin(&pw)).await {
                Ok(Begun::Ended(Ending::BadPassword)) if args.try_first_pass => {}
                Ok(Begun::Ended(Ending::BadPassword)) => {
                    return Err(Outcome::new(
                        Verdict::AuthErr,
                        format!("user {username:?}: wrong password or unknown user"),
                    ))
                }
                Ok(b) => return Ok(b),
                Err(f) => return Err(failure(&f, username, conv)),
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
    begin_zeroized(v, begin(&pw))
        .await
        .map_err(|f| failure(&f, username, conv))
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
struct Round<'a, V: Verifier> {
    v: &'a mut V,
    args: &'a Args,
    username: &'a str,
    conversation: String,
    /// The core's answer to "what next": which provider asks first, whether its code is
    /// sent on entry, and the providers with masked destinations.
    next: LoginStep,
}

enum Step {
    /// Ask for a code with this provider.
    Ask(ProviderType),
    /// Send a code with this provider, then ask for it.
    Send(ProviderType),
    /// Show the "try another way" menu; `from` is asked again when nothing is chosen
    /// (`None`: approval was the way, and is started again).
    Menu { from: Option<ProviderType> },
    /// Approve in the browser: show the code and the page, then wait for the answer.
    Approve,
}

/// Where the person presses Enter once the approval page is open.
const APPROVE_PROMPT: &str = "Press Enter to wait for your approval: ";

/// How "approve in your browser" is named in the menu.
const APPROVE_CHOICE: &str = "Approve in your browser (any of your second factors, a passkey too)";

async fn challenge(
    v: &mut impl Verifier,
    args: &Args,
    name: &str,
    conversation: String,
    next: LoginStep,
    conv: &mut dyn Conversation,
) -> Outcome {
    match next.refusal {
        None => {}
        Some(Refusal::PasskeyOnly) => {
            conv.error(
                "Your only second factor is a passkey, which cannot be used here. Add an \
                 authenticator app or backup codes on your account page.",
            );
            return Outcome::new(
                Verdict::AuthErr,
                format!("user {name:?}: only a passkey, which a PAM conversation cannot use"),
            );
        }
        Some(Refusal::NoProvider) => {
            conv.error("No second factor is set up for this account.");
            return Outcome::new(
                Verdict::AuthErr,
                format!("user {name:?}: no usable provider"),
            );
        }
        Some(r) => return failure(&Failed::from(r.to_error()), name, conv),
    }
    let approve_first = next.prompt == Some(Prompt::BrowserApproval);
    let first = next.current;
    if first.is_none() && !approve_first {
        return Outcome::new(
            Verdict::AuthErr,
            format!("user {name:?}: no usable provider"),
        );
    }
    let mut round = Round {
        v,
        args,
        username: name,
        conversation,
        next,
    };
    if round.choices() > 1 && !approve_first {
        conv.info("Press Enter at the code prompt to try another way.");
    }
    let mut step = match first {
        _ if approve_first => Step::Approve,
        Some(p) if round.next.send_on_entry => Step::Send(p),
        Some(p) => Step::Ask(p),
        None => Step::Approve,
    };
    let mut wrong = 0u32;
    let mut prompts = 0u32;
    let outcome = loop {
        if prompts >= MAX_PROMPTS {
            conv.error("Too many prompts; log in again.");
            break Outcome::new(
                Verdict::AuthErr,
                format!("user {name:?}: gave up after {MAX_PROMPTS} prompts"),
            );
        }
        step = match step {
            Step::Send(p) => match round.send(p, conv).await {
                Ok(true) => Step::Ask(p),
                Ok(false) => Step::Menu { from: Some(p) },
                Err(out) => break out,
            },
            Step::Menu { from } => {
                prompts += 1;
                match round.menu(from, conv) {
                    Ok(Some(next)) => next,
                    Ok(None) => from.map_or(Step::Approve, Step::Ask),
                    Err(out) => break out,
                }
            }
            Step::Approve => return round.approve(conv).await,
            Step::Ask(p) => {
                prompts += 1;
                let answer = match ask(conv, &round.prompt_for(p), false) {
                    Ok(a) => a,
                    Err(out) => break out,
                };
                let code = answer.trim();
                if code.is_empty() || code == "?" {
                    Step::Menu { from: Some(p) }
                } else {
                    match round.v.check(&round.conversation, p, code).await {
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
                                break Outcome::new(
                                    Verdict::AuthErr,
                                    format!("user {name:?}: {wrong} wrong codes"),
                                );
                            }
                            Step::Ask(p)
                        }
                        Err(f) if f.failure == Failure::ProviderUnavailable => {
                            // Switched off by an administrator since the prompt was shown.
                            conv.error("That way to verify is no longer available.");
                            if let Err(f) = round.refresh().await {
                                return failure(&f, name, conv);
                            }
                            match round.next.current {
                                None if round.next.prompt == Some(Prompt::BrowserApproval) => {
                                    Step::Approve
                                }
                                None => {
                                    return Outcome::new(
                                        Verdict::AuthErr,
                                        format!("user {name:?}: no usable provider left"),
                                    )
                                }
                                Some(d) if round.choices() > 1 => Step::Menu { from: Some(d) },
                                Some(d) if round.next.send_on_entry => Step::Send(d),
                                Some(d) => Step::Ask(d),
                            }
                        }
                        Err(f) => return failure(&f, name, conv),
                    }
                }
            }
        };
    };
    // Given up (wrong codes, prompts, a broken conversation): the challenge is of no more
    // use, and in fleet mode the server is told so at once.
    round.v.cancel(&round.conversation).await;
    outcome
}

impl<V: Verifier> Round<'_, V> {
    fn find(&self, p: ProviderType) -> Option<&EnrolledProvider> {
        self.next.providers.iter().find(|e| e.provider == p)
    }

    fn prompt_for(&self, p: ProviderType) -> String {
        let what = self
            .find(p)
            .map(describe)
            .unwrap_or_else(|| p.label().to_string());
        self.args.prompt.replace("{provider}", &what)
    }

    async fn refresh(&mut self) -> Result<(), Failed> {
        self.next = self.v.step(&self.conversation).await?;
        Ok(())
    }

    /// Sends an SMS or email code. `Ok(false)`: nothing was sent and the person should pick
    /// another way; `Err`: the login ends.
    async fn send(
        &mut self,
        p: ProviderType,
        conv: &mut dyn Conversation,
    ) -> Result<bool, Outcome> {
        let name = self.username;
        let how = self.find(p).map(describe).unwrap_or_default();
        match self.v.send(&self.conversation, p).await {
            Ok(sent) => {
                conv.info(&format!(
                    "A code was sent by {how}; it is valid for {} seconds.",
                    sent.expires_in
                ));
                Ok(true)
            }
            Err(Failed {
                failure: Failure::SendTooSoon { retry_after },
                ..
            }) => {
                // The earlier code is still the outstanding one: it can be typed now.
                conv.info(&format!(
                    "A code was sent by {how} moments ago; enter it, or wait {retry_after} \
                     seconds and choose this way again for a new one."
                ));
                Ok(true)
            }
            Err(Failed {
                failure: Failure::SendFailed,
                ..
            }) => {
                conv.error("The code could not be sent; try another way.");
                if self.next.providers.len() > 1 {
                    Ok(false)
                } else {
                    Err(Outcome::new(
                        Verdict::AuthErr,
                        format!("user {name:?}: {p} code could not be sent and no other way"),
                    ))
                }
            }
            Err(f) => Err(failure(&f, name, conv)),
        }
    }

    /// The ways the person can choose from: the providers, and approval when offered.
    fn choices(&self) -> usize {
        self.next.providers.len() + usize::from(self.next.browser_approval)
    }

    /// "Try another way": a numbered list of the user's providers (and approval in the
    /// browser when the server offers it). `Ok(None)` when nothing (valid) was chosen, and
    /// the previous prompt comes back.
    fn menu(
        &self,
        from: Option<ProviderType>,
        conv: &mut dyn Conversation,
    ) -> Result<Option<Step>, Outcome> {
        let providers = &self.next.providers;
        if self.choices() < 2 {
            conv.error("No other way to verify is set up for this account.");
            return Ok(None);
        }
        let mut text = String::from("Try another way:");
        for (i, p) in providers.iter().enumerate() {
            text.push_str(&format!("\n  {}) {}", i + 1, describe(p)));
        }
        if self.next.browser_approval {
            text.push_str(&format!("\n  {}) {APPROVE_CHOICE}", providers.len() + 1));
        }
        conv.info(&text);
        let n = self.choices();
        let answer = ask(conv, &format!("Choose 1-{n}: "), true)?;
        let answer = answer.trim();
        if answer.is_empty() {
            return Ok(None);
        }
        // Looked up with `get`, not indexed: a number out of range is a wrong choice, never a
        // panic inside the host process.
        let number = answer.parse::<usize>().ok();
        let listed = number
            .and_then(|i| i.checked_sub(1))
            .and_then(|k| providers.get(k));
        match (number, listed) {
            (_, Some(listed)) => {
                let p = listed.provider;
                Ok(Some(if p.is_sent() {
                    Step::Send(p)
                } else {
                    Step::Ask(p)
                }))
            }
            (Some(i), None) if i == n && self.next.browser_approval => Ok(Some(Step::Approve)),
            _ => {
                let back = match from {
                    Some(p) => self.find(p).map(describe).unwrap_or_default(),
                    None => "approval in the browser".into(),
                };
                conv.error(&format!("Not one of the choices; back to the {back}."));
                Ok(None)
            }
        }
    }

    /// Approval in the browser: the server makes a code for this login; the person opens
    /// the page, signs in with any of their second factors and approves or denies, while
    /// this waits (polling at the server's interval) until the answer or the login's time
    /// limit, which the server enforces.
    async fn approve(&mut self, conv: &mut dyn Conversation) -> Outcome {
        let name = self.username;
        let start = match self.v.start_approval(&self.conversation).await {
            Ok(s) => s,
            Err(f) => return failure(&f, name, conv),
        };
        // A prompt, not an info message: sshd holds info messages back until the next prompt,
        // so only a prompt shows the code while the module waits. Enter starts the wait.
        let text = format!(
            "Approve this login in your browser: open {} and enter the code {}\n\
             (or open {})\n{APPROVE_PROMPT}",
            start.verification_uri, start.user_code, start.verification_uri_complete
        );
        if let Err(out) = ask(conv, &text, true) {
            self.v.cancel(&self.conversation).await;
            return out;
        }
        conv.info("Waiting for your approval...");
        // The server ends the wait at the login's time limit; this deadline only guards
        // against a server that keeps answering "pending" past it.
        let deadline = std::time::Instant::now()
            + std::time::Duration::from_secs(start.expires_in.clamp(0, 86_400) as u64 + 30);
        let mut interval = start.interval;
        loop {
            if std::time::Instant::now() >= deadline {
                self.v.cancel(&self.conversation).await;
                return failure(
                    &Failed::new(Failure::Expired, "no answer to the approval in time"),
                    name,
                    conv,
                );
            }
            std::thread::sleep(std::time::Duration::from_secs(interval.clamp(1, 10) as u64));
            match self.v.poll_approval(&self.conversation).await {
                Ok(ApprovalPoll::Pending { interval: next }) => interval = next,
                Ok(ApprovalPoll::Verified(by)) => {
                    conv.info("Approved.");
                    return Outcome::new(
                        Verdict::Success,
                        format!("user {name:?}: approved in the browser ({by})"),
                    );
                }
                Ok(ApprovalPoll::Denied {}) => {
                    conv.error("The login was denied in the browser.");
                    return Outcome::new(
                        Verdict::AuthErr,
                        format!("user {name:?}: denied in the browser"),
                    );
                }
                Err(f) => {
                    // Nothing may approve this login once no one waits for it.
                    self.v.cancel(&self.conversation).await;
                    return failure(&f, name, conv);
                }
            }
        }
    }
}

/// Maps a failure that ends the login to its message and PAM code.
fn failure(f: &Failed, username: &str, conv: &mut dyn Conversation) -> Outcome {
    let reason = format!("user {username:?}: {}", f.reason);
    match &f.failure {
        Failure::Locked => {
            conv.error(LOCKED);
            Outcome::new(Verdict::MaxTries, reason)
        }
        Failure::RateLimited { retry_after } => {
            conv.error(&format!(
                "Too many attempts; wait {retry_after} seconds and try again."
            ));
            Outcome::new(Verdict::MaxTries, reason)
        }
        Failure::Expired => {
            conv.error("The time allowed for verification has run out; log in again.");
            Outcome::new(Verdict::AuthErr, reason)
        }
        Failure::Closed => {
            conv.error("This verification is already finished; log in again.");
            Outcome::new(Verdict::AuthErr, reason)
        }
        Failure::Disabled => {
            conv.error("This account is disabled.");
            Outcome::new(Verdict::AuthErr, reason)
        }
        Failure::Unavailable => {
            conv.error(UNAVAILABLE);
            Outcome::new(Verdict::AuthInfoUnavail, reason)
        }
        Failure::Refused { .. }
        | Failure::ProviderUnavailable
        | Failure::SendFailed
        | Failure::SendTooSoon { .. } => Outcome::new(Verdict::AuthErr, reason),
    }
}
