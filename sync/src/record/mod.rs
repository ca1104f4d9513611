//! Schema 1 of the record document: one Automerge map at the root per resident need,
//! household visit or patrol event.
//!
//! Phones write these documents with Automerge JS, so the reader accepts what that library
//! actually stores: JS strings become Text objects unless wrapped in `ImmutableString`, whole
//! numbers become `int` and fractions `f64`, and a `Date` becomes a timestamp. Fields whose
//! concurrent edits must merge (`title`, `description`, `address`) are required to be Text
//! objects; every other string field accepts either form.
//!
//! Later schemas may add fields, never rename or retype one: unknown fields are ignored
//! everywhere, at the root and inside nested maps.

use automerge::iter::MapRangeItem;
use std::cell::RefCell;
use std::str::FromStr;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, AutomergeError, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue,
    Value, ValueRef,
};
use serde::{Deserialize, Serialize};

use crate::names::{NamedEnum, named_enum};
pub use crate::rules::{Level, Status};
use crate::scope::{self, Position};

/// The value of the `schema` field this crate reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Longest `title`, in Unicode code points: it is shown in lists and stored in the index.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest `address`, in Unicode code points.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// Longest `description`, and longest note or timeline note, in Unicode code points.
pub const MAX_LONG_TEXT_CHARS: usize = 20_000;
/// Longest short identifier-like string (`category`, `household`, `action`, `mime`).
pub const MAX_CODE_CHARS: usize = 128;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A resident need or request (民情诉求).
    Need,
    /// A household visit (入户走访).
    Visit,
    /// A problem found on patrol (巡查事件).
    Event,
}
named_enum!(Kind { Need => "need", Visit => "visit", Event => "event" });

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Normal,
    Urgent,
}
named_enum!(Urgency { Normal => "normal", Urgent => "urgent" });

/// Where the reporter stood, from the phone's location service or a pin on the map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lng: f64,
    /// Radius of the fix in metres; absent for a pin placed by hand.
    pub accuracy_m: Option<f64>,
}

/// The server's queryable projection of a record document: what lists, filters and the
/// scope rule need, read from the document after every accepted push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub kind: Kind,
    pub grid: String,
    pub sector: Option<String>,
    pub category: String,
    pub status: Status,
    pub department: Option<String>,
    pub reported_by: i64,
    /// Milliseconds since the Unix epoch.
    pub reported_at: i64,
    pub urgency: Urgency,
    pub title: String,
    pub location: Option<Location>,
    /// Who is responsible now (absent in the document: the community).
    pub level: Level,
    /// Grid staff member a supervisor assigned the record to.
    pub assignee: Option<i64>,
    /// Handling deadline, ms since the epoch, set when the record is accepted.
    pub due_at: Option<i64>,
    /// Marked for supervision (督办) because it was left too long.
    pub urged: bool,
    /// Closed as a duplicate of this record.
    pub duplicate_of: Option<String>,
    /// Concurrent offline actions left different statuses: a supervisor must decide.
    pub conflict: bool,
    /// SHA-256 of each attached photo, in list order.
    pub attachments: Vec<String>,
    /// The household of the registry the record is about, when `household` names one (a
    /// household document id); older records hold a free-text door number there instead.
    pub household: Option<String>,
    /// The people of that household a visit saw (`persons`, their pids).
    pub persons: Vec<String>,
    /// The record this one was raised from: a need found on a visit. Fixed once set.
    pub raised_from: Option<String>,
    /// A visit's checklist (`care::VISIT_CHECKS`): question code → answer code, by code.
    pub checks: std::collections::BTreeMap<String, String>,
}

impl Record {
    pub fn position(&self) -> Position<'_> {
        Position {
            grid: &self.grid,
            sector: self.sector.as_deref(),
            department: self.department.as_deref(),
        }
    }
}

/// What is wrong with a record document, naming the field: "field `grid` must be a grid
/// path, found int".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` {problem}")]
pub struct SchemaError {
    /// Dotted path of the field, with list indexes: `location.lat`, `timeline[2].by`.
    pub field: String,
    pub problem: String,
}

impl SchemaError {
    pub(crate) fn new(field: &str, problem: impl Into<String>) -> Self {
        SchemaError {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    pub(crate) fn missing(field: &str) -> Self {
        Self::new(field, "is missing")
    }

    pub(crate) fn wrong_type(field: &str, expected: &str, found: &Value<'_>) -> Self {
        Self::new(
            field,
            format!("must be {expected}, found {}", type_name(found)),
        )
    }
}

/// A record id: a UUID as `crypto.randomUUID()` writes it (lower-case, hyphenated). One
/// spelling only, because ids are compared as strings everywhere.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// A category code: lower-case ASCII letters, digits, `_` and `.`, as in the catalogue.
pub fn is_category_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

/// A department key: `<owning unit path>:<code>`, e.g. `/gusu:police`.
pub fn is_department_key(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(unit, code)| {
        scope::is_valid_path(unit)
            && !code.is_empty()
            && code.len() <= 64
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    })
}

/// Reads and checks a record document against schema 1.
pub fn read_record(doc: &Automerge) -> Result<Record, SchemaError> {
    let r = Reader::new(doc);
    let root = &ROOT;

    match r.int(root, "schema", "schema")? {
        Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(SchemaError::new(
                "schema",
                format!(
                    "must be {SCHEMA_VERSION} (this server reads schema {SCHEMA_VERSION} records), found {other}"
                ),
            ));
        }
        None => return Err(SchemaError::missing("schema")),
    }

