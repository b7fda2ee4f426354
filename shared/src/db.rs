//! Storage: one pool over SQLite (embedded default) or PostgreSQL, chosen by the URL.
//!
//! Queries are written once against sqlx's `Any` driver with `$N` placeholders, which both
//! backends accept; types stay within what `Any` carries (TEXT, BIGINT, NULL), so no query is
//! written twice. Only the migrations and [`Db::begin_locked`] differ per backend.
//!
//! Concurrency: every policy decision runs in one transaction that first takes the user's
//! lock — `SELECT … FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` (the database write lock) on
//! SQLite — so two processes checking codes for one user are serialised and counters cannot
//! be raced past their limits.

use crate::error::Result;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

/// Which database engine is behind the pool: the few statements that differ (locking, the
/// migrations) choose by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded file: one machine, writers take turns on the database lock.
    Sqlite,
    /// A server shared by several instances and hosts; writers lock the user's row.
    Postgres,
}

impl Backend {
    /// The backend a database URL names (the configuration check accepts only these two).
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

/// A write transaction (see [`Db::begin`]); it derefs to the connection, so queries run on
/// `&mut *tx`.
pub struct Tx {
    inner: Transaction<'static, Any>,
}

impl Tx {
    /// Makes the change and its audit events durable together.
    pub async fn commit(self) -> Result<()> {
        self.inner.commit().await?;
        Ok(())
    }

    /// Undoes everything in the transaction at once (dropping it does too, but this reports
    /// a failure to do so).
    pub async fn rollback(self) -> Result<()> {
        self.inner.rollback().await?;
        Ok(())
    }
}

impl std::ops::Deref for Tx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }
}

/// The database every process of a deployment shares; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Where write transactions begin (see [`Db::begin`]): on SQLite in a long-lived
    /// process, a pool of one connection; otherwise the same pool as `pool`.
    writer: AnyPool,
}

/// Every SQLite connection: WAL lets readers run beside the one writer; the busy timeout makes
/// a second process wait for the write lock instead of failing at once.
macro_rules! sqlite_pragmas {
    () => {
        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
         PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
    };
}
const SQLITE_PRAGMAS: &str = sqlite_pragmas!();

/// [`SQLITE_PRAGMAS`] for a process that lives for one login (see [`Db::connect_existing`]):
/// its commits checkpoint the log after 100 pages instead of SQLite's 1000. A PAM login writes
/// about a dozen, so this is a checkpoint every few logins and at most ~400 KiB of log for the
/// next process to re-read (the first connection of a process that finds no other one on the
/// database re-reads the whole log, and a long log is most of a login's time).
const SQLITE_PRAGMAS_SHORT_LIVED: &str =
    concat!(sqlite_pragmas!(), " PRAGMA wal_autocheckpoint = 100;");

