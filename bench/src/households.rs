//! `haitang-bench households`: the household register at a district's scale, through the
//! server's own paths over HTTP.
//!
//! A fresh database and server (`haitang serve --demo`); an org tree of `--streets` streets
//! of communities, four grids each with five buildings; every community's register imported
//! as an administrator would (`POST /api/v1/admin/households/import`, CSV, one row per
//! person, about 2.5 people a household, a third of them on a visit plan); visits to a part
//! of the first street's households pushed through `POST /api/v1/sync`, dated over the last
//! four weeks so that some people are overdue. Then what a supervisor asks: the visit plan
//! of a street (≈ 50,000 people at the default size) and of a community, the overdue
//! households of a street, who visited it and how many visits were on time, each timed over
//! real HTTP.

use crate::api::Api;
use crate::server::{self, Server};
use anyhow::{Context, bail};
use automerge::ActorId;
use haitang_sync::protocol::{PushDoc, SyncRequest};
use haitang_sync::record::{self, Kind, Location, NewRecord, Urgency};
use serde_bytes::ByteBuf;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct HouseholdArgs {
    /// Households in the district.
    #[arg(long, default_value = "200k", value_parser = crate::parse_count)]
    households: usize,
    /// Streets they are spread over (the street is what a street supervisor asks about).
    #[arg(long, default_value_t = 10)]
    streets: usize,
    /// Households of one community (one register file).
    #[arg(long, default_value_t = 2_000)]
    per_community: usize,
    /// Households of the first street that get visits.
    #[arg(long, default_value_t = 2_000)]
    visited: usize,
    /// Times each query is asked.
    #[arg(long, default_value_t = 30)]
    queries: usize,
    /// A smoke run: 6,000 households in 3 streets.
    #[arg(long)]
    quick: bool,
    /// The `haitang` binary [default: next to this one].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where to make the temporary directory for the database [default: the system's].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the database and the server log (their path is printed).
    #[arg(long)]
    keep: bool,
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "朱", "沈", "顾", "陆",
];
const GIVEN: &[&str] = &[
    "秀英", "桂英", "建国", "根宝", "丽华", "志明", "海燕", "伟", "强", "子轩", "欣怡", "玉兰",
];
/// Care tags as the import reads them, with how often a person carries one in 1,000.
const TAGS: &[(&str, u64)] = &[
    ("独居老人", 60),
    ("空巢老人", 80),
    ("高龄老人", 70),
    ("残疾人", 40),
    ("低保户", 40),
    ("重点关注", 20),
];

/// A small deterministic generator, so that two runs measure the same district.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn street(s: usize) -> String {
    format!("/gusu/hb{s}")
}

fn community(s: usize, c: usize) -> String {
    format!("{}/ws/c{c}", street(s))
}

/// The org tree: `streets` streets with `per_street` communities each.
fn org_csv(streets: usize, per_street: usize) -> String {
    let mut csv = String::from("kind,path,name\n");
    for s in 0..streets {
        let _ = writeln!(csv, "street,{},测试街道{s}", street(s));
        let _ = writeln!(csv, "workstation,{}/ws,测试街道{s}工作站", street(s));
        for c in 0..per_street {
            let path = community(s, c);
            let _ = writeln!(csv, "community,{path},测试{s}-{c}社区");
            for g in 0..4 {
                let _ = writeln!(csv, "grid,{path}/g{g},测试{s}-{c}社区第{g}网格");
                for b in 0..5 {
                    let _ = writeln!(csv, "building,{path}/g{g}/b{b},{s}-{c}-{g}号楼{b}幢");
                }
            }
        }
    }
    csv
}

