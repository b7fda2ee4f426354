//! `stepgate user …`: users and their second factors, each a call into the core.

use super::{admin_ctx, open_core, read_secret, CliError, CliResult, Io};
use crate::timefmt::seconds as format_time;
use clap::Subcommand;
use std::path::Path;
use stepgate_core::users::{NewUser, Role, User};
use stepgate_core::{Core, Error, ProviderType};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        username: String,
        #[arg(long)]
        email: String,
        /// Phone number in E.164 form (+15551231234).
        #[arg(long)]
        phone: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input (without it the user
        /// has no password and cannot sign in on the web).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users (optionally those whose name or email contains QUERY).
    List {
        #[arg(long, default_value = "")]
        query: String,
    },
    /// Show a user, their state and second factors (destinations masked).
    Show { username: String },
    /// Disable a user: no new logins, sessions end.
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// Lift a second-factor lockout and reset the failure counter.
    Unlock { username: String },
    /// Remove every second factor of a user; they enrol again at their next login.
    #[command(name = "reset-2fa")]
    Reset2fa { username: String },
    /// Set a user's password, read from the first line of standard input.
    SetPassword {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Provision TOTP for a user (e.g. SSH-only users) and print the otpauth:// URI.
    #[command(name = "enroll-totp")]
    EnrollTotp {
        username: String,
        /// Do not draw the QR code in the terminal.
        #[arg(long)]
        no_qr: bool,
    },
    /// Print a fresh list of backup codes, one per line (earlier codes stop working).
    #[command(name = "enroll-backup-codes")]
    EnrollBackupCodes { username: String },
}

/// The core says "user not found"; people typed a name, so say which.
async fn require(core: &Core, username: &str) -> CliResult<User> {
    core.user_by_username(username)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no user named {username:?}")))
}

fn named(e: Error, username: &str) -> CliError {
    match e {
        Error::NotFound("user") => CliError::Usage(format!("no user named {username:?}")),
        other => CliError::Core(other),
    }
}

fn status(u: &User) -> String {
    if u.disabled {
        "disabled".into()
    } else if u.locked {
        match u.locked_at {
            Some(t) => format!("locked since {}", format_time(t)),
            None => "locked".into(),
        }
    } else {
        "active".into()
    }
}

pub async fn run(cmd: UserCommand, config: &Path, io: &mut Io<'_>) -> CliResult {
    let ctx = admin_ctx();
    match cmd {
        UserCommand::Add {
            username,
            email,
            phone,
            name,
            admin,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_secret(io, "password")?)
            } else {
                None
            };
            let core = open_core(config).await?;
            let user = core
                .create_user(
                    &ctx,
                    NewUser {
                        username,
                        email,
                        phone,
                        display_name: name,
                        role: if admin { Role::Admin } else { Role::User },
                        password,
                    },
                )
                .await?;
            writeln!(io.stdout, "created user {} ({})", user.username, user.id)?;
        }
        UserCommand::List { query } => {
            let core = open_core(config).await?;
            let users = core.list_users(&query, 1000, 0).await?;
            writeln!(
                io.stdout,
                "{:<24} {:<6} {:<10} {:<28} EMAIL",
                "USERNAME", "ROLE", "STATUS", "SECOND FACTORS"
            )?;
            for u in users {
                let factors: Vec<&str> = core
                    .enrolled_providers(&u.id)
                    .await?
                    .iter()
                    .map(|p| p.provider.as_str())
                    .collect();
                let state = if u.disabled {
                    "disabled"
                } else if u.locked {
                    "locked"
                } else {
                    "active"
                };
                let factors = if factors.is_empty() {
                    "-".to_string()
                } else {
                    factors.join(",")
                };
                writeln!(
                    io.stdout,
                    "{:<24} {:<6} {:<10} {:<28} {}",
                    u.username,
                    u.role.as_str(),
                    state,
                    factors,
                    u.email
                )?;
            }
        }
        UserCommand::Show { username } => {
            let core = open_core(config).await?;
            let u = require(&core, &username).await?;
            let out = &mut io.stdout;
            writeln!(out, "username:        {}", u.username)?;
            writeln!(out, "id:              {}", u.id)?;
            writeln!(out, "name:            {}", u.display_name)?;
            writeln!(out, "email:           {}", u.email)?;
            writeln!(
                out,
                "phone:           {}",
                u.phone.as_deref().unwrap_or("-")
            )?;
            writeln!(out, "role:            {}", u.role.as_str())?;
            writeln!(out, "status:          {}", status(&u))?;
            writeln!(out, "2fa failures:    {}", u.twofa_failures)?;
            writeln!(out, "created:         {}", format_time(u.created_at))?;
            let providers = core.enrolled_providers(&u.id).await?;
            if providers.is_empty() {
                writeln!(out, "second factors:  none")?;
            } else {
                writeln!(out, "second factors:")?;
                for p in providers {
                    let mut line = format!("  {}", p.provider.as_str());
                    if let Some(d) = &p.destination {
                        line.push_str(&format!(" {d}"));
                    }
                    if p.provider == ProviderType::BackupCode {
                        let left = core.backup_codes_left(&u.id).await?;
                        line.push_str(&format!(" ({left} left)"));
                    }
                    if p.is_default {
                        line.push_str(" (default)");
                    }
                    line.push_str(&format!(", since {}", format_time(p.created_at)));
                    writeln!(out, "{line}")?;
                }
            }
        }
        UserCommand::Disable { username } => {
            let core = open_core(config).await?;
            core.set_disabled(&ctx, &username, true)
                .await
                .map_err(|e| named(e, &username))?;
            writeln!(io.stdout, "disabled {username}")?;
        }
        UserCommand::Enable { username } => {
            let core = open_core(config).await?;
            core.set_disabled(&ctx, &username, false)
                .await
                .map_err(|e| named(e, &username))?;
            writeln!(io.stdout, "enabled {username}")?;
        }
        UserCommand::Unlock { username } => {
            let core = open_core(config).await?;
            core.unlock_user(&ctx, &username)
                .await
                .map_err(|e| named(e, &username))?;
            writeln!(io.stdout, "unlocked {username}")?;
        }
        UserCommand::Reset2fa { username } => {
            let core = open_core(config).await?;
            core.reset_twofa(&ctx, &username)
                .await
                .map_err(|e| named(e, &username))?;
            writeln!(io.stdout, "removed every second factor of {username}")?;
        }
        UserCommand::SetPassword { username, .. } => {
            let password = read_secret(io, "password")?;
            let core = open_core(config).await?;
            core.set_password(&ctx, &username, &password)
                .await
                .map_err(|e| named(e, &username))?;
            writeln!(io.stdout, "password of {username} changed")?;
        }
        UserCommand::EnrollTotp { username, no_qr } => {
            let core = open_core(config).await?;
            let user = require(&core, &username).await?;
            let enrolment = core.provision_totp(&ctx, &user).await?;
            if !no_qr {
                match qrcode::QrCode::new(enrolment.otpauth_uri.as_bytes()) {
                    Ok(code) => {
                        use qrcode::render::unicode::Dense1x2;
                        let art = code
                            .render::<Dense1x2>()
                            .dark_color(Dense1x2::Light)
                            .light_color(Dense1x2::Dark)
                            .build();
                        writeln!(io.stdout, "{art}")?;
                    }
                    Err(e) => writeln!(io.stderr, "warning: no QR code: {e}")?,
                }
            }
            writeln!(io.stdout, "{}", enrolment.otpauth_uri)?;
        }
        UserCommand::EnrollBackupCodes { username } => {
            let core = open_core(config).await?;
            let user = require(&core, &username).await?;
            let codes = core.generate_backup_codes(&ctx, &user).await?;
            for c in codes {
                writeln!(io.stdout, "{c}")?;
            }
        }
    }
    Ok(())
}
