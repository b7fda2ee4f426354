//! The `stepgate` command line: `serve` and the admin commands. Each command is a thin call
//! into the core (users, second factors) or the provider's store (clients, keys).
//!
//! [`run`] takes its streams as arguments so tests can run commands in-process and read what
//! they print; `main.rs` passes the process's own. Errors are returned, printed once to stderr
//! by the caller, and give a non-zero exit status.

mod client;
mod group;
mod host;
mod keys;
mod serve;
mod user;

use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use stepgate_core::config::{Config, ConfigError};
use stepgate_core::{Core, RequestContext, Source};

/// Stepgate: an OpenID Connect provider whose every login passes a second factor.
#[derive(Debug, Parser)]
#[command(name = "stepgate", version, about)]
pub struct Cli {
    /// The configuration file [default: ./stepgate.toml]
    #[arg(long, global = true, value_name = "PATH", env = "STEPGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Write logs as JSON lines (to stderr) instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the OpenID Connect provider. Without a configuration file, writes a development
    /// one (SQLite under ./data/) and creates the `admin` user.
    Serve,
    /// Manage users and their second factors.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage OpenID Connect clients (relying parties).
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage groups of users, which hosts and clients admit.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Manage registered hosts (fleet mode: Linux hosts that verify logins through this server).
    #[command(subcommand)]
    Host(host::HostCommand),
    /// Manage token signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// The streams a command reads and writes.
pub struct Io<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

/// What can make a command fail; printed as `error: …`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Core(#[from] stepgate_core::Error),
    #[error("{0}")]
    Start(#[from] crate::app::StartError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
}

pub type CliResult<T = ()> = Result<T, CliError>;

const DEFAULT_CONFIG: &str = "stepgate.toml";

impl Cli {
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }
}

/// Loads the configuration of an admin command (which never creates one).
pub fn load_config(path: &Path) -> CliResult<Config> {
    if !path.exists() {
        return Err(CliError::Usage(format!(
            "no configuration file at {} (pass --config PATH, or run `stepgate serve` once to \
             create a development configuration)",
            path.display()
        )));
    }
    Ok(Config::load(path)?)
}

pub(crate) async fn open_core(path: &Path) -> CliResult<Core> {
    Ok(Core::open(load_config(path)?).await?)
}

/// Every change made from the command line is audited as coming from the admin door.
pub(crate) fn admin_ctx() -> RequestContext {
    RequestContext::new(Source::Admin).with_service("cli")
}

/// Records an admin change made from the command line (never with a secret in `detail`).
pub(crate) async fn audit(
    core: &Core,
    kind: stepgate_core::audit::EventKind,
    detail: String,
) -> CliResult {
    let event = stepgate_core::audit::Event::new(kind).detail(detail);
    stepgate_core::audit::record_alone(core, &admin_ctx(), event).await?;
    Ok(())
}

/// Reads a password (or another secret) from stdin: everything up to the first line break.
pub(crate) fn read_secret(io: &mut Io<'_>, what: &str) -> CliResult<String> {
    let mut buf = String::new();
    io.stdin.read_to_string(&mut buf)?;
    let line = buf.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err(CliError::Usage(format!("no {what} on standard input")));
    }
    Ok(line)
}

/// Runs one parsed command.
pub async fn run(cli: Cli, io: &mut Io<'_>) -> CliResult {
    let path = cli.config_path();
    match cli.command {
        Command::Serve => serve::serve(&path, io).await,
        Command::User(c) => user::run(c, &path, io).await,
        Command::Client(c) => client::run(c, &path, io).await,
        Command::Group(c) => group::run(c, &path, io).await,
        Command::Host(c) => host::run(c, &path, io).await,
        Command::Keys(c) => keys::run(c, &path, io).await,
    }
}

/// The captured result of [`execute`].
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Parses `args` (without the program name) and runs the command with `stdin` as input,
/// capturing its output: what `stepgate ARGS < stdin` would print, in-process.
pub async fn execute<I, S>(args: I, stdin: &[u8]) -> Output
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("stepgate"))
        .chain(args.into_iter().map(Into::into));
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            return Output {
                code: e.exit_code(),
                stdout: String::new(),
                stderr: e.to_string(),
            }
        }
    };
    let mut input = stdin;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = {
        let mut io = Io {
            stdin: &mut input,
            stdout: &mut out,
            stderr: &mut err,
        };
        run(cli, &mut io).await
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            1
        }
    };
    Output {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// Sets up `tracing`: text or JSON lines on stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in files or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