/// One community's register, and how many people it lists.
fn register_csv(
    s: usize,
    c: usize,
    households: usize,
    rng: &mut Rng,
    serial: &mut usize,
) -> (String, usize) {
    let mut csv = String::from(
        "户号,网格,片区,地址,姓名,性别,出生年份,与户主关系,联系电话,身份证号,关爱标签\n",
    );
    let base = community(s, c);
    let mut people = 0;
    for h in 0..households {
        let g = h % 4;
        let b = (h / 4) % 5;
        let number = format!("H{s}-{c}-{h:05}");
        let address = format!("{s}-{c}-{g}号楼{b}幢{}室", 101 + h % 600);
        let size = [1, 2, 2, 3, 3, 4][rng.below(6) as usize];
        for p in 0..size {
            let relation = if p == 0 {
                "户主"
            } else {
                ["配偶", "子女", "父母"][p % 3]
            };
            let female = rng.below(2) == 0;
            let year = 1930 + rng.below(90);
            let name = format!(
                "{}{}",
                SURNAMES[rng.below(SURNAMES.len() as u64) as usize],
                GIVEN[rng.below(GIVEN.len() as u64) as usize]
            );
            let phone = format!("1{}{:09}", 3 + rng.below(7), rng.below(1_000_000_000));
            // A distinct number for everyone in the district: the person's index in it gives
            // the sequence, the county digits and the day of birth (33 million apart).
            let k = *serial;
            *serial += 1;
            let day = (k / 100_000) % 336;
            let body = format!(
                "3205{:02}{year}{:02}{:02}{:03}",
                (k / 1000) % 100,
                day / 28 + 1,
                day % 28 + 1,
                k % 1000
            );
            let id = format!(
                "{body}{}",
                haitang_sync::personal::id_check_digit(body.as_bytes()) as char
            );
            let tags: Vec<&str> = TAGS
                .iter()
                .filter(|(_, per_mille)| rng.below(1000) < *per_mille)
                .map(|(t, _)| *t)
                .collect();
            let _ = writeln!(
                csv,
                "{number},{base}/g{g},{base}/g{g}/b{b},{address},{name},{},{year},{relation},{phone},{id},{}",
                if female { "女" } else { "男" },
                tags.join("、")
            );
            people += 1;
        }
    }
    (csv, people)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub async fn run(mut args: HouseholdArgs) -> anyhow::Result<()> {
    if args.quick {
        args.households = 6_000;
        args.streets = 3;
        args.visited = 500;
        args.queries = 10;
    }
    if args.households == 0 || args.streets == 0 || args.per_community == 0 {
        bail!("--households, --streets and --per-community must be positive");
    }
    let bin = server::find_binary(args.server_bin.as_deref())?;
    let communities = args.households.div_ceil(args.per_community);
    let per_street = communities.div_ceil(args.streets);
    let dir = server::temp_dir(args.dir.as_deref())?;
    let db = dir.path().join("haitang.db");
    let log = dir.path().join("server.log");
    println!(
        "Haitang household bench: {} households in {} communities of {} streets, imported over HTTP",
        args.households, communities, args.streets
    );
    let server = Server::start(&bin, &db, &log)?;
    let api = Api::new(&server.url)?;
    let admin = api.login("admin", "demo").await?;

    api.post_body(
        &admin.token,
        "/admin/org/import",
        "text/csv",
        org_csv(args.streets, per_street).into_bytes(),
    )
    .await
    .context("importing the org tree")?;

    // ── the registers ──
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut serial = 0;
    let (mut households, mut people) = (0, 0);
    let mut street_people = 0;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    'streets: for s in 0..args.streets {
        for c in 0..per_street {
            let n = args.per_community.min(args.households - households);
            if n == 0 {
                break 'streets;
            }
            let (csv, listed) = register_csv(s, c, n, &mut rng, &mut serial);
            let t0 = Instant::now();
            let report = api
                .post_body(
                    &admin.token,
                    "/admin/households/import",
                    "text/csv",
                    csv.into_bytes(),
                )
                .await
                .with_context(|| format!("importing community {}", community(s, c)))?;
            slowest = slowest.max(t0.elapsed());
            if report["households_created"].as_u64() != Some(n as u64) {
                bail!("community {}: {report}", community(s, c));
            }
            households += n;
            people += listed;
            if s == 0 {
                street_people += listed;
            }
            if households % 20_000 < args.per_community {
                eprintln!(
                    "  {households} households, {people} people, {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    let import_time = started.elapsed();
    let rss_after_import = server.memory().1;

    // ── visits to part of the first street ──
    let unit = street(0);
    let mut targets: Vec<(String, String, Option<String>, Vec<String>)> = Vec::new();
    let mut offset = 0;
    while targets.len() < args.visited {
        let (status, page, _) = api
            .get_json(
                &admin.token,
                &format!("/households?unit={unit}&limit=200&offset={offset}"),
            )
            .await?;
        if !status.is_success() {
            bail!("listing households: {status} {page}");
        }
        let lines = page["households"].as_array().cloned().unwrap_or_default();
        if lines.is_empty() {
            break;
        }
        offset += lines.len();
        for line in lines.iter().filter(|l| l["on_plan"].as_i64() > Some(0)) {
            let id = line["id"].as_str().unwrap_or_default().to_owned();
            let (_, one, _) = api
                .get_json(&admin.token, &format!("/households/{id}"))
                .await?;
            let pids = one["members"]
                .as_array()
                .map(|ms| {
                    ms.iter()
                        .filter(|m| !m["interval_days"].is_null())
                        .filter_map(|m| m["pid"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            targets.push((
                id,
                line["grid"].as_str().unwrap_or_default().to_owned(),
                line["sector"].as_str().map(str::to_owned),
                pids,
            ));
            if targets.len() >= args.visited {
                break;
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let actor = ActorId::random();
    let mut docs = Vec::new();
    for (i, (household, grid, sector, persons)) in targets.iter().enumerate() {
        let id = uuid::Uuid::new_v4().to_string();
        let fields = NewRecord {
            id: id.clone(),
            kind: Kind::Visit,
            grid: grid.clone(),
            sector: sector.clone(),
            category: "visit.elderly_alone".to_owned(),
            title: format!("入户走访 {}", i + 1),
            description: "身体状况稳定，精神不错。".to_owned(),
            address: String::new(),
            location: Some(Location {
                lat: 31.33,
                lng: 120.59,
                accuracy_m: Some(8.0),
            }),
            household: Some(household.clone()),
            persons: persons.clone(),
            raised_from: None,
            checks: Default::default(),
            reported_by: admin.user_id,
            // Over the last four weeks: a visit three weeks ago leaves a weekly plan overdue.
            reported_at: now - (1 + (i as i64 * 7919) % 27) * 86_400_000,
            urgency: Urgency::Normal,
        };
        let doc = record::new_record(actor.clone(), &fields);
        let changes = doc
            .get_changes(&[])
            .into_iter()
            .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
            .collect();
        docs.push(PushDoc {
            doc: id,
            doc_type: None,
            changes,
        });
    }
    let visits = docs.len();
    let t0 = Instant::now();
    for chunk in docs.chunks(250) {
        let req = SyncRequest {
            push: chunk.to_vec(),
            pull: false,
            ..SyncRequest::new(None)
        };
        let (_, res) = api.sync(&admin.token, &req).await?;
        if let Some(bad) = res.results.iter().find(|r| !r.ok) {
            bail!("a visit was refused: {bad:?}");
        }
    }
    let visit_time = t0.elapsed();

    // ── what supervisors ask ──
    let asks = [
        (
            "the visit plan of a street",
            format!("/visits/due?unit={unit}&limit=100"),
        ),
        (
            "its overdue people",
            format!("/visits/due?unit={unit}&state=overdue&limit=100"),
        ),
        (
            "its households with someone overdue",
            format!("/households?unit={unit}&overdue=true&limit=100"),
        ),
        (
            "the visit plan of a community",
            format!("/visits/due?unit={}&limit=100", community(0, 0)),
        ),
        (
            "who visited a street, on time or late",
            format!("/visits/by-visitor?unit={unit}&days=30"),
        ),
    ];
    let mut lines = Vec::new();
    let mut street_counts = Value::Null;
    for (what, path) in &asks {
        let mut times = Vec::with_capacity(args.queries);
        for _ in 0..args.queries {
            let (status, body, latency) = api.get_json(&admin.token, path).await?;
            if !status.is_success() {
                bail!("{path}: {status} {body}");
            }
            if street_counts.is_null() {
                street_counts = body["total"].clone();
            }
            times.push(latency);
        }
        times.sort();
        lines.push(format!(
            "{what:<38} p50 {:>9}  p99 {:>9}   GET {path}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        ));
    }
    let (peak, rss) = server.memory();

    println!();
    println!(
        "imported: {households} households, {people} people in {:.1} s: {:.0} households/s, {:.0} people/s (slowest file of {} households: {:.1} s)",
        import_time.as_secs_f64(),
        households as f64 / import_time.as_secs_f64(),
        people as f64 / import_time.as_secs_f64(),
        args.per_community,
        slowest.as_secs_f64()
    );
    println!(
        "visits: {visits} records pushed in {:.2} s: {:.0} records/s, into a database of {people} people",
        visit_time.as_secs_f64(),
        visits as f64 / visit_time.as_secs_f64()
    );
    println!("street {unit}: {street_people} people; plan counts {street_counts}");
    println!("queries ({} each, over HTTP on 127.0.0.1):", args.queries);
    for line in lines {
        println!("  {line}");
    }
    let mib =
        |kib: Option<u64>| kib.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!(
        "server memory: RSS {} after the import, {} now, peak {}",
        mib(rss_after_import),
        mib(rss),
        mib(peak)
    );
    let stopped = server.stop()?;
    if args.keep {
        let kept = dir.keep();
        println!(
            "kept {} (server stopped in {:.1} s)",
            kept.display(),
            stopped.as_secs_f64()
        );
    }
    Ok(())
}
