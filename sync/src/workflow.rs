//! The closed loop (闭环): report → accept → dispatch → handle → report back → verify →
//! close, with return for correction, escalation up the levels, withdrawal and urging.
//!
//! Every action is an ordinary Automerge change that sets the workflow fields and appends a
//! timeline entry `{action, by, at, note?}`, so it works offline like any edit. This module
//! is the one definition of who may take which action in which status; the server checks
//! each pushed change against it, judged by the record as it was when the change was made
//! (its dependencies), so two supervisors acting concurrently offline are both judged
//! fairly and the merge flags the conflict instead of refusing one of them.

use crate::names::named_enum;
use crate::record::{EditError, Level, Reader, Record, Status};
use crate::scope::{Principal, Role};
use automerge::transaction::Transactable;
use automerge::{
    Automerge, Change, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value, ValueRef,
};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 上报: made when the record is created.
    Report,
    /// 自行处置: field staff fixed it there and then (categories that allow it).
    ResolveOnSpot,
    /// The reporter takes the report back before anyone accepted it.
    Withdraw,
    /// The reporter corrected a returned record and sends it again.
    Resubmit,
    /// 受理: the responsible supervisor takes the case; the deadline starts.
    Accept,
    /// 退回: back to the reporter for correction, with a reason.
    Return,
    /// 分派: to a grid staff member.
    Assign,
    /// 派遣: to a department.
    Dispatch,
    /// 上报升级: to the next level up.
    Escalate,
    /// 核查: the supervisor checked the work reported back.
    Verify,
    /// 结案.
    Close,
    /// 结案 as a duplicate of another record.
    CloseDuplicate,
    /// A closed case turns out not to be done.
    Reopen,
    /// 处置: the handler starts work.
    Start,
    /// 反馈: the handler reports the work done.
    ReportBack,
    /// Not ours: the handler gives the case back to the supervisor.
    HandBack,
    /// 督办: marked for supervision because it was left too long.
    Urge,
}

named_enum!(Action {
    Report => "report",
    ResolveOnSpot => "resolve_on_spot",
    Withdraw => "withdraw",
    Resubmit => "resubmit",
    Accept => "accept",
    Return => "return",
    Assign => "assign",
    Dispatch => "dispatch",
    Escalate => "escalate",
    Verify => "verify",
    Close => "close",
    CloseDuplicate => "close_duplicate",
    Reopen => "reopen",
    Start => "start",
    ReportBack => "report_back",
    HandBack => "hand_back",
    Urge => "urge",
});

/// The fields only workflow actions may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Status,
    Level,
    Assignee,
    Department,
    DueAt,
    Urged,
    DuplicateOf,
}

named_enum!(Field {
    Status => "status",
    Level => "level",
    Assignee => "assignee",
    Department => "department",
    DueAt => "due_at",
    Urged => "urged",
    DuplicateOf => "duplicate_of",
});

/// Who takes an action: a signed-in user, or the server's own jobs.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    User(&'a Principal),
    Server,
}

/// What the state machine needs to know about a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub status: Status,
    /// Every status concurrent changes left (one unless the record is conflicting).
    pub statuses: Vec<Status>,
    pub level: Level,
    pub reported_by: i64,
    pub assignee: Option<i64>,
    pub department: Option<String>,
    pub field_resolvable: bool,
}

impl Facts {
    pub fn of(doc: &Automerge, record: &Record, field_resolvable: bool) -> Facts {
        let mut statuses = vec![record.status];
        if record.conflict
            && let Ok(values) = doc.get_all(ROOT, "status")
        {
            for (v, id) in values {
                let text = match v {
                    Value::Scalar(s) => s.as_str().map(str::to_owned),
                    Value::Object(ObjType::Text) => doc.text(&id).ok(),
                    Value::Object(_) => None,
                };
                if let Some(s) = text.and_then(|t| t.parse::<Status>().ok())
                    && !statuses.contains(&s)
                {
                    statuses.push(s);
                }
            }
        }
        Facts {
            status: record.status,
            statuses,
            level: record.level,
            reported_by: record.reported_by,
            assignee: record.assignee,
            department: record.department.clone(),
            field_resolvable,
        }
    }

