//! Direct mode: the core on this machine, over the database and key it is configured with
//! (the server's own machine).

use crate::verifier::{Failed, Verifier};
use stepgate_core::approval::{ApprovalPoll, ApprovalStart};
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::enrolment::SentCode;
use stepgate_core::host_login::{AccountStatus, Begin, Begun, Failure};
use stepgate_core::hosts::Host;
use stepgate_core::step::Step;
use stepgate_core::{Core, ProviderType, RequestContext};

pub struct Direct<'a> {
    pub core: &'a Core,
    pub ctx: RequestContext,
    /// The registered host this machine is (`host=`), whose groups decide who logs in.
    pub host: Option<Host>,
}

impl<'a> Direct<'a> {
    /// `host`: the name from `host=`, which must be registered (else no one logs in).
    pub async fn open(
        core: &'a Core,
        ctx: RequestContext,
        host: Option<&str>,
    ) -> Result<Direct<'a>, Failed> {
        let host = match host {
            Some(name) => Some(core.host(name).await.map_err(|e| match e {
                stepgate_core::Error::NotFound(_) => Failed::new(
                    stepgate_core::host_login::Failure::Unavailable,
                    format!("host={name} is not a registered host (stepgate host add {name})"),
                ),
                e => Failed::from(e),
            })?),
            None => None,
        };
        let ctx = match &host {
            Some(h) => ctx.with_host(h.name.clone()),
            None => ctx,
        };
        Ok(Direct { core, ctx, host })
    }
}

/// Approval in the browser is not offered in direct mode; asked anyway, it is unavailable.
fn no_approval() -> Failed {
    Failed::new(
        Failure::Unavailable,
        "approval in the browser needs fleet mode (url=)",
    )
}

impl Verifier for Direct<'_> {
    async fn begin(&mut self, b: &Begin) -> Result<Begun, Failed> {
        Ok(self
            .core
            .begin_host_login(&self.ctx, self.host.as_ref(), b)
            .await?)
    }

    async fn send(&mut self, conversation: &str, p: ProviderType) -> Result<SentCode, Failed> {
        Ok(self.core.send_code(&self.ctx, conversation, p).await?)
    }

    async fn check(
        &mut self,
        conversation: &str,
        p: ProviderType,
        code: &str,
    ) -> Result<CheckOutcome, Failed> {
        Ok(self
            .core
            .check_code(&self.ctx, conversation, p, code)
            .await?)
    }

    async fn step(&mut self, conversation: &str) -> Result<Step, Failed> {
        Ok(self.core.text_login_step(conversation, None).await?)
    }

    /// Never offered in direct mode (its steps say `browser_approval: false`): the host
    /// protocol is what lets a host wait on the server.
    async fn start_approval(&mut self, _conversation: &str) -> Result<ApprovalStart, Failed> {
        Err(no_approval())
    }

    async fn poll_approval(&mut self, _conversation: &str) -> Result<ApprovalPoll, Failed> {
        Err(no_approval())
    }

    async fn cancel(&mut self, _conversation: &str) {
        // The challenge expires by itself; in direct mode nothing else holds it.
    }

    async fn account(&mut self, username: &str) -> Result<AccountStatus, Failed> {
        Ok(self
            .core
            .host_account(&self.ctx, self.host.as_ref(), username)
            .await?)
    }
}
