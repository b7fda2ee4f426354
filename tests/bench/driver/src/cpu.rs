//! Where a server's CPU went during a run: per-thread user + system time from
//! `/proc/PID/task/*/stat`, before and after, grouped by what the threads do.
//!
//! `stepgate serve` runs tokio's multi-threaded runtime, its threads named `stepgate-rt`
//! (idp/src/main.rs): one worker per CPU (the first it starts, so the lowest thread ids) and
//! the blocking pool, where the
//! core runs argon2 and nothing else of a login; sqlx's SQLite driver runs each connection on
//! a thread of its own (`sqlx-sqlite-worker-N`). Blocking-pool threads that exit during a run
//! (idle for 10 s) are counted from the process's total, which keeps exited threads' time.

use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The name `stepgate serve` gives its runtime's threads (workers and blocking pool alike).
const RUNTIME_THREAD: &str = "stepgate-rt";

/// Per-thread CPU in clock ticks, and the whole process's (exited threads included).
pub struct Snapshot {
    process: u64,
    threads: BTreeMap<u32, (String, u64)>,
}

/// `(comm, utime + stime)` from a `stat` line; the name may hold spaces and parentheses.
fn parse_stat(text: &str) -> Option<(String, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), utime 14 and stime 15.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

pub fn snapshot(pid: u32) -> Result<Snapshot> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat (is the server running?)"))?;
    let (_, process) = parse_stat(&stat).context("unreadable /proc/PID/stat")?;
    let mut threads = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        // A thread may exit between the listing and the read.
        if let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) {
            if let Some(t) = parse_stat(&text) {
                threads.insert(tid, t);
            }
        }
    }
    Ok(Snapshot { process, threads })
}

/// Milliseconds of CPU per operation between `before` and `after`, by kind of thread.
pub fn per_op(before: &Snapshot, after: &Snapshot, ops: usize) -> Value {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ms = |ticks: u64| ticks as f64 * 1000.0 / hz / ops.max(1) as f64;
    let tokio: Vec<u32> = after
        .threads
        .iter()
        .filter(|(_, (name, _))| name == RUNTIME_THREAD)
        .map(|(tid, _)| *tid)
        .collect();
    let (mut worker, mut sqlite, mut other, mut counted) = (0u64, 0u64, 0u64, 0u64);
    for (tid, (name, ticks)) in &after.threads {
        let delta = ticks - before.threads.get(tid).map_or(0, |t| t.1.min(*ticks));
        if tokio.iter().take(workers).any(|w| w == tid) {
            worker += delta;
        } else if name.starts_with("sqlx-sqlite") {
            sqlite += delta;
        } else if name == RUNTIME_THREAD {
            continue; // blocking pool: the rest of the process's time, below
        } else {
            other += delta;
        }
        counted += delta;
    }
    let total = after.process.saturating_sub(before.process);
    let blocking = total.saturating_sub(counted);
    let outside = worker + sqlite + other;
    json!({
        "ops": ops,
        "total_ms": ms(total),
        "blocking_pool_ms": ms(blocking),
        "tokio_workers_ms": ms(worker),
        "sqlite_threads_ms": ms(sqlite),
        "other_threads_ms": ms(other),
        "outside_blocking_ms": ms(outside),
        "outside_over_blocking": if blocking > 0 { outside as f64 / blocking as f64 } else { f64::NAN },
    })
}

/// `VmRSS` of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// The driver's own CPU so far (user + system), in milliseconds.
pub fn own_cpu_ms() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    tv(u.ru_utime) + tv(u.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 5 1000 10";
        assert_eq!(parse_stat(line), Some(("a (b) c".into(), 10)));
    }
}
