//! Records as phones make them offline: four changes each (create; edit the description;
//! add a note; add a timeline event with a new status).

use automerge::{ActorId, Automerge};
use haitang_sync::catalogue;
use haitang_sync::record::{self, Kind, Location, NewRecord, Urgency};
use haitang_sync::workflow;

/// The six grids of 白洋湾街道 (`street1`'s scope): the workload's phones work here.
pub const BYW_GRIDS: [&str; 6] = [
    "/gusu/byw/ws1/jinzhu/g01",
    "/gusu/byw/ws1/jinzhu/g02",
    "/gusu/byw/ws1/jinzhu/g03",
    "/gusu/byw/ws1/xinzhuang/g01",
    "/gusu/byw/ws1/xinzhuang/g02",
    "/gusu/byw/ws1/xinzhuang/g03",
];

/// The six grids of 平江街道: the preloaded records go here, out of every workload scope.
pub const PJ_GRIDS: [&str; 6] = [
    "/gusu/pj/ws1/daru/g01",
    "/gusu/pj/ws1/daru/g02",
    "/gusu/pj/ws1/daru/g03",
    "/gusu/pj/ws1/cangjie/g01",
    "/gusu/pj/ws1/cangjie/g02",
    "/gusu/pj/ws1/cangjie/g03",
];

const TITLES: [&str; 6] = [
    "楼道堆放杂物堵塞消防通道",
    "门口暴露垃圾两天未清运",
    "独居老人需要上门送餐",
    "路灯不亮夜间行人不便",
    "电动车楼道内充电",
    "井盖松动有安全隐患",
];

const DESCRIPTIONS: [&str; 4] = [
    "居民反映楼道内堆放纸箱和旧家具，影响通行，已拍照留存，需物业配合清理。",
    "巡查发现小区东门垃圾桶满溢，垃圾袋散落在地，气味较大，请环卫尽快清运。",
    "住户年事已高，子女在外地，近期行动不便，希望社区协助联系助餐服务。",
    "弄堂内两盏路灯损坏，晚上光线很暗，已有老人摔倒，请尽快维修。",
];

/// A record's fields: the kind, category, sector and texts vary with `n`.
pub fn fields(id: String, grid: &str, reported_by: i64, n: usize) -> NewRecord {
    let kind = [Kind::Event, Kind::Need, Kind::Visit][n % 3];
    // The fourth change resolves the record on the spot, which the workflow allows only
    // for categories field staff may resolve themselves.
    let mut categories: Vec<_> = catalogue::for_kind(kind)
        .filter(|c| c.field_resolvable)
        .collect();
    if categories.is_empty() {
        categories = catalogue::for_kind(kind).collect();
    }
    let category = categories[n % categories.len().max(1)].code.to_owned();
    let sector = match n % 4 {
        0 => None,
        1 => Some(format!("{grid}/b1")),
        2 => Some(format!("{grid}/l1")),
        _ => Some(format!("{grid}/c1")),
    };
    NewRecord {
        id,
        kind,
        grid: grid.to_owned(),
        sector,
        category,
        title: format!("{}（{}号）", TITLES[n % TITLES.len()], n % 97 + 1),
        description: DESCRIPTIONS[n % DESCRIPTIONS.len()].to_owned(),
        address: format!("{}号楼{}单元", n % 40 + 1, n % 6 + 1),
        location: Some(Location {
            lat: 31.32 + (n % 1000) as f64 * 1e-5,
            lng: 120.61 + (n % 777) as f64 * 1e-5,
            accuracy_m: Some(5.0 + (n % 20) as f64),
        }),
        household: None,
        persons: Vec::new(),
        raised_from: None,
        checks: Default::default(),
        reported_by,
        // Within the week before the run: the server refuses reports dated implausibly.
        reported_at: week_ago() + n as i64,
        urgency: if n.is_multiple_of(10) {
            Urgency::Urgent
        } else {
            Urgency::Normal
        },
    }
}

fn week_ago() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    now - 7 * 86_400_000
}

/// The record's document after its four offline changes.
pub fn make_record(actor: &ActorId, f: &NewRecord) -> Automerge {
    let mut doc = record::new_record(actor.clone(), f);
    let by = f.reported_by;
    let at = f.reported_at;
    let mut tx = doc.transaction();
    record::set_text(
        &mut tx,
        "description",
        &format!("{}（已复核，补充：现场有三处）", f.description),
    )
    .expect("a new record has a description");
    tx.commit();
    let mut tx = doc.transaction();
    record::append_note(
        &mut tx,
        by,
        at + 60_000,
        "已电话联系居民，约定明天上午再去现场查看。",
    )
    .expect("a new record has notes");
    tx.commit();
    let rec = record::read_record(&doc).expect("a valid record");
    let resolvable = catalogue::find(&rec.category).is_some_and(|c| c.field_resolvable);
    let facts = workflow::Facts::of(&doc, &rec, resolvable);
    let action = if resolvable {
        workflow::Action::ResolveOnSpot
    } else {
        workflow::Action::Withdraw
    };
    let mut tx = doc.transaction();
    workflow::perform(
        &mut tx,
        &facts,
        action,
        by,
        at + 120_000,
        &workflow::Params {
            note: Some("网格员已现场处置"),
            ..Default::default()
        },
    )
    .expect("a new record has a timeline");
    tx.commit();
    doc
}

/// Every change of the document, as the phone pushes them.
pub fn all_changes(doc: &Automerge) -> Vec<Vec<u8>> {
    doc.get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_valid_with_four_changes() {
        for n in 0..24 {
            let id = uuid::Uuid::new_v4().to_string();
            let f = fields(id.clone(), BYW_GRIDS[n % 6], 42, n);
            let doc = make_record(&ActorId::random(), &f);
            let r = record::read_record(&doc).expect("valid");
            assert_eq!(r.id, id);
            // Resolved on the spot, or withdrawn where the category does not allow that.
            assert!(
                matches!(
                    r.status,
                    record::Status::Resolved | record::Status::Withdrawn
                ),
                "{:?}",
                r.status
            );
            assert!(catalogue::find(&r.category).is_some());
            assert_eq!(all_changes(&doc).len(), 4);
        }
    }
}
