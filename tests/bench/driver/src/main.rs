//! The load driver of the benchmark suite (`tests/bench/run.sh`).
//!
//! Standard load tools (wrk) drive the single-request endpoints; what they cannot do lives
//! here: a full login is five dependent requests with a fresh TOTP code (single-use, so every
//! login needs a user whose code for this 30-second step is unspent), and a refresh token
//! rotates on every use. Each subcommand prints one JSON object on stdout for the script.
// The load driver measures a real server with real TOTP codes: wall-clock time is its subject.
#![allow(clippy::disallowed_methods)]
// A measuring tool run by tests/bench/run.sh: a failed step aborts the run with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod argon;
mod cpu;
mod flow;
mod hosts;
mod load;
mod seed;
mod startup;
mod stats;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Stepgate benchmark driver (used by tests/bench/run.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub struct Target {
    /// The provider's issuer URL.
    #[arg(long)]
    pub issuer: String,
    /// A confidential client allowed the code and refresh grants.
    #[arg(long)]
    pub client_id: String,
    #[arg(long)]
    pub client_secret: String,
    #[arg(long)]
    pub redirect_uri: String,
    /// The users file written by `seed`.
    #[arg(long)]
    pub users: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Creates users in the database of CONFIG: LOGIN_USERS with a password and TOTP (written
    /// to OUT with their secrets), the rest up to TOTAL_USERS as filler rows.
    Seed {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        login_users: usize,
        #[arg(long)]
        total_users: usize,
        #[arg(long)]
        out: PathBuf,
        /// Make the LOGIN_USERS members of this group (created), for hosts that allow it.
        #[arg(long)]
        group: Option<String>,
        /// Register this many hosts allowing GROUP (`bench-host-N`)...
        #[arg(long, default_value_t = 0, requires = "group", requires = "hosts_out")]
        hosts: usize,
        /// ...and write their credentials here, as a JSON list.
        #[arg(long)]
        hosts_out: Option<PathBuf>,
    },
    /// Verifies passwords with CONFIG's argon2id parameters on every core for SECONDS: the
    /// most password logins per second this machine can do.
    Argon2 {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Full logins (authorize → password → TOTP → code → token) from CONCURRENCY workers.
    Login {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Stop after this many logins (each user logs in at most once).
        #[arg(long)]
        max: Option<usize>,
        /// Skip this many users of the file first.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// The server's process: its per-thread CPU per login is reported.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Refresh-token rotation: CONCURRENCY logins, then each worker refreshes its own chain.
    Refresh {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Fleet mode: registered hosts verify TOTP logins over the host protocol (begin, then
    /// check with the user's code), CONCURRENCY keep-alive HTTPS connections sharing the
    /// credentials of CREDENTIALS (written by `seed --hosts`), for SECONDS.
    Hosts {
        /// The server's base URL (https://127.0.0.1:PORT).
        #[arg(long)]
        url: String,
        /// The CA that signed the server's certificate (PEM).
        #[arg(long)]
        ca: PathBuf,
        #[arg(long)]
        credentials: PathBuf,
        /// The users file written by `seed` (members of the hosts' group).
        #[arg(long)]
        users: PathBuf,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Requests per second per host, kept under the server's per-host limit (100/s).
        #[arg(long, default_value_t = 98.0)]
        host_rate: f64,
        /// Stop after this many logins have started.
        #[arg(long)]
        max: Option<usize>,
        /// The server's process: RSS before and after, and CPU per verification.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Waits until a new 30-second TOTP step has just begun, so every user's code is unspent.
    WaitStep,
    /// Starts `BIN --config CONFIG serve` RUNS times and times each start until READY answers.
    Startup {
        #[arg(long)]
        bin: PathBuf,
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        ready: String,
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let out = match Cli::parse().command {
        Command::Seed {
            config,
            login_users,
            total_users,
            out,
            group,
            hosts,
            hosts_out,
        } => {
            let fleet = group.as_deref().map(|g| seed::Fleet {
                group: g,
                hosts,
                out: hosts_out.as_deref(),
            });
            seed::seed(&config, login_users, total_users, &out, fleet).await?
        }
        Command::Argon2 { config, seconds } => argon::bound(&config, seconds).await?,
        Command::Login {
            target,
            concurrency,
            seconds,
            max,
            offset,
            server_pid,
        } => load::logins(&target, concurrency, seconds, max, offset, server_pid).await?,
        Command::Hosts {
            url,
            ca,
            credentials,
            users,
            concurrency,
            seconds,
            host_rate,
            max,
            server_pid,
        } => {
            hosts::run(hosts::Options {
                url: &url,
                ca: &ca,
                credentials: &credentials,
                users: &users,
                concurrency,
                seconds,
                host_rate,
                max,
                server_pid,
            })
            .await?
        }
        Command::Refresh {
            target,
            concurrency,
            seconds,
            offset,
        } => load::refreshes(&target, concurrency, seconds, offset).await?,
        Command::WaitStep => {
            flow::wait_for_fresh_step().await;
            serde_json::json!({})
        }
        Command::Startup {
            bin,
            config,
            ready,
            runs,
        } => startup::measure(&bin, &config, &ready, runs).await?,
    };
    println!("{out}");
    Ok(())
}
