//! "Approve in your browser" for a PAM login at a host: the host asks for an approval, shows
//! the person a short code and the approval page's address, and waits; the person signs in on
//! the page with any of their second factors (a passkey included, which no terminal can
//! carry) and approves or denies. The approval is one more answer to the login's challenge:
//! it goes through the same check as a code (rate limit, lockout, time limit, audit), counts
//! as the second factor the approving session was verified with, and a denial counts as a
//! failure and ends the login.
//!
//! The approval rides on the device authorization table (its user codes, their guessing
//! limits and the /device page), tied to a challenge instead of a client.

use crate::audit::{self, Event, EventKind};
use crate::challenge::{Answer, ChallengeState, CheckOutcome};
use crate::core::{Core, RequestContext};
use crate::db::Tx;
use crate::device::{DeviceAuthorization, DeviceState, LoginOrigin, Owner};
use crate::error::{Error, Result};
use crate::hosts::Host;
use crate::providers::ProviderType;
use crate::step::refusal_for;
use crate::store::approval as store;
use crate::users::User;
use serde::{Deserialize, Serialize};

/// Seconds between a host's polls.
pub const POLL_INTERVAL: i64 = 2;

/// What a host shows the person waiting at its prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStart {
    /// The short code to type on the page (`WDJB-MJHT`); it names this login only.
    pub user_code: String,
    /// The approval page.
    pub verification_uri: String,
    /// The page with the code filled in (for a QR code or a click).
    pub verification_uri_complete: String,
    /// Seconds until the wait ends without an answer (the challenge's time left).
    pub expires_in: i64,
    /// Seconds between polls.
    pub interval: i64,
}

/// How the wait for an approval stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPoll {
    /// Nothing decided yet; poll again after `interval` seconds.
    Pending {
        /// Seconds to wait before the next poll.
        interval: i64,
    },
    /// Approved, counting as a verification with this provider.
    Verified(ProviderType),
    /// Denied on the page: the login is over (and the denial counted as a failure).
    Denied {},
}

/// Records the person's decision on a pending approval of `user`'s login, inside the check's
/// transaction: the approval must still wait, be this challenge's, and belong to `user`.
pub(crate) async fn answer(
    tx: &mut Tx,
    authorization: &str,
    challenge_id: &str,
    user: &User,
    approve: bool,
    now: i64,
) -> Result<()> {
    let state = if approve {
        DeviceState::Approved
    } else {
        DeviceState::Denied
    };
    let done = store::decide(tx, authorization, challenge_id, &user.id, state, now).await?;
    if !done {
        return Err(Error::refused(crate::words::DEVICE_ANSWERED));
    }
    Ok(())
}

