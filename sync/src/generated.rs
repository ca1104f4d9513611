//! What the PWA takes from this crate, generated rather than ported: the rule table
//! ([`crate::rules`]) and the decision matrix its interpreter is tested against, and the
//! protocol's refusal codes and limits ([`crate::protocol`], [`crate::ingest`]). These tests
//! fail when a checked-in copy differs from what the Rust gives now;
//! `HAITANG_BLESS=1 cargo test -p haitang-sync generated` writes them afresh.

use crate::doctype::DocType;
use crate::ingest::RefusalCode;
use crate::names::NamedEnum;
use crate::protocol::{self, ErrorCode};
use crate::rules::*;
use crate::scope::{Principal, Role};
use serde_json::{Value, json};
use std::path::PathBuf;

const HEADER: &str = "// Generated from sync/src/ (rules.rs, protocol.rs, ingest/) by `HAITANG_BLESS=1 cargo test -p haitang-sync generated`.\n// Do not edit: change the Rust and run that command.\n";

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

fn union<T: NamedEnum + Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> String {
    names(all, name)
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn statuses(set: &[Status]) -> Vec<&'static str> {
    names(set, Status::as_str)
}

fn table() -> Value {
    let rules: serde_json::Map<String, Value> = RULES
        .iter()
        .map(|r| {
            let writes: Vec<Value> = r
                .writes
                .iter()
                .map(|(f, w)| json!([f.as_str(), w.as_str()]))
                .collect();
            let row = json!({
                "from": statuses(r.from),
                "to": r.to.map(Status::as_str),
                "writes": writes,
                "actor": r.actor.as_str(),
                "server": r.server,
                "note": r.note.as_str(),
            });
            (r.action.as_str().to_owned(), row)
        })
        .collect();
    let role_levels: serde_json::Map<String, Value> = Role::ALL
        .iter()
        .filter_map(|r| role_level(*r).map(|l| (r.as_str().to_owned(), json!(l.as_str()))))
        .collect();
    let field_roles: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| r.is_field())
        .map(|r| r.as_str())
        .collect();
    json!({
        "actions": names(Action::ALL, Action::as_str),
        "statuses": statuses(Status::ALL),
        "levels": names(Level::ALL, Level::as_str),
        "fields": names(Field::ALL, Field::as_str),
        "roles": names(Role::ALL, Role::as_str),
        "field_roles": field_roles,
        "role_levels": role_levels,
        "open": statuses(OPEN),
        "deadline_runs": statuses(DEADLINE_RUNS),
        "with_handler": statuses(WITH_HANDLER),
        "rules": rules,
    })
}

fn module() -> String {
    let json = serde_json::to_string_pretty(&table()).expect("json");
    format!("{HEADER}export default {json};\n")
}

fn types() -> String {
    format!(
        "{HEADER}
export type Action = {};
export type Status = {};
export type Level = {};
export type Field = {};
export type Role = {};
export type Actor = {};
export type Note = {};
export type Write = {};

export interface Rule {{
  /** The statuses it may be taken from. */
  from: Status[];
  /** The status after it; null leaves it. */
  to: Status | null;
  /** The other workflow fields it writes, and how. */
  writes: [Field, Write][];
  actor: Actor;
  /** Whether the server's jobs take it too. */
  server: boolean;
  note: Note;
}}

export interface Rules {{
  actions: Action[];
  statuses: Status[];
  levels: Level[];
  fields: Field[];
  roles: Role[];
  field_roles: Role[];
  role_levels: Partial<Record<Role, Level>>;
  open: Status[];
  deadline_runs: Status[];
  with_handler: Status[];
  rules: Record<Action, Rule>;
}}

declare const RULES: Rules;
export default RULES;
",
        union(Action::ALL, Action::as_str),
        union(Status::ALL, Status::as_str),
        union(Level::ALL, Level::as_str),
        union(Field::ALL, Field::as_str),
        union(Role::ALL, Role::as_str),
        union(Actor::ALL, Actor::as_str),
        union(Note::ALL, Note::as_str),
        union(Write::ALL, Write::as_str),
    )
}

const REPORTER: i64 = 1;
const ASSIGNEE: i64 = 2;
const POLICE: &str = "/gusu:police";