    pub fn conflicting(&self) -> bool {
        self.statuses.len() > 1
    }
}

/// What an allowed action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// The status after the action; `None` leaves it.
    pub status: Option<Status>,
    /// The workflow fields the action may change.
    pub fields: &'static [Field],
    /// The action needs a note (a reason, or what was done).
    pub needs_note: bool,
}

/// Why an action is not allowed, in words for the person who tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// The level a supervisor role answers for.
pub fn role_level(role: Role) -> Option<Level> {
    match role {
        Role::CommunitySupervisor => Some(Level::Community),
        Role::WorkstationSupervisor => Some(Level::Workstation),
        Role::StreetSupervisor => Some(Level::Street),
        Role::DistrictAdmin => Some(Level::District),
        _ => None,
    }
}

use Status::*;

/// Statuses in which a record is still open: someone has yet to act on it. The server's
/// inboxes, rates and jobs take their SQL from these lists (`db/records.rs::status_in`).
pub const OPEN: &[Status] = &[Reported, Accepted, Dispatched, InProgress, Returned];
/// Open statuses in which the handling deadline runs: every open one after `accept`.
pub const DEADLINE_RUNS: &[Status] = &[Accepted, Dispatched, InProgress, Returned];
/// Statuses in which the record is with its handler (the department or the assignee).
pub const WITH_HANDLER: &[Status] = &[Dispatched, InProgress];

fn effect(status: Option<Status>, fields: &'static [Field], needs_note: bool) -> Effect {
    Effect {
        status,
        fields,
        needs_note,
    }
}

