//! The login flow as a person sees it, in-process: a real core on SQLite, a scripted
//! conversation in place of sshd or login. Each test checks the prompts, the messages and
//! the PAM code together.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use pam_stepgate::conversation::Said;
use pam_stepgate::{Scripted, Verdict};
use stepgate_core::challenge::SecondFactor;
use stepgate_core::ProviderType;
use support::*;

#[tokio::test]
async fn totp_code_is_asked_with_the_default_prompt_and_accepted_once() {
    let env = env("").await;
    let (u, secret) = env.totp_user("alice").await;
    let a = args(&[]);
    let code = env.totp_now(&secret);
    let mut conv = Scripted::new([code.clone()]);
    let out = authenticate(&env, &a, "alice", &mut conv).await;
    assert_eq!(
        out.verdict,
        Verdict::Success,
        "{out:?} {:?}",
        conv.transcript
    );
    assert_eq!(
        conv.transcript,
        vec![Said::Asked {
            prompt: "Verification code (authenticator app): ".into(),
            echo: false
        }]
    );
    // The same code again (a replay within its 30 s window) is a wrong code.
    let mut conv = Scripted::new([code]);
    let out = authenticate(&env, &a, "alice", &mut conv).await;
    assert_eq!(
        out.verdict,
        Verdict::ConvErr,
        "asked again after the replay: {out:?}"
    );
    assert_eq!(conv.errors(), vec!["Wrong code."]);
    // Audit: the PAM door, the remote host.
    let ev = env.events(&u).await;
    let ok = ev
        .iter()
        .find(|e| e.event == "code_check_ok")
        .expect("code_check_ok");
    assert_eq!(ok.source, "pam");
    assert_eq!(ok.remote_addr.as_deref(), Some("192.0.2.7"));
}

#[tokio::test]
async fn wrong_codes_are_refused_and_asked_again_up_to_tries() {
    let env = env("").await;
    let (_, secret) = env.totp_user("bob").await;
    let good = env.totp_now(&secret);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    // Wrong, then right: one error, success.
    let mut conv = Scripted::new([wrong.to_string(), good]);
    let out = authenticate(&env, &args(&[]), "bob", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Success, "{:?}", conv.transcript);
    assert_eq!(conv.errors(), vec!["Wrong code."]);
    // tries=2: two wrong codes end the conversation with PAM_AUTH_ERR, no third prompt.
    let mut conv = Scripted::new([wrong, wrong, wrong]);
    let out = authenticate(&env, &args(&["tries=2"]), "bob", &mut conv).await;
    assert_eq!(out.verdict, Verdict::AuthErr);
    assert_eq!(conv.prompts().len(), 2);
    assert_eq!(conv.answers_left(), 1);
}

#[tokio::test]
async fn a_backup_code_is_accepted_at_the_totp_prompt_once() {
    let env = env("").await;
    let (u, _) = env.totp_user("carol").await;
    let codes = env
        .core
        .generate_backup_codes(&admin_ctx(), &u)
        .await
        .unwrap();
    let mut conv = Scripted::new([codes[0].clone()]);
    let out = authenticate(&env, &args(&[]), "carol", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Success, "{:?}", conv.transcript);
    assert!(out.reason.contains("BACKUP_CODE"), "{out:?}");
    assert_eq!(
        conv.prompts(),
        vec!["Verification code (authenticator app): "]
    );
    assert_eq!(env.core.backup_codes_left(&u.id).await.unwrap(), 9);
    let mut conv = Scripted::new([codes[0].clone()]);
    let out = authenticate(&env, &args(&["tries=1"]), "carol", &mut conv).await;
    assert_eq!(
        out.verdict,
        Verdict::AuthErr,
        "a used backup code must be refused"
    );
}

