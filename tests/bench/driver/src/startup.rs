//! Start-up to ready: from spawning `stepgate serve` on an existing database to the first 200
//! from its readiness endpoint, polled every millisecond.

use crate::stats::median;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub async fn measure(bin: &Path, config: &Path, ready: &str, runs: usize) -> Result<Value> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()?;
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = tokio::process::Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {bin:?}"))?;
        let deadline = started + Duration::from_secs(20);
        loop {
            if let Ok(resp) = http.get(ready).send().await {
                if resp.status().is_success() {
                    break;
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{bin:?} was not ready within 20 s"
            );
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("{bin:?} exited before it was ready: {status}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if let Some(pid) = child.id() {
            // SIGTERM: the graceful shutdown a service manager would ask for.
            // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        child.wait().await?;
    }
    let all = ms.clone();
    Ok(json!({ "runs": runs, "ms": all, "median_ms": median(&mut ms) }))
}
