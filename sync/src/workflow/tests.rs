//! The whole role × status × action matrix, written out as the rules read in the issue,
//! then checked against `check` for every combination.

use super::*;
use crate::record::{NewRecord, Urgency, new_record, read_record};
use crate::scope::{Principal, Role};
use automerge::ActorId;
use std::collections::BTreeSet;

const REPORTER: i64 = 1;
const ASSIGNEE: i64 = 2;
const POLICE: &str = "/gusu:police";

fn principal(user_id: i64, role: Role, department: Option<&str>) -> Principal {
    Principal {
        user_id,
        role,
        unit: "/gusu".into(),
        department: department.map(Into::into),
    }
}

fn cast() -> Vec<(&'static str, Principal)> {
    vec![
        ("reporter (leader)", principal(REPORTER, Role::Leader, None)),
        (
            "assignee (grid staff)",
            principal(ASSIGNEE, Role::GridStaff, None),
        ),
        ("other leader", principal(3, Role::Leader, None)),
        ("community", principal(4, Role::CommunitySupervisor, None)),
        (
            "workstation",
            principal(5, Role::WorkstationSupervisor, None),
        ),
        ("street", principal(6, Role::StreetSupervisor, None)),
        ("district", principal(7, Role::DistrictAdmin, None)),
        (
            "police",
            principal(8, Role::DepartmentHandler, Some(POLICE)),
        ),
        (
            "fire",
            principal(9, Role::DepartmentHandler, Some("/gusu:fire")),
        ),
    ]
}

fn facts(status: Status, level: Level) -> Facts {
    Facts {
        status,
        statuses: vec![status],
        level,
        reported_by: REPORTER,
        assignee: Some(ASSIGNEE),
        department: Some(POLICE.into()),
        field_resolvable: true,
    }
}

/// What the issue says each role may do, as (action, statuses) pairs, for a record held at
/// `level`, reported by REPORTER, assigned to ASSIGNEE and dispatched to the police.
fn spec(who: &str, level: Level) -> Vec<(Action, Vec<Status>)> {
    use Action as A;
    use Status::*;
    let open = vec![Reported, Accepted, Dispatched, InProgress, Returned];
    let supervisor = vec![
        (A::Accept, vec![Reported]),
        (A::Return, vec![Reported, Accepted, Resolved]),
        (A::Assign, vec![Accepted]),
        (A::Dispatch, vec![Accepted]),
        (A::Escalate, vec![Reported, Accepted, Returned]),
        (A::Verify, vec![Resolved]),
        // 处置 → 反馈 → 核查 → 结案: closing comes after verifying, and verifying is once.
        (A::Close, vec![Verified]),
        (A::CloseDuplicate, vec![Reported, Accepted, Returned]),
        (A::Reopen, vec![Closed]),
        (A::Urge, open.clone()),
    ];
    let handler = vec![
        (A::Start, vec![Dispatched]),
        (A::ReportBack, vec![Dispatched, InProgress]),
        (A::HandBack, vec![Dispatched, InProgress]),
    ];
    let my_level = match who {
        "community" => Some(Level::Community),
        "workstation" => Some(Level::Workstation),
        "street" => Some(Level::Street),
        "district" => Some(Level::District),
        _ => None,
    };
    match (who, my_level) {
        ("reporter (leader)", _) => vec![
            (A::ResolveOnSpot, vec![Reported]),
            (A::Withdraw, vec![Reported]),
            (A::Resubmit, vec![Returned]),
        ],
        ("assignee (grid staff)", _) => {
            let mut v = vec![(A::ResolveOnSpot, vec![Reported])];
            v.extend(handler);
            v
        }
        ("other leader", _) => vec![(A::ResolveOnSpot, vec![Reported])],
        ("police", _) => handler,
        (_, Some(l)) if l == level => {
            let mut v = supervisor;
            if level == Level::District {
                v.retain(|(a, _)| *a != A::Escalate);
            }
            v
        }
        (_, Some(l)) if l > level => vec![(A::Urge, open)],
        _ => vec![],
    }
}

