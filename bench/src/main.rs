//! `haitang-bench sync`: Haitang's speed and memory figures against the real server.
//!
//! Build both binaries, then run the bench (it starts `target/release/haitang` itself):
//!
//! ```sh
//! cargo build --release -p haitang-server -p haitang-bench
//! target/release/haitang-bench sync                       # 200 phones × 25 records
//! target/release/haitang-bench sync --preload 5k,995k     # the same at 10 thousand and 1 million records
//! target/release/haitang-bench sync --quick               # a smoke run
//! target/release/haitang-bench households                 # a register of 200,000 households, visits, supervisors' queries
//! ```
//!
//! (`cargo run --release -p haitang-bench -- sync` works too once `haitang` is built.)
//!
//! Each scenario gets a fresh database in a temporary directory and its own server process
//! (`haitang serve --demo` on 127.0.0.1, port 0), so the server's memory can be read from
//! `/proc/<pid>/status`. Phones are simulated in this process over real HTTP with CBOR.

mod api;
mod baseline;
mod households;
mod preload;
mod records;
mod server;

use anyhow::{Context, bail};
use api::{Api, Login};
use automerge::{ActorId, Automerge, Change};
use clap::{Args, Parser, Subcommand};
use haitang_sync::protocol::{PullItem, PushDoc, SyncRequest, SyncResponse};
use serde_bytes::ByteBuf;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Haitang's speed and memory figures, measured against the real server binary.
#[derive(Parser)]
#[command(about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Phones push records made offline, then a street supervisor's phone pulls them all.
    Sync(SyncArgs),
    /// A district's household register imported, visits pushed, and the visit plan asked
    /// of a street and a community.
    Households(households::HouseholdArgs),
}

#[derive(Args, Clone)]
struct SyncArgs {
    /// Simulated phones, each its own grid_staff user and Automerge actor.
    #[arg(long, default_value_t = 200)]
    phones: usize,
    /// Records each phone makes offline (4 changes each).
    #[arg(long, default_value_t = 25)]
    records_per_phone: usize,
    /// Documents per push request [default: all of a phone's records in one request].
    #[arg(long)]
    docs_per_request: Option<usize>,
    /// Push requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Records written into the database before the server starts, in other grids (平江街道),
    /// one scenario per value: `--preload 5k,995k` measures at 10 thousand and 1 million.
    #[arg(long, value_delimiter = ',', value_parser = parse_count, default_value = "0")]
    preload: Vec<usize>,
    /// Push every preloaded record through the server's ingest code instead of copying
    /// 600 real ones in SQL (see bench/src/preload.rs); slow: milliseconds per record.
    #[arg(long)]
    preload_real: bool,
    /// A small smoke run: 12 phones × 5 records, preload 2k unless --preload is given.
    #[arg(long)]
    quick: bool,
    /// `limit` of the pulls (the protocol allows at most 1000).
    #[arg(long, default_value_t = 1000)]
    pull_limit: u32,
    /// `limit` of the pull part of each push request. The push phase measures ingest, so a
    /// pushing phone takes at most this many of the other phones' new records back in the
    /// same response; raise it to measure a sync storm instead.
    #[arg(long, default_value_t = 1)]
    push_pull_limit: u32,
    /// gzip the push request bodies (`Content-Encoding: gzip`).
    #[arg(long)]
    gzip_requests: bool,
    /// The `haitang` binary [default: next to this one].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where to make the temporary directories for the databases [default: the system's].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the databases and server logs (their path is printed).
    #[arg(long)]
    keep: bool,
    /// Sign-ups and sign-ins in flight at once (argon2 costs ~19 MiB and tens of ms each).
    #[arg(long)]
    setup_concurrency: Option<usize>,
}

pub(crate) fn parse_count(s: &str) -> Result<usize, String> {
    let t = s.trim().replace('_', "").to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1_000.0),
        Some('m') => (&t[..t.len() - 1], 1_000_000.0),
        _ => (t.as_str(), 1.0),
    };
    num.parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0)
        .map(|v| (v * mult).round() as usize)
        .ok_or_else(|| format!("`{s}` is not a count (examples: 20000, 20k, 1m)"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Sync(args) => rt.block_on(sync_bench(args)),
        Command::Households(args) => rt.block_on(households::run(args)),
    }
}

