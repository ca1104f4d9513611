//! Fills a fresh database with N records before the server starts, without HTTP.
//!
//! Every record lies in the six grids of 平江街道 (`/gusu/pj/...`), reported by six grid
//! staff added for the purpose, so no scope the workload measures (`street1` = 白洋湾街道,
//! `grid1`, the workload's own phones) contains any of them. Their `seq`s come before the
//! workload's. The database is created by `haitang_server::AppState::open` (migrations,
//! catalogue, demo district), so the schema is the server's own.
//!
//! Two ways, because the server's ingest costs milliseconds of CPU per record:
//!
//! - **real** (`--preload-real`): every record is a distinct Automerge document, made like
//!   the workload's (create, edit the description, add a note, accept), one actor per 25
//!   records, pushed in this process through the server's own push path,
//!   `Records::push` (decode, judge, write: what `POST /api/v1/sync` runs for a request's
//!   documents), a batch of 2,000 documents in as many pushes at once as there are
//!   threads. Only HTTP, CBOR and sign-in are skipped.
//! - **copy** (the default): the first 600 records (100 a grid) are made the real way; every
//!   further record copies one of them row for row in SQL (its `changes` rows and its
//!   `docs` row, every column but the id and the seqs, whatever columns the schema has by
//!   then) under a new UUID and new seqs, on a connection of the bench's own once the
//!   server's storage is closed (it takes no SQL from outside). The projection is therefore a valid one and
//!   the volume (rows, blobs, index entries) is real, but the saved document inside a copy
//!   still names its template's id, and the copies share their template's change hashes
//!   and actor. Nothing in the bench reads those documents.

use crate::records;
use anyhow::{Context, bail};
use automerge::ActorId;
use haitang_server::config::Config;
use haitang_server::db::users::{NewUser, User};
use haitang_server::records::Records;
use haitang_sync::protocol::PushDoc;
use haitang_sync::scope::Role;
use serde_bytes::ByteBuf;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Records per write transaction when ingesting; a multiple of 25 (whole phones).
const BATCH: usize = 2_000;
/// Real records made as templates for the copies, per grid.
const TEMPLATES_PER_GRID: usize = 100;
/// Copies per write transaction.
const COPY_BATCH: usize = 10_000;
/// Copies per write job.
const COPY_JOB: usize = 250;

/// A batch of records of one grid, by that grid's user: (doc id, changes).
struct Batch {
    grid: usize,
    docs: Vec<(String, Vec<Vec<u8>>)>,
}

pub struct Preloaded {
    pub elapsed: Duration,
    pub records: usize,
}

pub async fn preload(
    db_path: &Path,
    n: usize,
    threads: usize,
    real: bool,
) -> anyhow::Result<Preloaded> {
    let started = Instant::now();
    let config = Config {
        db: db_path.to_owned(),
        demo: true,
        db_readers: threads.max(2),
        ..Config::default()
    };
    let state = haitang_server::AppState::open(config)
        .await
        .context("creating the database")?;
    let db = state.db.clone();
    let records = state.records.clone();

    let hash = haitang_server::auth::hash_password("preload-password")
        .map_err(|e| anyhow::anyhow!("hashing a password: {e:?}"))?;
    let mut users: Vec<User> = Vec::new();
    for (i, grid) in records::PJ_GRIDS.iter().enumerate() {
        let user = db
            .add_user(NewUser {
                username: format!("preload{i}"),
                name: format!("预载网格员{i}"),
                role: Role::GridStaff,
                unit: (*grid).to_owned(),
                department: None,
                password_hash: hash.clone(),
            })
            .await
            .map_err(|e| anyhow::anyhow!("adding a preload user: {e}"))?;
        users.push(user);
    }

    let templates = TEMPLATES_PER_GRID * records::PJ_GRIDS.len();
    let (real_n, batch) = if real || n <= templates {
        (n, BATCH)
    } else {
        (templates, TEMPLATES_PER_GRID)
    };
    let mut written = ingest(&records, &users, real_n, batch, threads, started).await?;
    db.close();
    drop((db, records, state));
    if written < n {
        let path = db_path.to_owned();
        let wanted = n - written;
        written += tokio::task::spawn_blocking(move || copy(&path, wanted, started)).await??;
    }
    if written != n {
        bail!("preloaded {written} records of {n}");
    }
    Ok(Preloaded {
        elapsed: started.elapsed(),
        records: written,
    })
}