/// May `who` take `action` on a record with these facts? The one rule table.
pub fn check(who: Who<'_>, facts: &Facts, action: Action) -> Result<Effect, Denied> {
    let (from, eff): (&[Status], Effect) = match action {
        Action::Report => {
            return Err(Denied("a record is reported once, when it is made".into()));
        }
        Action::ResolveOnSpot => (&[Reported], effect(Some(Resolved), &[Field::Status], false)),
        Action::Withdraw => (
            &[Reported],
            effect(Some(Withdrawn), &[Field::Status], false),
        ),
        Action::Resubmit => (&[Returned], effect(Some(Reported), &[Field::Status], false)),
        Action::Accept => (
            &[Reported],
            effect(Some(Accepted), &[Field::Status, Field::DueAt], false),
        ),
        Action::Return => (
            &[Reported, Accepted, Resolved],
            effect(Some(Returned), &[Field::Status], true),
        ),
        Action::Assign => (
            &[Accepted],
            effect(Some(Dispatched), &[Field::Status, Field::Assignee], false),
        ),
        Action::Dispatch => (
            &[Accepted],
            effect(Some(Dispatched), &[Field::Status, Field::Department], false),
        ),
        Action::Escalate => (
            &[Reported, Accepted, Returned],
            effect(None, &[Field::Level, Field::Urged], false),
        ),
        Action::Verify => (&[Resolved], effect(None, &[], false)),
        Action::Close => (&[Resolved], effect(Some(Closed), &[Field::Status], false)),
        Action::CloseDuplicate => (
            &[Reported, Accepted, Returned],
            effect(Some(Closed), &[Field::Status, Field::DuplicateOf], false),
        ),
        Action::Reopen => (&[Closed], effect(Some(Accepted), &[Field::Status], true)),
        Action::Start => (
            &[Dispatched],
            effect(Some(InProgress), &[Field::Status], false),
        ),
        Action::ReportBack => (WITH_HANDLER, effect(Some(Resolved), &[Field::Status], true)),
        Action::HandBack => (
            WITH_HANDLER,
            effect(
                Some(Accepted),
                &[Field::Status, Field::Department, Field::Assignee],
                true,
            ),
        ),
        Action::Urge => (OPEN, effect(None, &[Field::Urged], false)),
    };

    let supervisor = match who {
        Who::Server => matches!(action, Action::Escalate | Action::Urge),
        Who::User(p) => role_level(p.role) == Some(facts.level),
    };
    // A conflicting record waits for its supervisor, who may act from any of the statuses
    // the concurrent actions left; everyone else sees the status every replica agrees on.
    let status_ok = if supervisor && facts.conflicting() {
        facts.statuses.iter().any(|s| from.contains(s))
    } else {
        from.contains(&facts.status)
    };
    let who_ok = match (who, action) {
        (Who::Server, Action::Escalate | Action::Urge) => true,
        (Who::Server, _) => false,
        (Who::User(p), Action::ResolveOnSpot) => {
            if !facts.field_resolvable {
                return Err(Denied(
                    "this category may not be resolved on the spot; report it for handling".into(),
                ));
            }
            p.role.is_field()
        }
        (Who::User(p), Action::Withdraw | Action::Resubmit) => p.user_id == facts.reported_by,
        (Who::User(p), Action::Start | Action::ReportBack) => is_handler(p, facts),
        (Who::User(p), Action::HandBack) => is_handler(p, facts),
        (Who::User(p), Action::Urge) => role_level(p.role).is_some_and(|l| l >= facts.level),
        (Who::User(_), _) => supervisor,
    };
    if !who_ok {
        let who_text = match who {
            Who::Server => "the server".to_owned(),
            Who::User(p) => p.role.as_str().to_owned(),
        };
        return Err(Denied(match action {
            Action::Withdraw | Action::Resubmit => {
                format!("only the reporter may {action} a record")
            }
            Action::Start | Action::ReportBack | Action::HandBack => format!(
                "only the department or grid staff member the record was dispatched to may {action} it"
            ),
            _ => format!(
                "a {who_text} may not {action} a record held at the {} level",
                facts.level
            ),
        }));
    }
    if !status_ok {
        return Err(Denied(format!(
            "cannot {action} a record that is {}; allowed when it is {}",
            facts.status,
            from.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    if action == Action::Escalate && facts.level.up().is_none() {
        return Err(Denied(
            "the district level is the top; there is nowhere to escalate".into(),
        ));
    }
    Ok(eff)
}

fn is_handler(p: &Principal, facts: &Facts) -> bool {
    match p.role {
        Role::DepartmentHandler => p.department.is_some() && p.department == facts.department,
        Role::GridStaff => facts.assignee == Some(p.user_id),
        _ => false,
    }
}

/// Every action `who` may take now, for showing only those buttons.
pub fn available(who: Who<'_>, facts: &Facts) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|a| check(who, facts, *a).is_ok())
        .collect()
}

/// The handling deadline: the category's time from acceptance, halved when urgent.
pub fn due_at(accepted_at: i64, handling_hours: u32, urgent: bool) -> i64 {
    let hours_ms = i64::from(handling_hours) * 3_600_000;
    accepted_at + if urgent { hours_ms / 2 } else { hours_ms }
}

/// What an action needs besides who and when.
#[derive(Debug, Clone, Default)]
pub struct Params<'a> {
    pub note: Option<&'a str>,
    pub assignee: Option<i64>,
    pub department: Option<&'a str>,
    pub duplicate_of: Option<&'a str>,
    /// For `accept`: from [`due_at`].
    pub due_at: Option<i64>,
}

/// Writes an action into a transaction: the workflow fields it sets and its timeline entry.
/// The caller checks it first with [`check`]; the server checks it again on push.
pub fn perform<T: Transactable>(
    tx: &mut T,
    facts: &Facts,
    action: Action,
    by: i64,
    at: i64,
    params: &Params<'_>,
) -> Result<(), EditError> {
    let status = |s: Status| ScalarValue::Str(s.as_str().into());
    match action {
        Action::Escalate => {
            if let Some(up) = facts.level.up() {
                tx.put(ROOT, "level", up.as_str())?;
            }
        }
        Action::Urge => tx.put(ROOT, "urged", true)?,
        Action::Accept => {
            if let Some(due) = params.due_at {
                tx.put(ROOT, "due_at", due)?;
            }
        }
        Action::Assign => {
            if let Some(a) = params.assignee {
                tx.put(ROOT, "assignee", a)?;
            }
        }
        Action::Dispatch => {
            if let Some(d) = params.department {
                tx.put(ROOT, "department", d)?;
            }
        }
        Action::HandBack => {
            tx.delete(ROOT, "department")?;
            tx.delete(ROOT, "assignee")?;
        }
        Action::CloseDuplicate => {
            if let Some(d) = params.duplicate_of {
                tx.put(ROOT, "duplicate_of", d)?;
            }
        }
        _ => {}
    }
    let next = check_effect_status(action).or(if facts.conflicting() {
        // Writing the status again, even unchanged, overwrites every concurrent value: the
        // supervisor's decision ends the conflict.
        Some(facts.status)
    } else {
        None
    });
    if let Some(s) = next {
        tx.put(ROOT, "status", status(s))?;
    }
    crate::record::append_timeline(tx, action.as_str(), by, at, params.note)
}

/// The status an action leads to, independent of who takes it.
fn check_effect_status(action: Action) -> Option<Status> {
    match action {
        Action::ResolveOnSpot | Action::ReportBack => Some(Resolved),
        Action::Withdraw => Some(Withdrawn),
        Action::Resubmit => Some(Reported),
        Action::Accept | Action::HandBack | Action::Reopen => Some(Accepted),
        Action::Return => Some(Returned),
        Action::Assign | Action::Dispatch => Some(Dispatched),
        Action::Close | Action::CloseDuplicate => Some(Closed),
        Action::Start => Some(InProgress),
        Action::Report | Action::Escalate | Action::Verify | Action::Urge => None,
    }
}

/// One entry of a record's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub obj: ObjId,
    pub action: String,
    pub by: i64,
    pub at: i64,
    pub note: Option<String>,
}

/// The timeline as stored (schema checked by `read_record` already).
pub fn timeline(doc: &Automerge) -> Vec<Entry> {
    let r = Reader::new(doc);
    let Some((Value::Object(ObjType::List), list)) = r.get(&ROOT, "timeline") else {
        return Vec::new();
    };
    r.list(&list)
        .into_iter()
        .filter(|(_, value, _)| matches!(value, ValueRef::Object(ObjType::Map)))
        .map(|(_, _, obj)| entry(&r, &obj))
        .collect()
}

/// The workflow fields of a record, for comparing before and after a push.
fn workflow_values(r: &Record) -> [(Field, String); 7] {
    values(
        r.status,
        r.level,
        r.assignee,
        r.department.as_deref(),
        r.due_at,
        r.urged,
        r.duplicate_of.as_deref(),
    )
}

/// The workflow fields as comparable text, in [`Field`] order: one shape for the full
/// record, the light view and a new record's defaults.
fn values(
    status: Status,
    level: Level,
    assignee: Option<i64>,
    department: Option<&str>,
    due_at: Option<i64>,
    urged: bool,
    duplicate_of: Option<&str>,
) -> [(Field, String); 7] {
    [
        (Field::Status, status.as_str().to_owned()),
        (Field::Level, level.as_str().to_owned()),
        (Field::Assignee, format!("{assignee:?}")),
        (Field::Department, format!("{department:?}")),
        (Field::DueAt, format!("{due_at:?}")),
        (Field::Urged, urged.to_string()),
        (Field::DuplicateOf, format!("{duplicate_of:?}")),
    ]
}

/// Category facts the workflow needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryRules {
    pub handling_hours: u32,
    pub field_resolvable: bool,
}

/// Just what the rules read from a record, read without validating the whole schema:
/// the check runs after every change of a push, so it must be cheap. The schema itself
/// is checked once, on the push's result.
#[derive(Debug, Clone, PartialEq)]
struct View {
    id: String,
    category: String,
    urgent: bool,
    reported_by: i64,
    reported_at: i64,
    /// The latest date on the timeline.
    last_at: i64,
    /// Every value concurrent changes left, the winner first.
    statuses: Vec<Status>,
    level: Level,
    assignee: Option<i64>,
    department: Option<String>,
    due_at: Option<i64>,
    urged: bool,
    duplicate_of: Option<String>,
    timeline: Vec<ObjId>,
}

impl View {
    /// The record as it stood at `heads`, read from the document's history; `None` while
    /// it was not yet a record (a record built over several changes, or no change at all).
    fn read_at(doc: &Automerge, heads: &[ChangeHash]) -> Option<View> {
        if heads.is_empty() {
            return None;
        }
        View::read(&Reader::at(doc, heads))
    }

    fn read(r: &Reader<'_>) -> Option<View> {
        let text = |key: &str| r.string(&ROOT, key, key).ok().flatten();
        let int = |key: &str| r.int(&ROOT, key, key).ok().flatten();
        let winner: Status = text("status")?.parse().ok()?;
        let mut statuses = vec![winner];
        if r.has_conflict(&ROOT, "status") {
            for s in r.all_strings(&ROOT, "status") {
                if let Ok(s) = s.parse::<Status>()
                    && !statuses.contains(&s)
                {
                    statuses.push(s);
                }
            }
        }
        let timeline: Vec<ObjId> = match r.get(&ROOT, "timeline")? {
            (Value::Object(ObjType::List), list) => {
                r.list(&list).into_iter().map(|(_, _, id)| id).collect()
            }
            _ => return None,
        };
        let last_at = timeline
            .iter()
            .filter_map(|id| r.int(id, "at", "at").ok().flatten())
            .max()
            .unwrap_or(i64::MIN);
        Some(View {
            id: text("id")?,
            category: text("category")?,
            urgent: text("urgency").as_deref() == Some("urgent"),
            reported_by: int("reported_by")?,
            reported_at: int("reported_at")?,
            last_at,
            statuses,
            level: text("level")
                .and_then(|l| l.parse().ok())
                .unwrap_or(Level::Community),
            assignee: int("assignee"),
            department: text("department"),
            due_at: int("due_at"),
            urged: matches!(r.get(&ROOT, "urged"), Some((Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Boolean(true))),
            duplicate_of: text("duplicate_of"),
            timeline,
        })
    }

    fn status(&self) -> Status {
        self.statuses[0]
    }

    fn facts(&self, rules: &dyn Fn(&str) -> Option<CategoryRules>) -> Facts {
        Facts {
            status: self.status(),
            statuses: self.statuses.clone(),
            level: self.level,
            reported_by: self.reported_by,
            assignee: self.assignee,
            department: self.department.clone(),
            field_resolvable: rules(&self.category).is_some_and(|c| c.field_resolvable),
        }
    }

    fn workflow_values(&self) -> [(Field, String); 7] {
        values(
            self.status(),
            self.level,
            self.assignee,
            self.department.as_deref(),
            self.due_at,
            self.urged,
            self.duplicate_of.as_deref(),
        )
    }
}

/// How far ahead of the server's clock a phone's clock may run: a workflow step dated later
/// than this is refused, because deadlines and rates are computed from these times.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60_000;
/// How long a phone may hold a workflow step or a new record offline. Older dates are
/// refused: a step that claims to be months old would move deadlines and rates.
pub const MAX_OFFLINE_MS: i64 = 30 * 24 * 3_600_000;

/// Checks every workflow step of a push. `after` is the document with the push applied,
/// `changes` the push's new changes in causal order and `touches` what each does (from
/// [`crate::ops::inspect`]); `creating` says the server had no copy of the record. Each
/// step is judged by the record as it stood at the change's own dependencies, which is what
/// its author saw, read from `after`'s history; a change from a concurrent branch is thus
/// judged by its branch. A step whose record cannot be read, before or after it, is refused:
/// a rule that cannot be applied is not passed. `now` is the server's clock at receipt.
///
/// Returns every workflow field the push's steps may change, for [`check_net_effect`].
#[allow(clippy::too_many_arguments)]
pub fn check_changes(
    after: &Automerge,
    changes: &[Change],
    touches: &[crate::ops::Touches],
    creating: bool,
    principal: &Principal,
    rules: &dyn Fn(&str) -> Option<CategoryRules>,
    now: i64,
) -> Result<HashSet<Field>, Denied> {
    // The view after the previous step, which is the view before the next one whenever
    // they form a chain (a phone's changes do): one historical read per change.
    let mut previous: Option<(ChangeHash, View)> = None;
    let mut allowed = HashSet::new();
    for (change, touches) in changes.iter().zip(touches) {
        if !touches.workflow {
            previous = None;
            continue;
        }
        let hash = change.hash();
        let before = match (&previous, change.deps()) {
            (Some((prev, view)), [dep]) if prev == dep => Some(view.clone()),
            (_, []) => None,
            (_, deps) => View::read_at(after, deps),
        };
        if before.is_none() && !(creating && change.deps().is_empty()) {
            return Err(Denied(format!(
                "change {hash} takes a workflow step on a record that was not complete where that change was made, so the step cannot be judged"
            )));
        }
        let heads = [hash];
        let reader = Reader::at(after, &heads);
        let Some(new) = View::read(&reader) else {
            return Err(Denied(format!(
                "change {hash} takes a workflow step but leaves the record incomplete (status, category, id, reporter or timeline missing or of the wrong type), so the step cannot be judged"
            )));
        };
        let known: HashSet<&ObjId> = before.iter().flat_map(|o| o.timeline.iter()).collect();
        let entries: Vec<Entry> = new
            .timeline
            .iter()
            .filter(|id| !known.contains(id))
            .map(|id| entry(&reader, id))
            .collect();
        check_one(
            before.as_ref(),
            &new,
            &entries,
            principal,
            rules,
            now,
            &mut allowed,
        )?;
        previous = Some((hash, new));
    }
    Ok(allowed)
}

/// Whether the push's net effect on the workflow fields, from the stored record (`None`: a
/// new one) to the merged result, is covered by the steps [`check_changes`] allowed. Each
/// step was judged where it was made; this holds the result to them too, whatever
/// Automerge's merge picked.
pub fn check_net_effect(
    before: Option<&Record>,
    after: &Record,
    allowed: &HashSet<Field>,
) -> Result<(), Denied> {
    let fresh = values(Reported, Level::Community, None, None, None, false, None);
    let was = before.map_or(fresh, workflow_values);
    for ((field, was), (_, now)) in was.iter().zip(workflow_values(after).iter()) {
        if was != now && !allowed.contains(field) {
            return Err(Denied(format!(
                "`{}` changes only through a workflow step you may take that sets it (the push takes it from {was} to {now})",
                field.as_str()
            )));
        }
    }
    Ok(())
}

fn entry(r: &Reader<'_>, obj: &ObjId) -> Entry {
    Entry {
        obj: obj.clone(),
        action: r
            .string(obj, "action", "action")
            .ok()
            .flatten()
            .unwrap_or_default(),
        by: r.int(obj, "by", "by").ok().flatten().unwrap_or(i64::MIN),
        at: r.int(obj, "at", "at").ok().flatten().unwrap_or(i64::MIN),
        note: r.string(obj, "note", "note").ok().flatten(),
    }
}

/// Whether a step's date is plausible: not ahead of the server's clock, not older than a
/// phone may stay offline, and not before the step it follows or the report.
fn check_time(what: &str, at: i64, not_before: i64, now: i64) -> Result<(), Denied> {
    if at > now + MAX_CLOCK_SKEW_MS {
        return Err(Denied(format!(
            "{what} is dated {at}, later than the server's clock ({now}); check the phone's date and time"
        )));
    }
    if at < now - MAX_OFFLINE_MS {
        return Err(Denied(format!(
            "{what} is dated {at}, more than {} days before it reached the server ({now}); check the phone's date and time",
            MAX_OFFLINE_MS / 86_400_000
        )));
    }
    if at < not_before {
        return Err(Denied(format!(
            "{what} is dated {at}, before the step it follows ({not_before})"
        )));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn check_one(
    old: Option<&View>,
    new: &View,
    entries: &[Entry],
    principal: &Principal,
    rules: &dyn Fn(&str) -> Option<CategoryRules>,
    now: i64,
    allowed: &mut HashSet<Field>,
) -> Result<(), Denied> {
    let Some(old) = old else {
        // Creation: the record starts reported, at the community, with nothing set by
        // later steps, and its only timeline entry is the report itself.
        if new.status() != Reported
            || new.statuses.len() > 1
            || new.level != Level::Community
            || new.assignee.is_some()
            || new.due_at.is_some()
            || new.department.is_some()
            || new.duplicate_of.is_some()
            || new.urged
        {
            return Err(Denied(
                "a new record starts as reported, at the community level, with no deadline, assignee, department or duplicate".into(),
            ));
        }
        if entries
            .iter()
            .any(|e| e.action != "report" || e.by != principal.user_id)
        {
            return Err(Denied(
                "a new record's timeline may only hold its report, by the reporter".into(),
            ));
        }
        check_time("the report", new.reported_at, i64::MIN, now)?;
        for e in entries {
            check_time("the report", e.at, new.reported_at, now)?;
        }
        return Ok(());
    };
    let cat = rules(&new.category);
    let mut facts = old.facts(rules);
    // Acting on a conflicting record writes its status again to settle it (`perform`).
    if old.statuses.len() > 1 {
        allowed.insert(Field::Status);
    }
    let mut step_allowed: HashSet<Field> = HashSet::new();
    let mut not_before = old.last_at.max(old.reported_at);
    for e in entries {
        let action: Action = e
            .action
            .parse()
            .map_err(|_| Denied(format!("unknown timeline action `{}`", e.action)))?;
        if e.by != principal.user_id {
            return Err(Denied(format!(
                "a timeline entry must be signed by its author (you are user {}, the entry says {})",
                principal.user_id, e.by
            )));
        }
        check_time(&format!("the {action} step"), e.at, not_before, now)?;
        not_before = e.at;
        let eff = check(Who::User(principal), &facts, action)?;
        if eff.needs_note && e.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(Denied(format!(
                "{action} needs a note saying why or what was done"
            )));
        }
        match action {
            Action::Assign if new.assignee.is_none() => {
                return Err(Denied("assign needs the assignee".into()));
            }
            Action::Dispatch if new.department.is_none() => {
                return Err(Denied("dispatch needs the department".into()));
            }
            Action::CloseDuplicate if new.duplicate_of.as_deref().is_none_or(|d| d == new.id) => {
                return Err(Denied(
                    "close as duplicate needs the other record's id".into(),
                ));
            }
            Action::Accept => {
                let hours = cat.map_or(72, |c| c.handling_hours);
                let want = due_at(e.at, hours, new.urgent);
                if new.due_at != Some(want) {
                    return Err(Denied(format!(
                        "accept sets the deadline from the category: due_at must be {want}, found {:?}",
                        new.due_at
                    )));
                }
            }
            _ => {}
        }
        if let Some(s) = eff.status {
            facts.status = s;
            facts.statuses = vec![s];
        }
        if action == Action::Escalate {
            facts.level = facts.level.up().unwrap_or(facts.level);
        }
        step_allowed.extend(eff.fields.iter().copied());
    }
    if old.statuses.len() > 1 && !entries.is_empty() {
        step_allowed.insert(Field::Status);
    }
    allowed.extend(step_allowed.iter().copied());
    for ((field, was), (_, now)) in old
        .workflow_values()
        .iter()
        .zip(new.workflow_values().iter())
    {
        if was != now && !step_allowed.contains(field) {
            return Err(Denied(format!(
                "`{}` changes only through a workflow action that sets it (it went from {was} to {now})",
                field.as_str()
            )));
        }
    }
    if !entries.is_empty() && new.status() != facts.status && new.statuses.len() == 1 {
        return Err(Denied(format!(
            "the actions lead to {}, but the change sets the status to {}",
            facts.status,
            new.status()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
