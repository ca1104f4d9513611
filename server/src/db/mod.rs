//! Storage: the only code that sees SQL. Handlers and the domain layer (`records`) call
//! typed async methods on [`Db`], one file per group of tables; no method takes or returns
//! anything of rusqlite's, and none decides a rule of the workflow or the protocol: it reads
//! and writes what it is given. `read` and `write` stay inside this module.
//!
//! - `docs.rs`: documents of every type as stored (`docs`) and the write of a document's
//!   changes with everything stored beside them. `records.rs`: the record projection's
//!   table. `changes.rs`: the log as pulls and repairs read it. `actors.rs`: actor
//!   bindings. `catalogue.rs`: categories. `cases.rs`: queries over the record projection
//!   (inboxes, rates, neglected records). `scope.rs`: the scope rule in SQL.
//! - `org.rs`, `users.rs` (with sessions and refresh tokens), `blobs.rs` (photo rows and
//!   the photo access rule), `migrations.rs`.
//!
//! One writer thread owns the only read-write connection. Write jobs queue up on a channel;
//! the thread takes every job waiting, runs each in its own SAVEPOINT inside one
//! transaction, commits once, and only then answers the callers. Many concurrent pushes so
//! share one fsync (group commit) while each stays atomic on its own, and no caller is ever
//! told "done" before its data is durable. Readers are a few threads of their own, each
//! with a read-only connection; WAL lets them run beside the writer.

pub mod actors;
pub mod blobs;
pub mod cases;
pub mod catalogue;
pub mod changes;
pub mod docs;
mod households;
pub use households::{DueCounts, DueSummary, HouseholdLine, HouseholdRecord, VisitorLine};
#[cfg(test)]
pub(crate) mod fixture;
mod migrations;
pub mod org;
mod records;
pub mod residents;
mod scope;
pub mod users;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use tokio::sync::{Semaphore, oneshot};

pub use migrations::{MIGRATIONS, latest_version};

/// How many write jobs one transaction takes at most, so one commit never waits on an
/// unbounded queue.
const MAX_GROUP: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is closed")]
    Closed,
    #[error(
        "the database {path} has schema version {found}, newer than this binary knows ({known}); run a newer haitang"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("a database job panicked")]
    Panicked,
    #[error("{0}")]
    Corrupt(String),
}

type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;
/// A write job: given the connection (or why it cannot have one), it runs and says whether
/// its savepoint should be kept, and hands back what to do once the commit is known.
type Job = Box<dyn FnOnce(Result<&Connection, &str>) -> (bool, Finish) + Send>;

/// A read job, run on one of the reader threads.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

