//! `stepgate client …`: OpenID Connect clients. A confidential client's secret is printed
//! once, as the last word of the last line, so scripts can take it with `tail -n1 | awk`.

use super::{audit, open_core, CliError, CliResult, Io};
use crate::store::clients::{self, GrantType, NewClient, SigningAlg};
use clap::Subcommand;
use std::path::Path;
use stepgate_core::audit::EventKind;
use stepgate_core::Error;

fn parse_grant(s: &str) -> Result<GrantType, String> {
    GrantType::parse(s).ok_or_else(|| {
        format!(
            "expected authorization_code, refresh_token, client_credentials or {}",
            clients::DEVICE_CODE_GRANT
        )
    })
}

fn parse_alg(s: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(s).ok_or_else(|| "expected ES256 or RS256".to_string())
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. Default grants: authorization_code and refresh_token.
    Add {
        client_id: String,
        /// A redirect URI, matched exactly (repeat for several).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A grant type the client may use (repeat for several).
        #[arg(long = "grant", value_name = "GRANT", value_parser = parse_grant)]
        grants: Vec<GrantType>,
        /// A public client (browser or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// A name shown on the sign-in page.
        #[arg(long, default_value = "")]
        name: String,
        /// Every login to this client must pass a second factor.
        #[arg(long = "require-2fa")]
        require_2fa: bool,
        /// Where the client may send users after logout (repeat for several).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A scope the client may ask for with client_credentials (repeat for several).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A Stepgate API scope the client may be granted: stepgate:account (users' own second
        /// factors) or stepgate:admin (administration). Without it, tokens issued to this
        /// client are refused by /api (repeat for both).
        #[arg(long = "api-scope", value_name = "SCOPE")]
        api_scopes: Vec<String>,
        /// Only members of this group may sign in to the client (repeat for several: members
        /// of any of them). Without it, every user may. The group must exist
        /// (`stepgate group add`).
        #[arg(long = "allow-group", value_name = "GROUP")]
        allowed_groups: Vec<String>,
        /// How ID tokens are signed for this client.
        #[arg(long = "id-token-alg", value_name = "ALG", default_value = "ES256", value_parser = parse_alg)]
        id_token_alg: SigningAlg,
    },
    /// List clients.
    List,
    /// Remove a client and everything issued to it.
    Remove { client_id: String },
    /// Give a confidential client a new secret; the old one stops working at once.
    RotateSecret { client_id: String },
}

fn named(e: Error, client_id: &str) -> CliError {
    match e {
        Error::NotFound("client") => CliError::Usage(format!("no client {client_id:?}")),
        other => CliError::Core(other),
    }
}

/// The store names a bad allowed group by its field; on the command line that is the flag.
fn flag_named(e: Error) -> CliError {
    match e {
        Error::Invalid { field, message, .. } if field == clients::ALLOW_GROUP => {
            CliError::Usage(format!("--allow-group: {message}"))
        }
        other => CliError::Core(other),
    }
}

pub async fn run(cmd: ClientCommand, config: &Path, io: &mut Io<'_>) -> CliResult {
    match cmd {
        ClientCommand::Add {
            client_id,
            redirect_uris,
            grants,
            public,
            name,
            require_2fa,
            post_logout_redirect_uris,
            scopes,
            api_scopes,
            allowed_groups,
            id_token_alg,
        } => {
            let mut grant_types = if grants.is_empty() {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            } else {
                grants
            };
            grant_types.dedup();
            let core = open_core(config).await?;
            let (client, secret) = clients::create(
                core.db(),
                NewClient {
                    client_id,
                    name,
                    public,
                    redirect_uris,
                    post_logout_redirect_uris,
                    grant_types,
                    scopes,
                    api_scopes,
                    allowed_groups,
                    require_2fa,
                    id_token_alg,
                },
                core.now(),
            )
            .await
            .map_err(flag_named)?;
            let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
            let kind = if client.is_public() {
                "public"
            } else {
                "confidential"
            };
            audit(
                &core,
                EventKind::ClientCreated,
                format!(
                    "client={} type={kind} grants={} require_2fa={} api_scopes={} \
                     allowed_groups={} redirect_uris={}",
                    client.client_id,
                    grants.join(","),
                    client.require_2fa,
                    client.api_scopes.join(","),
                    client.allowed_groups.join(","),
                    client.redirect_uris.join(" ")
                ),
            )
            .await?;
            let out = &mut io.stdout;
            writeln!(out, "client_id: {}", client.client_id)?;
            writeln!(out, "type: {kind}")?;
            writeln!(out, "grants: {}", grants.join(" "))?;
            for uri in &client.redirect_uris {
                writeln!(out, "redirect_uri: {uri}")?;
            }
            if !client.allowed_groups.is_empty() {
                writeln!(out, "allowed_groups: {}", client.allowed_groups.join(" "))?;
            }
            if !client.api_scopes.is_empty() {
                writeln!(out, "api_scopes: {}", client.api_scopes.join(" "))?;
                writeln!(
                    out,
                    "api_audience: {}",
                    crate::api_resource::audience(&core.config().server.issuer)
                )?;
            }
            if let Some(secret) = secret {
                writeln!(out, "client_secret (shown once): {secret}")?;
            }
        }
        ClientCommand::List => {
            let core = open_core(config).await?;
            writeln!(
                io.stdout,
                "{:<24} {:<12} {:<11} {:<44} REDIRECT URIS",
                "CLIENT_ID", "TYPE", "REQUIRE_2FA", "GRANTS"
            )?;
            for c in clients::list(core.db()).await? {
                let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
                writeln!(
                    io.stdout,
                    "{:<24} {:<12} {:<11} {:<44} {}",
                    c.client_id,
                    if c.is_public() {
                        "public"
                    } else {
                        "confidential"
                    },
                    if c.require_2fa { "yes" } else { "no" },
                    grants.join(","),
                    c.redirect_uris.join(" ")
                )?;
            }
        }
        ClientCommand::Remove { client_id } => {
            let core = open_core(config).await?;
            clients::remove(core.db(), &client_id)
                .await
                .map_err(|e| named(e, &client_id))?;
            audit(
                &core,
                EventKind::ClientRemoved,
                format!("client={client_id}; its codes and tokens are deleted"),
            )
            .await?;
            writeln!(io.stdout, "removed client {client_id}")?;
        }
        ClientCommand::RotateSecret { client_id } => {
            let core = open_core(config).await?;
            let secret = clients::rotate_secret(core.db(), &client_id, core.now())
                .await
                .map_err(|e| named(e, &client_id))?;
            audit(
                &core,
                EventKind::ClientSecretRotated,
                format!("client={client_id}; the previous secret no longer works"),
            )
            .await?;
            writeln!(io.stdout, "client_secret (shown once): {secret}")?;
        }
    }
    Ok(())
}
