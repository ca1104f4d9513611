//! The demo district's household registry and a month of care visits, made the way a
//! community would make them: the register is a CSV imported as the community supervisor
//! (`households::import`, the path `haitang household import` takes), and each visit is a
//! `visit` record a leader or grid worker reports about a household and the people they
//! saw, handled on the spot, pushed through `Records::push` like a phone's. Names, ID
//! numbers and phones are made up (valid in form only); tags come in roughly the shares a
//! Gusu community reports (about one resident in eight is an elderly person living alone).

use crate::db::Db;
use crate::db::now_ms;
use crate::records::Records;
use crate::residents::IdHasher;
use anyhow::{Context, bail};
use automerge::ActorId;
use haitang_sync::care::DAY_MS;
use haitang_sync::protocol::PushDoc;
use haitang_sync::record::{Kind, Location, NewRecord, Urgency, new_record, read_record};
use haitang_sync::workflow::{Action, Facts, Params, perform};
use serde_bytes::ByteBuf;

const COMMUNITY: &str = "/gusu/byw/ws1/jinzhu";

/// (grid, sector, street address pattern, households, who visits)
const PATCHES: [(&str, &str, &str, usize, &str); 6] = [
    ("g01", "b1", "金筑苑3幢", 24, "lou1"),
    ("g01", "l1", "西园弄", 16, "xiang1"),
    ("g01", "c1", "潘家院", 10, "grid1"),
    ("g02", "b1", "金筑苑7幢", 20, "grid2"),
    ("g02", "l1", "山塘后巷", 14, "grid2"),
    ("g02", "c1", "潘家大院", 12, "yuan1"),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "朱", "沈", "顾", "陆",
    "钱", "潘", "蒋", "金", "范", "姚", "吕", "蔡",
];
const OLD_F: &[&str] = &[
    "秀英", "桂英", "玉兰", "凤英", "阿珍", "金妹", "素珍", "月娥", "杏娣",
];
const OLD_M: &[&str] = &[
    "建国", "根宝", "志明", "阿大", "福生", "国良", "荣根", "德明", "明华",
];
const MID_F: &[&str] = &["丽华", "红梅", "海燕", "晓梅", "春燕", "静", "敏"];
const MID_M: &[&str] = &["伟", "强", "志刚", "建华", "永明", "卫东", "军"];
const YOUNG: &[&str] = &["子轩", "欣怡", "浩然", "雨涵", "梓涵", "宇航", "思远"];

/// A small deterministic generator: the same demo every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A made-up ID number of Gusu (320508) with a correct check digit.
fn id_number(rng: &mut Rng, year: i64, female: bool) -> String {
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    let seq = rng.below(50) * 2 + u64::from(!female);
    let body = format!(
        "320508{year:04}{month:02}{day:02}{:02}{seq}",
        rng.below(100)
    );
    let body = &body[..17];
    let check = haitang_sync::personal::id_check_digit(body.as_bytes());
    format!("{body}{}", check as char)
}

