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

/// Where a record is in the closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Reported,
    Accepted,
    Dispatched,
    InProgress,
    Resolved,
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
    Closed => "closed",
    Returned => "returned",
    Withdrawn => "withdrawn",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Normal,
    Urgent,
}
named_enum!(Urgency { Normal => "normal", Urgent => "urgent" });

/// Which level of the five-level tree is responsible for a record now. Records start with
/// the community; escalation moves them up. Absent in a document means `community`.
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
        match self {
            Level::Community => Some(Level::Workstation),
            Level::Workstation => Some(Level::Street),
            Level::Street => Some(Level::District),
            Level::District => None,
        }
    }
}

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
    fn new(field: &str, problem: impl Into<String>) -> Self {
        SchemaError {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    fn missing(field: &str) -> Self {
        Self::new(field, "is missing")
    }

    fn wrong_type(field: &str, expected: &str, found: &Value<'_>) -> Self {
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

    if let Some(household) = r.string(root, "household", "household")? {
        check_len("household", &household, MAX_CODE_CHARS)?;
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
    })
}

/// Whether concurrent changes left `status` with different values: Automerge keeps one as
/// the winner everywhere, but both actions happened and a person must decide.
pub(crate) fn status_conflict(r: &Reader<'_>) -> bool {
    let texts = r.all_strings(&ROOT, "status");
    texts.iter().any(|t| *t != texts[0])
}

/// Field readers that turn every surprise into a [`SchemaError`] naming the field. `key` is
/// the map key, `field` the path shown to people.
///
/// Each map is read whole the first time one of its keys is asked for: in Automerge 0.12 a
/// single-key `get` costs about half of a pass over a whole record's root map, and a record
/// reads most of its keys. A reader made with [`Reader::at`] reads the document as it stood
/// at earlier heads, from the history, without a copy of the document.
pub(crate) struct Reader<'a> {
    doc: &'a Automerge,
    heads: Option<&'a [ChangeHash]>,
    maps: RefCell<Vec<(ObjId, Vec<MapRangeItem<'a>>)>>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(doc: &'a Automerge) -> Reader<'a> {
        Reader {
            doc,
            heads: None,
            maps: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn at(doc: &'a Automerge, heads: &'a [ChangeHash]) -> Reader<'a> {
        Reader {
            heads: Some(heads),
            ..Reader::new(doc)
        }
    }

    /// The winning value at `key` of the map `obj`, its id, and whether concurrent changes
    /// left other values there too.
    fn lookup(&self, obj: &ObjId, key: &str) -> Option<(Value<'static>, ObjId, bool)> {
        let mut maps = self.maps.borrow_mut();
        let i = match maps.iter().position(|(id, _)| id == obj) {
            Some(i) => i,
            None => {
                let items = match self.heads {
                    None => self.doc.map_range(obj, ..).collect(),
                    Some(heads) => self.doc.map_range_at(obj, .., heads).collect(),
                };
                maps.push((obj.clone(), items));
                maps.len() - 1
            }
        };
        let items = &maps[i].1;
        // map_range yields keys in lexicographic order (it is a range over keys).
        let at = items.binary_search_by(|item| (*item.key).cmp(key)).ok()?;
        let item = &items[at];
        Some((Value::from(item.value.clone()), item.id(), item.conflict))
    }

    /// Every value concurrent changes left at `key`, as strings where they are strings or
    /// Text; the winner is among them but not necessarily first.
    pub(crate) fn all_strings(&self, obj: &ObjId, key: &str) -> Vec<String> {
        let all = match self.heads {
            None => self.doc.get_all(obj, key),
            Some(heads) => self.doc.get_all_at(obj, key, heads),
        };
        all.unwrap_or_default()
            .into_iter()
            .filter_map(|(v, id)| match v {
                Value::Scalar(s) => s.as_str().map(str::to_owned),
                Value::Object(ObjType::Text) => self.text_of(&id).ok(),
                Value::Object(_) => None,
            })
            .collect()
    }

    /// Whether `key` has values left by concurrent changes (the map pass says so for free).
    pub(crate) fn has_conflict(&self, obj: &ObjId, key: &str) -> bool {
        self.lookup(obj, key)
            .is_some_and(|(_, _, conflict)| conflict)
    }

    fn text_of(&self, id: &ObjId) -> Result<String, AutomergeError> {
        match self.heads {
            None => self.doc.text(id),
            Some(heads) => self.doc.text_at(id, heads),
        }
    }

    fn length(&self, id: &ObjId) -> usize {
        match self.heads {
            None => self.doc.length(id),
            Some(heads) => self.doc.length_at(id, heads),
        }
    }

    /// The items of the list `id`: each item's index, value and id.
    pub(crate) fn list(&self, id: &ObjId) -> Vec<(usize, ValueRef<'a>, ObjId)> {
        let range = match self.heads {
            None => self.doc.list_range(id, ..),
            Some(heads) => self.doc.list_range_at(id, .., heads),
        };
        range
            .map(|item| {
                let id = item.id();
                (item.index, item.value, id)
            })
            .collect()
    }

    /// The value at `key`, treating an explicit `null` like an absent field: Automerge JS
    /// stores `null` when an optional field is cleared by assignment rather than `delete`.
    pub(crate) fn get(&self, obj: &ObjId, key: &str) -> Option<(Value<'static>, ObjId)> {
        match self.lookup(obj, key)? {
            (Value::Scalar(s), _, _) if matches!(s.as_ref(), ScalarValue::Null) => None,
            (value, id, _) => Some((value, id)),
        }
    }

    /// A string stored either as a scalar string or as a Text object.
    pub(crate) fn string(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
    ) -> Result<Option<String>, SchemaError> {
        match self.get(obj, key) {
            None => Ok(None),
            Some((Value::Scalar(s), _)) if s.is_str() => Ok(s.as_str().map(str::to_owned)),
            Some((Value::Object(ObjType::Text), id)) => self.read_text(&id, field).map(Some),
            Some((other, _)) => Err(SchemaError::wrong_type(field, "a string", &other)),
        }
    }

    fn required_string(&self, obj: &ObjId, key: &str, field: &str) -> Result<String, SchemaError> {
        self.string(obj, key, field)?
            .ok_or_else(|| SchemaError::missing(field))
    }

    fn required_enum<T: FromStr + NamedEnum>(
        &self,
        obj: &ObjId,
        key: &str,
    ) -> Result<T, SchemaError> {
        let s = self.required_string(obj, key, key)?;
        s.parse().map_err(|_| {
            SchemaError::new(
                key,
                format!("must be one of {}, found {}", T::names(), quote(&s)),
            )
        })
    }

    /// A whole number: `int`, `uint` or a JS timestamp, or an `f64` with no fraction (a JS
    /// number that went through arithmetic may be stored that way).
    pub(crate) fn int(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
    ) -> Result<Option<i64>, SchemaError> {
        const MAX_SAFE: f64 = 9_007_199_254_740_991.0; // 2^53 - 1, JS's largest exact integer
        let Some((value, _)) = self.get(obj, key) else {
            return Ok(None);
        };
        let n = match &value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Int(n) | ScalarValue::Timestamp(n) => Some(*n),
                ScalarValue::Uint(n) => i64::try_from(*n).ok(),
                ScalarValue::F64(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE => Some(*f as i64),
                _ => None,
            },
            Value::Object(_) => None,
        };
        n.map(Some)
            .ok_or_else(|| SchemaError::wrong_type(field, "an integer", &value))
    }

    fn required_int(&self, obj: &ObjId, key: &str, field: &str) -> Result<i64, SchemaError> {
        self.int(obj, key, field)?
            .ok_or_else(|| SchemaError::missing(field))
    }

    /// Any finite number; JS stores `31` as `int` and `31.3` as `f64`.
    fn number(&self, obj: &ObjId, key: &str, field: &str) -> Result<Option<f64>, SchemaError> {
        let Some((value, _)) = self.get(obj, key) else {
            return Ok(None);
        };
        let n = match &value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Int(n) => Some(*n as f64),
                ScalarValue::Uint(n) => Some(*n as f64),
                ScalarValue::F64(f) if f.is_finite() => Some(*f),
                _ => None,
            },
            Value::Object(_) => None,
        };
        n.map(Some)
            .ok_or_else(|| SchemaError::wrong_type(field, "a number", &value))
    }

    fn object(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
        want: ObjType,
    ) -> Result<Option<ObjId>, SchemaError> {
        match self.get(obj, key) {
            None => Ok(None),
            Some((Value::Object(t), id))
                if t == want || (want == ObjType::Map && t == ObjType::Table) =>
            {
                Ok(Some(id))
            }
            Some((other, _)) => Err(SchemaError::wrong_type(field, obj_type_name(want), &other)),
        }
    }

    /// The root-level Text object at `key`, checked for length but not read: reading a
    /// long description only to validate it would be wasted work.
    fn text(&self, key: &str, max: usize) -> Result<ObjId, SchemaError> {
        let id = match self.get(&ROOT, key) {
            None => return Err(SchemaError::missing(key)),
            Some((Value::Object(ObjType::Text), id)) => id,
            Some((other, _)) => {
                let hint = if matches!(&other, Value::Scalar(s) if s.is_str()) {
                    " (a plain string would not merge concurrent typing; store a JS string, not an ImmutableString)"
                } else {
                    ""
                };
                return Err(SchemaError::new(
                    key,
                    format!("must be text, found {}{hint}", type_name(&other)),
                ));
            }
        };
        // Length is in the document's text units, Unicode code points for this build.
        check_count(key, self.length(&id), max)?;
        Ok(id)
    }

    fn read_text(&self, id: &ObjId, field: &str) -> Result<String, SchemaError> {
        self.text_of(id)
            .map_err(|e| SchemaError::new(field, format!("could not be read: {e}")))
    }

    /// A string or a Text, for fields such as notes where either merges well enough.
    fn string_or_text(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
        max: usize,
    ) -> Result<Option<usize>, SchemaError> {
        match self.get(obj, key) {
            None => Ok(None),
            Some((Value::Scalar(s), _)) if s.is_str() => {
                let len = s.as_str().map_or(0, |s| s.chars().count());
                check_count(field, len, max).map(|()| Some(len))
            }
            Some((Value::Object(ObjType::Text), id)) => {
                let len = self.length(&id);
                check_count(field, len, max).map(|()| Some(len))
            }
            Some((other, _)) => Err(SchemaError::wrong_type(field, "a string or text", &other)),
        }
    }

    fn location(&self) -> Result<Option<Location>, SchemaError> {
        let Some(loc) = self.object(&ROOT, "location", "location", ObjType::Map)? else {
            return Ok(None);
        };
        let coordinate = |key: &str, field: &str, limit: f64| -> Result<f64, SchemaError> {
            let v = self
                .number(&loc, key, field)?
                .ok_or_else(|| SchemaError::missing(field))?;
            if v.abs() > limit {
                return Err(SchemaError::new(
                    field,
                    format!("must be between -{limit} and {limit}, found {v}"),
                ));
            }
            Ok(v)
        };
        let lat = coordinate("lat", "location.lat", 90.0)?;
        let lng = coordinate("lng", "location.lng", 180.0)?;
        let accuracy_m = self.number(&loc, "accuracy_m", "location.accuracy_m")?;
        if let Some(a) = accuracy_m
            && a < 0.0
        {
            return Err(SchemaError::new(
                "location.accuracy_m",
                format!("must not be negative, found {a}"),
            ));
        }
        Ok(Some(Location {
            lat,
            lng,
            accuracy_m,
        }))
    }

    /// The required list at `key`, yielding each item's map id and its display path.
    fn list_of_maps(&self, key: &str) -> Result<Vec<(ObjId, String)>, SchemaError> {
        let list = self
            .object(&ROOT, key, key, ObjType::List)?
            .ok_or_else(|| SchemaError::missing(key))?;
        self.list(&list)
            .into_iter()
            .map(|(index, value, id)| {
                let path = format!("{key}[{index}]");
                match value {
                    ValueRef::Object(ObjType::Map | ObjType::Table) => Ok((id, path)),
                    other => Err(SchemaError::wrong_type(&path, "a map", &Value::from(other))),
                }
            })
            .collect()
    }

    fn timeline(&self) -> Result<(), SchemaError> {
        for (entry, path) in self.list_of_maps("timeline")? {
            let field = |k: &str| format!("{path}.{k}");
            let action = self
                .string(&entry, "action", &field("action"))?
                .ok_or_else(|| SchemaError::missing(&field("action")))?;
            if action.is_empty() {
                return Err(SchemaError::new(&field("action"), "must not be empty"));
            }
            check_len(&field("action"), &action, MAX_CODE_CHARS)?;
            self.required_int(&entry, "by", &field("by"))?;
            self.required_int(&entry, "at", &field("at"))?;
            self.string_or_text(&entry, "note", &field("note"), MAX_LONG_TEXT_CHARS)?;
        }
        Ok(())
    }

    fn notes(&self) -> Result<(), SchemaError> {
        for (note, path) in self.list_of_maps("notes")? {
            let field = |k: &str| format!("{path}.{k}");
            self.required_int(&note, "by", &field("by"))?;
            self.required_int(&note, "at", &field("at"))?;
            self.string_or_text(&note, "text", &field("text"), MAX_LONG_TEXT_CHARS)?
                .ok_or_else(|| SchemaError::missing(&field("text")))?;
        }
        Ok(())
    }

    /// Photos are stored outside the document by content hash; the document only lists them.
    /// Checks the attachments and returns the SHA-256 of each, in list order.
    fn attachments(&self) -> Result<Vec<String>, SchemaError> {
        let mut shas = Vec::new();
        for (att, path) in self.list_of_maps("attachments")? {
            let field = |k: &str| format!("{path}.{k}");
            let sha = self
                .string(&att, "sha256", &field("sha256"))?
                .ok_or_else(|| SchemaError::missing(&field("sha256")))?;
            if sha.len() != 64
                || !sha
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(SchemaError::new(
                    &field("sha256"),
                    format!("must be 64 lower-case hex digits, found {}", quote(&sha)),
                ));
            }
            let mime = self
                .string(&att, "mime", &field("mime"))?
                .ok_or_else(|| SchemaError::missing(&field("mime")))?;
            if !mime.contains('/') || mime.len() > MAX_CODE_CHARS {
                return Err(SchemaError::new(
                    &field("mime"),
                    format!(
                        "must be a media type like image/jpeg, found {}",
                        quote(&mime)
                    ),
                ));
            }
            self.required_int(&att, "by", &field("by"))?;
            for (key, required) in [("bytes", true), ("width", false), ("height", false)] {
                match self.int(&att, key, &field(key))? {
                    Some(n) if n < 0 => {
                        return Err(SchemaError::new(
                            &field(key),
                            format!("must not be negative, found {n}"),
                        ));
                    }
                    None if required => return Err(SchemaError::missing(&field(key))),
                    _ => {}
                }
            }
            self.int(&att, "taken_at", &field("taken_at"))?;
            shas.push(sha);
        }
        Ok(shas)
    }
}