    let id = r.required_string(root, "id", "id")?;
    if !is_uuid(&id) {
        return Err(SchemaError::new(
            "id",
            format!("must be a lower-case hyphenated UUID, found {}", quote(&id)),
        ));
    }
    let kind = r.required_enum::<Kind>(root, "kind")?;

    let grid = r.required_string(root, "grid", "grid")?;
    if !scope::is_valid_path(&grid) {
        return Err(SchemaError::new(
            "grid",
            format!(
                "must be a grid path like /gusu/byw/ws1/jinzhu/g01, found {}",
                quote(&grid)
            ),
        ));
    }
    let sector = r.string(root, "sector", "sector")?;
    if let Some(sector) = &sector
        && !(scope::is_valid_path(sector) && sector != &grid && scope::is_under(sector, &grid))
    {
        return Err(SchemaError::new(
            "sector",
            format!(
                "must be a sector path under the record's grid {grid}, found {}",
                quote(sector)
            ),
        ));
    }

    let category = r.required_string(root, "category", "category")?;
    if !is_category_code(&category) {
        return Err(SchemaError::new(
            "category",
            format!(
                "must be a category code like city.garbage_exposed, found {}",
                quote(&category)
            ),
        ));
    }

    let title = r.read_text(&r.text("title", MAX_TITLE_CHARS)?, "title")?;
    r.text("description", MAX_LONG_TEXT_CHARS)?;
    r.text("address", MAX_ADDRESS_CHARS)?;

    let location = r.location()?;

    let household = match r.string(root, "household", "household")? {
        Some(household) => {
            check_len("household", &household, MAX_CODE_CHARS)?;
            is_uuid(&household).then_some(household)
        }
        None => None,
    };
    let persons = r.persons()?;
    if !persons.is_empty() && household.is_none() {
        return Err(SchemaError::new(
            "persons",
            "names people, so field `household` must name their household",
        ));
    }

    let reported_by = r.required_int(root, "reported_by", "reported_by")?;
    let reported_at = r.required_int(root, "reported_at", "reported_at")?;
    if reported_at < 0 {
        return Err(SchemaError::new(
            "reported_at",
            format!("must be milliseconds since 1970, found {reported_at}"),
        ));
    }
    let urgency = r.required_enum::<Urgency>(root, "urgency")?;
    let status = r.required_enum::<Status>(root, "status")?;

    let department = r.string(root, "department", "department")?;
    if let Some(dep) = &department
        && !is_department_key(dep)
    {
        return Err(SchemaError::new(
            "department",
            format!(
                "must be a department key like /gusu:police, found {}",
                quote(dep)
            ),
        ));
    }

    r.timeline()?;
    r.notes()?;
    let attachments = r.attachments()?;

    let level = match r.string(root, "level", "level")? {
        None => Level::Community,
        Some(s) => s.parse().map_err(|_| {
            SchemaError::new(
                "level",
                format!("must be one of {}, found {}", Level::names(), quote(&s)),
            )
        })?,
    };
    let assignee = r.int(root, "assignee", "assignee")?;
    let due_at = r.int(root, "due_at", "due_at")?;
    let urged = match r.get(root, "urged") {
        None => false,
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Boolean(b) => *b,
            _ => {
                return Err(SchemaError::wrong_type(
                    "urged",
                    "a boolean",
                    &Value::Scalar(s),
                ));
            }
        },
        Some((other, _)) => return Err(SchemaError::wrong_type("urged", "a boolean", &other)),
    };
    let duplicate_of = r.string(root, "duplicate_of", "duplicate_of")?;
    if let Some(d) = &duplicate_of
        && !is_uuid(d)
    {
        return Err(SchemaError::new(
            "duplicate_of",
            format!("must be a record id, found {}", quote(d)),
        ));
    }
    let checks = r.checks()?;
    if !checks.is_empty() && kind != Kind::Visit {
        return Err(SchemaError::new("checks", "only a visit has a checklist"));
    }
    let raised_from = r.string(root, "raised_from", "raised_from")?;
    if let Some(d) = &raised_from
        && !is_uuid(d)
    {
        return Err(SchemaError::new(
            "raised_from",
            format!("must be a record id, found {}", quote(d)),
        ));
    }
    let conflict = r.has_conflict(root, "status") && status_conflict(&r);

    Ok(Record {
        id,
        kind,
        grid,
        sector,
        category,
        status,
        department,
        reported_by,
        reported_at,
        urgency,
        title,
        location,
        level,
        assignee,
        due_at,
        urged,
        duplicate_of,
        conflict,
        attachments,
        household,
        persons,
        raised_from,
        checks,
    })
}

/// Whether concurrent changes left `status` with different values: Automerge keeps one as
/// the winner everywhere, but both actions happened and a person must decide.
pub(crate) fn status_conflict(r: &Reader<'_>) -> bool {
    let texts = r.all_strings(&ROOT, "status");
    texts.iter().any(|t| *t != texts[0])
}

mod edit;
mod kind;
mod reader;

pub use edit::{EditError, NewRecord, append_note, append_timeline, new_record, set_text};
pub use kind::{Known, RecordKind};
pub(crate) use reader::Reader;
pub(crate) use reader::{check_len, quote, type_name};

#[cfg(test)]
pub(crate) mod tests;
