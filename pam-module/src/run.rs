//! One module call from start to finish: configuration, a runtime, the core, the flow, and a
//! clean exit that leaves nothing running in the host process.
//!
//! The tokio runtime is current-thread (no worker threads) and lives only for the call; the
//! core's database pool is closed before the runtime is shut down, which ends the SQLite
//! driver's per-connection threads and any PostgreSQL sockets, and the runtime's shutdown joins
//! its blocking-pool threads (argon2 in password mode, file writes). PAM hosts fork after
//! authentication (sshd, login), and a thread or socket left behind would leak into every child.

use crate::args::Args;
use crate::conversation::Conversation;
use crate::files;
use crate::flow;
use crate::outcome::{Outcome, Verdict};
use crate::remote::{Origin, Remote};
use std::time::Duration;
use stepgate_core::db::Backend;
use stepgate_core::{Core, RequestContext, Source};

/// What the host told PAM about this login.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub username: String,
    /// `PAM_SERVICE` (`sshd`, `login`, `sudo`…).
    pub service: Option<String>,
    /// `PAM_RHOST`: where the login comes from, for the audit log.
    pub rhost: Option<String>,
    /// `PAM_TTY`.
    pub tty: Option<String>,
}

impl Request {
    /// The audit context: the PAM door, the service (`service_id=` wins), the remote host.
    pub fn context(&self, args: &Args) -> RequestContext {
        let mut ctx = RequestContext::new(Source::Pam);
        if let Some(service) = args.service_id.as_ref().or(self.service.as_ref()) {
            ctx = ctx.with_service(service.clone());
        }
        if let Some(rhost) = self.rhost.as_ref().filter(|h| !h.is_empty()) {
            ctx = ctx.with_remote_addr(rhost.clone());
        }
        if let Some(tty) = self.tty.as_ref().filter(|t| !t.is_empty()) {
            ctx = ctx.with_tty(tty.clone());
        }
        ctx
    }

    /// What fleet mode tells the server about where the login is.
    pub fn origin(&self, args: &Args) -> Origin {
        let ctx = self.context(args);
        Origin {
            service: ctx.service,
            rhost: ctx.remote_addr,
            tty: ctx.tty,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Authenticate,
    Account,
}

/// How long the runtime's shutdown may wait for a straggling blocking task before the module
/// returns anyway: a hung host is worse than a thread finishing on its own.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The database connections one PAM call may open: one. A login is one conversation, and the
/// core never holds a connection while it asks the pool for another (reads inside a policy
/// transaction use the transaction's own connection), so one is always enough. More would not
/// be used at the same time, but they would be opened: the pool hands a released connection
/// back on a task of its own, so an acquire right after a release found no idle connection
/// and opened a new one. Each SQLite connection is a thread, a file open and a parse of the
/// whole schema; each PostgreSQL connection is a TCP (and TLS) handshake and an
/// authentication. Should a read ever wait for a second connection, it fails closed after
/// `connect_timeout_seconds` (`PAM_AUTHINFO_UNAVAIL`), never lets a login through.
const MAX_CONNECTIONS: u32 = 1;

/// Runs `op` for `request`, reading the configuration named in `args`.
pub fn run(op: Operation, args: &Args, request: &Request, conv: &mut dyn Conversation) -> Outcome {
    if request.username.is_empty() {
        return Outcome::new(Verdict::UserUnknown, "empty user name");
    }
    if args.remote.is_some() {
        return run_remote(op, args, request, conv);
    }
    let mut config = match files::load_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            conv.error("Two-factor verification is not set up correctly; ask an administrator.");
            return Outcome::new(Verdict::AuthInfoUnavail, format!("refusing to work: {e}"));
        }
    };
    config.database.max_connections = config.database.max_connections.min(MAX_CONNECTIONS);
    if Backend::of_url(&config.database.url) == Backend::Sqlite {
        crate::sqlite::tune_for_short_lived_process();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Outcome::new(
                Verdict::AuthInfoUnavail,
                format!("cannot start the async runtime: {e}"),
            )
        }
    };
    let ctx = request.context(args);
    let outcome = runtime.block_on(async {
        let core = match Core::open_existing(config).await {
            Ok(core) => core,
            Err(e) => {
                conv.error("Two-factor verification is unavailable right now; try again later.");
                return Outcome::new(
                    Verdict::AuthInfoUnavail,
                    format!("cannot open the Stepgate core: {e}"),
                );
            }
        };
        let outcome = match op {
            Operation::Authenticate => {
                flow::authenticate(&core, &ctx, args, &request.username, conv).await
            }
            Operation::Account => flow::account(&core, &ctx, args, &request.username, conv).await,
        };
        core.close().await;
        outcome
    });
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    outcome
}

/// Fleet mode: the same flow, asking the server; no configuration, database or key here.
fn run_remote(
    op: Operation,
    args: &Args,
    request: &Request,
    conv: &mut dyn Conversation,
) -> Outcome {
    let Some(remote) = &args.remote else {
        return Outcome::new(Verdict::ServiceErr, "fleet mode without url=");
    };
    let mut verifier = match Remote::open(remote, request.origin(args)) {
        Ok(v) => v,
        Err(e) => {
            conv.error("Two-factor verification is not set up correctly; ask an administrator.");
            return Outcome::new(Verdict::AuthInfoUnavail, format!("refusing to work: {e}"));
        }
    };
    // The flow is async for the core's sake; here every call blocks on its own deadline, so
    // a runtime with no threads and no I/O driver is enough.
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            return Outcome::new(
                Verdict::AuthInfoUnavail,
                format!("cannot start the async runtime: {e}"),
            )
        }
    };
    let outcome = runtime.block_on(async {
        match op {
            Operation::Authenticate => {
                flow::authenticate_with(&mut verifier, args, &request.username, conv).await
            }
            Operation::Account => flow::account_with(&mut verifier, &request.username, conv).await,
        }
    });
    drop(verifier);
    outcome
}
