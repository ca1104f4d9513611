use std::collections::HashMap;

use automerge::{ActorId, Automerge};

use super::*;
use crate::doctype::DocKind;
use crate::ingest::{PushContext, RefusalCode};
use crate::scope::{Principal, Role};

pub const ID: &str = "5a1c2c1e-7b0e-4d55-9a3e-3f1b2d3c4e5f";
pub const P1: &str = "11111111-2222-4333-8444-555555555555";
pub const P2: &str = "66666666-7777-4888-8999-aaaaaaaaaaaa";
const GRID: &str = "/gusu/byw/ws1/jinzhu/g01";

fn fields() -> NewHousehold {
    NewHousehold {
        id: ID.to_owned(),
        grid: GRID.to_owned(),
        sector: Some(format!("{GRID}/b1")),
        number: "JZ-0301".to_owned(),
        address: "金筑苑3幢201室".to_owned(),
        created_by: 7,
        created_at: 1_000,
        members: vec![NewMember {
            pid: P1.to_owned(),
            relation: Relation::Head,
        }],
    }
}

fn principal(role: Role, user_id: i64) -> Principal {
    Principal {
        user_id,
        role,
        unit: GRID.to_owned(),
        department: None,
    }
}

fn judge(h: &Household, before: Option<&Household>, who: &Principal) -> Result<(), RefusalCode> {
    let actors = HashMap::new();
    let ctx = PushContext {
        principal: who,
        actor_users: &actors,
        now: 2_000,
    };
    HouseholdKind::check_state(ID, h, before, &ctx, &()).map_err(|r| r.code)
}

fn edit(
    doc: &Automerge,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) -> Automerge {
    let mut doc = doc.fork().with_actor(ActorId::random());
    let mut tx = doc.transaction();
    f(&mut tx);
    tx.commit();
    doc
}

#[test]
fn a_new_household_reads_back() {
    let doc = new_household(ActorId::random(), &fields());
    let h = read_household(&doc).expect("valid");
    assert_eq!(h.number, "JZ-0301");
    assert_eq!(h.address, "金筑苑3幢201室");
    assert_eq!(h.members.len(), 1);
    assert_eq!(h.members[0].status, ResidentStatus::Living);
    assert_eq!(h.members[0].since, 1_000);
    assert_eq!(h.position().department, None);
}

#[test]
fn bad_fields_are_named() {
    let doc = new_household(ActorId::random(), &fields());
    let bad = edit(&doc, |tx| {
        let m = member_obj(tx, P1).expect("member");
        tx.put(&m, "status", "gone").expect("put");
    });
    let e = read_household(&bad).expect_err("bad status");
    assert_eq!(e.field, format!("members.{P1}.status"));
    let bad = edit(&doc, |tx| {
        let members = members_obj(tx).expect("members");
        tx.put_object(&members, "王秀英", ObjType::Map)
            .expect("put");
    });
    assert_eq!(
        read_household(&bad).expect_err("name as key").field,
        "members"
    );
    let bad = edit(&doc, |tx| {
        tx.put(ROOT, "interval_days", 0).expect("put");
    });
    assert_eq!(
        read_household(&bad).expect_err("zero days").field,
        "interval_days"
    );
}

#[test]
fn concurrent_offline_edits_keep_both_facts() {
    let doc = new_household(ActorId::random(), &fields());
    let mut a = edit(&doc, |tx| {
        set_member_status(tx, P1, ResidentStatus::MovedOut).expect("status")
    });
    let b = edit(&doc, |tx| {
        add_member(tx, P2, Relation::Spouse, 1_500).expect("add");
        set_household_text(tx, "address", "金筑苑3幢201室（东）").expect("text");
    });
    a.merge(&mut b.clone()).expect("merge");
    let h = read_household(&a).expect("valid");
    assert_eq!(
        h.member(P1).map(|m| m.status),
        Some(ResidentStatus::MovedOut)
    );
    assert_eq!(h.member(P2).map(|m| m.relation), Some(Relation::Spouse));
    assert_eq!(h.address, "金筑苑3幢201室（东）");
}

#[test]
fn people_are_never_removed_and_only_supervisors_set_the_plan() {
    let doc = new_household(ActorId::random(), &fields());
    let before = read_household(&doc).expect("valid");
    let leader = principal(Role::Leader, 7);
    assert_eq!(judge(&before, None, &leader), Ok(()));
    assert_eq!(
        judge(&before, None, &principal(Role::Leader, 8)),
        Err(RefusalCode::Forbidden),
        "created by someone else"
    );
    assert_eq!(
        judge(&before, None, &principal(Role::DepartmentHandler, 7)),
        Err(RefusalCode::Forbidden)
    );
    let removed = edit(&doc, |tx| {
        let members = members_obj(tx).expect("members");
        tx.delete(&members, P1).expect("delete");
    });
    let removed = read_household(&removed).expect("valid");
    assert_eq!(
        judge(&removed, Some(&before), &leader),
        Err(RefusalCode::Forbidden)
    );
    let planned = edit(&doc, |tx| {
        set_member_interval(tx, P1, Some(3)).expect("interval")
    });
    let planned = read_household(&planned).expect("valid");
    assert_eq!(
        judge(&planned, Some(&before), &leader),
        Err(RefusalCode::Forbidden)
    );
    let supervisor = principal(Role::CommunitySupervisor, 9);
    assert_eq!(judge(&planned, Some(&before), &supervisor), Ok(()));
    // A field user's edit of something else leaves the supervisor's plan standing.
    let moved = edit(&doc, |tx| {
        set_member_interval(tx, P1, Some(3)).expect("interval");
        set_member_status(tx, P1, ResidentStatus::Deceased).expect("status");
    });
    let moved = read_household(&moved).expect("valid");
    assert_eq!(judge(&moved, Some(&planned), &leader), Ok(()));
}