/// Everyone whose rights differ: the reporter, the assignee, another field user, a
/// supervisor per level, the department the record went to and another one.
fn cast() -> Vec<Principal> {
    let p = |user_id, role, department: Option<&str>| Principal {
        user_id,
        role,
        unit: "/gusu/byw/ws1/jinzhu/g01".into(),
        department: department.map(str::to_owned),
    };
    vec![
        p(REPORTER, Role::Leader, None),
        p(ASSIGNEE, Role::GridStaff, None),
        p(3, Role::Leader, None),
        p(4, Role::CommunitySupervisor, None),
        p(5, Role::WorkstationSupervisor, None),
        p(6, Role::StreetSupervisor, None),
        p(7, Role::DistrictAdmin, None),
        p(8, Role::DepartmentHandler, Some(POLICE)),
        p(9, Role::DepartmentHandler, Some("/gusu:fire")),
    ]
}

/// Every status alone and every ordered pair a conflict can leave, at every level, in
/// categories that may and may not be resolved on the spot.
fn situations() -> Vec<Facts> {
    let mut sets: Vec<Vec<Status>> = Status::ALL.iter().map(|s| vec![*s]).collect();
    for a in Status::ALL {
        for b in Status::ALL {
            if a != b {
                sets.push(vec![*a, *b]);
            }
        }
    }
    let mut out = Vec::new();
    for level in Level::ALL {
        for set in &sets {
            for field_resolvable in [true, false] {
                out.push(Facts {
                    status: set[0],
                    statuses: set.clone(),
                    level: *level,
                    reported_by: REPORTER,
                    assignee: Some(ASSIGNEE),
                    department: Some(POLICE.into()),
                    field_resolvable,
                });
            }
        }
    }
    out
}

/// For each situation and each person (then the server), the actions [`check`] allows, as a
/// bit mask over `actions` in table order.
fn matrix() -> String {
    let cast = cast();
    let situations = situations();
    let mask = |who: Who<'_>, f: &Facts| -> u32 {
        Action::ALL
            .iter()
            .enumerate()
            .filter(|(_, a)| check(who, f, **a).is_ok())
            .map(|(i, _)| 1u32 << i)
            .sum()
    };
    // Each situation as [statuses (the winner first), level, field_resolvable]; the rest of
    // the facts is `base`.
    let facts: Vec<Value> = situations
        .iter()
        .map(|f| json!([statuses(&f.statuses), f.level.as_str(), f.field_resolvable]))
        .collect();
    let base = json!({"reported_by": REPORTER, "assignee": ASSIGNEE, "department": POLICE});
    let mut who: Vec<Value> = cast
        .iter()
        .map(|p| json!({"user_id": p.user_id, "role": p.role.as_str(), "department": p.department}))
        .collect();
    who.push(json!("server"));
    let mut allowed: Vec<Vec<u32>> = cast
        .iter()
        .map(|p| situations.iter().map(|f| mask(Who::User(p), f)).collect())
        .collect();
    allowed.push(situations.iter().map(|f| mask(Who::Server, f)).collect());
    let compact = |v: &Value| serde_json::to_string(v).expect("json");
    let rows = |items: Vec<String>| format!("[\n    {}\n  ]", items.join(",\n    "));
    format!(
        "{{\n  \"about\": \"Generated from sync/src/rules.rs by `HAITANG_BLESS=1 cargo test -p haitang-sync generated`: for each person in who (then the server) and each situation in facts ([statuses, level, field_resolvable], the rest as in base), the actions rules::check allows, as a bit mask over actions in table order.\",\n  \"actions\": {},\n  \"base\": {},\n  \"who\": {},\n  \"facts\": {},\n  \"allowed\": {}\n}}\n",
        compact(&json!(names(Action::ALL, Action::as_str))),
        compact(&base),
        rows(who.iter().map(compact).collect()),
        rows(facts.iter().map(compact).collect()),
        rows(allowed.iter().map(|a| compact(&json!(a))).collect()),
    )
}

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn check_current(path: &str, want: &str) {
    let file = repo_file(path);
    if std::env::var_os("HAITANG_BLESS").is_some() {
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, want).expect("write");
        return;
    }
    let have = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        have == want,
        "{path} is stale: it does not match sync/src/rules.rs; run `HAITANG_BLESS=1 cargo test -p haitang-sync generated` and commit the result"
    );
}

