//! Seeding: users who can log in (password + TOTP, through the core's own APIs) and filler
//! users (rows only), so a benchmark can run against a database of realistic size.
//!
//! Every user gets the same password hash, computed once: hashing 100,000 passwords would take
//! most of an hour, and a filler user never logs in. Filler rows are inserted directly, in
//! batches; their TOTP row copies one real user's encrypted secret (never decrypted, since
//! they never log in) so the providers table grows with the users table.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;
use stepgate_core::config::Config;
use stepgate_core::password::PasswordHasher;
use stepgate_core::users::{NewUser, Role};
use stepgate_core::{Core, RequestContext, Source};

pub const PASSWORD: &str = "bench-password-123";

#[derive(Serialize, Deserialize, Clone)]
pub struct BenchUser {
    pub username: String,
    pub totp_secret: String,
}

#[derive(Serialize, Deserialize)]
pub struct UsersFile {
    pub password: String,
    pub users: Vec<BenchUser>,
}

pub fn read_users(path: &Path) -> Result<UsersFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
    Ok(serde_json::from_str(&text)?)
}

/// Fleet mode's part of a seed: a group of the login users and hosts that admit it.
pub struct Fleet<'a> {
    pub group: &'a str,
    pub hosts: usize,
    pub out: Option<&'a Path>,
}

pub async fn seed(
    config: &Path,
    login_users: usize,
    total_users: usize,
    out: &Path,
    fleet: Option<Fleet<'_>>,
) -> Result<Value> {
    anyhow::ensure!(login_users >= 1, "--login-users must be at least 1");
    let config = Config::load(config)?;
    let hash = PasswordHasher::new(&config.password)?.hash(PASSWORD)?;
    let core = Core::open(config).await?;
    let ctx = RequestContext::new(Source::Admin);
    let started = std::time::Instant::now();

    let mut users = Vec::with_capacity(login_users);
    for i in 0..login_users {
        let username = format!("bench{i}");
        let user = core
            .create_user(
                &ctx,
                NewUser {
                    username: username.clone(),
                    email: format!("{username}@example.com"),
                    phone: None,
                    display_name: None,
                    role: Role::User,
                    password: None,
                },
            )
            .await?;
        let totp = core.provision_totp(&ctx, &user).await?;
        users.push(BenchUser {
            username,
            totp_secret: totp.secret_base32,
        });
    }
    sqlx::query("UPDATE users SET password_hash = $1 WHERE username LIKE 'bench%'")
        .bind(&hash)
        .execute(core.db().pool())
        .await?;

    let filler = total_users.saturating_sub(login_users);
    insert_filler(&core, filler, &hash).await?;
    if let Some(f) = &fleet {
        seed_fleet(&core, &ctx, f).await?;
    }
    core.close().await;

    std::fs::write(
        out,
        serde_json::to_string(&UsersFile {
            password: PASSWORD.into(),
            users,
        })?,
    )?;
    Ok(json!({
        "login_users": login_users,
        "filler_users": filler,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

/// The group through the core, its members in one statement (one audited insert per member
/// would be most of the seed's time for nothing a benchmark reads), the hosts through the core.
async fn seed_fleet(core: &Core, ctx: &RequestContext, f: &Fleet<'_>) -> Result<()> {
    core.create_group(ctx, None, f.group).await?;
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id) \
         SELECT g.id, u.id FROM groups g, users u WHERE g.name = $1 AND u.username LIKE 'bench%'",
    )
    .bind(f.group)
    .execute(core.db().pool())
    .await?;
    let mut credentials = Vec::with_capacity(f.hosts);
    for i in 0..f.hosts {
        let (_, credential) = core
            .add_host(ctx, &format!("bench-host-{i}"), &[f.group.to_string()])
            .await?;
        credentials.push(credential.0);
    }
    if let Some(out) = f.out {
        std::fs::write(out, serde_json::to_string(&credentials)?)?;
    }
    Ok(())
}

/// Rows per INSERT: 8 binds each stays far below SQLite's and PostgreSQL's bind limits.
const BATCH: usize = 500;

async fn insert_filler(core: &Core, count: usize, hash: &str) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let (config_enc,): (String,) =
        sqlx::query_as("SELECT config_enc FROM user_providers WHERE provider = 'TOTP' LIMIT 1")
            .fetch_one(core.db().pool())
            .await?;
    let now = core.now();
    let mut done = 0;
    while done < count {
        let n = BATCH.min(count - done);
        let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        let mut users = String::from(
            "INSERT INTO users (id, username, email, role, password_hash, created_at, updated_at) VALUES ",
        );
        let mut providers = String::from(
            "INSERT INTO user_providers (user_id, provider, is_default, config_enc, created_at, updated_at) VALUES ",
        );
        for k in 0..n {
            let b = k * 3;
            if k > 0 {
                users.push(',');
                providers.push(',');
            }
            users.push_str(&format!(
                "(${}, ${}, ${}, 'user', $1, $2, $2)",
                b + 3,
                b + 4,
                b + 5
            ));
            providers.push_str(&format!("(${}, 'TOTP', 1, $1, $2, $2)", k + 3));
        }
        let mut tx = core.db().begin().await?;
        let mut q = sqlx::query(&users).bind(hash).bind(now);
        for (k, id) in ids.iter().enumerate() {
            let name = format!("filler{}", done + k);
            q = q
                .bind(id.clone())
                .bind(name.clone())
                .bind(format!("{name}@example.com"));
        }
        q.execute(&mut *tx).await?;
        let mut q = sqlx::query(&providers).bind(&config_enc).bind(now);
        for id in &ids {
            q = q.bind(id.clone());
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        done += n;
    }
    Ok(())
}