fn check_len(field: &str, s: &str, max: usize) -> Result<(), SchemaError> {
    check_count(field, s.chars().count(), max)
}

fn check_count(field: &str, len: usize, max: usize) -> Result<(), SchemaError> {
    if len > max {
        Err(SchemaError::new(
            field,
            format!("is {len} characters long, more than the {max} allowed"),
        ))
    } else {
        Ok(())
    }
}

/// Quotes a found value for an error message, cut short so a hostile document cannot make
/// the message huge.
fn quote(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{s:?}")
    }
}

fn obj_type_name(t: ObjType) -> &'static str {
    match t {
        ObjType::Map | ObjType::Table => "a map",
        ObjType::List => "a list",
        ObjType::Text => "text",
    }
}

/// The short type names used in messages: "found int", "found text".
fn type_name(v: &Value<'_>) -> &'static str {
    match v {
        Value::Object(ObjType::Map | ObjType::Table) => "map",
        Value::Object(ObjType::List) => "list",
        Value::Object(ObjType::Text) => "text",
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Bytes(_) => "bytes",
            ScalarValue::Str(_) => "string",
            ScalarValue::Int(_) => "int",
            ScalarValue::Uint(_) => "uint",
            ScalarValue::F64(_) => "float",
            ScalarValue::Counter(_) => "counter",
            ScalarValue::Timestamp(_) => "timestamp",
            ScalarValue::Boolean(_) => "bool",
            ScalarValue::Unknown { .. } => "a value of unknown type",
            ScalarValue::Null => "null",
        },
    }
}