struct Inner {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Each reader thread's queue.
    readers: Vec<Mutex<mpsc::Sender<ReadJob>>>,
    /// Readers free to take a job, the one freed last on top.
    idle: Arc<Mutex<Vec<usize>>>,
    reader_slots: Arc<Semaphore>,
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database at `path`, applies pending migrations, and
    /// starts the writer thread and `readers` reader connections.
    pub fn open(path: &Path, readers: usize) -> Result<Db, DbError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        // FULL makes every commit durable against power loss too, not just a process
        // crash; group commit keeps the cost of that fsync shared. Page caches are kept
        // small per connection: the OS page cache holds the hot pages once for all of
        // them, outside the server's memory. Each job's savepoint keeps the pages it
        // changes in a sub-journal until it is released; in memory that is a copy, in a
        // temporary file it was a fifth of the writer's time. `secure_delete = FAST` zeroes
        // what a change removes from a page (at no extra I/O), so a resident's erased name
        // or ID number does not linger in the file's free space (`db::residents`).
        writer.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -8000; \
             PRAGMA temp_store = MEMORY; PRAGMA secure_delete = FAST;",
        )?;
        migrations::run(&mut writer, path)?;

        // Threads of their own rather than tokio's blocking pool: the allocator keeps a heap
        // per thread, and the pages a pull's documents were read into stay with whichever
        // thread read them, so a few fixed threads hold less than dozens picked in turn.
        // The reader freed last takes the next job, so a quiet server keeps one
        // connection's page cache warm instead of filling all of them.
        let readers = readers.max(1);
        let mut queues = Vec::with_capacity(readers);
        for i in 0..readers {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            configure(&conn)?;
            conn.execute_batch("PRAGMA cache_size = -4000;")?;
            let (tx, rx) = mpsc::channel::<ReadJob>();
            std::thread::Builder::new()
                .name(format!("haitang-db-reader-{i}"))
                .spawn(move || {
                    for job in rx {
                        job(&conn);
                    }
                })
                .map_err(|e| DbError::Corrupt(format!("cannot start a reader thread: {e}")))?;
            queues.push(Mutex::new(tx));
        }

        let checkpointer = Checkpointer::start(path, &mut writer)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("haitang-db-writer".into())
            .spawn(move || writer_loop(writer, rx, checkpointer))
            .map_err(|e| DbError::Corrupt(format!("cannot start the writer thread: {e}")))?;

        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                jobs: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                readers: queues,
                idle: Arc::new(Mutex::new((0..readers).rev().collect())),
                reader_slots: Arc::new(Semaphore::new(readers)),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer connection inside a savepoint of a group transaction. The
    /// result is returned only once the transaction has committed; if `f` fails, its own
    /// changes are rolled back and the others in the group are unaffected.
    async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        self.enqueue(f)?.await.map_err(|_| DbError::Closed)?
    }

    /// Runs each of `jobs` as a write of its own (its own savepoint, so one failing rolls
    /// back only itself), queued together so that they share a commit when the writer can
    /// take them at once. The results come in order, each once its commit is known.
    async fn write_each<T, F>(&self, jobs: Vec<F>) -> Vec<Result<T, DbError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let queued: Vec<_> = jobs.into_iter().map(|f| self.enqueue(f)).collect();
        let mut results = Vec::with_capacity(queued.len());
        for rx in queued {
            results.push(match rx {
                Ok(rx) => rx.await.unwrap_or(Err(DbError::Closed)),
                Err(e) => Err(e),
            });
        }
        results
    }

    fn enqueue<T, F>(&self, f: F) -> Result<oneshot::Receiver<Result<T, DbError>>, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, DbError>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
                    .unwrap_or(Err(DbError::Panicked)),
                Err(why) => Err(DbError::Corrupt(why.to_owned())),
            };
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (ok, finish)
        });
        let guard = self.inner.jobs.lock().map_err(|_| DbError::Closed)?;
        let sender = guard.as_ref().ok_or(DbError::Closed)?;
        sender.send(job).map_err(|_| DbError::Closed)?;
        Ok(rx)
    }

    /// Runs `f` on a read-only connection, on a reader thread.
    async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        // The permit goes with the job, so a reader is counted busy until it is idle again
        // even if the caller stops waiting.
        let permit = self
            .inner
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| DbError::Closed)?;
        let idle = self.inner.idle.clone();
        let reader = idle
            .lock()
            .map_err(|_| DbError::Closed)?
            .pop()
            .ok_or(DbError::Closed)?;
        let (tx, rx) = oneshot::channel::<Result<T, DbError>>();
        let job: ReadJob = Box::new(move |conn| {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or(Err(DbError::Panicked));
            if let Ok(mut idle) = idle.lock() {
                idle.push(reader);
            }
            drop(permit);
            let _ = tx.send(result);
        });
        self.inner.readers[reader]
            .lock()
            .map_err(|_| DbError::Closed)?
            .send(job)
            .map_err(|_| DbError::Closed)?;
        rx.await.map_err(|_| DbError::Panicked)?
    }

    /// Stops taking writes, lets the writer finish what is queued, and closes it. Reads
    /// still answer until the last handle is dropped.
    pub fn close(&self) {
        if let Ok(mut jobs) = self.inner.jobs.lock() {
            jobs.take();
        }
        let handle = self.inner.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Whether the database answers a query (for `/readyz`).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(|_| ())
    }

    pub async fn schema_version(&self) -> Result<i64, DbError> {
        self.read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .await
    }

    pub async fn get_setting(&self, key: &'static str) -> Result<Option<Vec<u8>>, DbError> {
        self.read(move |c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    /// Stores `value` under `key` unless a value is there already; returns the stored one.
    /// Two servers starting at once on a fresh file thus agree on one value.
    pub async fn setting_or_insert(
        &self,
        key: &'static str,
        value: Vec<u8>,
    ) -> Result<Vec<u8>, DbError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO settings(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
                rusqlite::params![key, value],
            )?;
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })?,
            )
        })
        .await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(handle) = self.writer.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

/// Copies the WAL back into the database file, mostly on a thread of its own. SQLite's
/// automatic checkpoint runs inside the COMMIT that crosses its threshold, so the one
/// writer stopped for it (a sixth of its time under load, more as the file grows). Here a
/// passive checkpoint on another connection does the copying beside the writer and the
/// readers. The log can only start over once a checkpoint has caught up with the writer,
/// which a checkpoint running beside a busy writer never quite does; so when the log has
/// grown well past the threshold, the writer finishes the copy itself after a commit,
/// which by then costs it only the frames written since the last background pass.
struct Checkpointer {
    handle: JoinHandle<()>,
}

