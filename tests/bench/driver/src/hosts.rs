//! Fleet mode from the server's side: registered hosts asking it to verify TOTP logins over
//! the host protocol (`/pam/v1/begin`, then `/pam/v1/check` with the code), as the PAM module
//! in remote mode does.
//!
//! Each worker is one HTTPS keep-alive connection (HTTP/1.1, as the module speaks) and uses
//! its share of the host credentials in turn, each at most `host_rate` requests a second so
//! that no host meets the server's per-host request limit; a login is two requests. A
//! verification is a check answered `verified`; its latency is the whole begin + check.

use crate::cpu;
use crate::load::{Pool, Tally};
use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stepgate_core::totp::{self, Algorithm};

pub struct Options<'a> {
    pub url: &'a str,
    pub ca: &'a Path,
    pub credentials: &'a Path,
    pub users: &'a Path,
    pub concurrency: usize,
    pub seconds: f64,
    pub host_rate: f64,
    pub max: Option<usize>,
    pub server_pid: Option<u32>,
}

/// Why a login did not end verified, by step and answer (the map the report shows).
struct Failed {
    kind: String,
    detail: anyhow::Error,
}

fn failed(kind: impl Into<String>, detail: anyhow::Error) -> Failed {
    Failed {
        kind: kind.into(),
        detail,
    }
}

struct Host {
    credential: String,
    next: Instant,
}

struct Worker {
    http: reqwest::Client,
    base: String,
    hosts: Vec<Host>,
    turn: usize,
    /// Seconds between two logins of one host (two requests each).
    spacing: Duration,
}

impl Worker {
    /// The next host in turn, once its pace allows another login.
    async fn host(&mut self) -> usize {
        let i = self.turn % self.hosts.len();
        self.turn += 1;
        let now = Instant::now();
        let at = self.hosts[i].next;
        if at > now {
            tokio::time::sleep_until(at.into()).await;
        }
        self.hosts[i].next = at.max(Instant::now()) + self.spacing;
        i
    }

    async fn post(&self, host: usize, path: &str, body: Value) -> Result<(u16, Value), Failed> {
        let phase = path.trim_start_matches("/pam/v1/");
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.hosts[host].credential)
            .json(&body)
            .send()
            .await
            .map_err(|e| failed(format!("{phase}: transport"), e.into()))?;
        let status = resp.status().as_u16();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| failed(format!("{phase}: {status}, not JSON"), e.into()))?;
        if status != 200 {
            let error = body["error"].as_str().unwrap_or("?").to_string();
            return Err(failed(
                format!("{phase}: {status} {error}"),
                anyhow::anyhow!("{phase} answered {status}: {body}"),
            ));
        }
        Ok((status, body))
    }

    /// begin + check with the user's current code; `Ok` only when verified.
    async fn login(&self, host: usize, user: &str, secret: &[u8], at: u64) -> Result<(), Failed> {
        let (_, begun) = self
            .post(
                host,
                "/pam/v1/begin",
                json!({"user": user, "service": "sshd", "rhost": "192.0.2.1"}),
            )
            .await?;
        let Some(conversation) = begun["challenge"]["conversation"].as_str() else {
            let ending = begun["ended"]["ending"].as_str().unwrap_or("?");
            return Err(failed(
                format!("begin: ended {ending}"),
                anyhow::anyhow!("begin for {user}: {begun}"),
            ));
        };
        let code = totp::code_at(secret, Algorithm::SHA1, 6, at);
        let (_, outcome) = self
            .post(
                host,
                "/pam/v1/check",
                json!({"conversation": conversation, "provider": "TOTP", "code": code}),
            )
            .await?;
        if outcome["verified"].is_string() {
            Ok(())
        } else if outcome.get("wrong_code").is_some() {
            Err(failed(
                "check: wrong_code",
                anyhow::anyhow!("the code of {user} was refused: {outcome}"),
            ))
        } else {
            Err(failed(
                "check: other answer",
                anyhow::anyhow!("check for {user}: {outcome}"),
            ))
        }
    }
}

#[derive(Default)]
struct Results {
    tally: Tally,
    requests: usize,
    by_kind: BTreeMap<String, usize>,
    out_of_users: usize,
}

