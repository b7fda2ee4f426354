//! A user's stored second factors: their sealed configuration (encrypted, bound to user and
//! provider), the listing people see (masked, no secret), and the one check of an answer
//! against one factor, TOTP replay included. Enrolment (`enrolment.rs`) and the login
//! challenge (`challenge.rs`) both build on this; neither reads `user_providers` itself.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::db::{Batch, Tx};
use crate::error::{Error, Result};
use crate::policy::{self, CodeSlot, Purpose};
use crate::providers::ProviderType;
use crate::settings::TwoFaSettings;
use crate::store::factors as store;
use crate::users::User;
use serde::{Deserialize, Serialize};

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
    /// Which provider; a user has at most one row of each.
    pub provider: ProviderType,
    /// The one a login asks first when the user chose none (exactly one per user).
    pub is_default: bool,
    /// `+1*****1234` or `a***@example.com`; none for TOTP and backup codes.
    pub destination: Option<String>,
    /// When it was enrolled (Unix seconds).
    pub created_at: i64,
    /// When it last changed (a new destination, a new default).
    pub updated_at: i64,
}

/// A factor as the core holds it while deciding a login: what people see, and the opened
/// configuration (a TOTP secret) that never leaves the core.
pub(crate) struct StoredFactor {
    pub shown: EnrolledProvider,
    pub config: StoredConfig,
    pub last_used_step: Option<i64>,
}

/// The factors a login may use now: enrolled and offered by the platform (switching a provider
/// off hides it everywhere at once; its enrolment is kept for when it returns), with exactly
/// one marked default.
pub(crate) fn usable<'a>(stored: &'a [StoredFactor], settings: &TwoFaSettings) -> Vec<Usable<'a>> {
    let available: Vec<&StoredFactor> = stored
        .iter()
        .filter(|f| settings.is_available(f.shown.provider))
        .collect();
    let listed: Vec<EnrolledProvider> = available.iter().map(|f| f.shown.clone()).collect();
    let default = effective_default(&listed);
    listed
        .into_iter()
        .zip(available)
        .map(|(mut shown, factor)| {
            shown.is_default = Some(shown.provider) == default;
            Usable { shown, factor }
        })
        .collect()
}

/// The listing of [`usable`]: what a login offers, without the stored forms.
pub(crate) fn usable_listing(
    stored: &[StoredFactor],
    settings: &TwoFaSettings,
) -> Vec<EnrolledProvider> {
    usable(stored, settings)
        .into_iter()
        .map(|f| f.shown)
        .collect()
}

/// One usable factor: its listing (with the effective default) and its stored form.
pub(crate) struct Usable<'a> {
    pub shown: EnrolledProvider,
    pub factor: &'a StoredFactor,
}

fn aad(user_id: &str, provider: ProviderType) -> Vec<u8> {
    format!("stepgate provider {user_id} {}", provider.as_str()).into_bytes()
}

impl Core {
    pub(crate) fn seal(&self, user_id: &str, p: ProviderType, c: &StoredConfig) -> Result<String> {
        let json = serde_json::to_vec(c).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(self.secrets.encrypt_to_string(&json, &aad(user_id, p)))
    }

    pub(crate) fn open_sealed(
        &self,
        user_id: &str,
        p: ProviderType,
        blob: &str,
    ) -> Result<StoredConfig> {
        let json = self.secrets.decrypt_from_string(blob, &aad(user_id, p))?;
        serde_json::from_slice(&json)
            // serde's message can quote the decrypted value (a phone number, a secret): the
            // error names the provider only.
            .map_err(|_| Error::Internal(format!("stored {} configuration unreadable", p.as_str())))
    }

    pub(crate) fn destination_of(c: &StoredConfig) -> Option<String> {
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
        Ok(self
            .stored_factors_on(conn, user_id)
            .await?
            .into_iter()
            .map(|f| f.shown)
            .collect())
    }

