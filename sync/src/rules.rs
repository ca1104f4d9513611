//! The closed loop's rule table (闭环): report → accept → dispatch → handle → report back →
//! verify → close, with return for correction, escalation up the levels, withdrawal and
//! urging. Data, and the one function that reads it; no Automerge here.
//!
//! This is the only place the rules are written. `crate::workflow` applies them to
//! documents (the server's per-change check, `perform`); the server's SQL takes its status
//! sets from [`OPEN`], [`DEADLINE_RUNS`] and [`WITH_HANDLER`]; the PWA reads a copy of this
//! table generated from it (`pwa/src/generated/workflow-rules.mjs`, written by
//! `HAITANG_BLESS=1 cargo test -p haitang-sync generated`, `crate::generated`; a test fails
//! when the copy is stale) and offers exactly the buttons [`check`] allows, which a matrix generated from
//! [`check`] verifies. Adding a status or an action is an edit here plus its labels.

use crate::names::named_enum;
use crate::scope::{Principal, Role};
use serde::{Deserialize, Serialize};

/// Where a record is in the closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Reported,
    Accepted,
    Dispatched,
    InProgress,
    Resolved,
    /// 核查通过: the supervisor checked the work on the ground; closing is next.
    Verified,
    Closed,
    Returned,
    Withdrawn,
}
named_enum!(Status {
    Reported => "reported",
    Accepted => "accepted",
    Dispatched => "dispatched",
    InProgress => "in_progress",
    Resolved => "resolved",
    Verified => "verified",
    Closed => "closed",
    Returned => "returned",
    Withdrawn => "withdrawn",
});

/// Which level of the five-level tree is responsible for a record now, lowest first. Records
/// start with the community; escalation moves them up. Absent in a document means
/// `community`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Community,
    Workstation,
    Street,
    District,
}
named_enum!(Level {
    Community => "community",
    Workstation => "workstation",
    Street => "street",
    District => "district",
});

impl Level {
    /// The next level up, if any.
    pub fn up(self) -> Option<Level> {
        let i = Level::ALL.iter().position(|l| *l == self)?;
        Level::ALL.get(i + 1).copied()
    }
}

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

/// Who, besides the server's jobs, may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Nobody afterwards: the step is made with the record.
    Creation,
    /// The supervisor whose level holds the record.
    Supervisor,
    /// A supervisor at the record's level or above.
    SupervisorOrAbove,
    /// The person who reported the record.
    Reporter,
    /// The department, or the grid staff member, the record was dispatched to.
    Handler,
    /// Field staff and leaders, in categories that may be resolved on the spot.
    FieldStaff,
}
named_enum!(Actor {
    Creation => "creation",
    Supervisor => "supervisor",
    SupervisorOrAbove => "supervisor_or_above",
    Reporter => "reporter",
    Handler => "handler",
    FieldStaff => "field_staff",
});

/// Whether an action's timeline entry carries a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// No note is offered.
    None,
    /// A note may be added.
    Optional,
    /// A reason or what was done must be given.
    Required,
}
named_enum!(Note { None => "none", Optional => "optional", Required => "required" });

/// How an action writes a workflow field (besides `status`, which [`Rule::to`] gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The value the person chose (an assignee, a department, the other record), or for
    /// `due_at` the deadline from the category ([`due_at`]).
    Param,
    /// Removed.
    Clear,
    /// The next level up.
    Raise,
    /// Set to true.
    Mark,
}
named_enum!(Write { Param => "param", Clear => "clear", Raise => "raise", Mark => "mark" });

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    /// The statuses it may be taken from.
    pub from: &'static [Status],
    /// The status after it; `None` leaves the status as it is.
    pub to: Option<Status>,
    /// The other workflow fields it writes, and how.
    pub writes: &'static [(Field, Write)],
    pub actor: Actor,
    /// Whether the server's jobs take it too (escalation, urging).
    pub server: bool,
    pub note: Note,
}

impl Rule {
    /// A reason, or what was done, must be given.
    pub fn needs_note(&self) -> bool {
        self.note == Note::Required
    }

    /// Every workflow field the action may change.
    pub fn fields(&self) -> Vec<Field> {
        self.to
            .map(|_| Field::Status)
            .into_iter()
            .chain(self.writes.iter().map(|(f, _)| *f))
            .collect()
    }
}

use Status::*;

