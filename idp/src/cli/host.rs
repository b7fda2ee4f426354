//! `stepgate host …`: registered hosts (fleet mode), whose PAM module verifies logins through
//! this server with a credential of its own. The credential is printed once, as the last word
//! of the output, for scripts: `stepgate host add web-01 --allow-group ops | tail -n1 >
//! host.credential`.

use super::{admin_ctx, open_core, CliError, CliResult, Io};
use crate::timefmt::seconds as format_time;
use clap::Subcommand;
use std::path::Path;
use stepgate_core::hosts::Host;
use stepgate_core::Error;

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Register a host and print its credential (shown once). A host admits only members of
    /// its allowed groups: with none, no one can log in there.
    Add {
        name: String,
        /// A group whose members may log in at this host (repeatable).
        #[arg(long = "allow-group", value_name = "GROUP")]
        allow_group: Vec<String>,
    },
    /// List registered hosts with their groups and when they were last seen.
    List,
    /// Show one host.
    Show { name: String },
    /// Unregister a host: its credential stops working at once.
    Remove { name: String },
    /// Give a host a new credential (shown once); the old one stops working at once.
    RotateCredential { name: String },
    /// Let members of GROUP log in at host NAME.
    Allow { name: String, group: String },
    /// Stop letting members of GROUP log in at host NAME.
    Deny { name: String, group: String },
}

/// People typed the names: say which one is unknown.
fn named(e: Error, host: &str) -> CliError {
    match e {
        Error::NotFound("host") => CliError::Usage(format!("no host named {host:?}")),
        other => CliError::Core(other),
    }
}

fn show(out: &mut dyn std::io::Write, h: &Host) -> CliResult {
    writeln!(out, "host:           {}", h.name)?;
    writeln!(out, "allowed groups: {}", groups_text(h))?;
    writeln!(out, "registered:     {}", format_time(h.created_at))?;
    writeln!(out, "credential:     made {}", format_time(h.rotated_at))?;
    match (h.last_seen_at, h.last_seen_addr.as_deref()) {
        (Some(at), addr) => writeln!(
            out,
            "last seen:      {} from {}",
            format_time(at),
            addr.unwrap_or("?")
        )?,
        (None, _) => writeln!(out, "last seen:      never")?,
    }
    Ok(())
}

fn groups_text(h: &Host) -> String {
    if h.allowed_groups.is_empty() {
        "none (no one can log in)".into()
    } else {
        h.allowed_groups.join(", ")
    }
}

pub async fn run(cmd: HostCommand, config: &Path, io: &mut Io<'_>) -> CliResult {
    let ctx = admin_ctx();
    match cmd {
        HostCommand::Add { name, allow_group } => {
            // Checked before the database is opened, so a typo never touches it.
            stepgate_core::hosts::check_host_name(&name)?;
            let core = open_core(config).await?;
            let (host, credential) =
                core.add_host(&ctx, &name, &allow_group)
                    .await
                    .map_err(|e| match e {
                        Error::Invalid { field, message, .. } if field == "group" => {
                            CliError::Usage(format!("--allow-group: {message}"))
                        }
                        other => CliError::Core(other),
                    })?;
            writeln!(io.stdout, "registered host {}", host.name)?;
            if host.allowed_groups.is_empty() {
                writeln!(
                    io.stdout,
                    "warning: no allowed groups, so no one can log in at this host yet \
                     (stepgate host allow {} GROUP)",
                    host.name
                )?;
            } else {
                writeln!(io.stdout, "allowed groups: {}", groups_text(&host))?;
            }
            writeln!(
                io.stdout,
                "credential (shown once; put it in /etc/stepgate/host.credential, mode 0600):"
            )?;
            writeln!(io.stdout, "{}", credential.0)?;
        }
        HostCommand::List => {
            let core = open_core(config).await?;
            writeln!(
                io.stdout,
                "{:<28} {:<28} {:<24} LAST ADDRESS",
                "HOST", "ALLOWED GROUPS", "LAST SEEN"
            )?;
            for h in core.list_hosts().await? {
                let groups = if h.allowed_groups.is_empty() {
                    "-".to_string()
                } else {
                    h.allowed_groups.join(",")
                };
                writeln!(
                    io.stdout,
                    "{:<28} {:<28} {:<24} {}",
                    h.name,
                    groups,
                    h.last_seen_at
                        .map(format_time)
                        .unwrap_or_else(|| "never".into()),
                    h.last_seen_addr.as_deref().unwrap_or("-")
                )?;
            }
        }
        HostCommand::Show { name } => {
            let core = open_core(config).await?;
            let h = core.host(&name).await.map_err(|e| named(e, &name))?;
            show(io.stdout, &h)?;
        }
        HostCommand::Remove { name } => {
            let core = open_core(config).await?;
            core.remove_host(&ctx, &name)
                .await
                .map_err(|e| named(e, &name))?;
            writeln!(
                io.stdout,
                "removed host {name}; its credential no longer works"
            )?;
        }
        HostCommand::RotateCredential { name } => {
            let core = open_core(config).await?;
            let credential = core
                .rotate_host_credential(&ctx, &name)
                .await
                .map_err(|e| named(e, &name))?;
            writeln!(
                io.stdout,
                "new credential for {name}; the previous one no longer works (shown once):"
            )?;
            writeln!(io.stdout, "{}", credential.0)?;
        }
        HostCommand::Allow { name, group } => {
            let core = open_core(config).await?;
            let h = core
                .allow_host_group(&ctx, &name, &group)
                .await
                .map_err(|e| named(e, &name))?;
            writeln!(io.stdout, "host {name} allows: {}", groups_text(&h))?;
        }
        HostCommand::Deny { name, group } => {
            let core = open_core(config).await?;
            let h = core
                .deny_host_group(&ctx, &name, &group)
                .await
                .map_err(|e| named(e, &name))?;
            writeln!(io.stdout, "host {name} allows: {}", groups_text(&h))?;
        }
    }
    Ok(())
}