    /// The user's factors with their opened configuration and TOTP step, in one read. (A
    /// login's check reads them in its own statement, beside the challenge, through
    /// [`crate::store::factors::factor_columns_of`] and [`Core::stored_factors_of_rows`]: the
    /// same rows decide what is usable and verify the code.)
    pub(crate) async fn stored_factors_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        user_id: &str,
    ) -> Result<Vec<StoredFactor>> {
        let rows = store::factors(conn, user_id).await?;
        self.open_factors(user_id, rows)
    }

    /// The factors in `rows` that hold [`crate::store::factors::factor_columns_of`] (a row
    /// whose factor columns are NULL, from a LEFT JOIN of a user with none, holds none),
    /// sorted by provider.
    pub(crate) fn stored_factors_of_rows(
        &self,
        user_id: &str,
        rows: &[sqlx::any::AnyRow],
    ) -> Result<Vec<StoredFactor>> {
        self.open_factors(user_id, store::factors_of_rows(rows)?)
    }

    /// Opens each factor's sealed configuration; sorted by provider.
    fn open_factors(
        &self,
        user_id: &str,
        rows: Vec<store::FactorRow>,
    ) -> Result<Vec<StoredFactor>> {
        let mut out = Vec::new();
        for r in rows {
            let config = self.open_sealed(user_id, r.provider, &r.config_enc)?;
            out.push(StoredFactor {
                shown: EnrolledProvider {
                    provider: r.provider,
                    is_default: r.is_default,
                    destination: Self::destination_of(&config),
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                },
                config,
                last_used_step: r.last_used_step,
            });
        }
        out.sort_by_key(|f| f.shown.provider);
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
        let stored = self.stored_factors_on(conn, user_id).await?;
        Ok(usable_listing(&stored, settings))
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
        let others = store::count_others(tx, &user.id, provider).await?;
        let existing = store::default_and_created(tx, &user.id, provider).await?;
        // The first provider a user enrols becomes the default; backup codes never do.
        let is_default = match existing {
            Some((d, _)) => d,
            None => i64::from(others == 0 && provider != ProviderType::BackupCode),
        };
        let created_at = existing.map_or(now, |(_, c)| c);
        store::delete(tx, &user.id, provider).await?;
        store::insert(
            tx,
            &store::NewFactor {
                user_id: &user.id,
                provider,
                is_default,
                config_enc: &sealed,
                last_used_step,
                created_at,
                updated_at: now,
            },
        )
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

    pub(crate) async fn delete_provider(
        &self,
        tx: &mut Tx,
        user_id: &str,
        p: ProviderType,
    ) -> Result<()> {
        store::delete(tx, user_id, p).await?;
        if p == ProviderType::BackupCode {
            store::delete_backup_codes(tx, user_id).await?;
        }
        if p == ProviderType::Webauthn {
            crate::store::passkeys::delete_all_of_user(tx, user_id).await?;
        }
        Ok(())
    }

    /// Keeps exactly one stored default: the next non-backup provider in TOTP < SMS < EMAIL.
    pub(crate) async fn repair_default(&self, tx: &mut Tx, user_id: &str) -> Result<()> {
        let rows = store::defaults(tx, user_id).await?;
        if rows.iter().any(|(_, d)| *d != 0) {
            return Ok(());
        }
        let next = rows
            .iter()
            .filter_map(|(p, _)| p.parse::<ProviderType>().ok())
            .filter(|p| *p != ProviderType::BackupCode)
            .min();
        if let Some(p) = next {
            store::set_default(tx, user_id, p).await?;
        }
        Ok(())
    }

    /// Checks a code against one of the user's factors (`factor`, as read in this
    /// transaction) inside a locked transaction. For TOTP the matched step is stored (in
    /// `writes`, which the caller runs before it commits) so the same code (or an older one)
    /// never works again, whichever door it comes through; a sent code and a backup code are
    /// consumed exactly once, here.
    pub(crate) async fn verify_code<'q>(
        &self,
        tx: &mut Tx,
        writes: &mut Batch<'q>,
        user_id: &'q str,
        factor: &StoredFactor,
        code: &str,
        now: i64,
    ) -> Result<bool> {
        let provider = factor.shown.provider;
        match provider {
            ProviderType::Totp => {
                let StoredConfig::Totp { secret } = &factor.config else {
                    return Ok(false);
                };
                let Some(step) =
                    crate::totp::verify(secret, code, now.max(0) as u64, factor.last_used_step)
                else {
                    return Ok(false);
                };
                // Decided from the step read under the user's lock; the write goes with the
                // check's others in `writes`, conditional on that step and failing the
                // check's transaction if a concurrent one (another process) used it first.
                store::push_use_totp_step(writes, user_id, step);
                Ok(true)
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
                store::use_backup_code(tx, user_id, &hash, now).await
            }
            // A passkey answers with an assertion (`Core::check_passkey`), never a code.
            ProviderType::Webauthn => Ok(false),
        }
    }
}

pub(crate) fn backup_scope(user_id: &str) -> String {
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