#[test]
fn every_role_status_and_action_at_every_level() {
    let mut checked = 0;
    for level in [
        Level::Community,
        Level::Workstation,
        Level::Street,
        Level::District,
    ] {
        for (name, p) in cast() {
            let allowed: BTreeSet<(&str, &str)> = spec(name, level)
                .into_iter()
                .flat_map(|(a, ss)| ss.into_iter().map(move |s| (a.as_str(), s.as_str())))
                .collect();
            for &status in Status::ALL {
                for &action in Action::ALL {
                    let got = check(Who::User(&p), &facts(status, level), action);
                    let want = allowed.contains(&(action.as_str(), status.as_str()));
                    assert_eq!(
                        got.is_ok(),
                        want,
                        "{name} {action} on {status} at {level}: {got:?}"
                    );
                    if let Err(Denied(why)) = got {
                        assert!(!why.is_empty());
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 9 * Status::ALL.len() * Action::ALL.len());
}

#[test]
fn the_server_only_escalates_and_urges() {
    for &status in Status::ALL {
        for &action in Action::ALL {
            let ok = check(Who::Server, &facts(status, Level::Community), action).is_ok();
            let want = match action {
                Action::Escalate => matches!(
                    status,
                    Status::Reported | Status::Accepted | Status::Returned
                ),
                Action::Urge => OPEN.contains(&status),
                _ => false,
            };
            assert_eq!(ok, want, "server {action} on {status}");
        }
    }
}

#[test]
fn on_the_spot_needs_a_category_that_allows_it() {
    let leader = principal(REPORTER, Role::Leader, None);
    let mut f = facts(Status::Reported, Level::Community);
    f.field_resolvable = false;
    let err = check(Who::User(&leader), &f, Action::ResolveOnSpot).expect_err("denied");
    assert!(err.0.contains("on the spot"));
}

#[test]
fn a_conflicting_record_lets_its_supervisor_act_from_either_status() {
    let sup = principal(4, Role::CommunitySupervisor, None);
    let leader = principal(REPORTER, Role::Leader, None);
    let mut f = facts(Status::Closed, Level::Community);
    f.statuses = vec![Status::Closed, Status::Returned];
    // Close needs `verified`: neither; reopen is allowed from `closed`; escalate from `returned`.
    assert!(check(Who::User(&sup), &f, Action::Close).is_err());
    assert!(check(Who::User(&sup), &f, Action::Reopen).is_ok());
    assert!(check(Who::User(&sup), &f, Action::Escalate).is_ok());
    // The reporter sees only the status every replica agrees on.
    assert!(check(Who::User(&leader), &f, Action::Resubmit).is_err());
}

#[test]
fn deadlines() {
    assert_eq!(due_at(1_000, 24, false), 1_000 + 24 * 3_600_000);
    assert_eq!(due_at(1_000, 24, true), 1_000 + 12 * 3_600_000);
}

fn sample(reported_by: i64) -> NewRecord {
    NewRecord {
        id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        kind: crate::record::Kind::Event,
        grid: "/gusu/byw/ws1/jinzhu/g01".into(),
        sector: Some("/gusu/byw/ws1/jinzhu/g01/b1".into()),
        category: "city.garbage_exposed".into(),
        title: "暴露垃圾".into(),
        description: "门口".into(),
        address: "3幢".into(),
        location: None,
        household: None,
        persons: Vec::new(),
        raised_from: None,
        checks: Default::default(),
        reported_by,
        reported_at: 1_700_000_000_000,
        urgency: Urgency::Normal,
    }
}

fn rules(_: &str) -> Option<CategoryRules> {
    Some(CategoryRules {
        handling_hours: 24,
        field_resolvable: true,
    })
}

const NOW: i64 = 1_700_000_200_000;

/// The push path's judgement of `changes` on a record the server already has.
fn judge(doc: &Automerge, changes: &[Change], p: &Principal) -> Result<(), Denied> {
    let touches = crate::ops::inspect(doc, false, changes).map_err(|v| Denied(v.0))?;
    check_changes(doc, changes, &touches, false, p, &rules, NOW).map(|_| ())
}

fn act(doc: &mut Automerge, action: Action, by: i64, at: i64, params: &Params<'_>) -> Change {
    let record = read_record(doc).expect("valid");
    let f = Facts::of(doc, &record, true);
    let mut tx = doc.transaction();
    perform(&mut tx, &f, action, by, at, params).expect("perform");
    tx.commit();
    doc.get_last_local_change().expect("change").clone()
}

#[test]
fn pushed_actions_are_judged_at_their_own_base() {
    let sup = principal(4, Role::CommunitySupervisor, None);
    let community = Principal {
        unit: "/gusu/byw/ws1/jinzhu".into(),
        ..sup.clone()
    };
    let leader = principal(REPORTER, Role::Leader, None);
    let mut doc = new_record(ActorId::random(), &sample(REPORTER));
    let stored = doc.clone();

    // The supervisor accepts with the right deadline: fine.
    let mut tablet = doc.fork().with_actor(ActorId::random());
    let at = 1_700_000_100_000;
    let accept = act(
        &mut tablet,
        Action::Accept,
        4,
        at,
        &Params {
            due_at: Some(due_at(at, 24, false)),
            ..Params::default()
        },
    );
    assert_eq!(
        judge(&tablet, std::slice::from_ref(&accept), &community),
        Ok(())
    );

    // The same action by the reporter is refused, and so is a wrong deadline.
    let mut phone = doc.fork().with_actor(ActorId::random());
    let by_leader = act(
        &mut phone,
        Action::Accept,
        REPORTER,
        at,
        &Params {
            due_at: Some(due_at(at, 24, false)),
            ..Params::default()
        },
    );
    assert!(judge(&phone, &[by_leader], &leader).is_err());
    let mut tablet2 = doc.fork().with_actor(ActorId::random());
    let bad_due = act(
        &mut tablet2,
        Action::Accept,
        4,
        at,
        &Params {
            due_at: Some(at + 1),
            ..Params::default()
        },
    );
    assert!(judge(&tablet2, &[bad_due], &community).is_err());

    // A status set without an action is refused.
    let mut sneaky = doc.fork().with_actor(ActorId::random());
    {
        let mut tx = sneaky.transaction();
        tx.put(ROOT, "status", "closed").expect("put");
        tx.commit();
    }
    let change = sneaky.get_last_local_change().expect("change").clone();
    let err = judge(&sneaky, &[change], &community).expect_err("refused");
    assert!(err.0.contains("status"), "{err}");

    // Withdraw by the reporter, judged at its base even if the server has moved on.
    let withdraw = act(&mut doc, Action::Withdraw, REPORTER, at, &Params::default());
    let mut server = stored.clone();
    server.apply_changes([accept]).expect("apply");
    server.apply_changes([withdraw.clone()]).expect("merge");
    // The withdraw is judged at its own base (before the accept), on a fork.
    assert_eq!(judge(&server, &[withdraw], &leader), Ok(()));
    let merged = read_record(&server).expect("valid");
    assert!(merged.conflict, "accept and withdraw concurrently: flagged");
}

#[test]
fn the_same_status_written_concurrently_is_no_conflict_different_ones_are() {
    let doc = new_record(ActorId::random(), &sample(REPORTER));
    let at = 1_700_000_100_000;
    let accept = Params {
        due_at: Some(due_at(at, 24, false)),
        ..Params::default()
    };
    let mut a = doc.fork().with_actor(ActorId::random());
    let mut b = doc.fork().with_actor(ActorId::random());
    act(&mut a, Action::Accept, 4, at, &accept);
    act(&mut b, Action::Accept, 4, at, &accept);
    let mut both = a.clone();
    both.merge(&mut b.clone()).expect("merge");
    assert!(both.get_all(ROOT, "status").expect("status").len() > 1);
    assert!(!read_record(&both).expect("valid").conflict);

    let mut c = doc.fork().with_actor(ActorId::random());
    let note = Params {
        note: Some("信息不全"),
        ..Params::default()
    };
    act(&mut c, Action::Return, 4, at, &note);
    let mut differ = a.clone();
    differ.merge(&mut c).expect("merge");
    assert!(read_record(&differ).expect("valid").conflict);
}

#[test]
fn the_status_sets_agree_with_the_rules() {
    // The deadline runs in every open status but the one before acceptance.
    let after_accept: Vec<Status> = OPEN
        .iter()
        .copied()
        .filter(|s| *s != Status::Reported)
        .collect();
    assert_eq!(DEADLINE_RUNS, after_accept.as_slice());
    // Urging is allowed exactly in the open statuses, reporting back exactly with the handler.
    for &status in Status::ALL {
        let f = facts(status, Level::Community);
        assert_eq!(
            check(Who::Server, &f, Action::Urge).is_ok(),
            OPEN.contains(&status),
            "{status}"
        );
        let handler = principal(9, Role::DepartmentHandler, Some("/gusu:police"));
        let f = Facts {
            department: Some("/gusu:police".into()),
            ..f
        };
        assert_eq!(
            check(Who::User(&handler), &f, Action::Start).is_ok()
                || check(Who::User(&handler), &f, Action::HandBack).is_ok(),
            WITH_HANDLER.contains(&status),
            "{status}"
        );
    }
}
