//! `stepgate group …`: groups of users, which registered hosts and OpenID Connect clients
//! admit (`stepgate client add --allow-group`), each a call into the core.

use super::{admin_ctx, open_core, CliError, CliResult, Io};
use crate::timefmt::seconds as format_time;
use clap::Subcommand;
use std::path::Path;
use stepgate_core::Error;

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group: 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit.
    Add { name: String },
    /// Remove a group and its memberships (the users stay).
    Remove { name: String },
    /// List groups with their member counts.
    List,
    /// Show a group and its members.
    Show { name: String },
    /// Add a user to a group (a member already is left as they are).
    AddMember { group: String, username: String },
    /// Take a user out of a group.
    RemoveMember { group: String, username: String },
}

/// The core says "group not found" or "user not found"; people typed names, so say which.
fn named(e: Error, group: &str, username: Option<&str>) -> CliError {
    match (e, username) {
        (Error::NotFound("group"), _) => CliError::Usage(format!("no group named {group:?}")),
        (Error::NotFound("user"), Some(u)) => CliError::Usage(format!("no user named {u:?}")),
        (Error::NotFound("group member"), Some(u)) => {
            CliError::Usage(format!("{u:?} is not a member of the group {group:?}"))
        }
        (other, _) => CliError::Core(other),
    }
}

pub async fn run(cmd: GroupCommand, config: &Path, io: &mut Io<'_>) -> CliResult {
    let ctx = admin_ctx();
    match cmd {
        GroupCommand::Add { name } => {
            // Checked before the database is opened, so a typo never touches it.
            stepgate_core::groups::validate_group_name("name", &name)?;
            let core = open_core(config).await?;
            let group = core.create_group(&ctx, None, &name).await?;
            writeln!(io.stdout, "created group {}", group.name)?;
        }
        GroupCommand::Remove { name } => {
            let core = open_core(config).await?;
            core.remove_group(&ctx, None, &name)
                .await
                .map_err(|e| named(e, &name, None))?;
            writeln!(io.stdout, "removed group {name}")?;
        }
        GroupCommand::List => {
            let core = open_core(config).await?;
            writeln!(io.stdout, "{:<32} {:>7} CREATED", "GROUP", "MEMBERS")?;
            for g in core.list_groups().await? {
                writeln!(
                    io.stdout,
                    "{:<32} {:>7} {}",
                    g.name,
                    g.members,
                    format_time(g.created_at)
                )?;
            }
        }
        GroupCommand::Show { name } => {
            let core = open_core(config).await?;
            let group = core
                .group(&name)
                .await?
                .ok_or_else(|| named(Error::NotFound("group"), &name, None))?;
            let members = core.group_members(&name).await?;
            let out = &mut io.stdout;
            writeln!(out, "group:    {}", group.name)?;
            writeln!(out, "created:  {}", format_time(group.created_at))?;
            if members.is_empty() {
                writeln!(out, "members:  none")?;
            } else {
                writeln!(out, "members:")?;
                for u in members {
                    writeln!(out, "  {}", u.username)?;
                }
            }
        }
        GroupCommand::AddMember { group, username } => {
            let core = open_core(config).await?;
            let added = core
                .add_group_member(&ctx, None, &group, &username)
                .await
                .map_err(|e| named(e, &group, Some(&username)))?;
            if added {
                writeln!(io.stdout, "added {username} to {group}")?;
            } else {
                writeln!(io.stdout, "{username} was already in {group}")?;
            }
        }
        GroupCommand::RemoveMember { group, username } => {
            let core = open_core(config).await?;
            core.remove_group_member(&ctx, None, &group, &username)
                .await
                .map_err(|e| named(e, &group, Some(&username)))?;
            writeln!(io.stdout, "removed {username} from {group}")?;
        }
    }
    Ok(())
}
