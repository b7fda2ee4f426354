//! Enrolment of second factors: generate → verify → save, the default provider, removal, backup
//! codes, and the admin's reset. Secrets never leave this module after enrolment: listings show
//! masked destinations only.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::error::{Error, Result};
use crate::factors::{backup_scope, StoredConfig};
use crate::policy::{self, CodeSlot, Purpose};
use crate::providers::ProviderType;
use crate::settings::TwoFaSettings;
use crate::store::enrolment as store;
use crate::users::User;
use serde::Serialize;

/// Digits of a backup code: longer than a one-time code because it never expires.
pub const BACKUP_CODE_DIGITS: usize = 8;
/// How long a generated TOTP secret waits for its first code before it must be generated anew.
const PENDING_TOTP_LIFETIME: i64 = 600;

/// A generated TOTP secret, shown once so the user can scan or type it.
#[derive(Clone, Debug, Serialize)]
pub struct TotpEnrolment {
    /// The secret for typing into an app by hand.
    pub secret_base32: String,
    /// The same secret as an `otpauth://` URI, for the QR code.
    pub otpauth_uri: String,
}

/// A code that was sent.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SentCode {
    /// SMS or email.
    pub provider: ProviderType,
    /// Where it went, masked (`+4*****89`, `a***@example.org`): enough for the user to
    /// recognise, not enough to learn a stranger's number.
    pub destination: String,
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

