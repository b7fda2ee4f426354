//! Enrolment of second factors: generate → verify → save, the default provider, removal, backup
//! codes, and the admin's reset. Secrets never leave this module after enrolment: listings show
//! masked destinations only.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::db::{lock_user, Tx};
use crate::error::{Error, Result};
use crate::policy::{self, CodeSlot, Purpose};
use crate::providers::ProviderType;
use crate::settings::{render_template, TwoFaSettings, DEFAULT_CODE_LIFETIME};
use crate::users::User;
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub const BACKUP_CODE_DIGITS: usize = 8;
/// How long a generated TOTP secret waits for its first code before it must be generated anew.
const PENDING_TOTP_LIFETIME: i64 = 600;

/// What is stored (encrypted, bound to user and provider) for an enrolled provider.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum StoredConfig {
    Totp {
        secret: Vec<u8>,
    },
    Sms {
        phone: String,
    },
    Email {
        email: String,
    },
    BackupCode,
    /// The passkeys themselves are rows of `webauthn_credentials`; this row says the
    /// provider is on (and whether it is the default).
    Webauthn,
}

/// An enrolled provider as people and scripts may see it: no secret, masked destination.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct EnrolledProvider {
    pub provider: ProviderType,
    pub is_default: bool,
    /// `+1*****1234` or `a***@example.com`; none for TOTP and backup codes.
    pub destination: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A generated TOTP secret, shown once so the user can scan or type it.
#[derive(Clone, Debug, Serialize)]
pub struct TotpEnrolment {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

/// A code that was sent.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SentCode {
    pub provider: ProviderType,
    pub destination: String,
    pub expires_in: i64,
}

fn aad(user_id: &str, provider: ProviderType) -> Vec<u8> {
    format!("stepgate provider {user_id} {}", provider.as_str()).into_bytes()
}

impl Core {
    fn seal(&self, user_id: &str, p: ProviderType, c: &StoredConfig) -> Result<String> {
        let json = serde_json::to_vec(c).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(self.secrets.encrypt_to_string(&json, &aad(user_id, p)))
    }

