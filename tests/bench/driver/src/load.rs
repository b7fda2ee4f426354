//! Many workers over one pool of users. A TOTP code is single-use per user and 30-second
//! step, so a worker takes a user whose code for the current step is unspent and marks it
//! spent; with too few users for the rate, workers wait for the next step rather than fail.

use crate::cpu;
use crate::flow::{unix_now, Flow};
use crate::seed::{read_users, BenchUser};
use crate::stats::quantile_ms;
use crate::Target;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stepgate_core::totp::step_of;

pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) secret: Vec<u8>,
    last_step: AtomicI64,
}

pub(crate) struct Pool {
    users: Vec<User>,
    pub(crate) password: String,
    next: AtomicUsize,
    /// Where the step each user last logged in is kept between runs of the driver, so the
    /// next run does not reuse a spent code.
    spent_file: PathBuf,
}

impl Pool {
    pub(crate) fn load(path: &Path, offset: usize) -> Result<Pool> {
        let file = read_users(path)?;
        let spent_file = path.with_extension("spent.json");
        let spent: HashMap<String, i64> = match std::fs::read_to_string(&spent_file) {
            Ok(text) => serde_json::from_str(&text)?,
            Err(_) => HashMap::new(),
        };
        let users = file
            .users
            .into_iter()
            .skip(offset)
            .map(|u: BenchUser| {
                let secret = totp_rs::Secret::Encoded(u.totp_secret)
                    .to_bytes()
                    .map_err(|e| anyhow::anyhow!("bad secret for {}: {e:?}", u.username))?;
                let last = spent.get(&u.username).copied().unwrap_or(-1);
                Ok(User {
                    name: u.username,
                    secret,
                    last_step: AtomicI64::new(last),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        anyhow::ensure!(!users.is_empty(), "no users left after --offset {offset}");
        Ok(Pool {
            users,
            password: file.password,
            next: AtomicUsize::new(0),
            spent_file,
        })
    }

    /// Records the steps spent in this run, beside those of earlier runs.
    pub(crate) fn save(&self) -> Result<()> {
        let mut spent: HashMap<String, i64> = match std::fs::read_to_string(&self.spent_file) {
            Ok(text) => serde_json::from_str(&text)?,
            Err(_) => HashMap::new(),
        };
        for u in &self.users {
            let step = u.last_step.load(Ordering::Relaxed);
            if step >= 0 {
                spent.insert(u.name.clone(), step);
            }
        }
        std::fs::write(&self.spent_file, serde_json::to_string(&spent)?)?;
        Ok(())
    }

    /// A user whose code for the current step is unspent, and the time to compute it at.
    async fn take(&self) -> (&User, u64) {
        loop {
            if let Some(found) = self.try_take() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// As [`Pool::take`], but gives up at `deadline` (every code of this step spent).
    pub(crate) async fn take_until(&self, deadline: Instant) -> Option<(&User, u64)> {
        loop {
            if let Some(found) = self.try_take() {
                return Some(found);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn try_take(&self) -> Option<(&User, u64)> {
        let now = unix_now();
        let step = step_of(now);
        for _ in 0..self.users.len() {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.users.len();
            let u = &self.users[i];
            let last = u.last_step.load(Ordering::Relaxed);
            if last < step
                && u.last_step
                    .compare_exchange(last, step, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                return Some((u, now));
            }
        }
        None
    }
}

#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) latencies: Vec<Duration>,
    errors: usize,
    samples: Vec<String>,
}

impl Tally {
    pub(crate) fn error(&mut self, e: anyhow::Error) {
        self.errors += 1;
        if self.samples.len() < 5 {
            self.samples.push(format!("{e:#}"));
        }
    }

    pub(crate) fn report(mut self, what: &str, concurrency: usize, elapsed: Duration) -> Value {
        self.latencies.sort();
        let n = self.latencies.len();
        json!({
            "workload": what,
            "concurrency": concurrency,
            "completed": n,
            "errors": self.errors,
            "error_samples": self.samples,
            "seconds": elapsed.as_secs_f64(),
            "per_sec": n as f64 / elapsed.as_secs_f64(),
            "p50_ms": quantile_ms(&self.latencies, 0.5),
            "p90_ms": quantile_ms(&self.latencies, 0.9),
            "p99_ms": quantile_ms(&self.latencies, 0.99),
        })
    }
}

/// Full logins for `seconds` (or until `max` logins have started) from `concurrency` workers.
pub async fn logins(
    target: &Target,
    concurrency: usize,
    seconds: f64,
    max: Option<usize>,
    offset: usize,
    server_pid: Option<u32>,
) -> Result<Value> {
    let pool = Arc::new(Pool::load(&target.users, offset)?);
    let cpu_before = server_pid.map(cpu::snapshot).transpose()?;
    let flow = Arc::new(Flow::new(target)?);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started_count = Arc::new(AtomicUsize::new(0));
    let limit = max.unwrap_or(usize::MAX);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (pool, flow, tally, count) = (
                pool.clone(),
                flow.clone(),
                tally.clone(),
                started_count.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < deadline && count.fetch_add(1, Ordering::Relaxed) < limit {
                    let (user, at) = pool.take().await;
                    let t0 = Instant::now();
                    let result = flow
                        .login(&user.name, &pool.password, &user.secret, at, "openid")
                        .await
                        .with_context(|| format!("login of {}", user.name));
                    let mut t = tally.lock().expect("tally");
                    match result {
                        Ok(_) => t.latencies.push(t0.elapsed()),
                        Err(e) => t.error(e),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed();
    let cpu_after = server_pid.map(cpu::snapshot).transpose()?;
    pool.save()?;
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("workers still running"))?
        .into_inner()
        .expect("tally");
    let logins = tally.latencies.len();
    let mut out = tally.report("login", concurrency, elapsed);
    if let (Some(before), Some(after)) = (&cpu_before, &cpu_after) {
        // The core runs only argon2 on the blocking pool during a login.
        out["server_cpu_per_login"] = cpu::per_op(before, after, logins);
    }
    Ok(out)
}

/// `concurrency` logins with `offline_access`, then each worker rotates its own refresh token
/// for `seconds`.
pub async fn refreshes(
    target: &Target,
    concurrency: usize,
    seconds: f64,
    offset: usize,
) -> Result<Value> {
    let pool = Pool::load(&target.users, offset)?;
    let flow = Arc::new(Flow::new(target)?);
    let mut chains = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (user, at) = pool.take().await;
        let tokens = flow
            .login(
                &user.name,
                &pool.password,
                &user.secret,
                at,
                "openid offline_access",
            )
            .await
            .with_context(|| format!("login of {} for a refresh token", user.name))?;
        chains.push(
            tokens
                .refresh_token
                .context("no refresh token: does the client allow the refresh_token grant?")?,
        );
    }
    pool.save()?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = chains
        .into_iter()
        .map(|mut token| {
            let (flow, tally) = (flow.clone(), tally.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let result = flow.refresh(&token).await;
                    let mut t = tally.lock().expect("tally");
                    match result.and_then(|r| r.refresh_token.context("no rotated refresh token")) {
                        Ok(next) => {
                            t.latencies.push(t0.elapsed());
                            token = next;
                        }
                        Err(e) => {
                            // The chain is broken (revoked or spent): this worker stops.
                            t.error(e);
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed();
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("workers still running"))?
        .into_inner()
        .expect("tally");
    Ok(tally.report("refresh", concurrency, elapsed))
}