#[test]
fn the_pwa_rule_table_is_current() {
    check_current("pwa/src/generated/workflow-rules.mjs", &module());
    check_current("pwa/src/generated/workflow-rules.d.mts", &types());
}

#[test]
fn the_decision_matrix_is_current() {
    check_current("tests/e2e/fixtures/workflow-matrix.json", &matrix());
}

#[test]
fn the_table_has_one_row_per_action_in_order() {
    assert_eq!(RULES.len(), Action::ALL.len());
    for (rule, action) in RULES.iter().zip(Action::ALL) {
        assert_eq!(rule.action, *action);
        assert_eq!(action.rule().action, *action);
    }
}

#[test]
fn levels_go_up_in_order() {
    assert_eq!(Level::Community.up(), Some(Level::Workstation));
    assert_eq!(Level::Street.up(), Some(Level::District));
    assert_eq!(Level::District.up(), None);
}

fn protocol_module() -> String {
    let codes = names(RefusalCode::ALL, RefusalCode::as_str);
    let retryable: Vec<&str> = RefusalCode::ALL
        .iter()
        .filter(|c| c.retryable())
        .map(|c| c.as_str())
        .collect();
    let limits = json!({
        "version": protocol::PROTOCOL_VERSION,
        "max_push_docs": protocol::MAX_PUSH_DOCS,
        "max_push_changes": protocol::MAX_PUSH_CHANGES,
        "max_changes_per_doc": protocol::MAX_CHANGES_PER_DOC,
        "max_want": protocol::MAX_WANT,
    });
    let doc_types = names(DocType::ALL, DocType::as_str);
    let errors = names(ErrorCode::ALL, ErrorCode::as_str);
    let care = json!({
        "day_ms": crate::care::DAY_MS,
        "soon_days": crate::care::SOON_DAYS,
        "due_states": names(crate::care::DueState::ALL, crate::care::DueState::as_str),
    });
    let checks = json!(crate::care::VISIT_CHECKS);
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("json");
    format!(
        "{HEADER}\n/** Why a pushed document was refused (`RefusalCode`), every spelling. */\nexport const REFUSAL_CODES = {};\n\n/** Refusals the same push may overcome when sent again unchanged. */\nexport const RETRYABLE = {};\n\n/** The protocol's version and what one request may carry. */\nexport const LIMITS = {};\n\n/** The synced document types (`DocType`); `type` on the wire, absent for the first. */\nexport const DOC_TYPES = {};\n\n/** Every `code` of an error body (`ErrorCode`). */\nexport const ERROR_CODES = {};\n\n/** The care plan's time scale (`sync::care`): a visit is due within a day, or soon within `soon_days`. */\nexport const CARE = {};\n\n/** The household visit's checklist (`care::VISIT_CHECKS`): a visit record's `checks`. */\nexport const VISIT_CHECKS = {};\n",
        pretty(&json!(codes)),
        pretty(&json!(retryable)),
        pretty(&limits),
        pretty(&json!(doc_types)),
        pretty(&json!(errors)),
        pretty(&care),
        pretty(&checks),
    )
}

fn protocol_types() -> String {
    format!(
        "{HEADER}\nexport type RefusalCode = {};\n\nexport type DocType = {};\n\nexport type ErrorCode = {};\n\nexport declare const REFUSAL_CODES: RefusalCode[];\nexport declare const RETRYABLE: RefusalCode[];\nexport declare const LIMITS: {{\n  version: number;\n  max_push_docs: number;\n  max_push_changes: number;\n  max_changes_per_doc: number;\n  max_want: number;\n}};\nexport declare const DOC_TYPES: DocType[];\nexport declare const ERROR_CODES: ErrorCode[];\n\nexport type DueState = {};\n\n/** A resident's relation to the head of household, status and personal fields (`sync::personal`). */\nexport type Relation = {};\n\nexport type ResidentStatus = {};\n\nexport type PersonalField = {};\n\nexport declare const CARE: {{\n  day_ms: number;\n  soon_days: number;\n  due_states: DueState[];\n}};\n\nexport interface VisitAnswer {{\n  code: string;\n  label_zh: string;\n  label_en: string;\n  concern: boolean;\n}}\n\nexport interface VisitCheck {{\n  code: string;\n  label_zh: string;\n  label_en: string;\n  options: VisitAnswer[];\n}}\n\nexport declare const VISIT_CHECKS: VisitCheck[];\n",
        union(RefusalCode::ALL, RefusalCode::as_str),
        union(DocType::ALL, DocType::as_str),
        union(ErrorCode::ALL, ErrorCode::as_str),
        union(crate::care::DueState::ALL, crate::care::DueState::as_str),
        union(
            crate::personal::Relation::ALL,
            crate::personal::Relation::as_str
        ),
        union(
            crate::personal::ResidentStatus::ALL,
            crate::personal::ResidentStatus::as_str
        ),
        union(
            crate::personal::PersonalField::ALL,
            crate::personal::PersonalField::as_str
        ),
    )
}