pub async fn run(o: Options<'_>) -> Result<Value> {
    let credentials: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(o.credentials)
            .with_context(|| format!("reading {:?}", o.credentials))?,
    )?;
    ensure!(
        o.concurrency >= 1 && credentials.len() >= o.concurrency,
        "{} credentials for {} workers: each worker needs at least one host",
        credentials.len(),
        o.concurrency
    );
    ensure!(o.host_rate > 0.0, "--host-rate must be positive");
    let ca = reqwest::Certificate::from_pem(
        &std::fs::read(o.ca).with_context(|| format!("reading {:?}", o.ca))?,
    )?;
    let pool = Arc::new(Pool::load(o.users, 0)?);
    let spacing = Duration::from_secs_f64(2.0 / o.host_rate);
    let mut workers = Vec::with_capacity(o.concurrency);
    for w in 0..o.concurrency {
        let http = reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .http1_only()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(10))
            .build()?;
        let now = Instant::now();
        let hosts = credentials
            .iter()
            .skip(w)
            .step_by(o.concurrency)
            .map(|c| Host {
                credential: c.clone(),
                next: now,
            })
            .collect();
        workers.push(Worker {
            http,
            base: o.url.trim_end_matches('/').to_string(),
            hosts,
            turn: 0,
            spacing,
        });
    }

    let rss_before = o.server_pid.map(cpu::rss_kib).transpose()?;
    let cpu_before = o.server_pid.map(cpu::snapshot).transpose()?;
    let driver_before = cpu::own_cpu_ms();
    let results = Arc::new(Mutex::new(Results::default()));
    let begun = Arc::new(AtomicUsize::new(0));
    let limit = o.max.unwrap_or(usize::MAX);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(o.seconds);
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            let (pool, results, begun) = (pool.clone(), results.clone(), begun.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline && begun.fetch_add(1, Ordering::Relaxed) < limit {
                    let host = worker.host().await;
                    let Some((user, at)) = pool.take_until(deadline).await else {
                        results.lock().expect("results").out_of_users += 1;
                        break;
                    };
                    let t0 = Instant::now();
                    let outcome = worker.login(host, &user.name, &user.secret, at).await;
                    let took = t0.elapsed();
                    let mut r = results.lock().expect("results");
                    match outcome {
                        Ok(()) => {
                            r.requests += 2;
                            r.tally.latencies.push(took);
                        }
                        Err(f) => {
                            r.requests += if f.kind.starts_with("begin") { 1 } else { 2 };
                            *r.by_kind.entry(f.kind).or_default() += 1;
                            r.tally.error(f.detail);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();
    let driver_ms = cpu::own_cpu_ms() - driver_before;
    let cpu_after = o.server_pid.map(cpu::snapshot).transpose()?;
    let rss_after = o.server_pid.map(cpu::rss_kib).transpose()?;
    pool.save()?;
    let mut r = Arc::try_unwrap(results)
        .map_err(|_| anyhow::anyhow!("workers still running"))?
        .into_inner()
        .expect("results");
    let verified = r.tally.latencies.len();
    let mut out = std::mem::take(&mut r.tally).report("hosts", o.concurrency, elapsed);
    out["hosts"] = json!(credentials.len());
    out["host_rate"] = json!(o.host_rate);
    out["requests"] = json!(r.requests);
    out["requests_per_sec"] = json!(r.requests as f64 / elapsed.as_secs_f64());
    out["errors_by_kind"] = json!(r.by_kind);
    out["workers_out_of_users"] = json!(r.out_of_users);
    out["driver_cpu_ms_per_verification"] = json!(driver_ms / verified.max(1) as f64);
    if let (Some(b), Some(a)) = (rss_before, rss_after) {
        out["rss_before_kib"] = json!(b);
        out["rss_after_kib"] = json!(a);
    }
    if let (Some(before), Some(after)) = (&cpu_before, &cpu_after) {
        out["server_cpu_per_verification"] = cpu::per_op(before, after, verified);
    }
    if verified == 0 {
        bail!("no verification succeeded: {out}");
    }
    Ok(out)
}