/// Makes `n` real records and pushes them through the server's ingest code.
async fn ingest(
    records: &Records,
    users: &[User],
    n: usize,
    batch_size: usize,
    threads: usize,
    started: Instant,
) -> anyhow::Result<usize> {
    let user_ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    // Generator threads make the phones' documents; this task pushes them.
    let batches = n.div_ceil(batch_size);
    let (tx, rx) = mpsc::sync_channel::<Batch>(2);
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..threads.max(1) {
        let (tx, next, user_ids) = (tx.clone(), next.clone(), user_ids.clone());
        handles.push(std::thread::spawn(move || {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    break;
                }
                let batch = make_batch(
                    b,
                    (b * batch_size)..((b + 1) * batch_size).min(n),
                    &user_ids,
                );
                if tx.send(batch).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let (atx, mut arx) = tokio::sync::mpsc::channel::<Batch>(1);
    std::thread::spawn(move || {
        for batch in rx {
            if atx.blocking_send(batch).is_err() {
                break;
            }
        }
    });

    let mut written = 0usize;
    let mut last_report = Instant::now();
    // Two batches in flight: one preparing on the readers while the other commits.
    let mut in_flight: JoinSet<anyhow::Result<usize>> = JoinSet::new();
    loop {
        while in_flight.len() >= 2 {
            written += in_flight.join_next().await.context("a batch")???;
        }
        let Some(batch) = arx.recv().await else { break };
        let (records, user) = (records.clone(), users[batch.grid].clone());
        in_flight.spawn(push_batch(records, user, batch, threads));
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "  preload: {written} / {n} records, {secs:.0} s, {:.0} records/s",
                written as f64 / secs
            );
        }
    }
    while let Some(done) = in_flight.join_next().await {
        written += done??;
    }
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("a preload thread panicked"))?;
    }
    Ok(written)
}

/// Adds `n` copies of the preloaded records already there, `COPY_BATCH` a transaction.
fn copy(db_path: &Path, n: usize, started: Instant) -> anyhow::Result<usize> {
    let c = rusqlite::Connection::open(db_path).context("opening the database to copy")?;
    c.execute_batch("PRAGMA foreign_keys = ON;")?;
    // (id, key, number of changes) of each record to copy.
    let templates: Vec<(String, i64, i64)> = {
        let mut stmt = c.prepare(
            "SELECT id, key, change_count FROM docs \
             WHERE grid >= '/gusu/pj/' AND grid < '/gusu/pj0' ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    if templates.is_empty() {
        bail!("no template records to copy");
    }
    let mut written = 0;
    let mut last_report = Instant::now();
    while written < n {
        // COPY_BATCH copies a commit, in savepoints of COPY_JOB: a savepoint's journal is
        // walked at every statement, so one huge savepoint slows down as it goes.
        let count = COPY_BATCH.min(n - written);
        c.execute_batch("BEGIN IMMEDIATE")?;
        for from in (written..written + count).step_by(COPY_JOB) {
            let to = (from + COPY_JOB).min(written + count);
            c.execute_batch("SAVEPOINT job")?;
            copy_job(&c, &templates, from..to).context("copying preloaded records")?;
            c.execute_batch("RELEASE job")?;
        }
        c.execute_batch("COMMIT")?;
        written += count;
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            eprintln!("  preload (copies): {written} / {n} copies, {secs:.0} s");
        }
    }
    // Leave a checkpointed file behind, as the server's own close does.
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(written)
}