/// The `platform_settings` row that [`Db::write_probe`] rewrites; nothing reads it.
const WRITE_PROBE_NAME: &str = "write_probe";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects, prepares SQLite for several writing processes, and applies migrations.
    pub async fn connect(url: &str, max_connections: u32, timeout: Duration) -> Result<Db> {
        let db = Self::open_pool(url, max_connections, timeout, false).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Connects to a database that `stepgate serve` has already migrated, and checks that it
    /// has. The PAM module uses this: it runs inside sshd or sudo, where changing the schema
    /// (and waiting on the migration lock) has no business happening.
    pub async fn connect_existing(
        url: &str,
        max_connections: u32,
        timeout: Duration,
    ) -> Result<Db> {
        let db = Self::open_pool(url, max_connections, timeout, true).await?;
        let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations")
            .fetch_all(&db.pool)
            .await
            .unwrap_or_default();
        let missing = db
            .migrator()
            .iter()
            .any(|m| !applied.iter().any(|(v,)| *v == m.version));
        if missing {
            db.close().await;
            return Err(crate::error::Error::Internal(
                "the database schema is missing or older than this program: start \
                 `stepgate serve` (which migrates it) once with this configuration"
                    .into(),
            ));
        }
        Ok(db)
    }

    /// `short_lived`: the process lives for one login (the PAM module); see
    /// [`SQLITE_PRAGMAS_SHORT_LIVED`].
    async fn open_pool(
        url: &str,
        max_connections: u32,
        timeout: Duration,
        short_lived: bool,
    ) -> Result<Db> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let backend = Backend::of_url(url);
        let url = if backend == Backend::Sqlite {
            sqlite_url_with_create(url)?
        } else {
            url.to_string()
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool_of = |size: u32| {
            AnyPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(timeout)
                // A SQLite connection is a file handle in this process: it cannot have gone
                // stale the way a network connection can, so it is not pinged before each use.
                .test_before_acquire(backend == Backend::Postgres)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // One round trip to the connection's thread for all the PRAGMAs.
                            conn.execute(if short_lived {
                                SQLITE_PRAGMAS_SHORT_LIVED
                            } else {
                                SQLITE_PRAGMAS
                            })
                            .await?;
                        }
                        Ok(())
                    })
                })
                .after_release(|conn, _meta| Box::pin(still_outside_a_transaction(conn)))
        };
        let pool = pool_of(max_connections)
            .connect_with(options.clone())
            .await?;
        // SQLite has one writer at a time. A long-lived process writes through one connection
        // of its own: its writers queue for it in order instead of meeting at `BEGIN
        // IMMEDIATE`, where the losers sleep in SQLite's busy handler (1, 2, 5, 10… ms)
        // whatever the lock's real wait, and its page cache stays valid from one write to the
        // next (SQLite drops a connection's cache whenever another connection wrote). Other
        // processes (the PAM module, the CLI) still meet the busy timeout. A process that
        // lives for one login keeps to its one pool.
        let writer = if backend == Backend::Sqlite && !short_lived {
            pool_of(1).connect_with(options).await?
        } else {
            pool.clone()
        };
        Ok(Db {
            pool,
            writer,
            backend,
        })
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    async fn migrate(&self) -> Result<()> {
        self.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// The engine, for the statements that must differ per backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for reads; writes go through [`Db::begin`] or [`Db::writer`], so that on
    /// SQLite they queue instead of meeting at the database lock.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where a single statement that writes outside a transaction runs: the writer
    /// connection on SQLite (see [`Db::begin`]), so it queues with the other writes of this
    /// process instead of meeting them at the database lock.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Starts a transaction that may write. On SQLite it takes the write lock up front, so two
    /// writers never deadlock upgrading a read lock.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => Tx {
                inner: self.writer.begin_with("BEGIN IMMEDIATE").await?,
            },
            Backend::Postgres => Tx {
                inner: self.pool.begin().await?,
            },
        })
    }

    /// Writes and commits one small row, the way a login writes. A read, or a `BEGIN` that is
    /// rolled back, succeeds on a full disk; only a committed write finds out whether logins
    /// can currently be recorded. For readiness probes, run every few seconds, not per request.
    pub async fn write_probe(&self, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO platform_settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(WRITE_PROBE_NAME)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes every connection (the PAM module must leave no thread behind).
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// Whether a connection handed back to the pool may be used again: `false` closes it, and the
/// pool opens a fresh one when needed.
///
/// A transaction dropped without a commit queues a ROLLBACK for the connection. When the
/// failure was SQLite's disk-full or I/O error, SQLite has often rolled back by itself already,
/// that ROLLBACK fails, and sqlx still counts the connection as inside a transaction: every
/// later `BEGIN` on it would fail ("begin_with at non-zero transaction depth") long after the
/// disk is fine again. The ping lets the queued ROLLBACK run before the depth is read; it is
/// only paid when a transaction was left open.
async fn still_outside_a_transaction(conn: &mut sqlx::AnyConnection) -> sqlx::Result<bool> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a failed transaction");
        return Ok(false);
    }
    Ok(true)
}

impl Db {
    /// A write transaction holding `user_id`'s lock: every change to one user's factors or
    /// counters runs in one, so two processes never decide on the same user at once (see the
    /// module docs).
    pub async fn begin_locked(&self, user_id: &str) -> Result<Tx> {
        let mut tx = self.begin().await?;
        lock_user(&mut tx, self.backend, user_id).await?;
        Ok(tx)
    }
}

/// Serialises policy decisions for one user across processes (see the module docs).
pub(crate) async fn lock_user(tx: &mut Tx, backend: Backend, user_id: &str) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Makes sure the SQLite file and its folder can be created on first start.
fn sqlite_url_with_create(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (file, query) = rest.split_once('?').map_or((rest, ""), |(f, q)| (f, q));
    if !file.is_empty() && file != ":memory:" {
        if let Some(dir) = std::path::Path::new(file).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    crate::error::Error::Internal(format!(
                        "cannot create the database folder {}: {e}",
                        dir.display()
                    ))
                })?;
            }
        }
    }
    Ok(if query.contains("mode=") {
        url.to_string()
    } else if query.is_empty() {
        format!("sqlite://{file}?mode=rwc")
    } else {
        format!("sqlite://{file}?{query}&mode=rwc")
    })
}