impl Core {
    /// Starts TOTP enrolment: a new secret, kept pending until a code from it is verified.
    pub async fn begin_totp_enrolment(
        &self,
        _ctx: &RequestContext,
        user: &User,
    ) -> Result<TotpEnrolment> {
        let settings = self.require_available(ProviderType::Totp).await?;
        let secret = crate::totp::generate_secret();
        let enrolment = TotpEnrolment {
            secret_base32: crate::totp::secret_to_base32(&secret),
            otpauth_uri: crate::totp::otpauth_uri(settings.issuer_name(), &user.username, &secret),
        };
        let sealed = self.seal(&user.id, ProviderType::Totp, &StoredConfig::Totp { secret })?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        store::put_pending(
            &mut tx,
            &user.id,
            ProviderType::Totp,
            &sealed,
            now + PENDING_TOTP_LIFETIME,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(enrolment)
    }

    /// Starts SMS enrolment: validates the number and sends it a code (send period applies).
    pub async fn begin_sms_enrolment(
        &self,
        ctx: &RequestContext,
        user: &User,
        phone: &str,
    ) -> Result<SentCode> {
        crate::codes::validate_e164(phone).map_err(|w| Error::refused_as("phone", w))?;
        self.begin_sent_enrolment(
            ctx,
            user,
            ProviderType::Sms,
            StoredConfig::Sms {
                phone: phone.into(),
            },
        )
        .await
    }

    /// Starts email enrolment: validates the address and sends it a code.
    pub async fn begin_email_enrolment(
        &self,
        ctx: &RequestContext,
        user: &User,
        email: &str,
    ) -> Result<SentCode> {
        crate::codes::validate_email(email).map_err(|w| Error::refused_as("email", w))?;
        self.begin_sent_enrolment(
            ctx,
            user,
            ProviderType::Email,
            StoredConfig::Email {
                email: email.into(),
            },
        )
        .await
    }

    async fn begin_sent_enrolment(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
        cfg: StoredConfig,
    ) -> Result<SentCode> {
        let settings = self.require_available(provider).await?;
        let sealed = self.seal(&user.id, provider, &cfg)?;
        self.send_fresh_code(
            ctx,
            user,
            provider,
            &cfg,
            &settings,
            Purpose::Enrol,
            Some(&sealed),
        )
        .await
    }

    /// Verifies the code of a pending enrolment and, when right, saves the provider. Checks are
    /// rate-limited like login checks; a wrong code here does not count towards lockout (the
    /// user is already signed in, so it protects nothing).
    pub async fn finish_enrolment(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
        code: &str,
    ) -> Result<()> {
        let settings = self.require_available(provider).await?;
        let code = crate::codes::normalize_code(code);
        let now = self.now();
        let mut tx = self.db.begin_locked(&user.id).await?;
        let pending = store::pending(&mut tx, &user.id, provider).await?;
        let Some((blob, _)) = pending.filter(|(_, expires_at)| *expires_at > now) else {
            return Err(Error::refused(crate::words::ENROLMENT_GONE));
        };
        let cfg = self.open_sealed(&user.id, provider, &blob)?;
        policy::admit_check(&mut tx, &user.id, &settings, now).await?;
        let (ok, step) = match &cfg {
            StoredConfig::Totp { secret } => {
                match crate::totp::verify(secret, &code, now.max(0) as u64, None) {
                    Some(step) => (true, Some(step)),
                    None => (false, None),
                }
            }
            StoredConfig::Sms { .. } | StoredConfig::Email { .. } => (
                policy::consume_code(
                    self,
                    &mut tx,
                    CodeSlot {
                        user_id: &user.id,
                        provider,
                        purpose: Purpose::Enrol,
                    },
                    &code,
                    now,
                )
                .await?,
                None,
            ),
            StoredConfig::BackupCode | StoredConfig::Webauthn => (false, None),
        };
        if !ok {
            audit::record(
                &mut tx,
                ctx,
                now,
                Event::new(EventKind::CodeCheckBad)
                    .user(&user.id, &user.username)
                    .provider(provider)
                    .detail("enrolment"),
            )
            .await?;
            tx.commit().await?;
            return Err(Error::refused_as("code", crate::words::CODE_WRONG));
        }
        store::delete_pending(&mut tx, &user.id, provider).await?;
        self.save_provider(&mut tx, ctx, user, provider, &cfg, step, now)
            .await?;
        tx.commit().await?;
        self.tell_user_provider_added(user, provider).await;
        Ok(())
    }

    /// Provisions TOTP without a verification step, for users who never visit the web (the
    /// admin CLI's `user enroll-totp`). Replaces any earlier TOTP secret.
    pub async fn provision_totp(&self, ctx: &RequestContext, user: &User) -> Result<TotpEnrolment> {
        let settings = self.require_available(ProviderType::Totp).await?;
        let secret = crate::totp::generate_secret();
        let enrolment = TotpEnrolment {
            secret_base32: crate::totp::secret_to_base32(&secret),
            otpauth_uri: crate::totp::otpauth_uri(settings.issuer_name(), &user.username, &secret),
        };
        let now = self.now();
        let mut tx = self.db.begin_locked(&user.id).await?;
        self.save_provider(
            &mut tx,
            ctx,
            user,
            ProviderType::Totp,
            &StoredConfig::Totp { secret },
            None,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(enrolment)
    }

    /// Generates a fresh list of backup codes (server-side only), replacing any earlier list,
    /// and returns them for the one time they are shown. Refused while the user has no other
    /// second factor: backup codes are a fallback, never the only way in.
    pub async fn generate_backup_codes(
        &self,
        ctx: &RequestContext,
        user: &User,
    ) -> Result<Vec<String>> {
        let settings = self.require_available(ProviderType::BackupCode).await?;
        let others = self
            .usable_providers(&user.id, &settings)
            .await?
            .into_iter()
            .filter(|p| p.provider != ProviderType::BackupCode)
            .count();
        if others == 0 {
            return Err(Error::refused(crate::words::BACKUP_CODES_NOT_ALONE));
        }
        let n = settings.codes_quantity() as usize;
        let mut codes: Vec<String> = Vec::with_capacity(n);
        while codes.len() < n {
            let c = crate::codes::random_digits(BACKUP_CODE_DIGITS);
            if !codes.contains(&c) {
                codes.push(c);
            }
        }
        let now = self.now();
        let mut tx = self.db.begin_locked(&user.id).await?;
        let scope = backup_scope(&user.id);
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| self.secrets.code_hash(&scope, c))
            .collect();
        store::replace_backup_codes(&mut tx, &user.id, &hashes, now).await?;
        self.save_provider(
            &mut tx,
            ctx,
            user,
            ProviderType::BackupCode,
            &StoredConfig::BackupCode,
            None,
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::BackupCodesGenerated)
                .user(&user.id, &user.username)
                .provider(ProviderType::BackupCode)
                .detail(format!("{n} codes")),
        )
        .await?;
        tx.commit().await?;
        self.tell_user_provider_added(user, ProviderType::BackupCode)
            .await;
        Ok(codes)
    }

    /// How many unused backup codes the user has left.
    pub async fn backup_codes_left(&self, user_id: &str) -> Result<i64> {
        store::unused_backup_codes(self.db.pool(), user_id).await
    }