/// WAL pages after which a commit asks for a background checkpoint (SQLite's own default).
const CHECKPOINT_PAGES: i32 = 1000;
/// WAL pages (64 MiB) after which the writer finishes the checkpoint itself. Lower, it did
/// so after most large group commits, before the background pass could.
const CATCH_UP_PAGES: i32 = 16 * CHECKPOINT_PAGES;

type WalHook = fn(&mut rusqlite::hooks::Wal, std::ffi::c_int) -> rusqlite::Result<()>;

impl Checkpointer {
    fn start(path: &Path, writer: &mut Connection) -> Result<Checkpointer, DbError> {
        let conn = Connection::open(path)?;
        configure(&conn)?;
        // A connection opens the WAL when it first reads; until then it has no log to
        // checkpoint (and says so only by returning -1 frames).
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode != "wal" {
            return Err(DbError::Corrupt(format!(
                "the database is in journal mode {mode}, not wal"
            )));
        }
        // Wakes the checkpointer; a full channel means a checkpoint is already due.
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        writer.wal_hook(Some(
            move |wal: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
                if pages >= CATCH_UP_PAGES {
                    // Busy while the background pass runs; the next commit tries again.
                    if let Err(e) = wal.checkpoint() {
                        tracing::debug!(error = %e, pages, "catching up the checkpoint");
                    }
                } else if pages >= CHECKPOINT_PAGES {
                    let _ = wake.try_send(());
                }
                // The commit has happened whatever this returns, and an error here would
                // be reported as the commit's own.
                Ok(())
            },
        ))?;
        let handle = std::thread::Builder::new()
            .name("haitang-db-checkpoint".into())
            .spawn(move || {
                let passive = rusqlite::wal::CheckpointMode::PASSIVE;
                while woken.recv().is_ok() {
                    if let Err(e) = conn.wal_checkpoint_v2(None::<&str>, passive) {
                        tracing::warn!(error = %e, "checkpoint failed");
                    }
                }
            })
            .map_err(|e| DbError::Corrupt(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { handle })
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>, checkpointer: Checkpointer) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_group(&conn, batch);
    }
    // Dropping the hook drops the checkpointer's wake-up, which ends it. Then leave a
    // clean, checkpointed file behind so a copy of it alone is complete.
    let mut conn = conn;
    let _ = conn.wal_hook(None::<WalHook>);
    let _ = checkpointer.handle.join();
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    if let Err((_, e)) = conn.close() {
        tracing::error!(error = %e, "closing the database writer failed");
    }
}

fn run_group(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let msg = format!("cannot begin a transaction: {e}");
        for job in batch {
            let (_, finish) = job(Err(&msg));
            finish(Ok(()));
        }
        return;
    }
    let mut finishers = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            let (_, finish) = job(Err(&format!("cannot open a savepoint: {e}")));
            finish(Ok(()));
            continue;
        }
        let (ok, finish) = job(Ok(conn));
        let end = if ok {
            conn.execute_batch("RELEASE job")
        } else {
            conn.execute_batch("ROLLBACK TO job; RELEASE job")
        };
        match end {
            Ok(()) => finishers.push(finish),
            Err(e) => finish(Err(DbError::Sqlite(e))),
        }
    }
    let commit = conn.execute_batch("COMMIT");
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let commit_msg = commit.err().map(|e| e.to_string());
    for finish in finishers {
        match &commit_msg {
            None => finish(Ok(())),
            Some(msg) => finish(Err(DbError::Corrupt(format!("commit failed: {msg}")))),
        }
    }
}

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_beside_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let db = Db::open(&path, 1).expect("open");
        // 100 MiB in 400 commits, one straight after another, so the background pass never
        // finds a moment to finish: the writer's catch-up must bound the log. Without
        // either, the WAL would hold all of it (SQLite's own checkpoint is off: the hook
        // replaces it).
        for i in 0..400 {
            db.write(move |c| {
                c.execute(
                    "INSERT INTO settings(key, value) VALUES (?1, ?2)",
                    rusqlite::params![format!("bulk-{i}"), vec![i as u8; 256 * 1024]],
                )?;
                Ok(())
            })
            .await
            .expect("write");
        }
        let wal = std::fs::metadata(dir.path().join("w.db-wal"))
            .expect("wal")
            .len();
        // The catch-up point (64 MiB) and a commit or two.
        assert!(wal < 72 << 20, "the WAL grew to {wal} bytes");
        db.close();
        assert_eq!(
            std::fs::metadata(dir.path().join("w.db-wal")).map_or(0, |m| m.len()),
            0,
            "closing leaves a checkpointed file"
        );
        let db = Db::open(&path, 1).expect("reopen");
        let n: i64 = db
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM settings WHERE key LIKE 'bulk-%'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .expect("count");
        assert_eq!(n, 400);
    }
}