/// Everything needed to create a record; the rest (status, empty lists) follows from schema 1.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub id: String,
    pub kind: Kind,
    pub grid: String,
    pub sector: Option<String>,
    pub category: String,
    pub title: String,
    pub description: String,
    pub address: String,
    pub location: Option<Location>,
    pub household: Option<String>,
    pub reported_by: i64,
    /// Milliseconds since the Unix epoch.
    pub reported_at: i64,
    pub urgency: Urgency,
}

/// Creates a record document in one change made by `actor`: status `reported`, a `report`
/// entry on the timeline, empty notes and attachments. Writes what it is given without
/// validating it, so tests can build invalid records the same way.
pub fn new_record(actor: ActorId, fields: &NewRecord) -> Automerge {
    let mut doc = Automerge::new().with_actor(actor);
    let mut tx = doc.transaction();
    // A fresh document has only ROOT and the objects created here, so no write can name a
    // missing object: these calls have no failure mode.
    write_new_record(&mut tx, fields).expect("writing a new record into an empty document");
    // Change times are advisory seconds in Automerge; take them from the report time.
    tx.commit_with(CommitOptions::default().with_time(fields.reported_at.div_euclid(1000)));
    doc
}

fn write_new_record<T: Transactable>(tx: &mut T, f: &NewRecord) -> Result<(), AutomergeError> {
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put(ROOT, "id", f.id.as_str())?;
    tx.put(ROOT, "kind", f.kind.as_str())?;
    tx.put(ROOT, "grid", f.grid.as_str())?;
    if let Some(sector) = &f.sector {
        tx.put(ROOT, "sector", sector.as_str())?;
    }
    tx.put(ROOT, "category", f.category.as_str())?;
    for (key, value) in [
        ("title", &f.title),
        ("description", &f.description),
        ("address", &f.address),
    ] {
        let text = tx.put_object(ROOT, key, ObjType::Text)?;
        tx.splice_text(&text, 0, 0, value)?;
    }
    if let Some(loc) = &f.location {
        let map = tx.put_object(ROOT, "location", ObjType::Map)?;
        tx.put(&map, "lat", loc.lat)?;
        tx.put(&map, "lng", loc.lng)?;
        if let Some(acc) = loc.accuracy_m {
            tx.put(&map, "accuracy_m", acc)?;
        }
    }
    if let Some(household) = &f.household {
        tx.put(ROOT, "household", household.as_str())?;
    }
    tx.put(ROOT, "reported_by", f.reported_by)?;
    tx.put(ROOT, "reported_at", f.reported_at)?;
    tx.put(ROOT, "urgency", f.urgency.as_str())?;
    tx.put(ROOT, "status", Status::Reported.as_str())?;
    let timeline = tx.put_object(ROOT, "timeline", ObjType::List)?;
    insert_timeline_entry(
        tx,
        &timeline,
        crate::workflow::Action::Report.as_str(),
        f.reported_by,
        f.reported_at,
        None,
    )?;
    tx.put_object(ROOT, "notes", ObjType::List)?;
    tx.put_object(ROOT, "attachments", ObjType::List)?;
    Ok(())
}