    /// Marks one provider as the default; the others are cleared.
    pub async fn set_default_provider(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.begin_locked(&user.id).await?;
        if !store::make_default(&mut tx, &user.id, provider).await? {
            return Err(Error::ProviderUnavailable(provider));
        }
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::DefaultProviderChanged)
                .user(&user.id, &user.username)
                .provider(provider),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns a provider off for a user. Removing the last non-backup provider also removes the
    /// backup codes; under `enforceTwoFa` that last removal is refused (an admin's reset still
    /// works). The next provider by TOTP < SMS < EMAIL becomes the default.
    pub async fn remove_provider(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
    ) -> Result<()> {
        let mut tx = self.db.begin_locked(&user.id).await?;
        let removed = self
            .remove_provider_in(&mut tx, ctx, user, provider)
            .await?;
        tx.commit().await?;
        self.tell_user_provider_removed(user, &removed).await;
        Ok(())
    }

    /// [`Core::remove_provider`] inside a transaction holding the user's lock, so a caller that
    /// decided on a count under that lock (the last passkey) removes under the same one. Returns
    /// the providers turned off, for the caller to tell the user after its commit.
    pub(crate) async fn remove_provider_in(
        &self,
        tx: &mut crate::db::Tx,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
    ) -> Result<Vec<ProviderType>> {
        let settings = self.twofa_settings_on(tx).await?;
        let now = self.now();
        let enrolled = store::enrolled(tx, &user.id).await?;
        if !enrolled.contains(&provider) {
            return Err(Error::ProviderUnavailable(provider));
        }
        let remaining_primary = enrolled
            .iter()
            .filter(|p| **p != provider && **p != ProviderType::BackupCode)
            .count();
        let mut removed = vec![provider];
        if remaining_primary == 0 {
            if settings.enforced_for(user.is_admin()) {
                return Err(Error::refused(crate::words::LAST_FACTOR));
            }
            if provider != ProviderType::BackupCode && enrolled.contains(&ProviderType::BackupCode)
            {
                removed.push(ProviderType::BackupCode);
            }
        }
        for p in &removed {
            self.delete_provider(tx, &user.id, *p).await?;
            audit::record(
                tx,
                ctx,
                now,
                Event::new(EventKind::EnrolmentRemoved)
                    .user(&user.id, &user.username)
                    .provider(*p),
            )
            .await?;
        }
        self.repair_default(tx, &user.id).await?;
        Ok(removed)
    }

    /// Removes every second factor of a user (admin). They enrol again at their next login.
    pub async fn reset_twofa(&self, ctx: &RequestContext, username: &str) -> Result<()> {
        let user = self.require_user(username).await?;
        let enrolled: Vec<ProviderType> = self
            .enrolled_providers(&user.id)
            .await?
            .into_iter()
            .map(|p| p.provider)
            .collect();
        let now = self.now();
        let mut tx = self.db.begin_locked(&user.id).await?;
        for p in ProviderType::ALL {
            self.delete_provider(&mut tx, &user.id, p).await?;
        }
        store::delete_pending_and_sent_codes(&mut tx, &user.id).await?;
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::TwoFaReset).user(&user.id, &user.username),
        )
        .await?;
        tx.commit().await?;
        if !enrolled.is_empty() {
            self.tell_user_provider_removed(&user, &enrolled).await;
        }
        Ok(())
    }

    /// "A second factor was added to your account": a best-effort email, so an account owner
    /// notices when someone else planted a factor (a new factor passes every later login).
    pub(crate) async fn tell_user_provider_added(&self, user: &User, added: ProviderType) {
        if !self.config.twofa.notify_user_on_provider_added
            || self.mailer.is_none()
            || user.email.is_empty()
        {
            return;
        }
        let mail = crate::mail::provider_added(&user.username, added);
        if let Err(e) = self
            .send_email(&user.email, &mail.subject, &mail.body)
            .await
        {
            tracing::warn!(user = %user.username, error = %e, "could not email the user about an added second factor");
        }
    }

    /// "Two-factor authentication was turned off on your account": a best-effort email, so an
    /// account owner notices when someone else turned a second factor off.
    pub(crate) async fn tell_user_provider_removed(&self, user: &User, removed: &[ProviderType]) {
        if !self.config.twofa.notify_user_on_provider_removal || self.mailer.is_none() {
            return;
        }
        let mail = crate::mail::providers_removed(&user.username, removed);
        if let Err(e) = self
            .send_email(&user.email, &mail.subject, &mail.body)
            .await
        {
            tracing::warn!(user = %user.username, error = %e, "could not email the user about a removed second factor");
        }
    }

    pub(crate) async fn require_available(&self, provider: ProviderType) -> Result<TwoFaSettings> {
        let settings = self.twofa_settings().await?;
        if !settings.is_available(provider) {
            return Err(Error::ProviderUnavailable(provider));
        }
        Ok(settings)
    }
}
