//! Three weeks of the demo district's life (`--demo-history`), so that every screen and
//! number means something at first open: reports from the building, lane and courtyard
//! leaders and the grid staff of 金筑社区, and what their supervisors, the grid staff and the
//! police did with them, up to today's open cases (new, returned, escalated, dispatched,
//! overdue, awaiting verification).
//!
//! Nothing is written around the product: each step is an Automerge change made by the
//! demo account that would make it, on a replica of its own (its own actor id), dated when
//! it happened, and pushed through `Records::push`, so it passes the same schema, scope
//! and workflow checks as a phone's. A step the rules refuse stops the seeding with the
//! refusal, which keeps these stories true to the rule table as it changes.

use crate::db::{Db, now_ms};
use crate::records::Records;
use anyhow::{Context, bail};
use automerge::{ActorId, Automerge};
use haitang_sync::catalogue;
use haitang_sync::protocol::PushDoc;
use haitang_sync::record::{Kind, Location, NewRecord, Urgency, is_uuid, new_record, read_record};
use haitang_sync::rules::due_at;
use haitang_sync::scope::Principal;
use haitang_sync::workflow::{Action, Facts, Params, perform};
use serde_bytes::ByteBuf;
use std::collections::HashMap;

const COMMUNITY: &str = "/gusu/byw/ws1/jinzhu";
const HOUR: i64 = 3_600_000;