/// Statuses in which a record is still open: someone has yet to act on it. The server's
/// inboxes, rates and jobs take their SQL from these lists.
pub const OPEN: &[Status] = &[Reported, Accepted, Dispatched, InProgress, Returned];
/// Open statuses in which the handling deadline runs: every open one after `accept`.
pub const DEADLINE_RUNS: &[Status] = &[Accepted, Dispatched, InProgress, Returned];
/// Statuses in which the record is with its handler (the department or the assignee).
pub const WITH_HANDLER: &[Status] = &[Dispatched, InProgress];
/// Statuses in which the work is reported done and the supervisor has yet to verify and
/// close it (the inbox's 待核查).
pub const VERIFYING: &[Status] = &[Resolved, Verified];
/// Statuses in which the problem counts as rectified (整改): done, whether or not closed yet.
pub const RECTIFIED: &[Status] = &[Resolved, Verified, Closed];

const fn rule(
    action: Action,
    from: &'static [Status],
    to: Option<Status>,
    writes: &'static [(Field, Write)],
    actor: Actor,
    note: Note,
) -> Rule {
    Rule {
        action,
        from,
        to,
        writes,
        actor,
        server: false,
        note,
    }
}

const fn by_server_too(r: Rule) -> Rule {
    Rule { server: true, ..r }
}

/// The table, one row per [`Action`], in [`Action::ALL`] order.
pub const RULES: &[Rule] = &[
    rule(Action::Report, &[], None, &[], Actor::Creation, Note::None),
    rule(
        Action::ResolveOnSpot,
        &[Reported],
        Some(Resolved),
        &[],
        Actor::FieldStaff,
        Note::None,
    ),
    rule(
        Action::Withdraw,
        &[Reported],
        Some(Withdrawn),
        &[],
        Actor::Reporter,
        Note::None,
    ),
    rule(
        Action::Resubmit,
        &[Returned],
        Some(Reported),
        &[],
        Actor::Reporter,
        Note::None,
    ),
    rule(
        Action::Accept,
        &[Reported],
        Some(Accepted),
        &[(Field::DueAt, Write::Param)],
        Actor::Supervisor,
        Note::Optional,
    ),
    rule(
        Action::Return,
        &[Reported, Accepted, Resolved],
        Some(Returned),
        &[],
        Actor::Supervisor,
        Note::Required,
    ),
    rule(
        Action::Assign,
        &[Accepted],
        Some(Dispatched),
        &[(Field::Assignee, Write::Param)],
        Actor::Supervisor,
        Note::Optional,
    ),
    rule(
        Action::Dispatch,
        &[Accepted],
        Some(Dispatched),
        &[(Field::Department, Write::Param)],
        Actor::Supervisor,
        Note::Optional,
    ),
    by_server_too(rule(
        Action::Escalate,
        &[Reported, Accepted, Returned],
        None,
        &[(Field::Level, Write::Raise)],
        Actor::Supervisor,
        Note::Optional,
    )),
    rule(
        Action::Verify,
        &[Resolved],
        Some(Verified),
        &[],
        Actor::Supervisor,
        Note::Optional,
    ),
    rule(
        Action::Close,
        &[Verified],
        Some(Closed),
        &[],
        Actor::Supervisor,
        Note::Optional,
    ),
    rule(
        Action::CloseDuplicate,
        &[Reported, Accepted, Returned],
        Some(Closed),
        &[(Field::DuplicateOf, Write::Param)],
        Actor::Supervisor,
        Note::Optional,
    ),
    rule(
        Action::Reopen,
        &[Closed],
        Some(Accepted),
        &[],
        Actor::Supervisor,
        Note::Required,
    ),
    rule(
        Action::Start,
        &[Dispatched],
        Some(InProgress),
        &[],
        Actor::Handler,
        Note::Optional,
    ),
    rule(
        Action::ReportBack,
        WITH_HANDLER,
        Some(Resolved),
        &[],
        Actor::Handler,
        Note::Required,
    ),
    rule(
        Action::HandBack,
        WITH_HANDLER,
        Some(Accepted),
        &[
            (Field::Department, Write::Clear),
            (Field::Assignee, Write::Clear),
        ],
        Actor::Handler,
        Note::Required,
    ),
    by_server_too(rule(
        Action::Urge,
        OPEN,
        None,
        &[(Field::Urged, Write::Mark)],
        Actor::SupervisorOrAbove,
        Note::None,
    )),
];

