//! Sending a one-time code by SMS or email — for a login or for an enrolment: the message
//! through its provider, the send period and counters reserved before it goes, and undone
//! when delivery fails, so a failed send spends nothing.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::enrolment::SentCode;
use crate::error::{Error, Result};
use crate::factors::StoredConfig;
use crate::policy::{self, CodeSlot, Purpose};
use crate::providers::ProviderType;
use crate::settings::{render_template, TwoFaSettings, DEFAULT_CODE_LIFETIME};
use crate::store::enrolment as store;
use crate::time::Seconds;
use crate::users::User;

impl Core {
    /// Sends a code, valid for `lifetime`, to the destination in `cfg` with the
    /// provider's message.
    async fn deliver(
        &self,
        user: &User,
        cfg: &StoredConfig,
        code: &str,
        lifetime: Seconds,
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
                let mail = crate::mail::code(settings.issuer_name(), code, lifetime);
                self.send_email(email, &mail.subject, &mail.body).await
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

    /// Sends a login code to the user's enrolled `provider`.
    pub(crate) async fn send_login_code(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
        settings: &TwoFaSettings,
    ) -> Result<SentCode> {
        let blob = store::sealed_config(self.db.pool(), &user.id, provider)
            .await?
            .ok_or(Error::ProviderUnavailable(provider))?;
        let cfg = self.open_sealed(&user.id, provider, &blob)?;
        self.send_fresh_code(ctx, user, provider, &cfg, settings, Purpose::Login, None)
            .await
    }

    /// Sends a fresh code for `purpose` to the destination in `cfg`. The send is reserved
    /// (send period) and the code stored under the user's lock — with `pending`, the sealed
    /// configuration an enrolment's code will confirm — before it goes; a failed delivery
    /// gives the reservation back.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_fresh_code(
        &self,
        ctx: &RequestContext,
        user: &User,
        provider: ProviderType,
        cfg: &StoredConfig,
        settings: &TwoFaSettings,
        purpose: Purpose,
        pending: Option<&str>,
    ) -> Result<SentCode> {
        let lifetime = settings
            .code_lifetime(provider)
            .unwrap_or(DEFAULT_CODE_LIFETIME);
        let code = crate::codes::random_digits(6);
        let now = self.now();
        let mut tx = self.db.begin_locked(&user.id).await?;
        let previous = policy::reserve_send(&mut tx, &user.id, settings, now).await?;
        if let Some(sealed) = pending {
            store::put_pending(
                &mut tx,
                &user.id,
                provider,
                sealed,
                lifetime.after(now),
                now,
            )
            .await?;
        }
        policy::store_code(
            self,
            &mut tx,
            CodeSlot {
                user_id: &user.id,
                provider,
                purpose,
            },
            &code,
            now,
            lifetime,
        )
        .await?;
        tx.commit().await?;
        let sent = self.deliver(user, cfg, &code, lifetime, settings).await;
        self.after_delivery(ctx, user, provider, purpose, now, previous, sent)
            .await?;
        Ok(SentCode {
            provider,
            destination: Self::destination_of(cfg).unwrap_or_default(),
            expires_in: i64::from(lifetime.get()),
        })
    }
}