/// Someone a step is aimed at.
#[derive(Clone, Copy)]
enum To {
    /// A grid staff member, by username (`assign`).
    User(&'static str),
    /// A department, by code under `/gusu` (`dispatch`).
    Department(&'static str),
    /// An earlier story's record (`close_duplicate`), by its index in [`STORIES`].
    DuplicateOf(usize),
}

/// One workflow step: who, what, how many hours after the report, with what note.
struct Step(&'static str, Action, f64, Option<&'static str>, Option<To>);

struct Story {
    reporter: &'static str,
    /// Under the community: `g01`, or a sector such as `g01/b1`.
    place: &'static str,
    category: &'static str,
    urgent: bool,
    title: &'static str,
    description: &'static str,
    address: &'static str,
    /// When it was reported, in hours before the seeding.
    hours_ago: f64,
    steps: &'static [Step],
}

use Action::*;

const STORIES: &[Story] = &[
    Story {
        reporter: "grid1",
        place: "g01",
        category: "city.flyposting",
        urgent: false,
        title: "金筑路公交站牌小广告",
        description: "站牌两侧贴满疏通管道小广告，已现场清除。",
        address: "金筑路公交站",
        hours_ago: 470.0,
        steps: &[
            Step("grid1", ResolveOnSpot, 0.3, None, None),
            Step("community1", Verify, 3.0, Some("现场已清理干净"), None),
            Step("community1", Close, 3.2, None, None),
        ],
    },
    Story {
        reporter: "lou1",
        place: "g01/b1",
        category: "city.garbage_overflow",
        urgent: false,
        title: "金筑苑3幢垃圾桶满溢",
        description: "3幢西侧两个垃圾桶已满，垃圾散落在地上，天热有异味。",
        address: "金筑苑3幢西侧",
        hours_ago: 450.0,
        steps: &[
            Step("community1", Accept, 0.5, None, None),
            Step(
                "community1",
                Assign,
                0.7,
                Some("请张伟联系保洁清运"),
                Some(To::User("grid1")),
            ),
            Step("grid1", Start, 1.5, None, None),
            Step(
                "grid1",
                ReportBack,
                3.0,
                Some("已联系保洁公司清运，垃圾桶已清空，地面已冲洗"),
                None,
            ),
            Step("community1", Verify, 3.5, Some("现场核查，已清理"), None),
            Step("community1", Close, 3.6, None, None),
        ],
    },
    Story {
        reporter: "xiang1",
        place: "g01/l1",
        category: "city.fire_lane_blocked",
        urgent: true,
        title: "西园弄消防通道被电瓶车堵塞",
        description: "弄堂中段停了七八辆电瓶车，消防车进不来，晚上还有人在楼道充电。",
        address: "西园弄中段",
        hours_ago: 420.0,
        steps: &[
            Step("community1", Accept, 0.3, None, None),
            Step(
                "community1",
                Dispatch,
                0.5,
                Some("请派出所协助清理占道车辆"),
                Some(To::Department("police")),
            ),
            Step("police1", Start, 0.8, None, None),
            Step(
                "police1",
                ReportBack,
                0.9,
                Some("已通知车主挪车，通道畅通，并做了安全提醒"),
                None,
            ),
            Step("community1", Verify, 1.1, None, None),
            Step("community1", Close, 1.2, Some("通道已畅通"), None),
        ],
    },
    Story {
        reporter: "grid2",
        place: "g02",
        category: "city.shop_overflow",
        urgent: false,
        title: "山塘后巷水果店店外经营",
        description: "水果摊摆到人行道上，行人只能走机动车道。",
        address: "山塘后巷8号",
        hours_ago: 380.0,
        steps: &[
            Step("grid2", ResolveOnSpot, 0.5, None, None),
            Step("community1", Verify, 4.0, None, None),
            Step("community1", Close, 4.1, None, None),
        ],
    },
    Story {
        reporter: "grid1",
        place: "g01",
        category: "city.bike_parking",
        urgent: false,
        title: "金筑苑北门非机动车乱停",
        description: "北门口共享单车和电瓶车堆在盲道上。",
        address: "金筑苑北门",
        hours_ago: 350.0,
        steps: &[
            Step("grid1", ResolveOnSpot, 0.2, None, None),
            Step("community1", Verify, 2.0, Some("已摆放整齐"), None),
            Step("community1", Close, 2.1, None, None),
        ],
    },
    Story {
        reporter: "yuan1",
        place: "g02/c1",
        category: "need.meal_assistance",
        urgent: false,
        title: "潘家大院独居老人申请助餐",
        description: "院里的王阿婆八十六岁独居，腿脚不便，想申请社区助餐送餐。",
        address: "潘家大院3号",
        hours_ago: 300.0,
        steps: &[
            Step("community1", Accept, 2.0, None, None),
            Step("community1", Assign, 2.2, None, Some(To::User("grid2"))),
            Step("grid2", Start, 20.0, None, None),
            Step(
                "grid2",
                ReportBack,
                22.0,
                Some("已登记长者食堂助餐，每天中午送餐上门"),
                None,
            ),
            Step(
                "community1",
                Verify,
                23.0,
                Some("电话回访老人，已收到送餐"),
                None,
            ),
            Step("community1", Close, 23.5, None, None),
        ],
    },
    Story {
        reporter: "yuan1",
        place: "g02/c1",
        category: "need.medical_escort",
        urgent: false,
        title: "独居老人需陪同复诊",
        description: "李老伯下周二要去市立医院复诊，子女在外地，需要有人陪同。",
        address: "潘家大院5号",
        hours_ago: 270.0,
        steps: &[
            Step("community1", Accept, 1.0, None, None),
            Step("community1", Assign, 1.5, None, Some(To::User("grid2"))),
            Step("grid2", Start, 30.0, None, None),
            Step(
                "grid2",
                ReportBack,
                70.0,
                Some("已联系志愿者陪同就诊，老人已平安回家"),
                None,
            ),
            Step("community1", Verify, 72.0, None, None),
            Step(
                "community1",
                Close,
                72.5,
                Some("超时办结，志愿者排班需提前"),
                None,
            ),
        ],
    },
    Story {
        reporter: "lou1",
        place: "g01/b1",
        category: "need.noise_dispute",
        urgent: false,
        title: "3幢楼上装修噪音扰民",
        description: "楼上装修每天早上七点就开始电钻，老人休息不好。",
        address: "金筑苑3幢",
        hours_ago: 240.0,
        steps: &[
            Step(
                "community1",
                Return,
                4.0,
                Some("请补充具体楼层和施工时间段"),
                None,
            ),
            Step("lou1", Resubmit, 6.0, None, None),
            Step("community1", Accept, 8.0, None, None),
            Step("community1", Assign, 8.5, None, Some(To::User("grid1"))),
            Step("grid1", Start, 24.0, None, None),
            Step(
                "grid1",
                ReportBack,
                30.0,
                Some("已上门协调，施工时间调整为工作日八点半以后"),
                None,
            ),
            Step("community1", Verify, 32.0, None, None),
            Step("community1", Close, 32.2, None, None),
        ],
    },
    Story {
        reporter: "grid2",
        place: "g02",
        category: "city.illegal_building",
        urgent: false,
        title: "山塘后巷屋顶违法搭建",
        description: "12号屋顶新搭了一间彩钢板房，邻居反映影响采光和消防安全。",
        address: "山塘后巷12号",
        hours_ago: 200.0,
        steps: &[
            Step(
                "community1",
                Escalate,
                3.0,
                Some("涉及违建拆除，需工作站协调城管执法"),
                None,
            ),
            Step("ws1", Accept, 6.0, None, None),
            Step(
                "ws1",
                Dispatch,
                7.0,
                Some("请城管局依法处置"),
                Some(To::Department("urban")),
            ),
        ],
    },
    Story {
        reporter: "lou1",
        place: "g01/b1",
        category: "city.garbage_exposed",
        urgent: false,
        title: "3幢门口装修垃圾堆放",
        description: "门口堆了十几袋装修垃圾，已经三天没人清。",
        address: "金筑苑3幢门口",
        hours_ago: 100.0,
        steps: &[
            Step("community1", Accept, 1.0, None, None),
            Step("community1", Assign, 1.2, None, Some(To::User("grid1"))),
            Step("grid1", Start, 2.0, None, None),
            Step("grid1", ReportBack, 3.5, Some("已联系装修户自行清运"), None),
            Step("community1", Verify, 4.0, None, None),
            Step("community1", Close, 4.2, None, None),
        ],
    },
    Story {
        reporter: "xiang1",
        place: "g01/l1",
        category: "city.garbage_exposed",
        urgent: false,
        title: "金筑苑3幢旁装修垃圾",
        description: "弄口看到3幢门口有很多装修垃圾袋。",
        address: "西园弄口",
        hours_ago: 99.0,
        steps: &[Step(
            "community1",
            CloseDuplicate,
            0.8,
            Some("与顾阿姨上报的事件重复"),
            Some(To::DuplicateOf(9)),
        )],
    },
    Story {
        reporter: "lou1",
        place: "g01/b1",
        category: "need.errand_help",
        urgent: false,
        title: "3幢独居老人需代购药品",
        description: "502的陈老师发烧不便出门，需要帮忙买退烧药。",
        address: "金筑苑3幢502",
        hours_ago: 50.0,
        steps: &[
            Step("lou1", ResolveOnSpot, 1.0, None, None),
            Step("community1", Verify, 4.0, Some("电话回访，药已送到"), None),
            Step("community1", Close, 4.1, None, None),
        ],
    },
    Story {
        reporter: "xiang1",
        place: "g01/l1",
        category: "city.street_vending",
        urgent: false,
        title: "西园弄口早点摊占道经营",
        description: "早上六点到九点，煎饼摊摆在弄口，电瓶车进出困难。",
        address: "西园弄口",
        hours_ago: 30.0,
        steps: &[
            Step("community1", Accept, 1.0, None, None),
            Step("community1", Assign, 1.1, None, Some(To::User("grid1"))),
            Step("grid1", Start, 1.5, None, None),
            Step(
                "grid1",
                ReportBack,
                1.9,
                Some("已劝导摊主移到早市摊位区"),
                None,
            ),
        ],
    },
    Story {
        reporter: "grid2",
        place: "g02",
        category: "city.road_dirty",
        urgent: false,
        title: "山塘后巷路面油污",
        description: "餐馆门口路面大片油污，已有老人滑倒。",
        address: "山塘后巷20号",
        hours_ago: 26.0,
        steps: &[
            Step("community1", Accept, 0.5, None, None),
            Step("community1", Assign, 0.6, None, Some(To::User("grid2"))),
            Step(
                "grid2",
                Start,
                1.0,
                Some("已联系环卫，等待高压冲洗车"),
                None,
            ),
        ],
    },
    Story {
        reporter: "yuan1",
        place: "g02/c1",
        category: "need.parking_dispute",
        urgent: false,
        title: "潘家大院门口停车纠纷",
        description: "外来车辆长期停在院门口，居民和车主发生争执。",
        address: "潘家大院门口",
        hours_ago: 20.0,
        steps: &[
            Step("community1", Accept, 1.0, None, None),
            Step(
                "community1",
                Dispatch,
                1.5,
                Some("请派出所协调"),
                Some(To::Department("police")),
            ),
            Step(
                "police1",
                Start,
                3.0,
                Some("已联系车主，约定今晚挪车"),
                None,
            ),
        ],
    },
    Story {
        reporter: "lou1",
        place: "g01/b1",
        category: "city.car_parking",
        urgent: false,
        title: "3幢门口机动车乱停",
        description: "看错了，是搬家的临时停车。",
        address: "金筑苑3幢门口",
        hours_ago: 10.0,
        steps: &[Step("lou1", Withdraw, 0.3, None, None)],
    },
    Story {
        reporter: "grid2",
        place: "g02",
        category: "city.graffiti",
        urgent: false,
        title: "墙面乱涂写",
        description: "巷子墙上有涂写。",
        address: "山塘后巷",
        hours_ago: 8.0,
        steps: &[Step(
            "community1",
            Return,
            2.0,
            Some("请注明门牌号并补拍照片"),
            None,
        )],
    },
    Story {
        reporter: "xiang1",
        place: "g01/l1",
        category: "need.corridor_dispute",
        urgent: false,
        title: "西园弄12号楼道堆物",
        description: "二楼住户把旧家具堆在楼道，邻居进出要侧身。",
        address: "西园弄12号",
        hours_ago: 6.0,
        steps: &[],
    },
    Story {
        reporter: "lou1",
        place: "g01/b1",
        category: "city.facility_damaged",
        urgent: false,
        title: "3幢单元门禁损坏",
        description: "单元门禁刷卡没反应，门一直开着。",
        address: "金筑苑3幢1单元",
        hours_ago: 3.0,
        steps: &[],
    },
    Story {
        reporter: "yuan1",
        place: "g02/c1",
        category: "need.emergency_call",
        urgent: true,
        title: "独居老人摔倒求助",
        description: "7号的赵阿婆在院里摔倒，意识清醒，说腿疼起不来，已经扶她坐下。",
        address: "潘家大院7号",
        hours_ago: 0.4,
        steps: &[],
    },
];

/// A demo account at work: who it is and the actor id of its phone.
struct Hand {
    principal: Principal,
    actor: ActorId,
}

/// Seeds the history once: a database that holds any document is left as it is.
pub async fn seed(db: &Db) -> anyhow::Result<()> {
    if db.record_counts().await?.0 > 0 {
        return Ok(());
    }
    let records = Records::new(db.clone(), 1);
    let now = now_ms();
    let mut hands: HashMap<&str, Hand> = HashMap::new();
    let mut ids: Vec<String> = Vec::with_capacity(STORIES.len());
    let mut steps = 0;
    for (i, story) in STORIES.iter().enumerate() {
        let reported_at = now - (story.hours_ago * HOUR as f64) as i64;
        let id = story_id(i);
        let reporter = hand(db, &mut hands, story.reporter).await?;
        let (grid, sector) = match story.place.split_once('/') {
            Some((grid, _)) => (grid, Some(format!("{COMMUNITY}/{}", story.place))),
            None => (story.place, None),
        };
        let category = catalogue::find(story.category)
            .with_context(|| format!("no category {}", story.category))?;
        let kind = if story.category.starts_with("need.") {
            Kind::Need
        } else {
            Kind::Event
        };
        let mut doc = new_record(
            reporter.actor.clone(),
            &NewRecord {
                id: id.clone(),
                kind,
                grid: format!("{COMMUNITY}/{grid}"),
                sector,
                category: story.category.into(),
                title: story.title.into(),
                description: story.description.into(),
                address: story.address.into(),
                location: Some(location(i)),
                household: None,
                persons: Vec::new(),
                raised_from: None,
                checks: Default::default(),
                reported_by: reporter.principal.user_id,
                reported_at,
                urgency: if story.urgent {
                    Urgency::Urgent
                } else {
                    Urgency::Normal
                },
            },
        );
        push(&records, &reporter.principal, &id, &doc, &[]).await?;
        for Step(by, action, after, note, to) in story.steps {
            let at = reported_at + (after * HOUR as f64) as i64;
            let hand = hand(db, &mut hands, by).await?;
            let assignee = match to {
                Some(To::User(u)) => Some(hand_id(db, u).await?),
                _ => None,
            };
            let department = match to {
                Some(To::Department(code)) => Some(format!("/gusu:{code}")),
                _ => None,
            };
            let duplicate_of = match to {
                Some(To::DuplicateOf(j)) => Some(ids[*j].as_str()),
                _ => None,
            };
            let record = read_record(&doc)?;
            let due =
                (*action == Accept).then(|| due_at(at, category.handling_hours, story.urgent));
            let params = Params {
                note: *note,
                assignee,
                department: department.as_deref(),
                duplicate_of,
                due_at: due,
            };
            let facts = Facts::of(&doc, &record, category.field_resolvable);
            let before = doc.get_heads();
            let mut replica = doc.fork().with_actor(hand.actor.clone());
            let mut tx = replica.transaction();
            perform(
                &mut tx,
                &facts,
                *action,
                hand.principal.user_id,
                at,
                &params,
            )
            .with_context(|| format!("{}: {action} by {by}", story.title))?;
            tx.commit();
            push(&records, &hand.principal, &id, &replica, &before)
                .await
                .with_context(|| format!("{}: {action} by {by}", story.title))?;
            doc.merge(&mut replica)?;
            steps += 1;
        }
        ids.push(id);
    }
    tracing::info!(records = ids.len(), steps, "demo history seeded");
    Ok(())
}

/// Pushes what `doc` has after `since`, as `who`'s phone would, and fails on a refusal.
async fn push(
    records: &Records,
    who: &Principal,
    id: &str,
    doc: &Automerge,
    since: &[automerge::ChangeHash],
) -> anyhow::Result<()> {
    let changes = doc
        .get_changes(since)
        .into_iter()
        .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
        .collect();
    let results = records
        .push(
            who,
            vec![PushDoc {
                doc: id.to_owned(),
                doc_type: None,
                changes,
            }],
        )
        .await?;
    match results.first() {
        Some(r) if r.ok => Ok(()),
        Some(r) => bail!(
            "the server refused it: {} {}",
            r.code.as_deref().unwrap_or(""),
            r.message.as_deref().unwrap_or("")
        ),
        None => bail!("the server answered nothing"),
    }
}

async fn hand<'a>(
    db: &Db,
    hands: &'a mut HashMap<&'static str, Hand>,
    username: &'static str,
) -> anyhow::Result<&'a Hand> {
    if !hands.contains_key(username) {
        let user = db
            .user_by_username(username.into())
            .await?
            .with_context(|| format!("no demo account {username}"))?;
        hands.insert(
            username,
            Hand {
                principal: user.principal(),
                actor: ActorId::random(),
            },
        );
    }
    Ok(&hands[username])
}

async fn hand_id(db: &Db, username: &str) -> anyhow::Result<i64> {
    Ok(db
        .user_by_username(username.into())
        .await?
        .with_context(|| format!("no demo account {username}"))?
        .id)
}

/// A fixed id per story, so that a second database seeded from scratch names the same
/// records (handy when comparing screenshots).
fn story_id(i: usize) -> String {
    let id = format!(
        "00000000-0000-4000-8000-{:012x}",
        0xde30_0000_0000u64 + i as u64
    );
    debug_assert!(is_uuid(&id));
    id
}

/// Where in 金筑社区 (WGS-84, as a phone's GPS gives it) story `i` was reported: around
/// 31.330 N 120.590 E, a few dozen metres apart.
fn location(i: usize) -> Location {
    let step = i as f64;
    Location {
        lat: 31.3300 + (step * 0.00037) % 0.004,
        lng: 120.5900 + (step * 0.00053) % 0.005,
        accuracy_m: Some(8.0 + (step * 3.0) % 20.0),
    }
}