#[tokio::test]
async fn enter_opens_the_menu_and_sms_sends_a_code_named_by_its_masked_destination() {
    let env = env("").await;
    let (u, _) = env.totp_user("dave").await;
    env.add_sms_and_wait(&u, "+15551231234").await;
    env.core
        .generate_backup_codes(&admin_ctx(), &u)
        .await
        .unwrap();
    let sent_before = env.sms_count();
    // Enter at the code prompt, choose 2 (SMS); the code is only known once it was sent, so
    // the scripted conversation first fails, then the test reads the sink and continues.
    let mut conv = Scripted::new(["", "2"]);
    let out = authenticate(&env, &args(&[]), "dave", &mut conv).await;
    assert_eq!(out.verdict, Verdict::ConvErr);
    assert_eq!(env.sms_count(), sent_before + 1, "one SMS sent");
    let prompts = conv.prompts();
    assert_eq!(
        prompts,
        vec![
            "Verification code (authenticator app): ",
            "Choose 1-3: ",
            "Verification code (SMS to +1*****1234): ",
        ]
    );
    let infos = conv.infos().join("\n");
    assert!(
        infos.contains("Press Enter at the code prompt to try another way."),
        "{infos}"
    );
    assert!(
        infos.contains(
            "Try another way:\n  1) authenticator app\n  2) SMS to +1*****1234\n  3) backup code"
        ),
        "{infos}"
    );
    assert!(
        infos.contains("A code was sent by SMS to +1*****1234; it is valid for 120 seconds."),
        "{infos}"
    );
    // A new login: "?" then SMS again inside the send period: told to use the code already sent.
    let code = env.last_sms_code("+15551231234");
    let mut conv = Scripted::new(["?".to_string(), "2".into(), code]);
    let out = authenticate(&env, &args(&[]), "dave", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Success, "{:?}", conv.transcript);
    assert!(out.reason.contains("SMS"), "{out:?}");
    assert_eq!(
        env.sms_count(),
        sent_before + 1,
        "no second SMS inside the send period"
    );
    assert!(
        conv.infos().join("\n").contains("moments ago"),
        "{:?}",
        conv.transcript
    );
}

#[tokio::test]
async fn sms_default_provider_sends_first() {
    let env = env("").await;
    let u = env.user("erin").await;
    env.add_sms_and_wait(&u, "+15557654321").await;
    let mut conv = Scripted::new(Vec::<String>::new());
    let out = authenticate(&env, &args(&[]), "erin", &mut conv).await;
    assert_eq!(out.verdict, Verdict::ConvErr);
    assert_eq!(
        conv.prompts(),
        vec!["Verification code (SMS to +1*****4321): "]
    );
    let code = env.last_sms_code("+15557654321");
    env.clock.advance(1);
    // Same outstanding code on the next attempt (send period), accepted.
    let mut conv = Scripted::new([code]);
    let out = authenticate(&env, &args(&[]), "erin", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Success, "{:?}", conv.transcript);
}

#[tokio::test]
async fn a_menu_with_one_provider_says_so_and_a_bad_choice_returns_to_the_prompt() {
    let env = env("").await;
    let (_, secret) = env.totp_user("frank").await;
    let mut conv = Scripted::new(["".to_string(), env.totp_now(&secret)]);
    let out = authenticate(&env, &args(&[]), "frank", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Success);
    assert_eq!(
        conv.errors(),
        vec!["No other way to verify is set up for this account."]
    );
    assert!(
        conv.infos().is_empty(),
        "no 'press Enter' hint with one provider"
    );

    let (u, secret) = env.totp_user("gina").await;
    env.core
        .generate_backup_codes(&admin_ctx(), &u)
        .await
        .unwrap();
    let mut conv = Scripted::new(["".to_string(), "9".into(), env.totp_now(&secret)]);
    let out = authenticate(&env, &args(&[]), "gina", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Success, "{:?}", conv.transcript);
    assert_eq!(
        conv.errors(),
        vec!["Not one of the choices; back to the authenticator app."]
    );
}

#[tokio::test]
async fn lockout_gives_maxtries_with_its_message_and_refuses_every_later_login() {
    let env = env("max_verification_failures_before_user_lockout = 3").await;
    let (u, secret) = env.totp_user("hank").await;
    let mut conv = Scripted::new(["000001", "000002", "000003", "000004"]);
    let out = authenticate(&env, &args(&["tries=5"]), "hank", &mut conv).await;
    assert_eq!(out.verdict, Verdict::MaxTries, "{:?}", conv.transcript);
    assert_eq!(
        conv.errors(),
        vec![
            "Wrong code. 2 more wrong codes will lock the account.",
            "Wrong code. 1 more wrong code will lock the account.",
            "This account is locked after too many wrong codes; ask an administrator to unlock it.",
        ]
    );
    assert!(env.reload("hank").await.locked);
    // Locked: refused before any prompt, even with the right code.
    let mut conv = Scripted::new([env.totp_now(&secret)]);
    let out = authenticate(&env, &args(&[]), "hank", &mut conv).await;
    assert_eq!(out.verdict, Verdict::MaxTries);
    assert!(conv.prompts().is_empty());
    // The web door's calls refuse too: one counter.
    assert!(matches!(
        env.core.first_factor(&admin_ctx(), "hank", PASSWORD).await,
        Err(stepgate_core::Error::Locked)
    ));
    // Account management refuses a locked user (an SSH key alone must not get in).
    let mut conv = Scripted::default();
    let out = account(&env, "hank", &mut conv).await;
    assert_eq!(out.verdict, Verdict::PermDenied);
    env.core.unlock_user(&admin_ctx(), "hank").await.unwrap();
    env.clock.advance(30);
    let mut conv = Scripted::new([env.totp_now(&secret)]);
    let out = authenticate(&env, &args(&[]), "hank", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Success, "{:?}", conv.transcript);
    let _ = u;
}

