//! `stepgate keys …`: token signing keys.

use super::{audit, open_core, CliResult, Io};
use crate::state::Settings;
use crate::store::keys::Keys;
use crate::timefmt::seconds as format_time;
use clap::Subcommand;
use std::path::Path;
use stepgate_core::audit::EventKind;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key per algorithm (ES256, RS256); the previous ones stop signing and
    /// stay in the JWKS for `server.retired_key_lifetime` seconds.
    Rotate,
    /// List signing keys.
    List,
}

pub async fn run(cmd: KeysCommand, config: &Path, io: &mut Io<'_>) -> CliResult {
    let core = open_core(config).await?;
    let keys = Keys::new(core.clone());
    match cmd {
        KeysCommand::Rotate => {
            let settings = Settings::from_config(&core.config().server)
                .map_err(crate::app::StartError::from)?;
            let added = keys.rotate(settings.retired_key_lifetime).await?;
            let names: Vec<String> = added
                .iter()
                .map(|(alg, kid)| format!("{} {kid}", alg.as_str()))
                .collect();
            audit(
                &core,
                EventKind::SigningKeyRotated,
                format!("new signing keys: {}", names.join(", ")),
            )
            .await?;
            for (alg, kid) in &added {
                writeln!(io.stdout, "new {} key {kid}", alg.as_str())?;
            }
        }
        KeysCommand::List => {
            writeln!(
                io.stdout,
                "{:<24} {:<6} {:<10} CREATED",
                "KID", "ALG", "STATE"
            )?;
            for k in keys.list().await? {
                let state = match (k.retired_at, k.expires_at) {
                    (None, _) => "active".to_string(),
                    (Some(_), Some(exp)) => format!("retired, leaves JWKS {}", format_time(exp)),
                    (Some(_), None) => "retired".to_string(),
                };
                writeln!(
                    io.stdout,
                    "{:<24} {:<6} {:<10} {}",
                    k.kid,
                    k.alg,
                    state,
                    format_time(k.created_at)
                )?;
            }
        }
    }
    Ok(())
}
