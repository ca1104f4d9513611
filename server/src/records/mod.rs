//! The record domain, between the routes and storage: pushing changes (`push`), pulling
//! them (`pull`), the escalation job's changes (`escalate`), rebuilding a damaged record
//! (`repair`) and what the server keeps of a record beside its document (`projection`).
//!
//! It decides; `sync` judges and plans, with no I/O; `db` reads and writes what it is
//! told. Automerge's work (decoding, loading, applying, saving) runs here, off the async
//! workers, on a few threads of its own (as many as the database has readers). A fixed set
//! matters for memory: the allocator keeps a heap per thread, and Automerge's documents
//! spread over every blocking thread tokio happened to pick left each of them holding
//! pages (the bench's peak RSS rose by a quarter); on threads of their own they reuse the
//! same few heaps, and a burst of pushes holds at most that many live documents.

pub mod escalate;
pub mod projection;
pub mod pull;
pub mod push;
pub mod repair;

use crate::db::docs::DocWrite;
use crate::db::{Db, DbError};
use automerge::Automerge;
use haitang_sync::doctype::DocType;
use haitang_sync::household::read_household;
use haitang_sync::ingest::{NewChange, Refusal, RefusalCode};
use haitang_sync::record::{SchemaError, read_record};
use projection::{Projected, Projection};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::oneshot;

/// The record domain over a storage handle. Cheap to clone.
#[derive(Clone)]
pub struct Records {
    db: Db,
    work: Arc<Workers>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads Automerge's work runs on. They end when the last `Records` is dropped.
struct Workers {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Workers {
    fn start(n: usize) -> Workers {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n.max(1) {
            let rx = rx.clone();
            let started = std::thread::Builder::new()
                .name(format!("haitang-records-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take a job, not while it runs.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "cannot start a records worker thread");
            }
        }
        Workers {
            jobs: Mutex::new(tx),
        }
    }
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").field("db", &self.db).finish()
    }
}

impl Records {
    /// `workers`: how many threads work on documents, so how many documents may be worked
    /// on at once.
    pub fn new(db: Db, workers: usize) -> Records {
        Records {
            db,
            work: Arc::new(Workers::start(workers)),
        }
    }

    /// Runs Automerge work on one of the workers, in the order asked. A panic in it
    /// (Automerge on bytes it did not expect) is an error for this call alone.
    async fn compute<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
        });
        self.work
            .jobs
            .lock()
            .map_err(|_| DbError::Closed)?
            .send(job)
            .map_err(|_| DbError::Closed)?;
        rx.await
            .map_err(|_| DbError::Closed)?
            .map_err(|_| DbError::Panicked)
    }
}

/// A stored document, loaded; `None` when it does not load (a record damaged before
/// ingest checked that every push loads back). Automerge may panic on such bytes.
fn load_stored(state: &[u8]) -> Option<Automerge> {
    std::panic::catch_unwind(|| Automerge::load(state).ok())
        .ok()
        .flatten()
}

fn damaged(doc_id: &str) -> Refusal {
    Refusal::new(
        RefusalCode::Damaged,
        format!(
            "the server's copy of record {doc_id} is damaged and takes no changes until an administrator repairs it; keep your copy, nothing of yours is lost"
        ),
    )
}

/// The server's own last change to a stored record (the escalation job's, a repair's),
/// made ready for the writer like a push; `seq` is the stored record's. The server is
/// trusted, so only the schema is checked. `None` if it made no change.
fn server_change(
    doc: Automerge,
    doc_type: DocType,
    doc_id: String,
    seq: i64,
) -> Result<Option<DocWrite>, DbError> {
    let Some(change) = doc.get_last_local_change() else {
        return Ok(None);
    };
    let change = NewChange {
        hash: change.hash(),
        bytes: change.raw_bytes().to_vec(),
        actor: change.actor_id().clone(),
    };
    let invalid =
        |e: SchemaError| DbError::Corrupt(format!("{doc_type} {doc_id} would be invalid: {e}"));
    let projection = match doc_type {
        DocType::Record => Projection::of(&doc, read_record(&doc).map_err(invalid)?).into(),
        DocType::Household => Projected::Household(read_household(&doc).map_err(invalid)?),
    };
    Ok(Some(DocWrite {
        state: doc.save_nocompress(),
        heads: doc.get_heads(),
        projection,
        doc_id,
        base_seq: Some(seq),
        changes: vec![change],
        old: None,
    }))
}
