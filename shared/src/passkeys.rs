//! Passkeys and security keys (WebAuthn), on `webauthn-rs`: registration, the second-factor
//! assertion of a login's challenge, and the passwordless sign-in with a discoverable passkey.
//!
//! Every signature, CBOR and COSE check is webauthn-rs's. What is Stepgate's: the relying
//! party comes from the platform settings; the server half of each ceremony waits in
//! `webauthn_states` between the browser's two requests and is taken exactly once (a replayed
//! response finds nothing); a login's expires with its challenge; a signature counter that goes
//! backwards is refused and audited; a failed assertion is a wrong code (rate limit, lockout).

use crate::audit::{self, Event, EventKind};
use crate::challenge::{new_challenge_id, Verdict};
use crate::core::{Core, RequestContext};
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::factors::StoredConfig;
use crate::policy;
use crate::providers::ProviderType;
use crate::reauth::Proof;
use crate::settings::{TwoFaSettings, UserVerification, WebauthnSettings};
use crate::store::passkeys as store;
use crate::users::User;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    Credential, CredentialID, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

/// How long a registration may wait for the authenticator.
const REGISTRATION_LIFETIME: i64 = 300;
/// The longest a passkey's name may be.
/// Kept equal to the number in `words::PASSKEY_NAME_LONG` (a test checks).
pub const MAX_NAME_CHARS: usize = 64;

/// A registered passkey as the user and the administrator see it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// Stepgate's id of the passkey (not the authenticator's credential id).
    pub id: String,
    /// The user's label for it ("work laptop"), so they can tell which one to remove.
    pub name: String,
    /// The authenticator keeps it (a resident key): it can sign in without a username.
    pub discoverable: bool,
    /// When it was registered (Unix seconds).
    pub created_at: i64,
    /// When it last passed a sign-in, so a forgotten one stands out.
    pub last_used_at: Option<i64>,
}

/// One half-done ceremony: its id (to send back with the response) and the options for
/// `navigator.credentials.create()` / `.get()`, as JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Ceremony {
    /// Names the server half in `webauthn_states`; the response must bring it back.
    pub id: String,
    /// What the page passes to the browser's credentials API.
    pub options: serde_json::Value,
}

/// The server half of a ceremony, kept in `webauthn_states`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type")]
enum StoredState {
    /// User verification required: webauthn-rs's passkey.
    RegisterPasskey {
        reg: PasskeyRegistration,
    },
    /// User verification preferred: webauthn-rs's security key.
    RegisterKey {
        reg: SecurityKeyRegistration,
    },
    LoginPasskey {
        auth: PasskeyAuthentication,
    },
    LoginKey {
        auth: SecurityKeyAuthentication,
    },
    Passwordless {
        auth: DiscoverableAuthentication,
    },
}

fn webauthn_error(e: WebauthnError) -> Error {
    Error::Internal(format!("webauthn: {e}"))
}

/// The user handle authenticators keep: the user's id (a UUID).
fn user_handle(user: &User) -> Result<Uuid> {
    Uuid::parse_str(&user.id).map_err(|_| {
        Error::Internal("a user id is not a UUID; it cannot be a passkey's user handle".into())
    })
}

/// The origin (`scheme://host[:port]`) of a URL.
fn origin_of(url: &Url) -> Result<Url> {
    Url::parse(&url.origin().ascii_serialization())
        .map_err(|e| Error::Internal(format!("origin of {url}: {e}")))
}