/// Copies the templates `range` picks (round robin) under new ids, with their changes.
fn copy_job(
    c: &rusqlite::Connection,
    templates: &[(String, i64, i64)],
    range: std::ops::Range<usize>,
) -> rusqlite::Result<()> {
    let columns = |table: &str| -> rusqlite::Result<Vec<String>> {
        let mut stmt = c.prepare(&format!("PRAGMA table_info({table})"))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(1))?;
        rows.collect()
    };
    let keep = |cols: Vec<String>, skip: &[&str]| -> String {
        cols.into_iter()
            .filter(|c| !skip.contains(&c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let change_cols = keep(columns("changes")?, &["seq", "doc"]);
    let doc_cols = keep(
        columns("docs")?,
        &["key", "id", "seq", "created_seq", "moved_seq"],
    );
    let mut docs = c.prepare_cached(&format!(
        "INSERT INTO docs(id, seq, created_seq, moved_seq, {doc_cols}) \
         SELECT ?1, ?2, ?2, ?2, {doc_cols} FROM docs WHERE id = ?3 RETURNING key"
    ))?;
    // A record's projection row comes with it (every template is a record).
    let record_cols = keep(columns("records")?, &["doc"]);
    let mut record = c.prepare_cached(&format!(
        "INSERT INTO records(doc, {record_cols}) SELECT ?1, {record_cols} FROM records WHERE doc = ?2"
    ))?;
    let mut changes = c.prepare_cached(&format!(
        "INSERT INTO changes(seq, doc, {change_cols}) \
         SELECT ?1 + row_number() OVER (ORDER BY seq), ?2, {change_cols} \
         FROM changes WHERE doc = ?3 ORDER BY seq"
    ))?;
    let mut next_seq: i64 = c.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| {
        r.get(0)
    })?;
    for i in range {
        let (template, template_key, n) = &templates[i % templates.len()];
        let id = uuid::Uuid::new_v4().to_string();
        let last = next_seq + n;
        let key: i64 = docs.query_row(rusqlite::params![id, last, template], |r| r.get(0))?;
        record.execute(rusqlite::params![key, template_key])?;
        changes.execute(rusqlite::params![next_seq, key, template_key])?;
        next_seq = last;
    }
    Ok(())
}

/// Pushes the batch's documents through the server's push path, in `threads` pushes at
/// once, as that many requests would.
async fn push_batch(
    records: Records,
    user: User,
    batch: Batch,
    threads: usize,
) -> anyhow::Result<usize> {
    let principal = user.principal();
    let count = batch.docs.len();
    let docs: Vec<PushDoc> = batch
        .docs
        .into_iter()
        .map(|(doc, changes)| PushDoc {
            doc,
            doc_type: None,
            changes: changes.into_iter().map(ByteBuf::from).collect(),
        })
        .collect();
    let mut set = JoinSet::new();
    for chunk in docs.chunks(count.div_ceil(threads.max(1)).max(1)) {
        let (records, principal, chunk) = (records.clone(), principal.clone(), chunk.to_vec());
        set.spawn(async move { records.push(&principal, chunk).await });
    }
    while let Some(done) = set.join_next().await {
        for r in done?? {
            if !r.ok {
                bail!(
                    "a preloaded record was refused: {:?} {:?}",
                    r.code,
                    r.message
                );
            }
        }
    }
    Ok(count)
}

fn make_batch(b: usize, range: std::ops::Range<usize>, user_ids: &[i64]) -> Batch {
    let grid = b % records::PJ_GRIDS.len();
    let mut docs = Vec::with_capacity(range.len());
    let mut actor = ActorId::random();
    for n in range {
        if n.is_multiple_of(25) {
            actor = ActorId::random();
        }
        let id = uuid::Uuid::new_v4().to_string();
        let f = records::fields(id.clone(), records::PJ_GRIDS[grid], user_ids[grid], n);
        let doc = records::make_record(&actor, &f);
        docs.push((id, records::all_changes(&doc)));
    }
    Batch { grid, docs }
}