impl Action {
    /// This action's row of [`RULES`].
    pub fn rule(self) -> &'static Rule {
        let i = Action::ALL
            .iter()
            .position(|a| *a == self)
            .expect("every action is in ALL");
        &RULES[i]
    }
}

/// The level a supervisor role answers for.
pub fn role_level(role: Role) -> Option<Level> {
    match role {
        Role::CommunitySupervisor => Some(Level::Community),
        Role::WorkstationSupervisor => Some(Level::Workstation),
        Role::StreetSupervisor => Some(Level::Street),
        Role::DistrictAdmin => Some(Level::District),
        Role::Leader | Role::GridStaff | Role::DepartmentHandler => None,
    }
}

/// The handling deadline: the category's time from acceptance, halved when urgent.
pub fn due_at(accepted_at: i64, handling_hours: u32, urgent: bool) -> i64 {
    let hours_ms = i64::from(handling_hours) * 3_600_000;
    accepted_at + if urgent { hours_ms / 2 } else { hours_ms }
}

/// Who takes an action: a signed-in user, or the server's own jobs.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    User(&'a Principal),
    Server,
}

/// What the table needs to know about a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub status: Status,
    /// Every status concurrent changes left, the winner first (one unless the record is
    /// conflicting).
    pub statuses: Vec<Status>,
    pub level: Level,
    pub reported_by: i64,
    pub assignee: Option<i64>,
    pub department: Option<String>,
    pub field_resolvable: bool,
}

impl Facts {
    /// Concurrent writes left different statuses: the one definition of a conflict. The same
    /// status written twice (two supervisors who both accepted) is none.
    pub fn conflicting(&self) -> bool {
        self.statuses.len() > 1
    }
}

/// Why an action is not allowed, in words for the person who tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// Category facts the workflow needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryRules {
    pub handling_hours: u32,
    pub field_resolvable: bool,
}

fn is_handler(p: &Principal, facts: &Facts) -> bool {
    match p.role {
        Role::DepartmentHandler => p.department.is_some() && p.department == facts.department,
        Role::GridStaff => facts.assignee == Some(p.user_id),
        _ => false,
    }
}

/// May `who` take `action` on a record with these facts? If so, what it does: its row.
pub fn check(who: Who<'_>, facts: &Facts, action: Action) -> Result<&'static Rule, Denied> {
    let rule = action.rule();
    if rule.actor == Actor::Creation {
        return Err(Denied(format!(
            "a record's {action} step is made once, when the record is made"
        )));
    }
    let supervisor = match who {
        Who::Server => rule.server,
        Who::User(p) => role_level(p.role) == Some(facts.level),
    };
    // A conflicting record waits for its supervisor, who may act from any of the statuses
    // the concurrent actions left; everyone else sees the status every replica agrees on.
    let status_ok = if supervisor && facts.conflicting() {
        facts.statuses.iter().any(|s| rule.from.contains(s))
    } else {
        rule.from.contains(&facts.status)
    };
    let who_ok = match who {
        Who::Server => rule.server,
        Who::User(p) => match rule.actor {
            Actor::Creation => false,
            Actor::Supervisor => supervisor,
            Actor::SupervisorOrAbove => role_level(p.role).is_some_and(|l| l >= facts.level),
            Actor::Reporter => p.user_id == facts.reported_by,
            Actor::Handler => is_handler(p, facts),
            Actor::FieldStaff => {
                if !facts.field_resolvable {
                    return Err(Denied(
                        "this category may not be resolved on the spot; report it for handling"
                            .into(),
                    ));
                }
                p.role.is_field()
            }
        },
    };
    if !who_ok {
        let who_text = match who {
            Who::Server => "the server".to_owned(),
            Who::User(p) => p.role.as_str().to_owned(),
        };
        return Err(Denied(match rule.actor {
            Actor::Reporter => format!("only the reporter may {action} a record"),
            Actor::Handler => format!(
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
            rule.from
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    if rule.writes.contains(&(Field::Level, Write::Raise)) && facts.level.up().is_none() {
        return Err(Denied(
            "the district level is the top; there is nowhere to escalate".into(),
        ));
    }
    Ok(rule)
}

/// Every action `who` may take now, for showing only those buttons.
pub fn available(who: Who<'_>, facts: &Facts) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|a| check(who, facts, *a).is_ok())
        .collect()
}