#[tokio::test]
async fn the_rate_limit_gives_maxtries_with_the_wait() {
    let env = env("verification_code_check_rate_limit = \"2:60\"").await;
    env.totp_user("ivy").await;
    let mut conv = Scripted::new(["000001", "000002", "000003"]);
    let out = authenticate(&env, &args(&["tries=5"]), "ivy", &mut conv).await;
    assert_eq!(out.verdict, Verdict::MaxTries, "{:?}", conv.transcript);
    assert_eq!(
        conv.errors().last().copied(),
        Some("Too many attempts; wait 60 seconds and try again.")
    );
}

/// A conversation whose person is slow: the clock moves on before each answer.
struct Slow<'a> {
    inner: Scripted,
    clock: &'a stepgate_core::time::ManualClock,
    step: i64,
}

impl pam_stepgate::Conversation for Slow<'_> {
    fn ask(
        &mut self,
        prompt: &str,
        echo: bool,
    ) -> Result<zeroize::Zeroizing<String>, pam_stepgate::conversation::ConversationFailed> {
        self.clock.advance(self.step);
        self.inner.ask(prompt, echo)
    }
    fn info(&mut self, text: &str) {
        self.inner.info(text)
    }
    fn error(&mut self, text: &str) {
        self.inner.error(text)
    }
}

#[tokio::test]
async fn a_verification_that_runs_out_of_time_says_so() {
    let env = env("total_allowed_time_for_verification = 60").await;
    let (_, secret) = env.totp_user("jack").await;
    let code = stepgate_core::totp::code_at(
        &secret,
        stepgate_core::totp::Algorithm::SHA1,
        6,
        (T0 + 61) as u64,
    );
    let mut conv = Slow {
        inner: Scripted::new([code]),
        clock: &env.clock,
        step: 61,
    };
    let a = args(&[]);
    let req = request("jack");
    let out =
        pam_stepgate::flow::authenticate(&env.core, &req.context(&a), &a, "jack", &mut conv).await;
    assert_eq!(out.verdict, Verdict::AuthErr, "{:?}", conv.inner.transcript);
    assert_eq!(
        conv.inner.errors(),
        vec!["The time allowed for verification has run out; log in again."]
    );
}

#[tokio::test]
async fn users_without_a_second_factor_nullok_enforcement_and_unknown_users() {
    let env = env("").await;
    env.user("kate").await;
    let mut conv = Scripted::default();
    let out = authenticate(&env, &args(&["nullok"]), "kate", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Ignore);
    assert!(conv.transcript.is_empty());
    let out = authenticate(&env, &args(&[]), "kate", &mut conv).await;
    assert_eq!(out.verdict, Verdict::AuthErr);
    assert_eq!(
        conv.errors(),
        vec!["No second factor is set up for this account."]
    );
    // Unknown to Stepgate: PAM_USER_UNKNOWN without a prompt (second-factor mode).
    let mut conv = Scripted::default();
    let out = authenticate(&env, &args(&["nullok"]), "nobody", &mut conv).await;
    assert_eq!(out.verdict, Verdict::UserUnknown);
    assert!(conv.transcript.is_empty());
    // Enforced 2FA: nullok does not let an unenrolled user through.
    let mut s = env.core.twofa_settings().await.unwrap();
    s.enforce_two_fa = true;
    env.core
        .update_twofa_settings(&admin_ctx(), None, &s)
        .await
        .unwrap();
    let kate = env.reload("kate").await;
    assert_eq!(
        env.core.second_factor_for(&kate).await.unwrap(),
        SecondFactor::MustEnrol
    );
    let mut conv = Scripted::default();
    let out = authenticate(&env, &args(&["nullok"]), "kate", &mut conv).await;
    assert_eq!(out.verdict, Verdict::AuthErr);
    assert_eq!(
        conv.errors(),
        vec!["Two-factor authentication is required for this account. Set it up at http://127.0.0.1:8080 first."]
    );
}

