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

use crate::error::{Error, Result};
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
    backend: Backend,
}

impl Tx {
    /// The engine the transaction runs on (for a [`Batch`] inside it).
    pub fn backend(&self) -> Backend {
        self.backend
    }

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
    /// Where [`Db::on_writer_thread`] runs work: SQLite in a long-lived process only.
    writer_thread: Option<std::sync::Arc<WriterThread>>,
}

/// A thread with a runtime of its own for the work that holds SQLite's one writer.
///
/// While a task holds the writer connection, every statement is a hand-off to the
/// connection's thread and back. On the server's runtime the task, once woken, waits in the
/// run queue behind every other request's task before it sends the next statement, so the
/// write lock stayed held ~200 µs per statement and capped the whole server at one writer's
/// queueing delay (docs/benchmarks.md, "Fleet mode"). Here nothing but such work waits.
#[derive(Debug)]
struct WriterThread {
    handle: tokio::runtime::Handle,
    /// Dropped with the last clone of the [`Db`]: the thread's runtime then ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WriterThread {
    /// The runtime is built and dropped on the thread itself: a runtime must not be dropped
    /// inside another one's async context.
    async fn start() -> Result<WriterThread> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (started, handle) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("stepgate-writer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = started.send(Ok(runtime.handle().clone()));
                        runtime.block_on(async {
                            let _ = stopped.await;
                        });
                    }
                    Err(e) => {
                        let _ = started.send(Err(e.to_string()));
                    }
                }
            })
            .map_err(|e| {
                Error::Internal(format!("cannot start the database writer's thread: {e}"))
            })?;
        let handle = handle
            .await
            .map_err(|_| Error::Internal("the database writer's thread ended at its start".into()))?
            .map_err(|e| {
                Error::Internal(format!("cannot start the database writer's runtime: {e}"))
            })?;
        Ok(WriterThread {
            handle,
            _stop: stop,
        })
    }
}

/// Every SQLite connection: WAL lets readers run beside the one writer; the busy timeout makes
/// a second process wait for the write lock instead of failing at once.
macro_rules! sqlite_pragmas {
    () => {
        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
         PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
    };
}
/// `sqlite_pragmas!` for a process that lives for one login (see [`Db::connect_existing`]):
/// its commits checkpoint the log after 100 pages instead of SQLite's 1000. A PAM login writes
/// about a dozen, so this is a checkpoint every few logins and at most ~400 KiB of log for the
/// next process to re-read (the first connection of a process that finds no other one on the
/// database re-reads the whole log, and a long log is most of a login's time).
const SQLITE_PRAGMAS_SHORT_LIVED: &str =
    concat!(sqlite_pragmas!(), " PRAGMA wal_autocheckpoint = 100;");