/// The relying party: id, name and the origins the browser may report.
pub fn relying_party(issuer: &str, w: &WebauthnSettings) -> Result<Webauthn> {
    let issuer = Url::parse(issuer).map_err(|e| Error::invalid("server.issuer", e.to_string()))?;
    let origin = origin_of(&issuer)?;
    let host = issuer.host_str().unwrap_or_default().to_string();
    if issuer.domain().is_none() {
        return Err(Error::refused_as(
            "relyingPartyId",
            crate::words::RP_ISSUER_IP.with("host", host),
        ));
    }
    let rp_id = match w.relying_party_id.trim() {
        "" => host,
        id => id.to_ascii_lowercase(),
    };
    let bad_rp = |e: WebauthnError| {
        Error::refused_as(
            "relyingPartyId",
            crate::words::RP_ID_MISFIT
                .with("rp_id", &rp_id)
                .with("origin", &origin)
                .with("why", e),
        )
    };
    let mut b = WebauthnBuilder::new(&rp_id, &origin).map_err(bad_rp)?;
    let extra: Vec<Url> = w
        .extra_origins
        .iter()
        .map(|o| {
            Url::parse(o).map_err(|e| {
                Error::refused_as(
                    "extraOrigins",
                    crate::words::RP_ORIGIN_UNREADABLE
                        .with("origin", o)
                        .with("why", e),
                )
            })
        })
        .collect::<Result<_>>()?;
    for (i, o) in extra.iter().enumerate() {
        // A browser refuses a passkey on an origin outside the rp id; saying so here beats
        // every ceremony on that origin failing later.
        let host = o.host_str().unwrap_or_default().to_ascii_lowercase();
        if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            return Err(Error::refused_as(
                format!("extraOrigins[{i}]"),
                crate::words::RP_ORIGIN_OFF_ID
                    .with("origin", o)
                    .with("rp_id", &rp_id),
            ));
        }
        b = b.append_allowed_origin(o);
    }
    b.rp_name(w.relying_party_name.trim())
        .build()
        .map_err(bad_rp)
}

/// Options as the browser takes them; a passkey that the authenticator keeps (discoverable) is
/// asked for when passwordless sign-in is on, so it can later sign in without a username.
fn creation_options(
    ccr: &webauthn_rs::prelude::CreationChallengeResponse,
    discoverable: bool,
) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(ccr).map_err(|e| Error::Internal(e.to_string()))?;
    if discoverable {
        if let Some(sel) = v
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(|s| s.as_object_mut())
        {
            sel.insert("residentKey".into(), "preferred".into());
        }
    }
    Ok(v)
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Internal(format!("stored {what} unreadable: {e}")))
}

/// A response from the browser that does not parse is a failed answer, never our error.
fn parse_response<T: for<'de> Deserialize<'de>>(s: &str) -> Option<T> {
    serde_json::from_str(s).ok()
}

fn credential_id_text(id: &CredentialID) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_ref())
}

/// Checks and tidies a passkey's name.
pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::refused_as("name", crate::words::PASSKEY_NAME_EMPTY));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::refused_as("name", crate::words::PASSKEY_NAME_LONG));
    }
    Ok(name.to_string())
}

impl Core {
    fn webauthn_for(&self, settings: &TwoFaSettings) -> Result<(Webauthn, WebauthnSettings)> {
        let w = settings
            .webauthn()
            .ok_or(Error::ProviderUnavailable(ProviderType::Webauthn))?
            .clone();
        Ok((relying_party(&self.config.server.issuer, &w)?, w))
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: &str) -> Result<Vec<PasskeyInfo>> {
        store::list(self.db.pool(), user_id).await
    }

    async fn credentials_on(
        &self,
        tx: &mut Tx,
        user_id: &str,
    ) -> Result<Vec<(String, Credential)>> {
        let rows = store::credentials(tx, user_id).await?;
        rows.into_iter()
            .map(|(id, c)| Ok((id, from_json::<Credential>(&c, "passkey")?)))
            .collect()
    }

    async fn put_state(
        &self,
        tx: &mut Tx,
        purpose: &str,
        user_id: Option<&str>,
        challenge_id: Option<&str>,
        state: &StoredState,
        expires_at: i64,
    ) -> Result<String> {
        let now = self.now();
        store::delete_expired_states(tx, now).await?;
        let id = new_challenge_id();
        store::insert_state(
            tx,
            &store::NewState {
                id: &id,
                purpose,
                user_id,
                challenge_id,
                state: &to_json(state)?,
                created_at: now,
                expires_at,
            },
        )
        .await?;
        Ok(id)
    }

