//! The closed loop (闭环): report → accept → dispatch → handle → report back → verify →
//! close, with return for correction, escalation up the levels, withdrawal and urging.
//!
//! Every action is an ordinary Automerge change that sets the workflow fields and appends a
//! timeline entry `{action, by, at, note?}`, so it works offline like any edit. The rules
//! themselves are data in [`crate::rules`]; this module applies them to documents: it writes
//! an action ([`perform`]) and judges each pushed change by the record as it was when the
//! change was made (its dependencies), so two supervisors acting concurrently offline are
//! both judged fairly and the merge flags the conflict instead of refusing one of them.

use crate::record::{EditError, Reader, Record};
pub use crate::rules::{
    Action, CategoryRules, DEADLINE_RUNS, Denied, Facts, Field, Level, Note, OPEN, RECTIFIED, Rule,
    Status, VERIFYING, WITH_HANDLER, Who, Write, available, check, due_at, role_level,
};
use crate::scope::Principal;
use automerge::transaction::Transactable;
use automerge::{
    Automerge, Change, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value, ValueRef,
};
use std::collections::HashSet;

use Status::*;

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
    let rule = action.rule();
    for &(field, write) in rule.writes {
        let key = field.as_str();
        match (write, field) {
            (Write::Clear, _) => tx.delete(ROOT, key)?,
            (Write::Raise, _) => {
                if let Some(up) = facts.level.up() {
                    tx.put(ROOT, key, up.as_str())?;
                }
            }
            (Write::Mark, _) => tx.put(ROOT, key, true)?,
            (Write::Param, Field::DueAt) => {
                if let Some(due) = params.due_at {
                    tx.put(ROOT, key, due)?;
                }
            }
            (Write::Param, Field::Assignee) => {
                if let Some(a) = params.assignee {
                    tx.put(ROOT, key, a)?;
                }
            }
            (Write::Param, Field::Department) => {
                if let Some(d) = params.department {
                    tx.put(ROOT, key, d)?;
                }
            }
            (Write::Param, Field::DuplicateOf) => {
                if let Some(d) = params.duplicate_of {
                    tx.put(ROOT, key, d)?;
                }
            }
            (Write::Param, Field::Status | Field::Level | Field::Urged) => {}
        }
    }
    // Writing the status again, even unchanged, overwrites every concurrent value: the
    // supervisor's decision ends the conflict.
    let next = rule.to.or(facts.conflicting().then_some(facts.status));
    if let Some(s) = next {
        tx.put(ROOT, "status", ScalarValue::Str(s.as_str().into()))?;
    }
    crate::record::append_timeline(tx, action.as_str(), by, at, params.note)
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
        if eff.needs_note() && e.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
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
        if let Some(s) = eff.to {
            facts.status = s;
            facts.statuses = vec![s];
        }
        if action == Action::Escalate {
            facts.level = facts.level.up().unwrap_or(facts.level);
        }
        step_allowed.extend(eff.fields());
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