/// `sqlite_pragmas!` for every connection of a long-lived process (the server, the CLI): a
/// commit checkpoints the log after 10,000 pages (~40 MiB) instead of SQLite's 1,000. The
/// commit that crosses the limit copies the log into the database and fsyncs twice, and every
/// write queued behind the one writer waits for it: ten times fewer checkpoints, each copying
/// once a page that many commits rewrote (the newest challenges, the audit log's last page),
/// gave more host-protocol verifications per second on two cores (docs/benchmarks.md). Every
/// connection, not the writer's alone: the limit is each committing connection's own, and a
/// pool connection's commit (the token endpoint writes there) past a smaller one would run
/// the checkpoint inside its request. The log file stays at that size on disk while the
/// server runs; the last connection to close checkpoints and removes it.
const SQLITE_PRAGMAS_LONG_LIVED: &str =
    concat!(sqlite_pragmas!(), " PRAGMA wal_autocheckpoint = 10000;");

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
                                SQLITE_PRAGMAS_LONG_LIVED
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
        let (writer, writer_thread) = if backend == Backend::Sqlite && !short_lived {
            (
                pool_of(1).connect_with(options).await?,
                Some(std::sync::Arc::new(WriterThread::start().await?)),
            )
        } else {
            (pool.clone(), None)
        };
        Ok(Db {
            pool,
            writer,
            backend,
            writer_thread,
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

    /// Where a write outside a transaction runs (a single statement, or a [`Batch`] through
    /// [`Db::write`]): the writer connection on SQLite (see [`Db::begin`]), so it queues with
    /// the other writes of this process instead of meeting them at the database lock.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Runs `work` — a write transaction and the reads it decides on — where its hand-offs to
    /// SQLite's writer connection are served at once (see [`WriterThread`]); elsewhere (on
    /// PostgreSQL, in a process that lives for one login) it runs right here. On the writer
    /// thread the work runs to its end even if the caller stops waiting (a request whose
    /// client went away still finishes its check, bounded by the pool's acquire timeout);
    /// here it stops with the caller, its transaction rolled back.
    pub async fn on_writer_thread<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        match &self.writer_thread {
            Some(thread) => thread
                .handle
                .spawn(tracing::Instrument::in_current_span(work))
                .await
                .map_err(|e| Error::Internal(format!("the database writer's task failed: {e}")))?,
            None => work.await,
        }
    }

    /// Runs `batch`, writes that need no lock and whose results nobody reads. On the writer
    /// thread (SQLite in the server) it is one hand-off and each statement commits alone, so
    /// order them for a failure between two to leave nothing wrong (an audit event before the
    /// change it records); elsewhere, where a hand-off costs no one else's time and the
    /// caller may stop waiting, in one transaction.
    pub async fn write(&self, batch: Batch<'_>) -> Result<()> {
        if self.writer_thread.is_some() {
            batch.run(&mut *self.writer.acquire().await?).await
        } else {
            let mut tx = self.begin().await?;
            batch.run(&mut tx).await?;
            tx.commit().await
        }
    }

    /// Starts a transaction that may write. On SQLite it takes the write lock up front, so two
    /// writers never deadlock upgrading a read lock.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => Tx {
                inner: self.writer.begin_with("BEGIN IMMEDIATE").await?,
                backend: self.backend,
            },
            Backend::Postgres => Tx {
                inner: self.pool.begin().await?,
                backend: self.backend,
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

    /// Closes every connection (the PAM module must leave no thread behind; it has no writer
    /// thread, which ends with the last clone of a server's [`Db`]).
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

/// Writes sent to the database together, for statements whose results nobody reads: on
/// SQLite in one hand-off to the connection's thread (sqlx runs a text of several statements
/// in one go, binding `$N` across all of them, so each statement's placeholders are
/// renumbered after the ones before it); on PostgreSQL, whose protocol takes one statement
/// with parameters at a time, one after another. Every hand-off made while SQLite's writer
/// is held is time no other write can use (docs/benchmarks.md, "Fleet mode").
///
/// A statement's text holds `$` in its placeholders only, numbered from `$1` up to the
/// number of values bound to it.
///
/// A statement pushed with [`Batch::push_expecting`] must change exactly that many rows, or
/// the batch fails: run inside a transaction, the caller's error drops it uncommitted, so a
/// write the caller decided on from its earlier reads never lands beside one that did not
/// hold (a TOTP step already used, say).
pub struct Batch<'q> {
    backend: Backend,
    /// How many statements were pushed.
    len: usize,
    /// `(statement index, rows it must change, its text)`.
    expected: Vec<(usize, u64, &'static str)>,
    /// SQLite: the statements as one text, and all their values in order.
    text: String,
    values: sqlx::any::AnyArguments<'q>,
    /// PostgreSQL: each statement with its values.
    statements: Vec<(String, sqlx::any::AnyArguments<'q>)>,
    /// A value that could not be encoded: reported by [`Batch::run`], before anything runs.
    broken: Option<String>,
}

/// The values of one statement of a [`Batch`], bound in placeholder order.
pub struct Binds<'b, 'q> {
    args: &'b mut sqlx::any::AnyArguments<'q>,
    broken: &'b mut Option<String>,
}

impl<'q> Binds<'_, 'q> {
    /// Binds the next placeholder.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
    {
        use sqlx::Arguments;
        if let Err(e) = self.args.add(value) {
            self.broken.get_or_insert_with(|| e.to_string());
        }
        self
    }
}

impl<'q> Batch<'q> {
    /// An empty batch for `backend`.
    pub fn new(backend: Backend) -> Batch<'q> {
        Batch {
            backend,
            len: 0,
            expected: Vec::new(),
            text: String::new(),
            values: sqlx::any::AnyArguments::default(),
            statements: Vec::new(),
            broken: None,
        }
    }

    /// Adds a statement that must change exactly `rows` rows (see [`Batch`]).
    pub fn push_expecting(
        &mut self,
        sql: &'static str,
        rows: u64,
        bind: impl FnOnce(&mut Binds<'_, 'q>),
    ) -> &mut Self {
        self.expected.push((self.len, rows, sql));
        self.push(sql, bind)
    }

    /// Adds a statement and its values.
    pub fn push(&mut self, sql: &str, bind: impl FnOnce(&mut Binds<'_, 'q>)) -> &mut Self {
        use sqlx::Arguments;
        self.len += 1;
        match self.backend {
            Backend::Sqlite => {
                let offset = self.values.len();
                bind(&mut Binds {
                    args: &mut self.values,
                    broken: &mut self.broken,
                });
                debug_assert_eq!(
                    highest_placeholder(sql),
                    self.values.len() - offset,
                    "a batched statement binds one value per placeholder: {sql}"
                );
                self.text.push_str(&renumbered(sql, offset));
                self.text.push_str(";\n");
            }
            Backend::Postgres => {
                let mut args = sqlx::any::AnyArguments::default();
                bind(&mut Binds {
                    args: &mut args,
                    broken: &mut self.broken,
                });
                self.statements.push((sql.to_string(), args));
            }
        }
        self
    }

    /// Runs the statements in order on `conn`, stopping at the first that fails.
    pub async fn run(self, conn: &mut sqlx::AnyConnection) -> Result<()> {
        if let Some(e) = self.broken {
            return Err(Error::Internal(format!(
                "a value could not be sent to the database: {e}"
            )));
        }
        let mut changed = Vec::with_capacity(self.len);
        match self.backend {
            Backend::Sqlite if self.text.is_empty() => {}
            Backend::Sqlite => {
                // One result per statement, in order (and no rows: these are writes).
                use futures_util::TryStreamExt;
                let mut results = statement_results(&self.text, self.values, conn);
                while let Some(result) = results.try_next().await? {
                    if let sqlx::Either::Left(done) = result {
                        changed.push(done.rows_affected());
                    }
                }
            }
            Backend::Postgres => {
                for (sql, args) in self.statements {
                    let done = sqlx::query_with(&sql, args).execute(&mut *conn).await?;
                    changed.push(done.rows_affected());
                }
            }
        }
        for (at, rows, sql) in self.expected {
            let got = changed.get(at).copied();
            if got != Some(rows) {
                return Err(Error::Internal(format!(
                    "a write changed {} rows where {rows} were expected: {sql}",
                    got.map_or_else(|| "no".to_string(), |n| n.to_string())
                )));
            }
        }
        Ok(())
    }
}