    /// Takes (reads and deletes) a ceremony's state: a second use of the same response finds
    /// nothing. `None` when there is none, or it expired.
    async fn take_state(
        &self,
        tx: &mut Tx,
        of: store::StateOf,
        key: &str,
        user_id: Option<&str>,
    ) -> Result<Option<StoredState>> {
        let Some(row) = store::state(tx, of, key).await? else {
            return Ok(None);
        };
        if user_id.is_some() && row.user_id.as_deref() != user_id {
            return Ok(None);
        }
        store::delete_state(tx, &row.id).await?;
        if row.expires_at <= self.now() {
            return Ok(None);
        }
        Ok(Some(from_json(&row.state, "passkey ceremony")?))
    }

    /// Starts adding a passkey: the options for `navigator.credentials.create()`. The caller
    /// has checked the fresh-proof rule (as for every added factor).
    pub async fn begin_passkey_registration(&self, user: &User) -> Result<Ceremony> {
        let settings = self.require_available(ProviderType::Webauthn).await?;
        let (wa, w) = self.webauthn_for(&settings)?;
        let handle = user_handle(user)?;
        let mut tx = self.db.begin().await?;
        let exclude: Vec<CredentialID> = self
            .credentials_on(&mut tx, &user.id)
            .await?
            .into_iter()
            .map(|(_, c)| c.cred_id.clone())
            .collect();
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let display = if user.display_name.trim().is_empty() {
            &user.username
        } else {
            &user.display_name
        };
        let (ccr, state) = match w.user_verification {
            UserVerification::Required => {
                let (ccr, reg) = wa
                    .start_passkey_registration(handle, &user.username, display, exclude)
                    .map_err(webauthn_error)?;
                (ccr, StoredState::RegisterPasskey { reg })
            }
            UserVerification::Preferred => {
                let (ccr, reg) = wa
                    .start_securitykey_registration(
                        handle,
                        &user.username,
                        display,
                        exclude,
                        None,
                        None,
                    )
                    .map_err(webauthn_error)?;
                (ccr, StoredState::RegisterKey { reg })
            }
        };
        let options = creation_options(&ccr, w.passwordless)?;
        let id = self
            .put_state(
                &mut tx,
                "register",
                Some(&user.id),
                None,
                &state,
                self.now() + REGISTRATION_LIFETIME,
            )
            .await?;
        tx.commit().await?;
        Ok(Ceremony { id, options })
    }

