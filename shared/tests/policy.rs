//! The 2FA policy, end to end through the core's public API, on SQLite and PostgreSQL.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use stepgate_core::challenge::{ChallengeState, CheckOutcome, SecondFactor};
use stepgate_core::error::Error;
use stepgate_core::providers::ProviderType::{self, *};
use stepgate_core::settings::TwoFaSettings;
use support::{both_backends, ctx, env_with, login, Env, Fixtures};

async fn settings(env: &Env, f: impl FnOnce(&mut TwoFaSettings)) {
    let mut s = env.core.twofa_settings().await.unwrap();
    f(&mut s);
    env.core
        .update_twofa_settings(&ctx(), None, &s)
        .await
        .unwrap();
}

async fn events(env: &Env, user_id: &str) -> Vec<String> {
    let f = stepgate_core::audit::AuditFilter {
        user_id: Some(user_id.into()),
        limit: 1000,
        ..Default::default()
    };
    let mut v: Vec<String> = stepgate_core::audit::list(env.core.db().pool(), &f)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    v.reverse();
    v
}

fn is_wrong(o: &Result<CheckOutcome, Error>) -> bool {
    matches!(o, Ok(CheckOutcome::WrongCode { .. }))
}

both_backends! {
    async fn a_user_search_takes_percent_and_underscore_literally(b) {
        let env = env_with(b, "").await;
        // Usernames cannot hold a '%'; display names can.
        for (name, display) in [("a_b", "Ann"), ("axb", "Axel"), ("cid", "50% Cid"), ("cod", "50 Cod")] {
            let new = stepgate_core::users::NewUser { display_name: Some(display.into()), ..env.new_user(name) };
            env.core.create_user(&ctx(), new).await.unwrap();
        }
        let names = |users: Vec<stepgate_core::users::User>| users.into_iter().map(|u| u.username).collect::<Vec<_>>();
        assert_eq!(names(env.core.list_users("a_b", 10, 0).await.unwrap()), ["a_b"]);
        assert_eq!(names(env.core.list_users("50%", 10, 0).await.unwrap()), ["cid"]);
        assert_eq!(names(env.core.list_users("\\", 10, 0).await.unwrap()), Vec::<String>::new());
        assert_eq!(names(env.core.list_users("XB", 10, 0).await.unwrap()), ["axb"]);
    }

    async fn first_factor_gives_one_answer_for_unknown_user_and_wrong_password(b) {
        let env = env_with(b, "").await;
        let u = env.user("alice").await;
        assert!(matches!(env.core.first_factor(&ctx(), "alice", "wrong password").await, Err(Error::BadCredentials)));
        assert!(matches!(env.core.first_factor(&ctx(), "nobody", "wrong password").await, Err(Error::BadCredentials)));
        // Many bad passwords never lock the account: only second-factor failures do.
        for _ in 0..40 {
            let _ = env.core.first_factor(&ctx(), "alice", "wrong password").await;
        }
        let ok = env.core.first_factor(&ctx(), "alice", "correct horse battery").await.unwrap();
        assert_eq!(ok.id, u.id);
        assert!(!ok.locked);
        let ev = events(&env, &u.id).await;
        assert!(ev.contains(&"first_factor_failed".to_string()) && ev.last().unwrap() == "first_factor_ok", "{ev:?}");
        env.core.set_disabled(&ctx(), "alice", true).await.unwrap();
        assert!(matches!(env.core.first_factor(&ctx(), "alice", "correct horse battery").await, Err(Error::Disabled)));
    }

    async fn totp_code_is_accepted_once_and_replay_is_refused(b) {
        let env = env_with(b, "").await;
        let u = env.user("bob").await;
        let secret = env.totp_secret(&u).await;
        assert_eq!(env.core.second_factor_for(&u).await.unwrap(), SecondFactor::Required);
        let code = env.totp(&secret, 0);
        let c1 = login(&env, &u).await;
        assert_eq!(env.core.check_code(&ctx(), &c1, Totp, &code).await.unwrap(), CheckOutcome::Verified(Totp));
        assert_eq!(env.core.challenge(&c1).await.unwrap().state, ChallengeState::Verified);
        // The same code in the same 30 s window, on a new login: refused.
        let c2 = login(&env, &u).await;
        assert!(is_wrong(&env.core.check_code(&ctx(), &c2, Totp, &code).await));
        // The previous step's code (inside the ±1 window) is also refused after a newer one.
        assert!(is_wrong(&env.core.check_code(&ctx(), &c2, Totp, &env.totp(&secret, -30)).await));
        env.clock.advance(30);
        assert_eq!(env.core.check_code(&ctx(), &c2, Totp, &env.totp(&secret, 0)).await.unwrap(), CheckOutcome::Verified(Totp));
        // A finished challenge cannot be used again.
        assert!(matches!(env.core.check_code(&ctx(), &c2, Totp, "000000").await, Err(Error::ChallengeClosed)));
        // A user disabled while a login waits for its code cannot finish it.
        let c3 = login(&env, &u).await;
        env.core.set_disabled(&ctx(), "bob", true).await.unwrap();
        assert!(matches!(env.core.check_code(&ctx(), &c3, Totp, "000000").await, Err(Error::Disabled)));
        assert_eq!(env.core.challenge(&c3).await.unwrap().state, ChallengeState::Failed);
    }

    async fn concurrent_checks_of_one_totp_code_succeed_exactly_once(b) {
        let env = env_with(b, "").await;
        let u = env.user("carol").await;
        let secret = env.totp_secret(&u).await;
        let code = env.totp(&secret, 0);
        let mut challenges = Vec::new();
        for _ in 0..6 { challenges.push(login(&env, &u).await); }
        let mut tasks = Vec::new();
        for c in challenges {
            let core = env.core.clone();
            let code = code.clone();
            tasks.push(tokio::spawn(async move { core.check_code(&ctx(), &c, Totp, &code).await }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(CheckOutcome::Verified(_)) => ok += 1,
                Ok(CheckOutcome::WrongCode { .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ok, 1);
    }

    async fn backup_codes_work_once_even_concurrently_and_at_any_prompt(b) {
        let env = env_with(b, "").await;
        let u = env.user("dave").await;
        // Not before another provider exists.
        assert!(matches!(env.core.generate_backup_codes(&ctx(), &u).await, Err(Error::Refused(m)) if m.english().contains("another method first")));
        env.core.provision_totp(&ctx(), &u).await.unwrap();
        let codes = env.core.generate_backup_codes(&ctx(), &u).await.unwrap();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 8 && c.chars().all(|d| d.is_ascii_digit())));
        assert_eq!(env.core.backup_codes_left(&u.id).await.unwrap(), 10);

        let mut tasks = Vec::new();
        for _ in 0..6 {
            let c = login(&env, &u).await;
            let core = env.core.clone();
            let code = codes[0].clone();
            tasks.push(tokio::spawn(async move { core.check_code(&ctx(), &c, BackupCode, &code).await }));
        }
        let mut ok = 0;
        for t in tasks {
            if let Ok(CheckOutcome::Verified(BackupCode)) = t.await.unwrap() { ok += 1; }
        }
        assert_eq!(ok, 1);
        assert_eq!(env.core.backup_codes_left(&u.id).await.unwrap(), 9);
        // A backup code typed at the authenticator-app prompt is accepted as a backup code.
        let c = login(&env, &u).await;
        let spaced = format!("{} {}", &codes[1][..4], &codes[1][4..]);
        assert_eq!(env.core.check_code(&ctx(), &c, Totp, &spaced).await.unwrap(), CheckOutcome::Verified(BackupCode));
        // Regenerating replaces the whole list.
        let fresh = env.core.generate_backup_codes(&ctx(), &u).await.unwrap();
        let c = login(&env, &u).await;
        assert!(is_wrong(&env.core.check_code(&ctx(), &c, BackupCode, &codes[2]).await));
        assert_eq!(env.core.check_code(&ctx(), &c, BackupCode, &fresh[0]).await.unwrap(), CheckOutcome::Verified(BackupCode));
    }

    async fn sms_send_period_one_outstanding_code_and_lifetime(b) {
        let env = env_with(b, "").await;
        let u = env.user("erin").await;
        let sent = env.core.begin_sms_enrolment(&ctx(), &u, "+15551231234").await.unwrap();
        assert_eq!(sent.destination, "+1*****1234");
        // Enrolment sends obey the send period like login sends.
        assert!(matches!(
            env.core.begin_sms_enrolment(&ctx(), &u, "+15551231234").await,
            Err(Error::SendTooSoon { .. })
        ));
        let code = env.last_sms_code("+15551231234");
        env.core.finish_enrolment(&ctx(), &u, Sms, &code).await.unwrap();

        env.clock.advance(30);
        let c = login(&env, &u).await;
        let providers = env.core.challenge_providers(&c).await.unwrap();
        assert_eq!(providers.len(), 1);
        assert_eq!(providers[0].destination.as_deref(), Some("+1*****1234"));
        assert!(providers[0].is_default);
        env.core.send_code(&ctx(), &c, Sms).await.unwrap();
        let first = env.last_sms_code("+15551231234");
        // minVerificationCodeSendPeriod (30 s): a second send now is refused.
        match env.core.send_code(&ctx(), &c, Sms).await {
            Err(Error::SendTooSoon { retry_after }) => assert_eq!(retry_after, 30),
            other => panic!("{other:?}"),
        }
        env.clock.advance(30);
        env.core.send_code(&ctx(), &c, Sms).await.unwrap();
        let second = env.last_sms_code("+15551231234");
        if first != second {
            // The new code replaced the old one.
            assert!(is_wrong(&env.core.check_code(&ctx(), &c, Sms, &first).await));
        }
        // Past its 120 s lifetime the code no longer works.
        env.clock.advance(121);
        assert!(is_wrong(&env.core.check_code(&ctx(), &c, Sms, &second).await));
        env.core.send_code(&ctx(), &c, Sms).await.unwrap();
        let third = env.last_sms_code("+15551231234");
        assert_eq!(env.core.check_code(&ctx(), &c, Sms, &third).await.unwrap(), CheckOutcome::Verified(Sms));
        let ev = events(&env, &u.id).await;
        assert!(ev.iter().filter(|e| *e == "code_sent").count() >= 4, "{ev:?}");
    }

    async fn check_rate_limit_refuses_without_counting_then_recovers(b) {
        let env = env_with(b, "").await;
        settings(&env, |s| s.verification_code_check_rate_limit = Some("3:900".parse().unwrap())).await;
        let u = env.user("frank").await;
        let secret = env.totp_secret(&u).await;
        let c = login(&env, &u).await;
        for _ in 0..3 {
            assert!(is_wrong(&env.core.check_code(&ctx(), &c, Totp, "000000").await));
        }
        // The fourth check in 900 s is refused even with the right code.
        match env.core.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await {
            Err(Error::RateLimited { retry_after }) => assert!(retry_after > 0 && retry_after <= 900),
            other => panic!("{other:?}"),
        }
        assert_eq!(env.core.user_by_id(&u.id).await.unwrap().unwrap().twofa_failures, 3);
        env.clock.advance(901);
        let c = login(&env, &u).await;
        assert_eq!(env.core.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await.unwrap(), CheckOutcome::Verified(Totp));
    }

    async fn lockout_after_max_failures_and_admin_unlock(b) {
        let env = env_with(b, "").await;
        settings(&env, |s| s.max_verification_failures_before_user_lockout = 3.into()).await;
        let u = env.user("gina").await;
        let secret = env.totp_secret(&u).await;
        let c = login(&env, &u).await;
        assert_eq!(env.core.check_code(&ctx(), &c, Totp, "000000").await.unwrap(), CheckOutcome::WrongCode { attempts_left: Some(2) });
        assert_eq!(env.core.check_code(&ctx(), &c, Totp, "000001").await.unwrap(), CheckOutcome::WrongCode { attempts_left: Some(1) });
        assert!(matches!(env.core.check_code(&ctx(), &c, Totp, "000002").await, Err(Error::Locked)));
        assert_eq!(env.core.challenge(&c).await.unwrap().state, ChallengeState::Locked);
        // Locked: even the right code and a correct password get nowhere.
        assert!(matches!(env.core.first_factor(&ctx(), "gina", "correct horse battery").await, Err(Error::Locked)));
        let locked = env.core.require_user("gina").await.unwrap();
        assert!(locked.locked);
        assert!(matches!(env.core.open_challenge(&ctx(), &locked).await, Err(Error::Locked)));
        let unlocked = env.core.unlock_user(&stepgate_core::RequestContext::new(stepgate_core::Source::Admin), "gina").await.unwrap();
        assert!(!unlocked.locked && unlocked.twofa_failures == 0);
        let c = login(&env, &u).await;
        assert_eq!(env.core.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await.unwrap(), CheckOutcome::Verified(Totp));
        let ev = events(&env, &u.id).await;
        assert!(ev.contains(&"lockout".into()) && ev.contains(&"unlock".into()), "{ev:?}");
    }

    async fn a_correct_password_never_resets_the_second_factor_failure_counter(b) {
        let env = env_with(b, "").await;
        settings(&env, |s| s.max_verification_failures_before_user_lockout = 3.into()).await;
        let u = env.user("hank").await;
        env.totp_secret(&u).await;
        // The attacker knows the password and alternates logins to guess codes.
        for i in 0..2 {
            let c = login(&env, &u).await;
            assert!(is_wrong(&env.core.check_code(&ctx(), &c, Totp, &format!("00000{i}")).await));
        }
        let c = login(&env, &u).await;
        assert!(matches!(env.core.check_code(&ctx(), &c, Totp, "000009").await, Err(Error::Locked)));
    }

    async fn the_challenge_expires_after_the_total_allowed_time(b) {
        let env = env_with(b, "").await;
        settings(&env, |s| s.total_allowed_time_for_verification = 60.into()).await;
        let u = env.user("ivy").await;
        let secret = env.totp_secret(&u).await;
        let c = login(&env, &u).await;
        env.clock.advance(61);
        assert_eq!(env.core.challenge(&c).await.unwrap().state, ChallengeState::Expired);
        assert!(matches!(env.core.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await, Err(Error::ChallengeExpired)));
        // An expired challenge did not count as a failure.
        assert_eq!(env.core.require_user("ivy").await.unwrap().twofa_failures, 0);
    }

    async fn try_another_way_and_default_provider_rules(b) {
        let env = env_with(b, "").await;
        let u = env.user("jack").await;
        let secret = env.totp_secret(&u).await;
        env.core.begin_sms_enrolment(&ctx(), &u, "+15551231234").await.unwrap();
        env.core.finish_enrolment(&ctx(), &u, Sms, &env.last_sms_code("+15551231234")).await.unwrap();
        env.core.generate_backup_codes(&ctx(), &u).await.unwrap();
        let defaults = |v: Vec<stepgate_core::factors::EnrolledProvider>| -> Vec<ProviderType> {
            v.into_iter().filter(|p| p.is_default).map(|p| p.provider).collect()
        };
        // The first enrolled provider is the default.
        assert_eq!(defaults(env.core.enrolled_providers(&u.id).await.unwrap()), vec![Totp]);
        env.core.set_default_provider(&ctx(), &u, Sms).await.unwrap();
        assert_eq!(defaults(env.core.enrolled_providers(&u.id).await.unwrap()), vec![Sms]);
        // "Try another way": the same challenge, another provider.
        env.clock.advance(30);
        let c = login(&env, &u).await;
        let listed: Vec<ProviderType> = env.core.challenge_providers(&c).await.unwrap().iter().map(|p| p.provider).collect();
        assert_eq!(listed, vec![Totp, Sms, BackupCode]);
        env.core.send_code(&ctx(), &c, Sms).await.unwrap();
        assert_eq!(env.core.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await.unwrap(), CheckOutcome::Verified(Totp));
        // Removing the default: the next by TOTP < SMS < EMAIL takes over.
        env.core.remove_provider(&ctx(), &u, Sms).await.unwrap();
        assert_eq!(defaults(env.core.enrolled_providers(&u.id).await.unwrap()), vec![Totp]);
        // Removing the last non-backup provider removes the backup codes too.
        env.core.remove_provider(&ctx(), &u, Totp).await.unwrap();
        assert!(env.core.enrolled_providers(&u.id).await.unwrap().is_empty());
        assert_eq!(env.core.backup_codes_left(&u.id).await.unwrap(), 0);
        assert_eq!(env.core.second_factor_for(&u).await.unwrap(), SecondFactor::NotConfigured);
    }

    async fn enforced_two_fa_keeps_the_last_provider_but_an_admin_can_reset(b) {
        let env = env_with(b, "").await;
        settings(&env, |s| s.enforce_two_fa = true).await;
        let fresh = env.user("kim").await;
        assert_eq!(env.core.second_factor_for(&fresh).await.unwrap(), SecondFactor::MustEnrol);
        let u = env.user("lee").await;
        env.totp_secret(&u).await;
        assert!(matches!(env.core.remove_provider(&ctx(), &u, Totp).await, Err(Error::Refused(m)) if m.english().contains("at least one second factor")));
        env.core.reset_twofa(&stepgate_core::RequestContext::new(stepgate_core::Source::Admin), "lee").await.unwrap();
        assert!(env.core.enrolled_providers(&u.id).await.unwrap().is_empty());
        assert_eq!(env.core.second_factor_for(&u).await.unwrap(), SecondFactor::MustEnrol);
        // Only admins: a normal user is no longer forced.
        settings(&env, |s| s.enforced_users_filter = stepgate_core::settings::EnforcedUsersFilter::Admins).await;
        assert_eq!(env.core.second_factor_for(&u).await.unwrap(), SecondFactor::NotConfigured);
    }

    async fn a_provider_switched_off_disappears_and_comes_back(b) {
        let env = env_with(b, "").await;
        let u = env.user("mia").await;
        let secret = env.totp_secret(&u).await;
        env.core.begin_sms_enrolment(&ctx(), &u, "+15551231234").await.unwrap();
        env.core.finish_enrolment(&ctx(), &u, Sms, &env.last_sms_code("+15551231234")).await.unwrap();
        settings(&env, |s| s.providers.retain(|p| p.provider_type() != Totp)).await;
        let c = login(&env, &u).await;
        let listed: Vec<_> = env.core.challenge_providers(&c).await.unwrap().into_iter().map(|p| (p.provider, p.is_default)).collect();
        assert_eq!(listed, vec![(Sms, true)]);
        assert!(matches!(env.core.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await, Err(Error::ProviderUnavailable(Totp))));
        settings(&env, |s| s.providers.insert(0, stepgate_core::settings::ProviderConfig::default_for(Totp))).await;
        let listed: Vec<_> = env.core.challenge_providers(&c).await.unwrap().into_iter().map(|p| p.provider).collect();
        assert_eq!(listed, vec![Totp, Sms]);
        assert_eq!(env.core.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await.unwrap(), CheckOutcome::Verified(Totp));
    }

    async fn bad_settings_name_the_field_and_change_nothing(b) {
        let env = env_with(b, "").await;
        let before = env.core.twofa_settings().await.unwrap();
        let mut bad = before.clone();
        bad.min_verification_code_send_period = 1.into();
        bad.max_verification_failures_before_user_lockout = 7.into();
        match env.core.update_twofa_settings(&ctx(), None, &bad).await {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "minVerificationCodeSendPeriod"),
            other => panic!("{other:?}"),
        }
        assert_eq!(env.core.twofa_settings().await.unwrap(), before);
        // EMAIL needs a mail service, which this config lacks.
        let mut email = before.clone();
        email.providers.push(stepgate_core::settings::ProviderConfig::default_for(Email));
        match env.core.update_twofa_settings(&ctx(), None, &email).await {
            Err(Error::Invalid { message, .. }) => assert!(message.contains("Mail service is not set up"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(env.core.twofa_settings().await.unwrap(), before);
    }

    async fn totp_enrolment_verifies_before_saving_and_checks_are_rate_limited(b) {
        let env = env_with(b, "").await;
        settings(&env, |s| s.verification_code_check_rate_limit = Some("2:60".parse().unwrap())).await;
        let u = env.user("noah").await;
        let e = env.core.begin_totp_enrolment(&ctx(), &u).await.unwrap();
        assert!(e.otpauth_uri.starts_with("otpauth://totp/Stepgate:noah?"), "{}", e.otpauth_uri);
        assert!(env.core.enrolled_providers(&u.id).await.unwrap().is_empty());
        assert!(matches!(env.core.finish_enrolment(&ctx(), &u, Totp, "123456").await, Err(Error::Invalid { .. })));
        assert!(matches!(env.core.finish_enrolment(&ctx(), &u, Totp, "123457").await, Err(Error::Invalid { .. })));
        assert!(matches!(env.core.finish_enrolment(&ctx(), &u, Totp, &env.totp(&e.secret_base32, 0)).await, Err(Error::RateLimited { .. })));
        // Enrolment failures never lock the account.
        assert_eq!(env.core.require_user("noah").await.unwrap().twofa_failures, 0);
        env.clock.advance(61);
        env.core.finish_enrolment(&ctx(), &u, Totp, &env.totp(&e.secret_base32, 0)).await.unwrap();
        let listed = env.core.enrolled_providers(&u.id).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].is_default);
        // The code used to enrol cannot be replayed to log in.
        let c = login(&env, &u).await;
        assert!(is_wrong(&env.core.check_code(&ctx(), &c, Totp, &env.totp(&e.secret_base32, 0)).await));
    }

    async fn secrets_are_not_stored_or_returned_in_clear(b) {
        let env = env_with(b, "").await;
        let u = env.user("olga").await;
        let secret = env.totp_secret(&u).await;
        env.core.begin_sms_enrolment(&ctx(), &u, "+15559876543").await.unwrap();
        env.core.finish_enrolment(&ctx(), &u, Sms, &env.last_sms_code("+15559876543")).await.unwrap();
        let codes = env.core.generate_backup_codes(&ctx(), &u).await.unwrap();
        let listed = serde_json::to_string(&env.core.enrolled_providers(&u.id).await.unwrap()).unwrap();
        assert!(!listed.contains(&secret) && !listed.contains("9876543") && listed.contains("+1*****6543"), "{listed}");
        // Dump every text value of the tables that hold second-factor data.
        let mut dump = String::new();
        for (table, cols) in [("user_providers", "config_enc"), ("backup_codes", "code_hash"), ("verification_codes", "code_hash"), ("audit_events", "COALESCE(detail, '')")] {
            let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT {cols} FROM {table}")).fetch_all(env.core.db().pool()).await.unwrap();
            for (v,) in rows { dump.push_str(&v); dump.push('\n'); }
        }
        assert!(!dump.contains(&secret), "TOTP secret in clear");
        assert!(!dump.contains("5559876543"), "phone in clear");
        for c in &codes { assert!(!dump.contains(c.as_str()), "backup code in clear"); }
    }

    async fn a_failed_send_spends_no_counter(b) {
        let env = env_with(b, "").await;
        let u = env.user("pete").await;
        env.core.begin_sms_enrolment(&ctx(), &u, "+15551231234").await.unwrap();
        env.core.finish_enrolment(&ctx(), &u, Sms, &env.last_sms_code("+15551231234")).await.unwrap();
        // Make the file sink unwritable: replace it with a directory.
        std::fs::remove_file(env.sms_log()).unwrap();
        std::fs::create_dir(env.sms_log()).unwrap();
        env.clock.advance(30);
        let c = login(&env, &u).await;
        assert!(matches!(env.core.send_code(&ctx(), &c, Sms).await, Err(Error::SendFailed(_))));
        // No send period was spent: once delivery works again, a send goes through at once.
        std::fs::remove_dir(env.sms_log()).unwrap();
        env.core.send_code(&ctx(), &c, Sms).await.unwrap();
        let code = env.last_sms_code("+15551231234");
        assert_eq!(env.core.check_code(&ctx(), &c, Sms, &code).await.unwrap(), CheckOutcome::Verified(Sms));
        assert!(events(&env, &u.id).await.contains(&"code_send_failed".into()));
    }

    async fn two_processes_share_one_rate_limit_and_lockout(b) {
        let env = env_with(b, "").await;
        settings(&env, |s| { s.verification_code_check_rate_limit = Some("4:900".parse().unwrap()); s.max_verification_failures_before_user_lockout = 100.into(); }).await;
        let u = env.user("quinn").await;
        let secret = env.totp_secret(&u).await;
        let other = env.second_core().await;
        let c = login(&env, &u).await;
        // Two wrong checks through each "process" exhaust one shared limit of four.
        assert!(is_wrong(&env.core.check_code(&ctx(), &c, Totp, "000000").await));
        assert!(is_wrong(&other.check_code(&ctx(), &c, Totp, "000001").await));
        assert!(is_wrong(&env.core.check_code(&ctx(), &c, Totp, "000002").await));
        assert!(is_wrong(&other.check_code(&ctx(), &c, Totp, "000003").await));
        assert!(matches!(other.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await, Err(Error::RateLimited { .. })));
        assert!(matches!(env.core.check_code(&ctx(), &c, Totp, &env.totp(&secret, 0)).await, Err(Error::RateLimited { .. })));
        assert_eq!(other.require_user("quinn").await.unwrap().twofa_failures, 4);
        other.close().await;
    }
}