/// Everything one scenario measured.
#[derive(Default)]
struct Figures {
    preload: usize,
    preload_time: Option<Duration>,
    setup_time: Duration,
    build_time: Duration,
    records: usize,
    changes: usize,
    push_requests: usize,
    push_wall: Duration,
    push_p50: Duration,
    push_p99: Duration,
    push_max: Duration,
    push_sent: usize,
    push_server_cpu: Option<Duration>,
    push_bench_cpu: Option<Duration>,
    push_received: usize,
    refused: usize,
    pull_apply: PullStats,
    pull_apply_cores: PullStats,
    pull_decode: PullStats,
    pull_identity: PullStats,
    grid1_first: PullStats,
    grid1_noop: Duration,
    street_noop: Duration,
    hwm_setup_kib: Option<u64>,
    rss_idle_kib: Option<u64>,
    push_peak_kib: u64,
    push_end_kib: Option<u64>,
    pull_peak_kib: u64,
    hwm_kib: Option<u64>,
    hwm_reset: bool,
    rss_end_kib: Option<u64>,
    db_bytes: u64,
    wal_bytes: u64,
    docs_in_db: i64,
    changes_in_db: i64,
}

#[derive(Default, Clone)]
struct PullStats {
    elapsed: Duration,
    /// Of `elapsed`, the time spent applying items to local documents.
    applying: Duration,
    items: usize,
    pages: usize,
    sent: usize,
    received: usize,
    cursor: u64,
}

async fn sync_bench(mut args: SyncArgs) -> anyhow::Result<()> {
    if args.quick {
        args.phones = 12;
        args.records_per_phone = 5;
        if args.preload == [0] {
            args.preload = vec![0, 2_000];
        }
    }
    if args.phones == 0 || args.records_per_phone == 0 || args.concurrency == 0 {
        bail!("--phones, --records-per-phone and --concurrency must be positive");
    }
    let bin = server::find_binary(args.server_bin.as_deref())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let setup_conc = args.setup_concurrency.unwrap_or(cores).max(1);
    let per_request = args
        .docs_per_request
        .unwrap_or(args.records_per_phone)
        .clamp(1, 500);

    println!(
        "Haitang sync bench: {} phones × {} records × 4 changes, {} docs per push request, {} requests in flight",
        args.phones, args.records_per_phone, per_request, args.concurrency
    );
    println!(
        "server: {} (separate process, SQLite synchronous=FULL); this machine: {cores} CPU cores shared by the server and the simulated phones",
        bin.display()
    );
    let base = baseline::automerge_alone(2_000)?;
    println!(
        "for scale: Automerge alone (decode 4 changes, apply, save) runs at {} records/s on one core of this machine",
        int(rate(base.records, base.elapsed) as u64)
    );
    println!();

    let mut all = Vec::new();
    for &preload in &args.preload {
        eprintln!("== scenario: preload {preload} records");
        let f = scenario(&args, &bin, preload, setup_conc, per_request).await?;
        all.push(f);
    }
    print_table(&args, &all);
    Ok(())
}