    /// Finishes adding a passkey with the browser's response (JSON) and its name. The first
    /// passkey turns the WEBAUTHN provider on.
    pub async fn finish_passkey_registration(
        &self,
        ctx: &RequestContext,
        user: &User,
        ceremony_id: &str,
        name: &str,
        response: &str,
    ) -> Result<PasskeyInfo> {
        let name = validate_name(name)?;
        let settings = self.require_available(ProviderType::Webauthn).await?;
        let (wa, _) = self.webauthn_for(&settings)?;
        let now = self.now();
        let mut tx = self.db.begin_locked(&user.id).await?;
        let state = self
            .take_state(
                &mut tx,
                store::StateOf::Registration,
                ceremony_id,
                Some(&user.id),
            )
            .await?;
        // The state is spent whatever happens next: commit its removal with any refusal.
        let refuse = |w: crate::words::Words| Error::refused_as("passkey", w);
        let Some(state) = state else {
            tx.commit().await?;
            return Err(refuse(crate::words::PASSKEY_REQUEST_GONE));
        };
        let Some(reg) = parse_response::<RegisterPublicKeyCredential>(response) else {
            tx.commit().await?;
            return Err(refuse(crate::words::PASSKEY_ANSWER_UNREADABLE));
        };
        let discoverable = reg
            .extensions
            .cred_props
            .as_ref()
            .is_some_and(|p| p.rk == Some(true));
        let finished: std::result::Result<Credential, WebauthnError> = match &state {
            StoredState::RegisterPasskey { reg: st } => wa
                .finish_passkey_registration(&reg, st)
                .map(Credential::from),
            StoredState::RegisterKey { reg: st } => wa
                .finish_securitykey_registration(&reg, st)
                .map(Credential::from),
            _ => Err(WebauthnError::MismatchedChallenge),
        };
        let cred = match finished {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(user = %user.username, error = %e, "passkey registration refused");
                tx.commit().await?;
                return Err(refuse(crate::words::PASSKEY_ANSWER_REFUSED));
            }
        };
        let cred_id = credential_id_text(&cred.cred_id);
        let taken = store::credential_id_taken(&mut tx, &cred_id).await?;
        if taken {
            tx.commit().await?;
            return Err(refuse(crate::words::PASSKEY_KNOWN));
        }
        let id = uuid::Uuid::new_v4().to_string();
        store::insert(
            &mut tx,
            &store::NewPasskey {
                id: &id,
                user_id: &user.id,
                credential_id: &cred_id,
                name: &name,
                credential: &to_json(&cred)?,
                discoverable,
                created_at: now,
            },
        )
        .await?;
        let had = store::webauthn_enrolments(&mut tx, &user.id).await?;
        if had == 0 {
            self.save_provider(
                &mut tx,
                ctx,
                user,
                ProviderType::Webauthn,
                &StoredConfig::Webauthn,
                None,
                now,
            )
            .await?;
        }
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::PasskeyAdded)
                .user(&user.id, &user.username)
                .provider(ProviderType::Webauthn)
                .detail(format!("name={name:?} discoverable={discoverable}")),
        )
        .await?;
        tx.commit().await?;
        self.tell_user_provider_added(user, ProviderType::Webauthn)
            .await;
        Ok(PasskeyInfo {
            id,
            name,
            discoverable,
            created_at: now,
            last_used_at: None,
        })
    }

    /// Renames one of the user's passkeys.
    pub async fn rename_passkey(
        &self,
        ctx: &RequestContext,
        user: &User,
        passkey_id: &str,
        name: &str,
    ) -> Result<()> {
        let name = validate_name(name)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if !store::rename(&mut tx, passkey_id, &user.id, &name).await? {
            return Err(Error::NotFound("passkey"));
        }
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::PasskeyRenamed)
                .user(&user.id, &user.username)
                .provider(ProviderType::Webauthn)
                .detail(format!("name={name:?}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user removes one of their passkeys: a fresh sign-in and the password again, as for
    /// turning any factor off.
    pub async fn remove_own_passkey(
        &self,
        ctx: &RequestContext,
        user: &User,
        passkey_id: &str,
        password: &str,
        proof: Option<Proof>,
    ) -> Result<()> {
        self.check_fresh(user, proof).await?;
        self.first_factor(ctx, &user.username, password).await?;
        self.remove_passkey(ctx, user, passkey_id).await
    }

    /// Removes one passkey (the user after the fresh-proof rule, or an administrator). The
    /// last one turns the provider off, under the same rules as any provider's removal.
    pub async fn remove_passkey(
        &self,
        ctx: &RequestContext,
        user: &User,
        passkey_id: &str,
    ) -> Result<()> {
        // Counted and removed under the user's lock: two removals at once of the last two must
        // not both take the "not the last" path and leave the provider on with no passkey, and
        // a passkey registered meanwhile must not go with the provider of the "last" one.
        let mut tx = self.db.begin_locked(&user.id).await?;
        let Some(name) = store::name_of(&mut tx, passkey_id, &user.id).await? else {
            return Err(Error::NotFound("passkey"));
        };
        let count = store::count(&mut tx, &user.id).await?;
        let removed = Event::new(EventKind::PasskeyRemoved)
            .user(&user.id, &user.username)
            .provider(ProviderType::Webauthn)
            .detail(format!("name={name:?}"));
        // The last one goes with its provider (refused when that is the last factor under
        // enforceTwoFa), and the user is told of the provider's removal instead.
        let providers_off = if count <= 1 {
            Some(
                self.remove_provider_in(&mut tx, ctx, user, ProviderType::Webauthn)
                    .await?,
            )
        } else {
            store::delete(&mut tx, passkey_id, &user.id).await?;
            None
        };
        audit::record(&mut tx, ctx, self.now(), removed).await?;
        tx.commit().await?;
        match providers_off {
            Some(providers) => self.tell_user_provider_removed(user, &providers).await,
            None => self.tell_user_passkey_removed(user, &name).await,
        }
        Ok(())
    }

    /// "A passkey was removed from your account": best effort, as for a removed provider, so
    /// the owner notices a removal they did not make while other passkeys remain.
    async fn tell_user_passkey_removed(&self, user: &User, name: &str) {
        if !self.config.twofa.notify_user_on_provider_removal || self.mailer.is_none() {
            return;
        }
        let mail = crate::mail::passkey_removed(&user.username, name);
        if let Err(e) = self
            .send_email(&user.email, &mail.subject, &mail.body)
            .await
        {
            tracing::warn!(user = %user.username, error = %e, "could not email the user about a removed passkey");
        }
    }

    /// The options for `navigator.credentials.get()` in the second-factor step of challenge
    /// `challenge_id`. A new request replaces the previous one; it expires with the challenge.
    pub async fn begin_passkey_check(&self, challenge_id: &str) -> Result<Ceremony> {
        let c = self.challenge(challenge_id).await?;
        if let Some(refused) = crate::step::refusal_for(c.state) {
            return Err(refused.to_error());
        }
        let settings = self.twofa_settings().await?;
        let (wa, w) = self.webauthn_for(&settings)?;
        let mut tx = self.db.begin().await?;
        let creds: Vec<Credential> = self
            .credentials_on(&mut tx, &c.user_id)
            .await?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        if creds.is_empty() {
            return Err(Error::ProviderUnavailable(ProviderType::Webauthn));
        }
        let (rcr, state) = match w.user_verification {
            UserVerification::Required => {
                let keys: Vec<Passkey> = creds.into_iter().map(Passkey::from).collect();
                let (rcr, auth) = wa
                    .start_passkey_authentication(&keys)
                    .map_err(webauthn_error)?;
                (rcr, StoredState::LoginPasskey { auth })
            }
            UserVerification::Preferred => {
                let keys: Vec<SecurityKey> = creds.into_iter().map(SecurityKey::from).collect();
                let (rcr, auth) = wa
                    .start_securitykey_authentication(&keys)
                    .map_err(webauthn_error)?;
                (rcr, StoredState::LoginKey { auth })
            }
        };
        store::delete_states_of_challenge(&mut tx, challenge_id).await?;
        let id = self
            .put_state(
                &mut tx,
                "login",
                Some(&c.user_id),
                Some(challenge_id),
                &state,
                c.expires_at,
            )
            .await?;
        tx.commit().await?;
        Ok(Ceremony {
            id,
            options: serde_json::to_value(&rcr).map_err(|e| Error::Internal(e.to_string()))?,
        })
    }

    /// Checks an assertion for the challenge inside its locked transaction (see
    /// `Core::check_passkey`): takes the challenge's passkey request, checks the signature
    /// and counter with webauthn-rs, and stores the new counter.
    pub(crate) async fn verify_assertion(
        &self,
        tx: &mut Tx,
        user: &User,
        challenge_id: &str,
        response: &str,
        settings: &TwoFaSettings,
        now: i64,
    ) -> Result<Verdict> {
        let state = self
            .take_state(
                tx,
                store::StateOf::LoginChallenge,
                challenge_id,
                Some(&user.id),
            )
            .await?;
        let (Some(state), Some(resp)) = (state, parse_response::<PublicKeyCredential>(response))
        else {
            return Ok(Verdict::Bad);
        };
        let (wa, _) = self.webauthn_for(settings)?;
        let result = match &state {
            StoredState::LoginPasskey { auth } => wa.finish_passkey_authentication(&resp, auth),
            StoredState::LoginKey { auth } => wa.finish_securitykey_authentication(&resp, auth),
            _ => return Ok(Verdict::Bad),
        };
        self.record_assertion(tx, user, result, now).await
    }

    /// Turns webauthn-rs's answer into a verdict, storing the new counter of a good one.
    async fn record_assertion(
        &self,
        tx: &mut Tx,
        user: &User,
        result: std::result::Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
        now: i64,
    ) -> Result<Verdict> {
        let res = match result {
            Ok(r) => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                tracing::warn!(user = %user.username, "passkey counter went backwards: possibly cloned");
                return Ok(Verdict::Cloned);
            }
            Err(e) => {
                tracing::info!(user = %user.username, error = %e, "passkey assertion refused");
                return Ok(Verdict::Bad);
            }
        };
        let cred_id = credential_id_text(res.cred_id());
        let row = store::credential_of_user(tx, &cred_id, &user.id).await?;
        let Some((id, stored)) = row else {
            return Ok(Verdict::Bad);
        };
        let mut key = Passkey::from(from_json::<Credential>(&stored, "passkey")?);
        key.update_credential(&res);
        store::update_credential(tx, &id, &to_json(&Credential::from(key))?, now).await?;
        Ok(Verdict::Ok)
    }

    /// Whether the sign-in page may offer "Sign in with a passkey".
    pub async fn passwordless_available(&self) -> Result<bool> {
        let settings = self.twofa_settings().await?;
        Ok(settings.webauthn().is_some_and(|w| w.passwordless))
    }

    /// Starts a passwordless sign-in: options for a discoverable passkey (no username asked),
    /// with user verification required.
    pub async fn begin_passwordless(&self) -> Result<Ceremony> {
        let settings = self.twofa_settings().await?;
        let (wa, w) = self.webauthn_for(&settings)?;
        if !w.passwordless {
            return Err(Error::refused(crate::words::PASSWORDLESS_OFF));
        }
        let (mut rcr, auth) = wa
            .start_discoverable_authentication()
            .map_err(webauthn_error)?;
        // A button starts it, not the username field's autofill.
        rcr.mediation = None;
        let mut tx = self.db.begin().await?;
        let id = self
            .put_state(
                &mut tx,
                "passwordless",
                None,
                None,
                &StoredState::Passwordless { auth },
                settings
                    .total_allowed_time_for_verification
                    .after(self.now()),
            )
            .await?;
        tx.commit().await?;
        Ok(Ceremony {
            id,
            options: serde_json::to_value(&rcr).map_err(|e| Error::Internal(e.to_string()))?,
        })
    }

    /// Finishes a passwordless sign-in: the passkey names its user; its signature with user
    /// verification is both factors.
    ///
    /// Nothing about the named user is counted or revealed before the signature proves the
    /// passkey: the user handle in the response is the user's id, which is also the `sub`
    /// every relying party sees, so anyone could name any user. A bad signature is audited but
    /// does not count towards the lockout or the check rate limit (a signature cannot be
    /// guessed; counting it would let a stranger lock the owner out), and every failure before
    /// the proof is `BadCredentials`. Only after a valid signature does the person learn that
    /// the account is locked or disabled, and a counter that went backwards (a valid signature
    /// from a possibly cloned authenticator) counts as a failure.
    pub async fn finish_passwordless(
        &self,
        ctx: &RequestContext,
        ceremony_id: &str,
        response: &str,
    ) -> Result<User> {
        let settings = self.twofa_settings().await?;
        let (wa, w) = self.webauthn_for(&settings)?;
        if !w.passwordless {
            return Err(Error::refused(crate::words::PASSWORDLESS_OFF));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let state = self
            .take_state(&mut tx, store::StateOf::Passwordless, ceremony_id, None)
            .await?;
        tx.commit().await?;
        let Some(StoredState::Passwordless { auth }) = state else {
            return Err(Error::BadCredentials);
        };
        let Some(resp) = parse_response::<PublicKeyCredential>(response) else {
            return Err(Error::BadCredentials);
        };
        let Ok((handle, _)) = wa.identify_discoverable_authentication(&resp) else {
            return Err(Error::BadCredentials);
        };
        let Some(user) = self.user_by_id(&handle.to_string()).await? else {
            return Err(Error::BadCredentials);
        };
        let mut tx = self.db.begin_locked(&user.id).await?;
        let user = self.user_by_id_tx(&mut tx, &user.id).await?;
        let usable = self
            .usable_providers_on(&mut tx, &user.id, &settings)
            .await?;
        if !usable.iter().any(|p| p.provider == ProviderType::Webauthn) {
            return Err(Error::BadCredentials);
        }
        let keys: Vec<DiscoverableKey> = self
            .credentials_on(&mut tx, &user.id)
            .await?
            .into_iter()
            .map(|(_, c)| DiscoverableKey::from(&Passkey::from(c)))
            .collect();
        let result = wa.finish_discoverable_authentication(&resp, auth, &keys);
        let verdict = self.record_assertion(&mut tx, &user, result, now).await?;
        let bad = |detail: &'static str| {
            Event::new(EventKind::CodeCheckBad)
                .user(&user.id, &user.username)
                .provider(ProviderType::Webauthn)
                .detail(detail)
        };
        match verdict {
            // (A passkey's check never denies; that is the approval page's.)
            Verdict::Bad | Verdict::Denied => {
                let event = bad("passwordless; not counted: nothing proven");
                audit::record(&mut tx, ctx, now, event).await?;
                tx.commit().await?;
                Err(Error::BadCredentials)
            }
            // Proven, but the account may not sign in: the refusal is audited and the new
            // signature counter kept, so a later assertion from a copy of the passkey with an
            // older counter is seen as a clone. (A counter that went backwards is audited as
            // a clone below, locked or not.)
            Verdict::Ok if user.disabled || user.locked => {
                let (why, refused) = blocked_refusal(&user);
                audit::record(&mut tx, ctx, now, bad(why)).await?;
                tx.commit().await?;
                Err(refused)
            }
            Verdict::Ok => {
                policy::record_success(&mut tx, &user.id).await?;
                audit::record(
                    &mut tx,
                    ctx,
                    now,
                    Event::new(EventKind::CodeCheckOk)
                        .user(&user.id, &user.username)
                        .provider(ProviderType::Webauthn)
                        .detail("passwordless"),
                )
                .await?;
                tx.commit().await?;
                Ok(user)
            }
            Verdict::Cloned => {
                audit::record(
                    &mut tx,
                    ctx,
                    now,
                    Event::new(EventKind::PasskeyCounterRegressed)
                        .user(&user.id, &user.username)
                        .provider(ProviderType::Webauthn)
                        .detail(
                            "signature counter did not increase: possibly a cloned authenticator",
                        ),
                )
                .await?;
                // A disabled or locked account is refused as such: its failures count for
                // nothing more.
                if user.disabled || user.locked {
                    let (why, refused) = blocked_refusal(&user);
                    audit::record(&mut tx, ctx, now, bad(why)).await?;
                    tx.commit().await?;
                    return Err(refused);
                }
                audit::record(&mut tx, ctx, now, bad("passwordless")).await?;
                let after = policy::record_failure(&mut tx, ctx, &user, &settings, now).await?;
                tx.commit().await?;
                Err(if after == policy::rules::AfterFailure::Lock {
                    Error::Locked
                } else {
                    Error::BadCredentials
                })
            }
        }
    }
}

/// What a passwordless sign-in proven for a disabled or locked account is audited as, and the
/// error it gets.
fn blocked_refusal(user: &User) -> (&'static str, Error) {
    if user.disabled {
        ("passwordless; refused: account disabled", Error::Disabled)
    } else {
        ("passwordless; refused: account locked", Error::Locked)
    }
}