/// The register as a community keeps it, one row per person.
fn register(rng: &mut Rng) -> String {
    let mut csv = String::from(
        "户号,网格,片区,地址,姓名,性别,出生年份,与户主关系,联系电话,身份证号,关爱标签,状态\n",
    );
    let mut n = 0;
    for (grid, sector, street, households, _) in PATCHES {
        for h in 0..households {
            n += 1;
            let number = format!("JZ-{grid}-{n:04}");
            let address = if street.ends_with('幢') {
                format!("{street}{}0{}室", 1 + h / 4, 1 + h % 4)
            } else {
                format!("{street}{}号", 1 + h * 2)
            };
            let surname = rng.pick(SURNAMES);
            // Old town: many elderly alone or as a couple, some families, a few tenants.
            let shape = rng.below(100);
            let mut people: Vec<(String, bool, i64, &str, Vec<&str>)> = Vec::new();
            let old_year = 1934 + rng.below(22) as i64;
            let alone = shape < 30;
            let female = rng.chance(60);
            let first = rng.pick(if female { OLD_F } else { OLD_M });
            let mut tags = Vec::new();
            if alone {
                tags.push("独居老人");
            } else if shape < 55 {
                tags.push("空巢老人");
            }
            if old_year <= 1946 {
                tags.push("高龄老人");
            }
            if rng.chance(6) {
                tags.push("残疾人");
            }
            if rng.chance(5) {
                tags.push("低保户");
            }
            if rng.chance(3) {
                tags.push("重点关注");
            }
            people.push((format!("{surname}{first}"), female, old_year, "户主", tags));
            if !alone && shape < 55 {
                let spouse_f = !female;
                let other = rng.pick(SURNAMES);
                let name = rng.pick(if spouse_f { OLD_F } else { OLD_M });
                people.push((
                    format!("{other}{name}"),
                    spouse_f,
                    old_year + 2,
                    "配偶",
                    vec![],
                ));
            } else if shape >= 55 {
                let child_f = rng.chance(50);
                let name = rng.pick(if child_f { MID_F } else { MID_M });
                let mut tags = vec![];
                if rng.chance(4) {
                    tags.push("低保户");
                }
                people.push((
                    format!("{surname}{name}"),
                    child_f,
                    1968 + rng.below(15) as i64,
                    "子女",
                    tags,
                ));
                if rng.chance(50) {
                    let kid_f = rng.chance(50);
                    let tags = if rng.chance(8) {
                        vec!["留守儿童"]
                    } else {
                        vec![]
                    };
                    people.push((
                        format!("{surname}{}", rng.pick(YOUNG)),
                        kid_f,
                        2012 + rng.below(10) as i64,
                        "孙辈",
                        tags,
                    ));
                }
            }
            for (name, female, year, relation, tags) in people {
                let phone = if year < 1940 && rng.chance(40) {
                    String::new()
                } else {
                    format!(
                        "1{}{:09}",
                        [3, 5, 8, 9][rng.below(4) as usize],
                        rng.below(1_000_000_000)
                    )
                };
                let id = id_number(rng, year, female);
                csv.push_str(&format!(
                    "{number},{COMMUNITY}/{grid},{COMMUNITY}/{grid}/{sector},{address},{name},{},{year},{relation},{phone},{id},{},在住\n",
                    if female { "女" } else { "男" },
                    tags.join("、"),
                ));
            }
        }
    }
    csv
}

