//! Email as a second factor and the notices Stepgate emails, through a real SMTP server.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use stepgate_core::challenge::CheckOutcome;
use stepgate_core::error::Error;
use stepgate_core::providers::ProviderType::*;
use stepgate_tests::smtp::SmtpSink;
use support::{both_backends, ctx, env_with, Env, Fixtures};

async fn env_with_mail(b: support::Backend, sink: &SmtpSink, twofa: &str) -> Env {
    let extra = format!(
        "{}[twofa]\nproviders = [\"TOTP\", \"SMS\", \"EMAIL\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n{twofa}",
        sink.toml("Stepgate <no-reply@stepgate.test>")
    );
    env_with(b, &extra).await
}

both_backends! {
    async fn email_enrolment_and_login_codes_arrive_by_smtp(b) {
        let sink = SmtpSink::start(None);
        let env = env_with_mail(b, &sink, "email_verification_code_lifetime = 300\n").await;
        let u = env.user("rita").await;
        let sent = env.core.begin_email_enrolment(&ctx(), &u, "rita.work@example.com").await.unwrap();
        assert_eq!(sent.destination, "r***@example.com");
        assert_eq!(sent.expires_in, 300);
        let mail = sink.wait_for("rita.work@example.com", 0);
        assert_eq!(mail.subject, "Stepgate verification code");
        assert!(mail.body.contains("valid for 300 seconds"), "{}", mail.body);
        let code = stepgate_tests::digits_in(&mail.body, 6);
        env.core.finish_enrolment(&ctx(), &u, Email, &code).await.unwrap();

        env.clock.advance(30);
        let user = env.core.first_factor(&ctx(), "rita", "correct horse battery").await.unwrap();
        let c = env.core.open_challenge(&ctx(), &user).await.unwrap().id;
        let providers = env.core.challenge_providers(&c).await.unwrap();
        assert_eq!(providers[0].destination.as_deref(), Some("r***@example.com"));
        env.core.send_code(&ctx(), &c, Email).await.unwrap();
        let mail = sink.wait_for("rita.work@example.com", 1);
        let code = stepgate_tests::digits_in(&mail.body, 6);
        assert_eq!(env.core.check_code(&ctx(), &c, Email, &code).await.unwrap(), CheckOutcome::Verified(Email));
        // Single use.
        let c2 = env.core.open_challenge(&ctx(), &user).await.unwrap().id;
        assert!(matches!(env.core.check_code(&ctx(), &c2, Email, &code).await, Ok(CheckOutcome::WrongCode { .. })));
    }

    async fn lockout_emails_the_configured_administrator(b) {
        let sink = SmtpSink::start(None);
        let env = env_with_mail(b, &sink, "max_verification_failures_before_user_lockout = 2\nlockout_notification_email = \"security@example.com\"\n").await;
        let u = env.user("sam").await;
        env.core.provision_totp(&ctx(), &u).await.unwrap();
        let c = env.core.open_challenge(&ctx(), &u).await.unwrap().id;
        assert!(matches!(env.core.check_code(&ctx(), &c, Totp, "000000").await, Ok(CheckOutcome::WrongCode { .. })));
        assert!(matches!(env.core.check_code(&ctx(), &c, Totp, "000001").await, Err(Error::Locked)));
        let mail = sink.wait_for("security@example.com", 0);
        assert!(mail.subject.contains("sam") && mail.subject.contains("locked"), "{}", mail.subject);
        assert!(mail.body.contains("stepgate user unlock sam"), "{}", mail.body);
        assert!(!mail.body.contains("000001"));
    }

    async fn turning_a_factor_off_tells_the_user(b) {
        let sink = SmtpSink::start(None);
        let env = env_with_mail(b, &sink, "").await;
        let u = env.user("tom").await;
        env.core.provision_totp(&ctx(), &u).await.unwrap();
        env.core.remove_provider(&ctx(), &u, Totp).await.unwrap();
        let mail = sink.wait_for("tom@example.com", 0);
        assert_eq!(mail.subject, "Two-factor authentication was turned off");
        assert!(mail.body.contains("authenticator app"), "{}", mail.body);
        let ev = stepgate_core::audit::list(env.core.db().pool(), &stepgate_core::audit::AuditFilter { user_id: Some(u.id.clone()), event: Some("enrolment_removed".into()), limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].provider.as_deref(), Some("TOTP"));
    }

    async fn sms_template_placeholders_are_filled(b) {
        let sink = SmtpSink::start(None);
        let env = env_with_mail(b, &sink, "sms_verification_message_template = \"Hi ${username} (${userEmail}), code ${code}\"\n").await;
        let u = env.user("uma").await;
        env.core.begin_sms_enrolment(&ctx(), &u, "+15551231234").await.unwrap();
        let text = std::fs::read_to_string(env.sms_log()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        let message = line["message"].as_str().unwrap();
        let code = stepgate_tests::digits_in(message, 6);
        assert_eq!(message, format!("Hi uma (uma@example.com), code {code}"));
    }
}