#[tokio::test]
async fn password_mode_checks_the_stepgate_password_then_the_second_factor() {
    let env = env("").await;
    let (_, secret) = env.totp_user("liam").await;
    let a = args(&["mode=password"]);
    let mut conv = Scripted::new(["wrong password"]);
    let out = authenticate(&env, &a, "liam", &mut conv).await;
    assert_eq!(out.verdict, Verdict::AuthErr);
    assert_eq!(conv.prompts(), vec!["Password: "]);
    assert_eq!(conv.errors(), vec!["Wrong password."]);
    // An unknown user ends exactly like a wrong password (nothing to learn from it).
    let mut conv2 = Scripted::new(["wrong password"]);
    let out2 = authenticate(&env, &a, "nobody", &mut conv2).await;
    assert_eq!(out2.verdict, Verdict::AuthErr);
    assert_eq!(conv2.transcript, conv.transcript);
    // Right password, then the code; the typed password is left for later modules.
    let mut conv = Scripted::new([PASSWORD.to_string(), env.totp_now(&secret)]);
    let out = authenticate(&env, &a, "liam", &mut conv).await;
    assert_eq!(out.verdict, Verdict::Success, "{:?}", conv.transcript);
    assert_eq!(conv.password_item.as_deref(), Some(PASSWORD));
}

#[tokio::test]
async fn use_first_pass_and_try_first_pass_take_the_stacked_password() {
    let env = env("").await;
    env.user("mia").await;
    // use_first_pass: no stored password → refused without prompting.
    let mut conv = Scripted::default();
    let out = authenticate(
        &env,
        &args(&["mode=password", "use_first_pass", "nullok"]),
        "mia",
        &mut conv,
    )
    .await;
    assert_eq!(out.verdict, Verdict::AuthErr);
    assert!(conv.prompts().is_empty());
    // use_first_pass with the right stored password; nullok: no second factor, success.
    let mut conv = Scripted::default();
    conv.password_item = Some(PASSWORD.into());
    let out = authenticate(
        &env,
        &args(&["mode=password", "use_first_pass", "nullok"]),
        "mia",
        &mut conv,
    )
    .await;
    assert_eq!(out.verdict, Verdict::Success, "{out:?}");
    assert!(conv.prompts().is_empty());
    // try_first_pass with a wrong stored password: prompts once more.
    let mut conv = Scripted::new([PASSWORD]);
    conv.password_item = Some("stale password".into());
    let out = authenticate(
        &env,
        &args(&["mode=password", "try_first_pass", "nullok"]),
        "mia",
        &mut conv,
    )
    .await;
    assert_eq!(out.verdict, Verdict::Success, "{:?}", conv.transcript);
    assert_eq!(conv.prompts(), vec!["Password: "]);
}

#[tokio::test]
async fn account_management_refuses_disabled_and_unknown_users() {
    let env = env("").await;
    env.totp_user("noah").await;
    let mut conv = Scripted::default();
    assert_eq!(
        account(&env, "noah", &mut conv).await.verdict,
        Verdict::Success
    );
    env.core
        .set_disabled(&admin_ctx(), "noah", true)
        .await
        .unwrap();
    let out = account(&env, "noah", &mut conv).await;
    assert_eq!(out.verdict, Verdict::PermDenied);
    assert_eq!(conv.errors(), vec!["This account is disabled."]);
    assert_eq!(
        account(&env, "nobody", &mut conv).await.verdict,
        Verdict::UserUnknown
    );
    // And authentication refuses a disabled user before any prompt.
    let mut conv = Scripted::new(["123456"]);
    let out = authenticate(&env, &args(&[]), "noah", &mut conv).await;
    assert_eq!(out.verdict, Verdict::AuthErr);
    assert!(conv.prompts().is_empty());
}

#[tokio::test]
async fn the_prompt_argument_and_a_conversation_that_hangs_up() {
    let env = env("").await;
    env.totp_user("olga").await;
    let mut conv = Scripted::default();
    let out = authenticate(
        &env,
        &args(&["prompt=Stepgate code for {provider}:"]),
        "olga",
        &mut conv,
    )
    .await;
    assert_eq!(out.verdict, Verdict::ConvErr);
    assert_eq!(
        conv.prompts(),
        vec!["Stepgate code for authenticator app: "]
    );
    // Endless empty answers end after a bounded number of prompts.
    let mut conv = Scripted::new(std::iter::repeat_n("", 100));
    let out = authenticate(&env, &args(&[]), "olga", &mut conv).await;
    assert_eq!(out.verdict, Verdict::AuthErr);
    assert!(conv.prompts().len() <= 20, "{}", conv.prompts().len());
    let _ = ProviderType::Totp;
}