/// Seeds once: a database that already holds households is left as it is.
pub async fn seed(db: &Db, records: &Records, ids: &IdHasher) -> anyhow::Result<()> {
    if !db
        .households_search(
            haitang_sync::scope::Scope::Subtree {
                path: COMMUNITY.into(),
            },
            None,
            None,
            false,
            now_ms(),
            1,
            0,
        )
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let mut rng = Rng(0x5eed_4a17_a9c3_0001);
    let supervisor = db
        .user_by_username("community1".into())
        .await?
        .context("no demo account community1")?;
    let report =
        crate::households::import(db, records, ids, &supervisor, register(&mut rng).as_bytes())
            .await
            .map_err(|e| match e {
                crate::households::ImportError::Rows(rows) => anyhow::anyhow!(
                    "the demo register has bad rows: {}",
                    rows.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                crate::households::ImportError::Db(e) => e.into(),
            })?;
    let now = now_ms();
    let mut visits = 0;
    // Visits reviewed by the community supervisor: all but the last week's are closed.
    let mut reviewed = Vec::new();
    for (grid, sector, _, _, visitor) in PATCHES {
        let user = db
            .user_by_username(visitor.into())
            .await?
            .with_context(|| format!("no demo account {visitor}"))?;
        let principal = user.principal();
        let actor = ActorId::random();
        let patch = haitang_sync::scope::Scope::Sector {
            path: format!("{COMMUNITY}/{grid}/{sector}"),
        };
        let households = db
            .households_search(patch, None, None, false, now, 200, 0)
            .await?;
        let mut docs = Vec::new();
        for h in households {
            let people = db.household_residents(h.id.clone()).await?;
            let on_plan: Vec<_> = people
                .iter()
                .filter(|p| p.interval_days.is_some())
                .collect();
            if on_plan.is_empty() {
                continue;
            }
            let interval = on_plan
                .iter()
                .filter_map(|p| p.interval_days)
                .min()
                .unwrap_or(30);
            // How far behind this household's visits are: most on time, some late, a few
            // never visited since they were registered.
            let lag = match rng.below(100) {
                0..=69 => 0,
                70..=89 => interval + 1 + rng.below(5) as i64,
                _ => continue,
            };
            // The server takes no report dated more than 30 days before it arrives, so the
            // history is the four weeks before the seed.
            let mut at = now - 29 * DAY_MS + rng.below(interval.min(28) as u64) as i64 * DAY_MS;
            while at < now - lag * DAY_MS - DAY_MS {
                let seen: Vec<String> = on_plan.iter().map(|p| p.pid.clone()).collect();
                let category = if on_plan
                    .iter()
                    .any(|p| p.tags.iter().any(|t| t == "disabled"))
                {
                    "visit.disabled"
                } else if on_plan
                    .iter()
                    .any(|p| p.tags.iter().any(|t| t == "low_income"))
                {
                    "visit.low_income"
                } else {
                    "visit.elderly_alone"
                };
                let id = uuid::Uuid::new_v4().to_string();
                let title = format!("{} 入户走访", h.address);
                let mut doc = new_record(
                    actor.clone(),
                    &NewRecord {
                        id: id.clone(),
                        kind: Kind::Visit,
                        grid: h.grid.clone(),
                        sector: h.sector.clone(),
                        category: category.into(),
                        title,
                        description: [
                            "身体状况稳定，精神不错。",
                            "家中整洁，需求已记录。",
                            "反映楼道灯坏了，已告知物业。",
                            "子女本周来过，生活有人照应。",
                        ][rng.below(4) as usize]
                            .into(),
                        address: h.address.clone(),
                        location: Some(Location {
                            lat: 31.3300 + rng.below(40) as f64 * 0.0001,
                            lng: 120.5900 + rng.below(40) as f64 * 0.0001,
                            accuracy_m: Some(8.0),
                        }),
                        household: Some(h.id.clone()),
                        persons: seen,
                        raised_from: None,
                        // Most homes are fine; a few need a look again.
                        checks: [
                            (
                                "wellbeing",
                                ["good", "good", "good", "fair", "fair", "poor"]
                                    [rng.below(6) as usize],
                            ),
                            (
                                "home",
                                if rng.below(8) == 0 {
                                    "needs_help"
                                } else {
                                    "tidy"
                                },
                            ),
                            ("safety", if rng.below(15) == 0 { "found" } else { "none" }),
                            ("needs", if rng.below(6) == 0 { "some" } else { "none" }),
                        ]
                        .into_iter()
                        .map(|(c, a)| (c.to_owned(), a.to_owned()))
                        .collect(),
                        reported_by: user.id,
                        reported_at: at,
                        urgency: Urgency::Normal,
                    },
                );
                let record = read_record(&doc)?;
                let facts = Facts::of(&doc, &record, true);
                let mut tx = doc.transaction();
                perform(
                    &mut tx,
                    &facts,
                    Action::ResolveOnSpot,
                    user.id,
                    at + 600_000,
                    &Params::default(),
                )
                .context("a demo visit handled on the spot")?;
                tx.commit();
                if at < now - 7 * DAY_MS {
                    reviewed.push((doc.clone(), at));
                }
                docs.push(PushDoc {
                    doc: id,
                    doc_type: None,
                    changes: doc
                        .get_changes(&[])
                        .into_iter()
                        .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                        .collect(),
                });
                at += (interval - rng.below(3) as i64).max(1) * DAY_MS;
            }
        }
        for chunk in docs.chunks(100) {
            let results = records.push(&principal, chunk.to_vec()).await?;
            if let Some(r) = results.iter().find(|r| !r.ok) {
                bail!(
                    "a demo visit was refused: {} {}",
                    r.code.as_deref().unwrap_or(""),
                    r.message.as_deref().unwrap_or("")
                );
            }
            visits += results.len();
        }
    }
    let actor = ActorId::random();
    let mut closes = Vec::new();
    for (doc, at) in reviewed {
        let before = doc.get_heads();
        let mut doc = doc.with_actor(actor.clone());
        let mut record = read_record(&doc)?;
        // 核查 then 结案: the rule table closes only what was verified.
        for (action, after) in [(Action::Verify, DAY_MS), (Action::Close, 2 * DAY_MS)] {
            let facts = Facts::of(&doc, &record, true);
            let mut tx = doc.transaction();
            perform(
                &mut tx,
                &facts,
                action,
                supervisor.id,
                at + after,
                &Params::default(),
            )
            .context("reviewing a demo visit")?;
            tx.commit();
            record = read_record(&doc)?;
        }
        closes.push(PushDoc {
            doc: record.id.clone(),
            doc_type: None,
            changes: doc
                .get_changes(&before)
                .into_iter()
                .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                .collect(),
        });
    }
    for chunk in closes.chunks(100) {
        let results = records
            .push(&supervisor.principal(), chunk.to_vec())
            .await?;
        if let Some(r) = results.iter().find(|r| !r.ok) {
            bail!(
                "closing a demo visit was refused: {} {}",
                r.code.as_deref().unwrap_or(""),
                r.message.as_deref().unwrap_or("")
            );
        }
    }
    tracing::info!(
        households = report.households_created,
        people = report.people_added,
        visits,
        "demo households seeded"
    );
    Ok(())
}
