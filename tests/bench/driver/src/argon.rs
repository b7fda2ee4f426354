//! The machine's argon2id bound: how many password verifications per second the configured
//! parameters allow on all cores. A login verifies one password, so no login rate can exceed
//! this; the login benchmark is reported as a fraction of it.

use anyhow::Result;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepgate_core::config::Config;
use stepgate_core::password::{PasswordHasher, Scratch};

pub async fn bound(config: &Path, seconds: f64) -> Result<Value> {
    let config = Config::load(config)?;
    let hasher = Arc::new(PasswordHasher::new(&config.password)?);
    let phc = hasher.hash("bench-password-123")?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (hasher, phc) = (hasher.clone(), phc.clone());
            std::thread::spawn(move || {
                // Each thread keeps its working memory, as the server's hashing permits do.
                let mut scratch = Scratch::default();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    assert!(hasher.verify_in(&mut scratch, &phc, "bench-password-123"));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w
            .join()
            .map_err(|_| anyhow::anyhow!("hashing thread panicked"))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(json!({
        "threads": threads,
        "memory_kib": config.password.memory_kib,
        "iterations": config.password.iterations,
        "parallelism": config.password.parallelism,
        "verifications": total,
        "seconds": elapsed,
        "per_sec": total as f64 / elapsed,
    }))
}