async fn scenario(
    args: &SyncArgs,
    bin: &std::path::Path,
    preload: usize,
    setup_conc: usize,
    per_request: usize,
) -> anyhow::Result<Figures> {
    let dir = server::temp_dir(args.dir.as_deref())?;
    let db_path = dir.path().join("bench.db");
    let mut f = Figures {
        preload,
        ..Figures::default()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    if preload > 0 {
        eprintln!("  preloading {preload} records into {}", db_path.display());
        let p = preload::preload(&db_path, preload, cores, args.preload_real).await?;
        eprintln!(
            "  preloaded {} records in {:.1} s ({:.0} records/s)",
            p.records,
            p.elapsed.as_secs_f64(),
            p.records as f64 / p.elapsed.as_secs_f64()
        );
        f.preload_time = Some(p.elapsed);
    }

    let srv = server::Server::start(bin, &db_path, &dir.path().join("server.log"))?;
    eprintln!("  server pid {} at {}", srv.pid(), srv.url);
    let result = workload(args, &srv, &mut f, setup_conc, per_request).await;
    if let Err(e) = result {
        eprintln!("server log (last lines):\n{}", server::tail(&srv.log, 30));
        return Err(e);
    }
    let stop_time = srv.stop()?;
    eprintln!("  server stopped in {:.1} s", stop_time.as_secs_f64());

    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    f.db_bytes = size(db_path.clone());
    f.wal_bytes = size(dir.path().join("bench.db-wal"));
    let conn = rusqlite::Connection::open_with_flags(
        &db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    (f.docs_in_db, f.changes_in_db) = conn.query_row(
        "SELECT (SELECT count(*) FROM docs), (SELECT count(*) FROM changes)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    drop(conn);
    if args.keep {
        let kept = dir.keep();
        eprintln!("  kept {}", kept.display());
    }
    Ok(f)
}

async fn workload(
    args: &SyncArgs,
    srv: &server::Server,
    f: &mut Figures,
    setup_conc: usize,
    per_request: usize,
) -> anyhow::Result<()> {
    f.rss_idle_kib = srv.memory().1;
    let mut api = Api::new(&srv.url)?;
    api.gzip_requests = args.gzip_requests;

    // Setup (not timed as ingest): one grid_staff user per phone, spread over the six
    // grids of 白洋湾街道, so that street1 sees exactly the workload's records.
    let setup = Instant::now();
    let admin = api.login("admin", "demo").await?;
    let sem = Arc::new(Semaphore::new(setup_conc));
    let mut set = JoinSet::new();
    for i in 0..args.phones {
        let (api, sem, token) = (api.clone(), sem.clone(), admin.token.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await?;
            let username = format!("bench{i:04}");
            api.add_user(
                &token,
                json!({
                    "username": username,
                    "name": format!("测试网格员{i}"),
                    "role": "grid_staff",
                    "unit": records::BYW_GRIDS[i % records::BYW_GRIDS.len()],
                    "password": "bench-password",
                }),
            )
            .await?;
            let login = api.login(&username, "bench-password").await?;
            // The phone synced before going offline: that gives it its cursor.
            let (_, res) = api.sync(&login.token, &SyncRequest::new(None)).await?;
            anyhow::Ok((i, login, res.cursor))
        });
    }
    let mut phones: Vec<Option<(Login, u64)>> = (0..args.phones).map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        let (i, login, cursor) = done??;
        phones[i] = Some((login, cursor));
    }
    let phones: Vec<(Login, u64)> = phones
        .into_iter()
        .map(|p| p.context("a phone is missing"))
        .collect::<Result<_, _>>()?;
    let street = api.login("street1", "demo").await?;
    let grid1 = api.login("grid1", "demo").await?;
    f.setup_time = setup.elapsed();
    eprintln!(
        "  setup: {} users signed up and in, {:.1} s",
        args.phones,
        f.setup_time.as_secs_f64()
    );

    // Offline work on the phones, before the clock starts: the records and the encoded
    // push requests.
    let build = Instant::now();
    let mut bodies: Vec<Vec<(String, Vec<u8>)>> = Vec::with_capacity(phones.len());
    let mut n = 0usize;
    for (i, (login, cursor)) in phones.iter().enumerate() {
        let grid = records::BYW_GRIDS[i % records::BYW_GRIDS.len()];
        let actor = ActorId::random();
        let mut docs = Vec::new();
        for _ in 0..args.records_per_phone {
            let id = uuid::Uuid::new_v4().to_string();
            let fields = records::fields(id.clone(), grid, login.user_id, n);
            n += 1;
            let doc = records::make_record(&actor, &fields);
            let changes = records::all_changes(&doc);
            f.changes += changes.len();
            docs.push(PushDoc {
                doc: id,
                doc_type: None,
                changes: changes.into_iter().map(ByteBuf::from).collect(),
            });
        }
        f.records += docs.len();
        let mut reqs = Vec::new();
        for chunk in docs.chunks(per_request) {
            let req = SyncRequest {
                cursor: Some(*cursor),
                push: chunk.to_vec(),
                limit: Some(args.push_pull_limit),
                ..SyncRequest::new(None)
            };
            reqs.push((login.token.clone(), api.encode(&req)?));
        }
        bodies.push(reqs);
    }
    f.build_time = build.elapsed();

    // The push phase.
    f.hwm_setup_kib = srv.memory().0;
    f.hwm_reset = srv.reset_peak();
    let sem = Arc::new(Semaphore::new(args.concurrency));
    let mut set = JoinSet::new();
    let cpu_before = (server::cpu_time(Some(srv.pid())), server::cpu_time(None));
    let started = Instant::now();
    for reqs in bodies {
        let (api, sem) = (api.clone(), sem.clone());
        set.spawn(async move {
            let mut out = Vec::with_capacity(reqs.len());
            for (token, body) in reqs {
                let _permit = sem.acquire().await?;
                let ex = api.sync_raw(&token, body).await?;
                out.push((ex.latency, ex.sent, ex.received, ex.body, started.elapsed()));
            }
            anyhow::Ok(out)
        });
    }
    let mut latencies = Vec::new();
    let mut responses = Vec::new();
    let mut last_ack = Duration::ZERO;
    while let Some(done) = set.join_next().await {
        for (latency, sent, received, body, at) in done?? {
            latencies.push(latency);
            f.push_sent += sent;
            f.push_received += received;
            last_ack = last_ack.max(at);
            responses.push(body);
        }
    }
    f.push_wall = last_ack;
    let cpu_after = (server::cpu_time(Some(srv.pid())), server::cpu_time(None));
    f.push_server_cpu = cpu_before
        .0
        .zip(cpu_after.0)
        .map(|(a, b)| b.saturating_sub(a));
    f.push_bench_cpu = cpu_before
        .1
        .zip(cpu_after.1)
        .map(|(a, b)| b.saturating_sub(a));
    f.push_requests = latencies.len();
    latencies.sort();
    f.push_p50 = percentile(&latencies, 0.50);
    f.push_p99 = percentile(&latencies, 0.99);
    f.push_max = latencies.last().copied().unwrap_or_default();
    let mut accepted = 0;
    for body in &responses {
        let res: SyncResponse =
            ciborium::from_reader(&body[..]).context("decoding a push response")?;
        for r in &res.results {
            if r.ok {
                accepted += 1;
            } else {
                f.refused += 1;
                if f.refused <= 3 {
                    eprintln!("  refused {}: {:?} {:?}", r.doc, r.code, r.message);
                }
            }
        }
    }
    if accepted + f.refused != f.records {
        bail!(
            "{} push results for {} records",
            accepted + f.refused,
            f.records
        );
    }
    eprintln!(
        "  pushed {} records in {:.2} s ({} refused)",
        f.records,
        f.push_wall.as_secs_f64(),
        f.refused
    );

    f.push_peak_kib = srv.sampled_peak();
    f.push_end_kib = srv.memory().1;
    srv.reset_sampled_peak();

    // The street supervisor's first pull, three ways.
    f.pull_apply = pull_all(&api, &street.token, None, args.pull_limit, 1).await?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    f.pull_apply_cores = pull_all(&api, &street.token, None, args.pull_limit, cores).await?;
    f.pull_decode = pull_all(&api, &street.token, None, args.pull_limit, 0).await?;
    let mut identity = api.clone();
    identity.gzip_responses = false;
    f.pull_identity = pull_all(&identity, &street.token, None, args.pull_limit, 0).await?;
    for p in [
        &f.pull_apply,
        &f.pull_apply_cores,
        &f.pull_decode,
        &f.pull_identity,
    ] {
        if p.items != f.records {
            bail!(
                "street1 pulled {} items; it should see exactly the {} workload records",
                p.items,
                f.records
            );
        }
    }

    // A grid's first pull, and pulls with nothing new (what most syncs are).
    f.grid1_first = pull_all(&api, &grid1.token, None, args.pull_limit, 1).await?;
    f.grid1_noop = noop_pull(&api, &grid1.token, f.grid1_first.cursor, args.pull_limit).await?;
    f.street_noop = noop_pull(&api, &street.token, f.pull_apply.cursor, args.pull_limit).await?;

    f.pull_peak_kib = srv.sampled_peak();
    (f.hwm_kib, f.rss_end_kib) = srv.memory();
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Pulls everything after `cursor` page by page until `more` is false. With `threads` > 0
/// the phone applies each item to local Automerge documents, on that many threads. The next
/// page is asked for as soon as a page arrives (its `resume` is all the next request needs),
/// so the phone applies one page while the server prepares the next; the cursor is only
/// kept once the last page is in, as the protocol says.
async fn pull_all(
    api: &Api,
    token: &str,
    cursor: Option<u64>,
    limit: u32,
    threads: usize,
) -> anyhow::Result<PullStats> {
    let mut stats = PullStats::default();
    let request = |resume: Option<u64>| {
        let (api, token) = (api.clone(), token.to_owned());
        let req = SyncRequest {
            cursor,
            resume,
            pull: true,
            limit: Some(limit),
            ..SyncRequest::new(None)
        };
        tokio::spawn(async move { api.sync(&token, &req).await })
    };
    let started = Instant::now();
    let local = LocalDocs::start(threads);
    let mut next = Some(request(None));
    while let Some(page) = next.take() {
        let (ex, res) = page.await??;
        stats.pages += 1;
        stats.sent += ex.sent;
        stats.received += ex.received;
        stats.items += res.pull.len();
        if res.more {
            next = Some(request(res.resume));
        } else {
            stats.cursor = res.cursor;
        }
        local.apply(res.pull)?;
    }
    let (docs, applying) = tokio::task::spawn_blocking(move || local.finish()).await??;
    stats.elapsed = started.elapsed();
    stats.applying = applying;
    if threads > 0 && docs != stats.items {
        bail!("applied {docs} documents from {} pull items", stats.items);
    }
    Ok(stats)
}

type Shard = (
    std::sync::mpsc::Sender<Vec<PullItem>>,
    std::thread::JoinHandle<anyhow::Result<(usize, Duration)>>,
);

/// A phone's local documents, applied on threads of their own. A document always goes to
/// the same thread (by its id), so its items apply in the order they came.
struct LocalDocs {
    shards: Vec<Shard>,
}

impl LocalDocs {
    fn start(threads: usize) -> LocalDocs {
        let shards = (0..threads)
            .map(|_| {
                let (tx, rx) = std::sync::mpsc::channel::<Vec<PullItem>>();
                let handle = std::thread::spawn(move || {
                    let mut docs: HashMap<String, Automerge> = HashMap::new();
                    let mut busy = Duration::ZERO;
                    for items in rx {
                        let t = Instant::now();
                        apply_items(&mut docs, items)?;
                        busy += t.elapsed();
                    }
                    Ok((docs.len(), busy))
                });
                (tx, handle)
            })
            .collect();
        LocalDocs { shards }
    }

    fn apply(&self, items: Vec<PullItem>) -> anyhow::Result<()> {
        if self.shards.is_empty() {
            return Ok(());
        }
        let mut split: Vec<Vec<PullItem>> = self.shards.iter().map(|_| Vec::new()).collect();
        for item in items {
            let doc = match &item {
                PullItem::Snapshot { doc, .. }
                | PullItem::Changes { doc, .. }
                | PullItem::Evict { doc, .. } => doc,
            };
            let shard = doc
                .bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            split[shard % self.shards.len()].push(item);
        }
        for ((tx, _), items) in self.shards.iter().zip(split) {
            tx.send(items).context("a phone thread stopped")?;
        }
        Ok(())
    }

    /// Waits for every thread; the documents held and the threads' busy time in all.
    fn finish(self) -> anyhow::Result<(usize, Duration)> {
        let mut total = (0, Duration::ZERO);
        for (tx, handle) in self.shards {
            drop(tx);
            let (docs, busy) = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a phone thread panicked"))??;
            total.0 += docs;
            total.1 += busy;
        }
        Ok(total)
    }
}

fn apply_items(docs: &mut HashMap<String, Automerge>, items: Vec<PullItem>) -> anyhow::Result<()> {
    for item in items {
        match item {
            PullItem::Snapshot { doc, snapshot, .. } => {
                let loaded = Automerge::load(&snapshot).context("loading a snapshot")?;
                match docs.get_mut(&doc) {
                    Some(local) => {
                        let mut loaded = loaded;
                        local.merge(&mut loaded)?;
                    }
                    None => {
                        docs.insert(doc, loaded);
                    }
                }
            }
            PullItem::Changes { doc, changes, .. } => {
                let changes = changes
                    .into_iter()
                    .map(|c| Change::from_bytes(c.into_vec()))
                    .collect::<Result<Vec<_>, _>>()?;
                docs.entry(doc).or_default().apply_changes(changes)?;
            }
            PullItem::Evict { doc, .. } => {
                docs.remove(&doc);
            }
        }
    }
    Ok(())
}

/// The median of 21 pulls that find nothing new.
async fn noop_pull(api: &Api, token: &str, cursor: u64, limit: u32) -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..21 {
        let p = pull_all(api, token, Some(cursor), limit, 0).await?;
        if p.items != 0 {
            bail!("a pull at the current cursor returned {} items", p.items);
        }
        times.push(p.elapsed);
    }
    times.sort();
    Ok(percentile(&times, 0.5))
}

// ---- output ----------------------------------------------------------------------------

fn print_table(args: &SyncArgs, all: &[Figures]) {
    let mut rows: Vec<(String, Vec<String>, &str)> = Vec::new();
    let mut row = |label: &str, target: &'static str, cell: &dyn Fn(&Figures) -> String| {
        rows.push((label.to_owned(), all.iter().map(cell).collect(), target));
    };
    row("records in the database before the workload", "", &|f| {
        int(f.preload as u64)
    });
    row("records in the database after", "", &|f| {
        int(f.docs_in_db as u64)
    });
    row("", "", &|_| String::new());
    row("PUSH  records pushed (4 changes each)", "", &|f| {
        format!("{} ({} refused)", int(f.records as u64), f.refused)
    });
    row("      requests", "", &|f| int(f.push_requests as u64));
    row("      wall time, first push to last ack", "", &|f| {
        secs(f.push_wall)
    });
    row("      records/s ingested end to end", "≥ 1,500", &|f| {
        int(rate(f.records, f.push_wall) as u64)
    });
    row("      changes/s ingested end to end", "", &|f| {
        int(rate(f.changes, f.push_wall) as u64)
    });
    row("      server CPU time per record (user + sys)", "", &|f| {
        f.push_server_cpu.map_or("n/a".into(), |c| {
            format!("{} ({} in all)", ms(c / f.records.max(1) as u32), secs(c))
        })
    });
    row(
        "      phones' CPU time in the phase (this process)",
        "",
        &|f| f.push_bench_cpu.map_or("n/a".into(), secs),
    );
    row("      request latency p50", "", &|f| ms(f.push_p50));
    row("      request latency p99", "", &|f| ms(f.push_p99));
    row("      request latency max", "", &|f| ms(f.push_max));
    row(
        "      bytes on the wire per record (req + resp)",
        "",
        &|f| {
            format!(
                "{} ({} + {})",
                int(per(f.push_sent + f.push_received, f.records)),
                int(per(f.push_sent, f.records)),
                int(per(f.push_received, f.records))
            )
        },
    );
    row("", "", &|_| String::new());
    row("PULL  street1's first pull: records", "", &|f| {
        format!(
            "{} in {} pages",
            int(f.pull_apply.items as u64),
            f.pull_apply.pages
        )
    });
    row(
        "      time, applied to local Automerge docs",
        "≤ 1 s",
        &|f| secs(f.pull_apply.elapsed),
    );
    row("      the phone's CPU time applying them", "", &|f| {
        secs(f.pull_apply.applying)
    });
    row(
        "      time, applied on as many threads as cores",
        "",
        &|f| secs(f.pull_apply_cores.elapsed),
    );
    row("      time, received and decoded only", "", &|f| {
        secs(f.pull_decode.elapsed)
    });
    row("      time, decoded only, no gzip", "", &|f| {
        secs(f.pull_identity.elapsed)
    });
    row("      bytes on the wire per record (gzip)", "", &|f| {
        int(per(
            f.pull_apply.sent + f.pull_apply.received,
            f.pull_apply.items,
        ))
    });
    row("      bytes on the wire per record (no gzip)", "", &|f| {
        int(per(
            f.pull_identity.sent + f.pull_identity.received,
            f.pull_identity.items,
        ))
    });
    row("SCOPED grid1's first pull (applied)", "flat", &|f| {
        format!(
            "{} for {}",
            secs(f.grid1_first.elapsed),
            int(f.grid1_first.items as u64)
        )
    });
    row("      grid1 pull with nothing new (median)", "flat", &|f| {
        ms(f.grid1_noop)
    });
    row(
        "      street1 pull with nothing new (median)",
        "flat",
        &|f| ms(f.street_noop),
    );
    row("", "", &|_| String::new());
    row("SERVER peak RSS, push + pull (VmHWM)", "≤ 150 MB", &|f| {
        let hwm = f.hwm_kib.map_or("n/a".into(), mib);
        if f.hwm_reset {
            hwm
        } else {
            format!("{hwm} (incl. setup)")
        }
    });
    row(
        "      peak RSS in the push phase (sampled / 10 ms)",
        "",
        &|f| mib(f.push_peak_kib),
    );
    row("      RSS after the push phase", "", &|f| {
        f.push_end_kib.map_or("n/a".into(), mib)
    });
    row("      peak RSS in the pulls (sampled / 10 ms)", "", &|f| {
        mib(f.pull_peak_kib)
    });
    row("      RSS at the end (VmRSS)", "", &|f| {
        f.rss_end_kib.map_or("n/a".into(), mib)
    });
    row("      RSS when started, before any request", "", &|f| {
        f.rss_idle_kib.map_or("n/a".into(), mib)
    });
    row("      peak RSS during setup (argon2 sign-ins)", "", &|f| {
        f.hwm_setup_kib.map_or("n/a".into(), mib)
    });
    row("      database file size", "", &|f| {
        if f.wal_bytes > 0 {
            format!("{} + {} WAL", mb(f.db_bytes), mb(f.wal_bytes))
        } else {
            mb(f.db_bytes)
        }
    });
    row("      database bytes per record", "", &|f| {
        int(per(f.db_bytes as usize, f.docs_in_db.max(0) as usize))
    });
    row("", "", &|_| String::new());
    row(
        if args.preload_real {
            "BENCH preload time (ingest in process)"
        } else {
            "BENCH preload time (600 ingested, rest copied)"
        },
        "",
        &|f| {
            f.preload_time.map_or("-".into(), |t| {
                format!("{} ({}/s)", secs(t), int(rate(f.preload, t) as u64))
            })
        },
    );
    row("      setup: users signed up and in", "", &|f| {
        secs(f.setup_time)
    });
    row("      records made offline (not timed above)", "", &|f| {
        secs(f.build_time)
    });
    row("      changes stored in the database", "", &|f| {
        int(f.changes_in_db as u64)
    });

    let headers: Vec<String> = all
        .iter()
        .map(|f| format!("db {}", short(f.docs_in_db.max(0) as usize)))
        .collect();
    let label_w = rows.iter().map(|r| width(&r.0)).max().unwrap_or(0);
    let col_w: Vec<usize> = (0..all.len())
        .map(|i| {
            rows.iter()
                .map(|r| width(&r.1[i]))
                .chain([width(&headers[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut line = format!("{:label_w$}", "");
    for (h, w) in headers.iter().zip(&col_w) {
        line += &format!("  {}", pad_left(h, *w));
    }
    line += "  target";
    println!("{line}");
    println!("{}", "-".repeat(width(&line) + 4));
    for (label, cells, target) in &rows {
        if label.is_empty() {
            println!();
            continue;
        }
        let mut line = pad_right(label, label_w);
        for (c, w) in cells.iter().zip(&col_w) {
            line += &format!("  {}", pad_left(c, *w));
        }
        if !target.is_empty() {
            line += &format!("  {target}");
        }
        println!("{}", line.trim_end());
    }
    println!();
    println!(
        "Push requests carry the phone's cursor from before it went offline and `limit: {}` \
         (the pull part of a push); pulls use `limit: {}`; responses gzip as a browser asks.",
        args.push_pull_limit, args.pull_limit
    );
    println!("Bytes are HTTP bodies as sent (headers not counted). MB = 10^6 bytes, MiB = 2^20.");
}

fn width(s: &str) -> usize {
    s.chars().count()
}
fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}
fn pad_right(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}
fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}
fn per(bytes: usize, n: usize) -> u64 {
    if n == 0 {
        0
    } else {
        (bytes as f64 / n as f64).round() as u64
    }
}
fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}
fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
fn short(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1000) {
        format!("{}M", n as f64 / 1e6)
    } else if n >= 10_000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        int(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count("1m"), Ok(1_000_000));
        assert_eq!(parse_count("995k"), Ok(995_000));
        assert_eq!(parse_count("20_000"), Ok(20_000));
        assert_eq!(parse_count("0"), Ok(0));
        assert!(parse_count("lots").is_err());
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(short(1_005_000), "1.005M");
        assert_eq!(short(10_000), "10k");
    }
}