impl Core {
    /// A host's conversation asks to be approved in the browser: a new user code for it (an
    /// earlier one of the same login stops working), live until the login's time runs out.
    pub async fn host_start_approval(
        &self,
        ctx: &RequestContext,
        host: &Host,
        conversation: &str,
    ) -> Result<ApprovalStart> {
        self.check_host_conversation(host, conversation).await?;
        let now = self.now();
        let c = self.challenge(conversation).await?;
        if let Some(r) = refusal_for(c.state) {
            return Err(r.to_error());
        }
        if now >= c.expires_at {
            return Err(Error::ChallengeExpired);
        }
        let user = self
            .user_by_id(&c.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let origin = LoginOrigin {
            challenge_id: c.id.clone(),
            host: Some(host.name.clone()),
            service: ctx.service.clone(),
            remote_addr: ctx.remote_addr.clone(),
            tty: ctx.tty.clone(),
        };
        let mut tx = self.db.begin().await?;
        store::expire_pending(&mut tx, conversation).await?;
        let start = self
            .insert_authorization(&mut tx, Owner::Login(&origin), c.expires_at, POLL_INTERVAL)
            .await?;
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::LoginApprovalRequested)
                .user(&user.id, &user.username)
                .detail(format!("device_authorization={}", start.id)),
        )
        .await?;
        tx.commit().await?;
        let page = format!("{}/device", self.config.server.issuer.trim_end_matches('/'));
        Ok(ApprovalStart {
            verification_uri_complete: format!("{page}?user_code={}", start.user_code),
            verification_uri: page,
            user_code: start.user_code,
            expires_in: (c.expires_at - now).max(0),
            interval: POLL_INTERVAL,
        })
    }

    /// How a host's approval stands. Expired, locked or otherwise finished logins are the
    /// same errors as for a code.
    pub async fn host_poll_approval(
        &self,
        host: &Host,
        conversation: &str,
    ) -> Result<ApprovalPoll> {
        self.check_host_conversation(host, conversation).await?;
        let c = self.challenge(conversation).await?;
        // Locked or disabled meanwhile (elsewhere): the wait is over.
        match self.user_by_id(&c.user_id).await? {
            Some(u) if u.disabled => return Err(Error::Disabled),
            Some(u) if u.locked => return Err(Error::Locked),
            Some(_) => {}
            None => return Err(Error::ChallengeClosed),
        }
        let decided = store::latest_decision(self.db.pool(), conversation).await?;
        match c.state {
            ChallengeState::Verified if decided.as_deref() == Some("approved") => {
                let by = c.verified_provider.ok_or_else(|| {
                    Error::Internal("an approved challenge without its provider".into())
                })?;
                Ok(ApprovalPoll::Verified(by))
            }
            ChallengeState::Failed if decided.as_deref() == Some("denied") => {
                Ok(ApprovalPoll::Denied {})
            }
            ChallengeState::Pending if self.now() >= c.expires_at => Err(Error::ChallengeExpired),
            ChallengeState::Pending => Ok(ApprovalPoll::Pending {
                interval: POLL_INTERVAL,
            }),
            other => Err(refusal_for(other)
                .map(|r| r.to_error())
                .unwrap_or(Error::ChallengeClosed)),
        }
    }

    /// Whether `user` is the one logging in at `login`: the only person who may see its
    /// approval page or answer it.
    pub async fn login_is_theirs(&self, login: &LoginOrigin, user: &User) -> Result<bool> {
        Ok(self.challenge(&login.challenge_id).await?.user_id == user.id)
    }

    /// The person's decision on the approval page, signed in as `user` with a session whose
    /// second factor was `provider`. Only the login's own user may answer; the answer is a
    /// check of the login's challenge (see the module's doc).
    pub async fn decide_login_approval(
        &self,
        ctx: &RequestContext,
        auth: &DeviceAuthorization,
        user: &User,
        provider: ProviderType,
        approve: bool,
    ) -> Result<CheckOutcome> {
        let login = auth
            .login
            .as_ref()
            .ok_or(Error::NotFound("login approval"))?;
        if auth.state != DeviceState::Pending {
            return Err(Error::refused(crate::words::DEVICE_ANSWERED));
        }
        if !self.login_is_theirs(login, user).await? {
            audit::record_alone(
                self,
                ctx,
                Event::new(EventKind::LoginApprovalRefused)
                    .user(&user.id, &user.username)
                    .detail(format!(
                        "device_authorization={}: the login is another account's",
                        auth.id
                    )),
            )
            .await?;
            return Err(Error::refused(crate::words::APPROVAL_OTHER_ACCOUNT));
        }
        // The verification is the login's, at the host: audited with its host, service,
        // terminal and address; the browser's address goes into the detail.
        let at_host = RequestContext {
            source: crate::core::Source::Pam,
            remote_addr: login.remote_addr.clone(),
            service: login.service.clone(),
            host: login.host.clone(),
            tty: login.tty.clone(),
        };
        self.check(
            &at_host,
            None,
            &login.challenge_id,
            provider,
            Answer::Approval {
                authorization: auth.id.clone(),
                approve,
                browser: ctx.remote_addr.clone(),
            },
        )
        .await
        .map(|checked| checked.outcome)
    }
}