#[test]
fn the_pwa_protocol_constants_are_current() {
    check_current("pwa/src/generated/protocol.mjs", &protocol_module());
    check_current("pwa/src/generated/protocol.d.mts", &protocol_types());
}

/// Every wire type of [`protocol`] twice, once with each optional field present and once
/// with only what Rust always sends, as values Rust serialised, typed with the PWA's
/// hand-written shapes (`pwa/src/sync/wire.ts`). `tsc` then refuses the PWA when a shape
/// lacks a field Rust sends (the excess-property check on literals) or requires one Rust
/// may leave out.
fn wire_check() -> String {
    use crate::ingest::Refusal;
    use crate::protocol::*;
    use automerge::ChangeHash;
    use serde_bytes::ByteBuf;

    let bytes = |n: u8| ByteBuf::from(vec![n, n + 1]);
    let full_push = PushDoc {
        doc: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        doc_type: Some(DocType::Record.as_str().into()),
        changes: vec![bytes(1)],
    };
    let bare_push = PushDoc {
        doc_type: None,
        ..full_push.clone()
    };
    let full_request = SyncRequest {
        v: PROTOCOL_VERSION,
        cursor: Some(7),
        resume: Some(9),
        push: vec![full_push.clone()],
        want: Some(vec!["7c9e6679-7425-40de-944b-e07fc1f90ae7".into()]),
        pull: false,
        limit: Some(100),
    };
    let refusal = Refusal::new(RefusalCode::MissingDeps, "depends on a change not sent");
    let accepted = PushResult::accepted("a", &[ChangeHash([3; 32])]);
    let refused = PushResult::refused("b", &refusal);
    let changes = PullItem::Changes {
        doc: "c".into(),
        doc_type: DocType::Record,
        changes: vec![bytes(4)],
    };
    let snapshot = PullItem::Snapshot {
        doc: "d".into(),
        doc_type: DocType::Record,
        snapshot: vec![5, 6],
    };
    let evict = PullItem::evict("e");
    let full_response = SyncResponse {
        v: PROTOCOL_VERSION,
        results: vec![accepted.clone(), refused.clone()],
        pull: vec![changes.clone(), snapshot.clone(), evict.clone()],
        cursor: 12,
        more: true,
        resume: Some(11),
        unsent: vec!["f".into()],
    };
    let bare_response = SyncResponse {
        v: PROTOCOL_VERSION,
        results: Vec::new(),
        pull: Vec::new(),
        cursor: 0,
        more: false,
        resume: None,
        unsent: Vec::new(),
    };
    let values: Vec<(&str, &str, Value)> = vec![
        ("requestFull", "SyncRequest", json!(full_request)),
        ("requestBare", "SyncRequest", json!(SyncRequest::new(None))),
        ("pushFull", "PushDoc", json!(full_push)),
        ("pushBare", "PushDoc", json!(bare_push)),
        ("responseFull", "SyncResponse", json!(full_response)),
        ("responseBare", "SyncResponse", json!(bare_response)),
        ("accepted", "PushResult", json!(accepted)),
        ("refused", "PushResult", json!(refused)),
        ("changes", "PullChanges", json!(changes)),
        ("snapshot", "PullSnapshot", json!(snapshot)),
        ("evict", "PullEvict", json!(evict)),
    ];
    let mut out = format!(
        "{HEADER}// Type-checked only (tsc), never bundled: see wire_check in sync/src/generated.rs.\n\nimport type {{ PullChanges, PullEvict, PullSnapshot, PushDoc, PushResult, SyncRequest, SyncResponse }} from '../sync/wire';\n"
    );
    for (name, ty, value) in values {
        out.push_str(&format!(
            "\nexport const {name}: {ty} = {};\n",
            ts_literal(&value, None)
        ));
    }
    out
}