    fn open_sealed(&self, user_id: &str, p: ProviderType, blob: &str) -> Result<StoredConfig> {
        let json = self.secrets.decrypt_from_string(blob, &aad(user_id, p))?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::Internal(format!("stored provider config unreadable: {e}")))
    }

    fn destination_of(c: &StoredConfig) -> Option<String> {
        match c {
            StoredConfig::Sms { phone } => Some(crate::codes::mask_phone(phone)),
            StoredConfig::Email { email } => Some(crate::codes::mask_email(email)),
            _ => None,
        }
    }

    /// Every provider the user enrolled, whether or not the platform offers it now.
    pub async fn enrolled_providers(&self, user_id: &str) -> Result<Vec<EnrolledProvider>> {
        let mut conn = self.db.pool().acquire().await?;
        self.enrolled_providers_on(&mut conn, user_id).await
    }

    /// As [`Core::enrolled_providers`], on a given connection: inside a policy transaction the
    /// reads must use the transaction's own connection, or concurrent checks could exhaust the
    /// pool while holding SQLite's write lock.
    async fn enrolled_providers_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<Vec<EnrolledProvider>> {
        let rows = sqlx::query(
            "SELECT provider, is_default, config_enc, created_at, updated_at \
             FROM user_providers WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let name: String = r.try_get("provider")?;
            let Ok(provider) = name.parse::<ProviderType>() else {
                continue;
            };
            let blob: String = r.try_get("config_enc")?;
            let cfg = self.open_sealed(user_id, provider, &blob)?;
            out.push(EnrolledProvider {
                provider,
                is_default: r.try_get::<i64, _>("is_default")? != 0,
                destination: Self::destination_of(&cfg),
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            });
        }
        out.sort_by_key(|p| p.provider);
        Ok(out)
    }

    /// The providers a login may use: enrolled and offered by the platform now (switching a
    /// provider off hides it everywhere at once; its enrolment is kept for when it returns).
    /// Exactly one is marked default.
    pub async fn usable_providers(
        &self,
        user_id: &str,
        settings: &TwoFaSettings,
    ) -> Result<Vec<EnrolledProvider>> {
        let mut conn = self.db.pool().acquire().await?;
        self.usable_providers_on(&mut conn, user_id, settings).await
    }

    pub(crate) async fn usable_providers_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
        settings: &TwoFaSettings,
    ) -> Result<Vec<EnrolledProvider>> {
        let mut list: Vec<EnrolledProvider> = self
            .enrolled_providers_on(conn, user_id)
            .await?
            .into_iter()
            .filter(|p| settings.is_available(p.provider))
            .collect();
        let default = effective_default(&list);
        for p in &mut list {
            p.is_default = Some(p.provider) == default;
        }
        Ok(list)
    }

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
        self.put_pending(
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
        let lifetime = i64::from(
            settings
                .code_lifetime(provider)
                .unwrap_or(DEFAULT_CODE_LIFETIME),
        );
        let sealed = self.seal(&user.id, provider, &cfg)?;
        let code = crate::codes::random_digits(6);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        lock_user(&mut tx, self.db.backend(), &user.id).await?;
        let previous = policy::reserve_send(&mut tx, &user.id, &settings, now).await?;
        self.put_pending(&mut tx, &user.id, provider, &sealed, now + lifetime, now)
            .await?;
        policy::store_code(
            self,
            &mut tx,
            CodeSlot {
                user_id: &user.id,
                provider,
                purpose: Purpose::Enrol,
            },
            &code,
            now,
            lifetime,
        )
        .await?;
        tx.commit().await?;
        let destination = Self::destination_of(&cfg).unwrap_or_default();
        let sent = self.deliver(user, &cfg, &code, &settings).await;
        self.after_delivery(ctx, user, provider, Purpose::Enrol, now, previous, sent)
            .await?;
        Ok(SentCode {
            provider,
            destination,
            expires_in: lifetime,
        })
    }

    /// Sends a code to the destination in `cfg` with the provider's message.
    async fn deliver(
        &self,
        user: &User,
        cfg: &StoredConfig,
        code: &str,
        settings: &TwoFaSettings,
    ) -> Result<()> {
        match cfg {
            StoredConfig::Sms { phone } => {
                let sms = self
                    .sms
                    .as_ref()
                    .ok_or(Error::SendFailed(crate::notify::NotifyError::NotConfigured))?;
                let text =
                    render_template(settings.sms_template(), code, &user.username, &user.email);
                sms.send(phone, &text).await.map_err(Error::SendFailed)
            }
            StoredConfig::Email { email } => {
                let lifetime = settings
                    .code_lifetime(ProviderType::Email)
                    .unwrap_or(DEFAULT_CODE_LIFETIME);
                let subject = format!("{} verification code", settings.issuer_name());
                let body = format!(
                    "Your verification code is {code}.\n\nIt is valid for {lifetime} seconds. \
                     If you did not try to sign in, you can ignore this message; someone may \
                     know your password, so consider changing it.\n"
                );
                self.send_email(email, &subject, &body).await
            }
            _ => Err(Error::Internal("this provider sends no code".into())),
        }
    }

    /// Records a send in the audit log, or undoes its counters when delivery failed.
    #[allow(clippy::too_many_arguments)]
    async fn after_delivery(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
        purpose: Purpose,
        reserved_at: i64,
        previous: Option<i64>,
        sent: Result<()>,
    ) -> Result<()> {
        let kind = if sent.is_ok() {
            EventKind::CodeSent
        } else {
            policy::release_send(
                self,
                CodeSlot {
                    user_id: &user.id,
                    provider,
                    purpose,
                },
                reserved_at,
                previous,
            )
            .await?;
            EventKind::CodeSendFailed
        };
        if let Err(e) = &sent {
            tracing::warn!(user = %user.username, provider = %provider, error = %e, "code delivery failed");
        }
        let mut tx = self.db.begin().await?;
        audit::record(
            &mut tx,
            ctx,
            self.now(),
            Event::new(kind)
                .user(&user.id, &user.username)
                .provider(provider),
        )
        .await?;
        tx.commit().await?;
        sent
    }

    pub(crate) async fn send_login_code(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
        settings: &TwoFaSettings,
    ) -> Result<SentCode> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT config_enc FROM user_providers WHERE user_id = $1 AND provider = $2",
        )
        .bind(&user.id)
        .bind(provider.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        let (blob,) = row.ok_or(Error::ProviderUnavailable(provider))?;
        let cfg = self.open_sealed(&user.id, provider, &blob)?;
        let lifetime = i64::from(
            settings
                .code_lifetime(provider)
                .unwrap_or(DEFAULT_CODE_LIFETIME),
        );
        let code = crate::codes::random_digits(6);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        lock_user(&mut tx, self.db.backend(), &user.id).await?;
        let previous = policy::reserve_send(&mut tx, &user.id, settings, now).await?;
        policy::store_code(
            self,
            &mut tx,
            CodeSlot {
                user_id: &user.id,
                provider,
                purpose: Purpose::Login,
            },
            &code,
            now,
            lifetime,
        )
        .await?;
        tx.commit().await?;
        let sent = self.deliver(user, &cfg, &code, settings).await;
        self.after_delivery(ctx, user, provider, Purpose::Login, now, previous, sent)
            .await?;
        Ok(SentCode {
            provider,
            destination: Self::destination_of(&cfg).unwrap_or_default(),
            expires_in: lifetime,
        })
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
        let mut tx = self.db.begin().await?;
        lock_user(&mut tx, self.db.backend(), &user.id).await?;
        let pending: Option<(String, i64)> = sqlx::query_as(
            "SELECT config_enc, expires_at FROM pending_enrolments WHERE user_id = $1 AND provider = $2",
        )
        .bind(&user.id)
        .bind(provider.as_str())
        .fetch_optional(&mut *tx)
        .await?;
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
        sqlx::query("DELETE FROM pending_enrolments WHERE user_id = $1 AND provider = $2")
            .bind(&user.id)
            .bind(provider.as_str())
            .execute(&mut *tx)
            .await?;
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
        let mut tx = self.db.begin().await?;
        lock_user(&mut tx, self.db.backend(), &user.id).await?;
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

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn save_provider(
        &self,
        tx: &mut Tx,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
        cfg: &StoredConfig,
        last_used_step: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let sealed = self.seal(&user.id, provider, cfg)?;
        let (others,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM user_providers WHERE user_id = $1 AND provider <> $2",
        )
        .bind(&user.id)
        .bind(provider.as_str())
        .fetch_one(&mut **tx)
        .await?;
        let existing: Option<(i64, i64)> = sqlx::query_as(
            "SELECT is_default, created_at FROM user_providers WHERE user_id = $1 AND provider = $2",
        )
        .bind(&user.id)
        .bind(provider.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        // The first provider a user enrols becomes the default; backup codes never do.
        let is_default = match existing {
            Some((d, _)) => d,
            None => i64::from(others == 0 && provider != ProviderType::BackupCode),
        };
        let created_at = existing.map_or(now, |(_, c)| c);
        sqlx::query("DELETE FROM user_providers WHERE user_id = $1 AND provider = $2")
            .bind(&user.id)
            .bind(provider.as_str())
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO user_providers (user_id, provider, is_default, config_enc, last_used_step, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(provider.as_str())
        .bind(is_default)
        .bind(sealed)
        .bind(last_used_step)
        .bind(created_at)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        audit::record(
            tx,
            ctx,
            now,
            Event::new(EventKind::EnrolmentAdded)
                .user(&user.id, &user.username)
                .provider(provider),
        )
        .await
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
        let mut tx = self.db.begin().await?;
        lock_user(&mut tx, self.db.backend(), &user.id).await?;
        sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        for c in &codes {
            sqlx::query(
                "INSERT INTO backup_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(&user.id)
            .bind(self.secrets.code_hash(&backup_scope(&user.id), c))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
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
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.db.pool())
        .await?;
        Ok(n)
    }

    /// Marks one provider as the default; the others are cleared.
    pub async fn set_default_provider(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        lock_user(&mut tx, self.db.backend(), &user.id).await?;
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT provider FROM user_providers WHERE user_id = $1 AND provider = $2",
        )
        .bind(&user.id)
        .bind(provider.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(Error::ProviderUnavailable(provider));
        }
        sqlx::query("UPDATE user_providers SET is_default = CASE WHEN provider = $2 THEN 1 ELSE 0 END WHERE user_id = $1")
            .bind(&user.id)
            .bind(provider.as_str())
            .execute(&mut *tx)
            .await?;
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
        let settings = self.twofa_settings().await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        lock_user(&mut tx, self.db.backend(), &user.id).await?;
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT provider FROM user_providers WHERE user_id = $1")
                .bind(&user.id)
                .fetch_all(&mut *tx)
                .await?;
        let enrolled: Vec<ProviderType> = rows.iter().filter_map(|(p,)| p.parse().ok()).collect();
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
            self.delete_provider(&mut tx, &user.id, *p).await?;
            audit::record(
                &mut tx,
                ctx,
                now,
                Event::new(EventKind::EnrolmentRemoved)
                    .user(&user.id, &user.username)
                    .provider(*p),
            )
            .await?;
        }
        self.repair_default(&mut tx, &user.id).await?;
        tx.commit().await?;
        self.tell_user_provider_removed(user, &removed).await;
        Ok(())
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
        let mut tx = self.db.begin().await?;
        lock_user(&mut tx, self.db.backend(), &user.id).await?;
        for p in ProviderType::ALL {
            self.delete_provider(&mut tx, &user.id, p).await?;
        }
        for table in ["pending_enrolments", "verification_codes"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(&user.id)
                .execute(&mut *tx)
                .await?;
        }
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

    pub(crate) async fn delete_provider(
        &self,
        tx: &mut Tx,
        user_id: &str,
        p: ProviderType,
    ) -> Result<()> {
        sqlx::query("DELETE FROM user_providers WHERE user_id = $1 AND provider = $2")
            .bind(user_id)
            .bind(p.as_str())
            .execute(&mut **tx)
            .await?;
        if p == ProviderType::BackupCode {
            sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
        if p == ProviderType::Webauthn {
            for table in ["webauthn_credentials", "webauthn_states"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                    .bind(user_id)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Keeps exactly one stored default: the next non-backup provider in TOTP < SMS < EMAIL.
    pub(crate) async fn repair_default(&self, tx: &mut Tx, user_id: &str) -> Result<()> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT provider, is_default FROM user_providers WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(&mut **tx)
                .await?;
        if rows.iter().any(|(_, d)| *d != 0) {
            return Ok(());
        }
        let next = rows
            .iter()
            .filter_map(|(p, _)| p.parse::<ProviderType>().ok())
            .filter(|p| *p != ProviderType::BackupCode)
            .min();
        if let Some(p) = next {
            sqlx::query(
                "UPDATE user_providers SET is_default = 1 WHERE user_id = $1 AND provider = $2",
            )
            .bind(user_id)
            .bind(p.as_str())
            .execute(&mut **tx)
            .await?;
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
        let what = if added == ProviderType::BackupCode {
            "new backup codes were generated"
        } else {
            "a second factor was set up"
        };
        let body = format!(
            "Hello {},\n\n{what} on your account: {}.\n\n\
             If you did not do this, contact your administrator at once.\n",
            user.username,
            added.label()
        );
        if let Err(e) = self
            .send_email(
                &user.email,
                "A second factor was added to your account",
                &body,
            )
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
        let names: Vec<&str> = removed.iter().map(|p| p.label()).collect();
        let body = format!(
            "Hello {},\n\ntwo-factor authentication was turned off on your account for: {}.\n\n\
             If you did not do this, contact your administrator at once.\n",
            user.username,
            names.join(", ")
        );
        if let Err(e) = self
            .send_email(
                &user.email,
                "Two-factor authentication was turned off",
                &body,
            )
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

    async fn put_pending(
        &self,
        tx: &mut Tx,
        user_id: &str,
        provider: ProviderType,
        sealed: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query("DELETE FROM pending_enrolments WHERE user_id = $1 AND provider = $2")
            .bind(user_id)
            .bind(provider.as_str())
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO pending_enrolments (user_id, provider, config_enc, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(provider.as_str())
        .bind(sealed)
        .bind(expires_at)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Checks a code against the user's enrolled provider inside a locked transaction. For
    /// TOTP the matched step is stored so the same code (or an older one) never works again,
    /// whichever door it comes through; a backup code is consumed exactly once.
    pub(crate) async fn verify_enrolled(
        &self,
        tx: &mut Tx,
        user_id: &str,
        provider: ProviderType,
        code: &str,
        now: i64,
    ) -> Result<bool> {
        match provider {
            ProviderType::Totp => {
                let row: Option<(String, Option<i64>)> = sqlx::query_as(
                    "SELECT config_enc, last_used_step FROM user_providers WHERE user_id = $1 AND provider = 'TOTP'",
                )
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?;
                let Some((blob, last)) = row else {
                    return Ok(false);
                };
                let StoredConfig::Totp { secret } = self.open_sealed(user_id, provider, &blob)?
                else {
                    return Ok(false);
                };
                let Some(step) = crate::totp::verify(&secret, code, now.max(0) as u64, last) else {
                    return Ok(false);
                };
                let updated = sqlx::query(
                    "UPDATE user_providers SET last_used_step = $1 WHERE user_id = $2 AND provider = 'TOTP' \
                     AND (last_used_step IS NULL OR last_used_step < $1)",
                )
                .bind(step)
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
                Ok(updated.rows_affected() == 1)
            }
            ProviderType::Sms | ProviderType::Email => {
                policy::consume_code(
                    self,
                    tx,
                    CodeSlot {
                        user_id,
                        provider,
                        purpose: Purpose::Login,
                    },
                    code,
                    now,
                )
                .await
            }
            ProviderType::BackupCode => {
                let hash = self.secrets.code_hash(&backup_scope(user_id), code);
                let used = sqlx::query(
                    "UPDATE backup_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 \
                     AND used_at IS NULL",
                )
                .bind(now)
                .bind(user_id)
                .bind(hash)
                .execute(&mut **tx)
                .await?;
                Ok(used.rows_affected() == 1)
            }
            // A passkey answers with an assertion (`Core::check_passkey`), never a code.
            ProviderType::Webauthn => Ok(false),
        }
    }
}

fn backup_scope(user_id: &str) -> String {
    format!("backup:{user_id}")
}

/// The stored default if there is one, else the first non-backup provider, else backup codes.
pub fn effective_default(list: &[EnrolledProvider]) -> Option<ProviderType> {
    list.iter()
        .find(|p| p.is_default)
        .or_else(|| {
            list.iter()
                .filter(|p| p.provider != ProviderType::BackupCode)
                .min_by_key(|p| p.provider)
        })
        .or_else(|| list.first())
        .map(|p| p.provider)
}
