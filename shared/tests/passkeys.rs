//! Passkeys (WebAuthn) through the core's public API, with webauthn-authenticator-rs's software
//! passkey as the authenticator: a good assertion passes once, and a replayed one, one whose
//! counter went backwards, one for another origin or relying party, or one after the
//! challenge expired is refused like a wrong code.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use stepgate_core::challenge::CheckOutcome;
use stepgate_core::error::Error;
use stepgate_core::providers::ProviderType;
use stepgate_core::users::User;
use support::{both_backends, ctx, env_with, Env, Fixtures};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

const ISSUER: &str = "https://login.example.com";

fn config() -> String {
    format!(
        "[server]\nissuer = \"{ISSUER}\"\n\
         [twofa]\nproviders = [\"TOTP\", \"WEBAUTHN\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n\
         max_verification_failures_before_user_lockout = 3\n"
    )
}

fn origin() -> Url {
    Url::parse(ISSUER).unwrap()
}

type Authenticator = WebauthnAuthenticator<SoftPasskey>;

/// A user with one registered passkey, and the authenticator that holds it.
async fn passkey_user(env: &Env, name: &str) -> (User, Authenticator) {
    let u = env.user(name).await;
    let mut auth = WebauthnAuthenticator::new(SoftPasskey::new(true));
    let c = env.core.begin_passkey_registration(&u).await.unwrap();
    let ccr: CreationChallengeResponse = serde_json::from_value(c.options).unwrap();
    let reg = auth.do_registration(origin(), ccr).unwrap();
    let info = env
        .core
        .finish_passkey_registration(
            &ctx(),
            &u,
            &c.id,
            "laptop",
            &serde_json::to_string(&reg).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(info.name, "laptop");
    (u, auth)
}

async fn open(env: &Env, u: &User) -> String {
    env.core.open_challenge(&ctx(), u).await.unwrap().id
}

/// The authenticator's answer to the challenge's passkey request, as the browser posts it.
async fn assertion(env: &Env, auth: &mut Authenticator, challenge: &str, origin: Url) -> String {
    let c = env.core.begin_passkey_check(challenge).await.unwrap();
    let rcr: RequestChallengeResponse = serde_json::from_value(c.options).unwrap();
    serde_json::to_string(&auth.do_authentication(origin, rcr).unwrap()).unwrap()
}

/// The authenticator's answer to a passwordless ceremony, with the user handle a discoverable
/// passkey returns (the software passkey leaves it out; it is not signed): the ceremony's id
/// and the response. (It opens a challenge of the user's to learn the credential's id.)
async fn passwordless(env: &Env, auth: &mut Authenticator, u: &User) -> (String, String) {
    use base64::Engine as _;
    let ceremony = env.core.begin_passwordless().await.unwrap();
    let mut rcr: RequestChallengeResponse = serde_json::from_value(ceremony.options).unwrap();
    // A discoverable request names no credential; the software passkey needs one (the one a
    // second-factor request for this user names). Not signed either.
    let c = env.core.open_challenge(&ctx(), u).await.unwrap();
    let named: RequestChallengeResponse =
        serde_json::from_value(env.core.begin_passkey_check(&c.id).await.unwrap().options).unwrap();
    rcr.public_key.allow_credentials = named.public_key.allow_credentials;
    let mut v = serde_json::to_value(auth.do_authentication(origin(), rcr).unwrap()).unwrap();
    let id = uuid::Uuid::parse_str(&u.id).unwrap();
    v["response"]["userHandle"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(id.as_bytes())
        .into();
    (ceremony.id, v.to_string())
}

async fn events(env: &Env, user_id: &str) -> Vec<String> {
    let f = stepgate_core::audit::AuditFilter {
        user_id: Some(user_id.into()),
        limit: 1000,
        ..Default::default()
    };
    stepgate_core::audit::list(env.core.db().pool(), &f)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect()
}

fn wrong(o: &Result<CheckOutcome, Error>) -> bool {
    matches!(o, Ok(CheckOutcome::WrongCode { .. }))
}

both_backends! {
    async fn a_passkey_asks_first_passes_once_and_a_replay_is_refused(b) {
        let env = env_with(b, &config()).await;
        let (u, mut auth) = passkey_user(&env, "alice").await;
        let c = open(&env, &u).await;
        let step = env.core.login_step(&c, None).await.unwrap();
        assert_eq!(step.current, Some(ProviderType::Webauthn));
        // PAM's text conversation does not offer it; this user has nothing else.
        let text = env.core.text_login_step(&c, None).await.unwrap();
        assert_eq!(text.refusal, Some(stepgate_core::step::Refusal::PasskeyOnly));
        let a = assertion(&env, &mut auth, &c, origin()).await;
        assert_eq!(env.core.check_passkey(&ctx(), &c, &a).await.unwrap(), CheckOutcome::Verified(ProviderType::Webauthn));
        // The same response again, on a new challenge: its request was taken.
        let c2 = open(&env, &u).await;
        let _ = env.core.begin_passkey_check(&c2).await.unwrap();
        assert!(wrong(&env.core.check_passkey(&ctx(), &c2, &a).await));
        let keys = env.core.passkeys(&u.id).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].last_used_at.is_some());
    }

    async fn a_counter_that_goes_backwards_is_refused_and_audited(b) {
        let env = env_with(b, &config()).await;
        let (u, mut auth) = passkey_user(&env, "bob").await;
        counter_ahead(&env, &u).await;
        let c = open(&env, &u).await;
        let a = assertion(&env, &mut auth, &c, origin()).await;
        assert!(wrong(&env.core.check_passkey(&ctx(), &c, &a).await));
        let ev = events(&env, &u.id).await;
        assert!(ev.contains(&"passkey_counter_regressed".to_string()), "{ev:?}");
    }

    async fn another_origin_or_relying_party_is_refused_and_failures_lock(b) {
        // The relying party is the whole domain, so a browser lets a sibling host
        // (evil.example.com) ask for the assertion: the server must refuse its origin.
        let env = env_with(b, &config().replace("enforce_two_fa = false\n", "enforce_two_fa = false\nwebauthn_rp_id = \"example.com\"\n")).await;
        let (u, mut auth) = passkey_user(&env, "carol").await;
        let c = open(&env, &u).await;
        let evil = Url::parse("https://evil.example.com").unwrap();
        let a = assertion(&env, &mut auth, &c, evil).await;
        assert!(wrong(&env.core.check_passkey(&ctx(), &c, &a).await));
        // Signed for another relying party id (login.example.com instead of example.com).
        let req = env.core.begin_passkey_check(&c).await.unwrap();
        let mut rcr: RequestChallengeResponse = serde_json::from_value(req.options).unwrap();
        rcr.public_key.rp_id = "login.example.com".into();
        let other = serde_json::to_string(&auth.do_authentication(origin(), rcr).unwrap()).unwrap();
        assert!(wrong(&env.core.check_passkey(&ctx(), &c, &other).await));
        // Third failure: locked, as after three wrong codes.
        let _ = env.core.begin_passkey_check(&c).await.unwrap();
        assert!(matches!(env.core.check_passkey(&ctx(), &c, "not json").await, Err(Error::Locked)));
        // The locked challenge hands out no more passkey requests.
        assert!(env.core.begin_passkey_check(&c).await.is_err());
    }

    async fn a_pam_login_never_offers_a_passkey_and_a_passkey_only_user_is_told_why(b) {
        use stepgate_core::host_login::{Begin, Begun};
        let env = env_with(b, &config()).await;
        // Both direct mode and the host protocol begin through begin_host_login.
        let begin = |user: &str| Begin { user: user.into(), password: None, nullok: false };
        let (_only, _) = passkey_user(&env, "erin").await;
        let Begun::Challenge { step, .. } = env.core.begin_host_login(&ctx(), None, &begin("erin")).await.unwrap() else {
            panic!("a passkey-only user still gets a challenge to refuse");
        };
        assert_eq!(step.refusal, Some(stepgate_core::step::Refusal::PasskeyOnly));
        let (u, _) = passkey_user(&env, "frank").await;
        env.core.provision_totp(&ctx(), &u).await.unwrap();
        let Begun::Challenge { conversation, step } = env.core.begin_host_login(&ctx(), None, &begin("frank")).await.unwrap() else {
            panic!("expected a challenge");
        };
        assert_eq!(step.refusal, None);
        assert_eq!(step.current, Some(ProviderType::Totp));
        assert!(step.providers.iter().all(|p| p.provider != ProviderType::Webauthn), "{:?}", step.providers);
        // A text answer given as the passkey is a wrong code, counted like one.
        assert!(wrong(&env.core.check_code(&ctx(), &conversation, ProviderType::Webauthn, "123456").await));
    }

    async fn a_stranger_naming_a_user_in_a_passwordless_response_neither_locks_nor_learns(b) {
        use base64::Engine as _;
        let env = env_with(b, &config()).await;
        let (u, mut auth) = passkey_user(&env, "gina").await;
        // A real assertion, for another challenge, re-labelled with gina's user handle (her
        // id, which every relying party sees as `sub`): what a stranger can send.
        let forged = |a: &str| {
            let mut v: serde_json::Value = serde_json::from_str(a).unwrap();
            let id = uuid::Uuid::parse_str(&u.id).unwrap();
            v["response"]["userHandle"] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes()).into();
            v.to_string()
        };
        let c = open(&env, &u).await;
        let a = forged(&assertion(&env, &mut auth, &c, origin()).await);
        for _ in 0..5 {
            let ceremony = env.core.begin_passwordless().await.unwrap();
            let got = env.core.finish_passwordless(&ctx(), &ceremony.id, &a).await;
            assert!(matches!(got, Err(Error::BadCredentials)), "{got:?}");
        }
        // More refusals than the lockout limit (3), and gina is not locked: her own passkey
        // still signs her in at the second-factor step.
        assert!(!env.core.user_by_id(&u.id).await.unwrap().unwrap().locked);
        let c2 = open(&env, &u).await;
        let good = assertion(&env, &mut auth, &c2, origin()).await;
        assert_eq!(env.core.check_passkey(&ctx(), &c2, &good).await.unwrap(), CheckOutcome::Verified(ProviderType::Webauthn));
        assert!(events(&env, &u.id).await.contains(&"code_check_bad".to_string()));
        // Locked by wrong answers at the second-factor step: a stranger's forged response is
        // still only "bad credentials", never "locked".
        for _ in 0..3 {
            let c = open(&env, &u).await;
            let _ = env.core.check_code(&ctx(), &c, ProviderType::Webauthn, "000000").await;
        }
        assert!(env.core.user_by_id(&u.id).await.unwrap().unwrap().locked);
        let ceremony = env.core.begin_passwordless().await.unwrap();
        let got = env.core.finish_passwordless(&ctx(), &ceremony.id, &a).await;
        assert!(matches!(got, Err(Error::BadCredentials)), "{got:?}");
    }

    async fn a_locked_account_signing_in_without_a_password_is_refused_and_audited(b) {
        let env = env_with(b, &config()).await;
        let (u, mut auth) = passkey_user(&env, "hugo").await;
        let (id, a) = passwordless(&env, &mut auth, &u).await;
        assert_eq!(env.core.finish_passwordless(&ctx(), &id, &a).await.unwrap().id, u.id);
        for _ in 0..3 {
            let c = open(&env, &u).await;
            let _ = env.core.check_code(&ctx(), &c, ProviderType::Webauthn, "000000").await;
        }
        let (id, a) = passwordless(&env, &mut auth, &u).await;
        let got = env.core.finish_passwordless(&ctx(), &id, &a).await;
        assert!(matches!(got, Err(Error::Locked)), "{got:?}");
        let f = stepgate_core::audit::AuditFilter { user_id: Some(u.id.clone()), limit: 1, ..Default::default() };
        let last = stepgate_core::audit::list(env.core.db().pool(), &f).await.unwrap();
        assert_eq!(last[0].detail.as_deref(), Some("passwordless; refused: account locked"), "{last:?}");
    }

    async fn a_disabled_account_whose_passkey_counter_went_backwards_is_refused_as_disabled(b) {
        let env = env_with(b, &config()).await;
        let (u, mut auth) = passkey_user(&env, "ivy").await;
        counter_ahead(&env, &u).await;
        env.core.set_disabled(&ctx(), "ivy", true).await.unwrap();
        let (id, a) = passwordless(&env, &mut auth, &u).await;
        let got = env.core.finish_passwordless(&ctx(), &id, &a).await;
        assert!(matches!(got, Err(Error::Disabled)), "{got:?}");
        let ev = events(&env, &u.id).await;
        assert!(ev.contains(&"passkey_counter_regressed".to_string()), "{ev:?}");
        assert!(!ev.contains(&"lockout".to_string()), "{ev:?}");
        let after = env.core.user_by_id(&u.id).await.unwrap().unwrap();
        assert_eq!((after.twofa_failures, after.locked), (0, false));
    }

    async fn a_passkey_request_expires_with_its_challenge(b) {
        let env = env_with(b, &config()).await;
        let (u, mut auth) = passkey_user(&env, "dave").await;
        let c = open(&env, &u).await;
        let a = assertion(&env, &mut auth, &c, origin()).await;
        env.clock.advance(3601);
        assert!(matches!(env.core.check_passkey(&ctx(), &c, &a).await, Err(Error::ChallengeExpired)));
        assert!(env.core.begin_passkey_check(&c).await.is_err());
    }

    async fn a_registration_is_single_use_and_names_are_checked(b) {
        let env = env_with(b, &config()).await;
        let u = env.user("erin").await;
        let mut auth = WebauthnAuthenticator::new(SoftPasskey::new(true));
        let c = env.core.begin_passkey_registration(&u).await.unwrap();
        let ccr: CreationChallengeResponse = serde_json::from_value(c.options).unwrap();
        let reg = serde_json::to_string(&auth.do_registration(origin(), ccr).unwrap()).unwrap();
        assert!(matches!(env.core.finish_passkey_registration(&ctx(), &u, &c.id, "  ", &reg).await, Err(Error::Invalid { .. })));
        env.core.finish_passkey_registration(&ctx(), &u, &c.id, "key", &reg).await.unwrap();
        assert!(matches!(env.core.finish_passkey_registration(&ctx(), &u, &c.id, "key", &reg).await, Err(Error::Invalid { .. })));
        let keys = env.core.passkeys(&u.id).await.unwrap();
        env.core.rename_passkey(&ctx(), &u, &keys[0].id, "YubiKey 5").await.unwrap();
        assert_eq!(env.core.passkeys(&u.id).await.unwrap()[0].name, "YubiKey 5");
        // The last passkey turns the provider off with it.
        env.core.remove_passkey(&ctx(), &u, &keys[0].id).await.unwrap();
        assert!(env.core.passkeys(&u.id).await.unwrap().is_empty());
        assert!(env.core.enrolled_providers(&u.id).await.unwrap().is_empty());
    }
}

/// Puts the stored signature counter ahead of the authenticator's: as if a clone had signed.
async fn counter_ahead(env: &Env, u: &User) {
    let (cred,): (String,) =
        sqlx::query_as("SELECT credential FROM webauthn_credentials WHERE user_id = $1")
            .bind(&u.id)
            .fetch_one(env.core.db().pool())
            .await
            .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&cred).unwrap();
    v["counter"] = 1000.into();
    sqlx::query("UPDATE webauthn_credentials SET credential = $1 WHERE user_id = $2")
        .bind(v.to_string())
        .bind(&u.id)
        .execute(env.core.db().pool())
        .await
        .unwrap();
}