/// Each statement's result of a SQLite text of several. sqlx 0.8 marks `fetch_many` deprecated
/// because it runs such a text (sqlx#3108), which every SQLite [`Batch`] is; it is the one call
/// that tells the statements' results apart.
#[allow(deprecated)]
fn statement_results<'c, 'q: 'c>(
    text: &'q str,
    values: sqlx::any::AnyArguments<'q>,
    conn: &'c mut sqlx::AnyConnection,
) -> futures_util::stream::BoxStream<
    'c,
    std::result::Result<sqlx::Either<sqlx::any::AnyQueryResult, sqlx::any::AnyRow>, sqlx::Error>,
> {
    sqlx::query_with(text, values).fetch_many(conn)
}

/// The highest `$N` in `sql` (0 for none).
fn highest_placeholder(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            rest[..digits].parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// `sql` with every placeholder `$N` written `$(N + offset)`.
fn renumbered(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        match after[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&format!("${}", n + offset)),
            Err(_) => {
                out.push('$');
                out.push_str(&after[..digits]);
            }
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_after_the_statements_before() {
        assert_eq!(
            renumbered("UPDATE t SET a = $1, b = $12 WHERE c = $2", 3),
            "UPDATE t SET a = $4, b = $15 WHERE c = $5"
        );
        assert_eq!(renumbered("SELECT 1", 7), "SELECT 1");
        assert_eq!(renumbered("x = $", 2), "x = $");
        assert_eq!(highest_placeholder("a = $2, b = $10, c = $3"), 10);
        assert_eq!(highest_placeholder("SELECT 1"), 0);
    }

    /// A write the caller decided on from its reads fails the batch when it did not hold.
    #[tokio::test]
    async fn a_statement_changing_other_than_the_expected_rows_fails_its_batch() {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect("sqlite::memory:").await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        conn.execute("CREATE TABLE t (id INTEGER, step INTEGER); INSERT INTO t VALUES (1, 5)")
            .await
            .unwrap();
        let update = "UPDATE t SET step = $1 WHERE id = $2 AND step < $1";
        let run = |step: i64| {
            let mut batch = Batch::new(Backend::Sqlite);
            batch.push("INSERT INTO t VALUES ($1, $2)", |b| {
                b.bind(2_i64).bind(0_i64);
            });
            batch.push_expecting(update, 1, move |b| {
                b.bind(step).bind(1_i64);
            });
            batch
        };
        run(6).run(&mut conn).await.unwrap();
        let refused = run(6).run(&mut conn).await;
        assert!(matches!(refused, Err(Error::Internal(_))), "{refused:?}");
    }
}