/// Why an edit helper could not change a record.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("the record has no `{0}` list to append to")]
    MissingList(&'static str),
    #[error("the record has no `{0}` text to edit")]
    MissingText(String),
    #[error(transparent)]
    Automerge(#[from] AutomergeError),
}

/// Appends `{action, by, at, note?}` to the timeline. Appending (rather than setting an
/// index) is what lets two offline edits both keep their entries.
pub fn append_timeline<T: Transactable>(
    tx: &mut T,
    action: &str,
    by: i64,
    at: i64,
    note: Option<&str>,
) -> Result<(), EditError> {
    let timeline = list(tx, "timeline")?;
    insert_timeline_entry(tx, &timeline, action, by, at, note)?;
    Ok(())
}

fn insert_timeline_entry<T: Transactable>(
    tx: &mut T,
    timeline: &ObjId,
    action: &str,
    by: i64,
    at: i64,
    note: Option<&str>,
) -> Result<(), AutomergeError> {
    let end = tx.length(timeline);
    let entry = tx.insert_object(timeline, end, ObjType::Map)?;
    tx.put(&entry, "action", action)?;
    tx.put(&entry, "by", by)?;
    tx.put(&entry, "at", at)?;
    if let Some(note) = note {
        tx.put(&entry, "note", note)?;
    }
    Ok(())
}

/// Appends `{by, at, text}` to the notes.
pub fn append_note<T: Transactable>(
    tx: &mut T,
    by: i64,
    at: i64,
    text: &str,
) -> Result<(), EditError> {
    let notes = list(tx, "notes")?;
    let end = tx.length(&notes);
    let note = tx.insert_object(&notes, end, ObjType::Map)?;
    tx.put(&note, "by", by)?;
    tx.put(&note, "at", at)?;
    tx.put(&note, "text", text)?;
    Ok(())
}

/// Replaces the content of a Text field (`title`, `description`, `address`) by the smallest
/// splice, so a concurrent edit elsewhere in the same text survives the merge.
pub fn set_text<T: Transactable>(tx: &mut T, field: &str, new_text: &str) -> Result<(), EditError> {
    match tx.get(ROOT, field)? {
        Some((Value::Object(ObjType::Text), id)) => {
            tx.update_text(&id, new_text)?;
            Ok(())
        }
        _ => Err(EditError::MissingText(field.to_owned())),
    }
}

fn list<T: Transactable>(tx: &T, key: &'static str) -> Result<ObjId, EditError> {
    match tx.get(ROOT, key)? {
        Some((Value::Object(ObjType::List), id)) => Ok(id),
        _ => Err(EditError::MissingList(key)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    pub const GRID: &str = "/gusu/byw/ws1/jinzhu/g01";
    pub const SECTOR: &str = "/gusu/byw/ws1/jinzhu/g01/b1";
    pub const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    pub fn sample(id: &str, reported_by: i64) -> NewRecord {
        NewRecord {
            id: id.into(),
            kind: Kind::Event,
            grid: GRID.into(),
            sector: Some(SECTOR.into()),
            category: "city.garbage_exposed".into(),
            title: "金筑苑3幢门口暴露垃圾".into(),
            description: "垃圾袋堆在门口两天未清运".into(),
            address: "金筑苑3幢".into(),
            location: Some(Location {
                lat: 31.3265,
                lng: 120.6132,
                accuracy_m: Some(8.0),
            }),
            household: None,
            reported_by,
            reported_at: 1_717_000_000_000,
            urgency: Urgency::Normal,
        }
    }

    fn edit(doc: &mut Automerge, f: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) {
        let mut tx = doc.transaction();
        f(&mut tx);
        tx.commit();
    }

    fn err_of(doc: &Automerge) -> String {
        read_record(doc)
            .expect_err("the document should be invalid")
            .to_string()
    }

    #[test]
    fn reads_what_new_record_writes() {
        let doc = new_record(ActorId::random(), &sample(ID, 7));
        let r = read_record(&doc).expect("valid");
        assert_eq!(r.id, ID);
        assert_eq!(r.kind, Kind::Event);
        assert_eq!(r.grid, GRID);
        assert_eq!(r.sector.as_deref(), Some(SECTOR));
        assert_eq!(r.status, Status::Reported);
        assert_eq!(r.urgency, Urgency::Normal);
        assert_eq!(r.reported_by, 7);
        assert_eq!(r.title, "金筑苑3幢门口暴露垃圾");
        assert_eq!(r.department, None);
        assert_eq!(r.location.map(|l| l.accuracy_m), Some(Some(8.0)));
        assert_eq!(
            r.position(),
            Position {
                grid: GRID,
                sector: Some(SECTOR),
                department: None
            }
        );
        // Survives a save and load, as the server stores it.
        let loaded = Automerge::load(&doc.save()).expect("loads");
        assert_eq!(read_record(&loaded), Ok(r));
    }

    #[test]
    fn edit_helpers_produce_valid_records() {
        let mut doc = new_record(ActorId::random(), &sample(ID, 7));
        edit(&mut doc, |tx| {
            append_timeline(tx, "accept", 9, 1, None).expect("timeline");
            tx.put(ROOT, "status", "accepted").expect("status");
            tx.put(ROOT, "department", "/gusu:police")
                .expect("department");
            tx.put(ROOT, "status", "dispatched").expect("status");
            append_timeline(tx, "dispatch", 9, 2, Some("请派出所处理")).expect("timeline");
            append_note(tx, 9, 3, "已电话联系物业").expect("note");
            set_text(tx, "title", "金筑苑3幢门口暴露垃圾（已通知）").expect("text");
        });
        let r = read_record(&doc).expect("valid");
        assert_eq!(r.status, Status::Dispatched);
        assert_eq!(r.department.as_deref(), Some("/gusu:police"));
        assert_eq!(r.title, "金筑苑3幢门口暴露垃圾（已通知）");
        let (_, timeline) = doc.get(ROOT, "timeline").expect("ok").expect("present");
        let actions: Vec<String> = (0..doc.length(&timeline))
            .map(|i| {
                let (_, entry) = doc.get(&timeline, i).expect("ok").expect("entry");
                match doc.get(&entry, "action").expect("ok") {
                    Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_owned(),
                    _ => String::new(),
                }
            })
            .collect();
        assert_eq!(actions, ["report", "accept", "dispatch"]);
    }

    /// What Automerge JS writes when the app does not wrap strings in `ImmutableString`:
    /// every string is a Text object. Whole numbers are ints, fractions floats.
    #[test]
    fn accepts_js_style_values() {
        let mut doc = new_record(ActorId::random(), &sample(ID, 7));
        edit(&mut doc, |tx| {
            for (key, value) in [
                ("id", ID),
                ("kind", "need"),
                ("grid", GRID),
                ("status", "in_progress"),
            ] {
                let t = tx.put_object(ROOT, key, ObjType::Text).expect("put");
                tx.splice_text(&t, 0, 0, value).expect("splice");
            }
            tx.put(ROOT, "category", "need.elderly_care").expect("put");
            tx.put(ROOT, "sector", ScalarValue::Null).expect("put");
            tx.put(
                ROOT,
                "reported_at",
                ScalarValue::Timestamp(1_717_000_000_000),
            )
            .expect("put");
            tx.put(ROOT, "reported_by", ScalarValue::Uint(7))
                .expect("put");
            let loc = tx.put_object(ROOT, "location", ObjType::Map).expect("put");
            tx.put(&loc, "lat", 31_i64).expect("put");
            tx.put(&loc, "lng", 120.5).expect("put");
            let notes = list(tx, "notes").expect("notes");
            let note = tx.insert_object(&notes, 0, ObjType::Map).expect("insert");
            tx.put(&note, "by", 7_i64).expect("put");
            tx.put(&note, "at", 5.0).expect("put");
            let text = tx.put_object(&note, "text", ObjType::Text).expect("put");
            tx.splice_text(&text, 0, 0, "已上门").expect("splice");
            tx.put(ROOT, "future_field", "ignored").expect("put");
        });
        let r = read_record(&doc).expect("valid");
        assert_eq!(r.kind, Kind::Need);
        assert_eq!(r.status, Status::InProgress);
        assert_eq!(r.sector, None);
        assert_eq!(r.reported_at, 1_717_000_000_000);
        assert_eq!(r.reported_by, 7);
        assert_eq!(
            r.location,
            Some(Location {
                lat: 31.0,
                lng: 120.5,
                accuracy_m: None
            })
        );
    }

    #[test]
    fn attachments_are_checked() {
        let mut doc = new_record(ActorId::random(), &sample(ID, 7));
        edit(&mut doc, |tx| {
            let list = list(tx, "attachments").expect("list");
            let a = tx.insert_object(&list, 0, ObjType::Map).expect("insert");
            tx.put(&a, "sha256", "ab".repeat(32)).expect("put");
            tx.put(&a, "mime", "image/jpeg").expect("put");
            tx.put(&a, "bytes", 123_456_i64).expect("put");
            tx.put(&a, "width", 1920_i64).expect("put");
            tx.put(&a, "height", 1080_i64).expect("put");
            tx.put(&a, "taken_at", 1_717_000_000_000_i64).expect("put");
            tx.put(&a, "by", 7_i64).expect("put");
        });
        assert!(read_record(&doc).is_ok());
        edit(&mut doc, |tx| {
            let list = list(tx, "attachments").expect("list");
            let (_, a) = tx.get(&list, 0).expect("ok").expect("item");
            tx.put(&a, "sha256", "AB".repeat(32)).expect("put");
        });
        assert!(
            err_of(&doc)
                .starts_with("field `attachments[0].sha256` must be 64 lower-case hex digits")
        );
    }

    /// One bad document per rule, each checked for the message a person would read.
    #[test]
    fn names_the_field_and_the_problem() {
        type Edit = Box<dyn Fn(&mut automerge::transaction::Transaction<'_>)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|tx| tx.put(ROOT, "grid", 5_i64).expect("put")),
                "field `grid` must be a string, found int",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "grid", "gusu").expect("put")),
                "field `grid` must be a grid path like /gusu/byw/ws1/jinzhu/g01, found \"gusu\"",
            ),
            (
                Box::new(|tx| tx.delete(ROOT, "kind").expect("del")),
                "field `kind` is missing",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "kind", "complaint").expect("put")),
                "field `kind` must be one of need, visit, event, found \"complaint\"",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "schema", 2_i64).expect("put")),
                "field `schema` must be 1 (this server reads schema 1 records), found 2",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "id", "not-a-uuid").expect("put")),
                "field `id` must be a lower-case hyphenated UUID, found \"not-a-uuid\"",
            ),
            (
                Box::new(|tx| {
                    tx.put(ROOT, "sector", "/gusu/byw/ws1/jinzhu/g02/b1")
                        .expect("put")
                }),
                "field `sector` must be a sector path under the record's grid /gusu/byw/ws1/jinzhu/g01, found \"/gusu/byw/ws1/jinzhu/g02/b1\"",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "title", "plain").expect("put")),
                "field `title` must be text, found string (a plain string would not merge concurrent typing; store a JS string, not an ImmutableString)",
            ),
            (
                Box::new(|tx| set_text(tx, "title", &"长".repeat(201)).expect("text")),
                "field `title` is 201 characters long, more than the 200 allowed",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "reported_at", 1.5).expect("put")),
                "field `reported_at` must be an integer, found float",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "status", "done").expect("put")),
                "field `status` must be one of reported, accepted, dispatched, in_progress, resolved, closed, returned, withdrawn, found \"done\"",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "department", "police").expect("put")),
                "field `department` must be a department key like /gusu:police, found \"police\"",
            ),
            (
                Box::new(|tx| tx.put(ROOT, "category", "City Garbage").expect("put")),
                "field `category` must be a category code like city.garbage_exposed, found \"City Garbage\"",
            ),
            (
                Box::new(|tx| {
                    let (_, loc) = tx.get(ROOT, "location").expect("ok").expect("loc");
                    tx.put(&loc, "lat", 91_i64).expect("put");
                }),
                "field `location.lat` must be between -90 and 90, found 91",
            ),
            (
                Box::new(|tx| {
                    tx.put_object(ROOT, "location", ObjType::List).expect("put");
                }),
                "field `location` must be a map, found list",
            ),
            (
                Box::new(|tx| tx.delete(ROOT, "notes").expect("del")),
                "field `notes` is missing",
            ),
            (
                Box::new(|tx| {
                    let tl = list(tx, "timeline").expect("tl");
                    tx.insert(&tl, 1, "accepted").expect("insert");
                }),
                "field `timeline[1]` must be a map, found string",
            ),
            (
                Box::new(|tx| {
                    let tl = list(tx, "timeline").expect("tl");
                    let (_, e) = tx.get(&tl, 0).expect("ok").expect("entry");
                    tx.put(&e, "by", "张三").expect("put");
                }),
                "field `timeline[0].by` must be an integer, found string",
            ),
            (
                Box::new(|tx| {
                    let notes = list(tx, "notes").expect("notes");
                    let n = tx.insert_object(&notes, 0, ObjType::Map).expect("insert");
                    tx.put(&n, "by", 1_i64).expect("put");
                    tx.put(&n, "at", 1_i64).expect("put");
                }),
                "field `notes[0].text` is missing",
            ),
        ];
        for (change, expected) in cases {
            let mut doc = new_record(ActorId::random(), &sample(ID, 7));
            edit(&mut doc, |tx| change(tx));
            assert_eq!(err_of(&doc), expected);
        }
    }

    #[test]
    fn empty_document_is_missing_schema() {
        assert_eq!(err_of(&Automerge::new()), "field `schema` is missing");
    }

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(*k));
        }
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(*s));
            // serde spelling agrees with as_str
            let mut out = Vec::new();
            ciborium::into_writer(s, &mut out).expect("write");
            let text: String = ciborium::from_reader(&out[..]).expect("read");
            assert_eq!(text, s.as_str());
        }
        for u in Urgency::ALL {
            assert_eq!(u.as_str().parse::<Urgency>(), Ok(*u));
        }
        assert!("Need".parse::<Kind>().is_err());
    }

    #[test]
    fn shapes() {
        assert!(is_uuid(ID));
        for bad in [
            "",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8fad5bd9cb469fa16570867728950e",
            "0f8fad5b-d9cb-469f-a165-70867728950g",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
        assert!(is_department_key("/gusu:police"));
        assert!(is_department_key("/gusu/byw:urban_mgmt"));
        for bad in ["police", "/gusu:", ":police", "/gusu:Police", "gusu:police"] {
            assert!(!is_department_key(bad), "{bad}");
        }
    }
}