/// `value` as a TypeScript literal. Byte strings (`serde_bytes`) serialise to JSON as lists
/// of numbers; on the wire they are CBOR byte strings, which the PWA reads as `Uint8Array`.
/// The wire has exactly two byte fields, so they are told by name, and a list of numbers
/// anywhere else fails the generator rather than guessing.
fn ts_literal(value: &Value, key: Option<&str>) -> String {
    const BYTE_FIELDS: [&str; 2] = ["changes", "snapshot"];
    let is_bytes = |v: &Value| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_u64))
    };
    match value {
        Value::Array(items) if is_bytes(value) => {
            assert!(
                key.is_some_and(|k| BYTE_FIELDS.contains(&k)),
                "a list of numbers outside the byte fields: {key:?}"
            );
            let n: Vec<String> = items.iter().map(ToString::to_string).collect();
            format!("new Uint8Array([{}])", n.join(", "))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|v| ts_literal(v, key)).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", json!(k), ts_literal(v, Some(k))))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        other => other.to_string(),
    }
}

#[test]
fn the_pwa_wire_check_is_current() {
    check_current("pwa/src/generated/wire-check.ts", &wire_check());
}

/// The rule table as the protocol document's Markdown table: docs/PROTOCOL.md shows it
/// between markers, so the document cannot drift from the table either.
fn protocol_rule_rows() -> String {
    let code = |s: &str| format!("`{s}`");
    let list = |set: &[Status]| {
        if set.is_empty() {
            "—".to_owned()
        } else if set == OPEN {
            "any open status".to_owned()
        } else {
            set.iter()
                .map(|s| code(s.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut out = String::from(
        "| action | who | from status | to status | writes |\n|---|---|---|---|---|\n",
    );
    for r in RULES {
        let who = match r.actor {
            Actor::Creation => "the reporter, at creation only",
            Actor::Supervisor => "supervisor of the record's level",
            Actor::SupervisorOrAbove => "a supervisor at or above the record's level",
            Actor::Reporter => "the reporter",
            Actor::Handler => "the department dispatched to, or the assignee",
            Actor::FieldStaff => "leader, grid staff; category `field_resolvable`",
        };
        let who = if r.server {
            format!("{who}, or the server")
        } else {
            who.to_owned()
        };
        let note = if r.needs_note() {
            " (note required)"
        } else {
            ""
        };
        let to = match (r.action, r.to) {
            (Action::Report, _) => code(Status::Reported.as_str()),
            (_, Some(s)) => code(s.as_str()),
            (_, None) => "—".to_owned(),
        };
        let cleared: Vec<String> = r
            .writes
            .iter()
            .filter(|(_, w)| *w == Write::Clear)
            .map(|(f, _)| code(f.as_str()))
            .collect();
        let mut writes: Vec<String> = r
            .writes
            .iter()
            .filter_map(|(f, w)| match w {
                Write::Param | Write::Mark => Some(code(f.as_str())),
                Write::Raise => Some(format!("{} one up", code(f.as_str()))),
                Write::Clear => None,
            })
            .collect();
        if !cleared.is_empty() {
            writes.push(format!("clears {}", cleared.join(", ")));
        }
        if r.action == Action::Report {
            writes.push("the record".to_owned());
        }
        out += &format!(
            "| `{}`{note} | {who} | {} | {to} | {} |\n",
            r.action.as_str(),
            list(r.from),
            writes.join("; "),
        );
    }
    out
}

#[test]
fn the_protocol_documents_rule_table_is_current() {
    const BEGIN: &str = "<!-- generated from sync/src/rules.rs: rule table -->\n";
    const END: &str = "<!-- end of generated rule table -->";
    let path = "docs/PROTOCOL.md";
    let doc = std::fs::read_to_string(repo_file(path)).expect("docs/PROTOCOL.md");
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("{path} lacks the generated rule table's markers");
    };
    let want = format!(
        "{}{BEGIN}{}{}",
        &doc[..start],
        protocol_rule_rows(),
        &doc[end..]
    );
    check_current(path, &want);
}
