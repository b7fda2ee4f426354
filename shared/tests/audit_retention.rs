//! `[audit] retain_days`: events past it are pruned in batches, recent ones are kept, on SQLite
//! and PostgreSQL.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use stepgate_core::audit::{self, AuditFilter, Event, EventKind, PRUNE_BATCH};
use support::{both_backends, ctx, env_with, Backend, Env};

async fn count(env: &Env) -> usize {
    let f = AuditFilter {
        limit: 1000,
        ..Default::default()
    };
    let mut n = 0;
    let mut before = None;
    loop {
        let page = audit::list(
            env.core.db().pool(),
            &AuditFilter {
                before_id: before,
                ..f.clone()
            },
        )
        .await
        .unwrap();
        n += page.len();
        match page.last() {
            Some(last) if page.len() == 1000 => before = Some(last.id),
            _ => return n,
        }
    }
}

async fn events_at(env: &Env, at: i64, n: u32, detail: &str) {
    let mut tx = env.core.db().begin().await.unwrap();
    for _ in 0..n {
        audit::record(
            &mut tx,
            &ctx(),
            at,
            Event::new(EventKind::UserUpdated).detail(detail),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn old_events_are_pruned_and_recent_ones_kept(backend: Backend) {
    let env = env_with(backend, "[audit]\nretain_days = 30\n").await;
    let now = env.clock_now();
    let day = 86_400;
    // More than two batches past retention, one just inside it, and today's.
    events_at(&env, now - 400 * day, 2 * PRUNE_BATCH + 7, "old").await;
    events_at(&env, now - 30 * day - 1, 3, "just past").await;
    events_at(&env, now - 30 * day + 60, 2, "just inside").await;
    events_at(&env, now, 5, "today").await;
    let before = count(&env).await;

    let deleted = audit::prune(&env.core).await.unwrap();
    assert_eq!(deleted, u64::from(2 * PRUNE_BATCH + 10));
    assert_eq!(count(&env).await, before - deleted as usize);
    let left = audit::list(
        env.core.db().pool(),
        &AuditFilter {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(left.iter().all(|e| e.at >= now - 30 * day), "{left:?}");
    let kept = |d: &str| {
        left.iter()
            .filter(|e| e.detail.as_deref() == Some(d))
            .count()
    };
    assert_eq!((kept("just inside"), kept("today")), (2, 5));

    // Nothing more to do until time moves on; then the next run takes what aged out.
    assert_eq!(audit::prune(&env.core).await.unwrap(), 0);
    env.clock.advance(30 * day);
    assert_eq!(audit::prune(&env.core).await.unwrap(), 2);
    assert_eq!(count(&env).await, before - deleted as usize - 2);
}

both_backends!(old_events_are_pruned_and_recent_ones_kept);
