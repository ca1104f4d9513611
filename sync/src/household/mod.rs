//! Schema 1 of the household document (户): one Automerge map per household of the
//! registry, edited offline by field staff, leaders and supervisors and merged like records.
//!
//! ```text
//! { schema: 1, id, grid, sector?, number, address: Text, notes?: Text,
//!   interval_days?, created_by, created_at,
//!   members: { <pid>: { relation, status, since, interval_days? } } }
//! ```
//!
//! People are named by `pid`, an opaque UUID; their personal fields (name, gender, birth
//! year, phone, ID number, care tags) are never in the document (`personal`): they live in
//! rows that can be corrected and erased. Members are a map keyed by pid, so two phones
//! adding people offline both keep theirs, and one phone marking a person moved out while
//! another edits them keeps both facts. A member is never removed: moving out and death are
//! statuses.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, AutomergeError, ObjType, ROOT, ReadDoc, Value, ValueRef};

use crate::care::MAX_INTERVAL_DAYS;
use crate::personal::{Relation, ResidentStatus};
use crate::record::{
    MAX_ADDRESS_CHARS, MAX_LONG_TEXT_CHARS, Reader, SchemaError, check_len, is_uuid, quote,
};
use crate::scope::{self, Position};

mod kind;
pub use kind::HouseholdKind;

#[cfg(test)]
mod tests;

pub const SCHEMA_VERSION: i64 = 1;
/// Longest household number (户号), in Unicode code points.
pub const MAX_NUMBER_CHARS: usize = 64;
/// Most people one household document may list, moved out and deceased included.
pub const MAX_MEMBERS: usize = 64;
/// Most bytes a household's saved document may take.
pub const MAX_HOUSEHOLD_BYTES: usize = 512 * 1024;

/// The server's reading of a household document.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    pub id: String,
    pub grid: String,
    pub sector: Option<String>,
    /// The household number (户号) the community uses; unique within a grid.
    pub number: String,
    /// Building and door, or lane and number, within the grid.
    pub address: String,
    /// A visit interval a supervisor set for the whole household, in days.
    pub interval_days: Option<i64>,
    pub created_by: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// In pid order.
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub pid: String,
    pub relation: Relation,
    pub status: ResidentStatus,
    /// When the person was added to the household, ms since the epoch: a person never
    /// visited is due one interval after it.
    pub since: i64,
    /// A visit interval a supervisor set for this person, in days.
    pub interval_days: Option<i64>,
}

impl Household {
    pub fn position(&self) -> Position<'_> {
        Position {
            grid: &self.grid,
            sector: self.sector.as_deref(),
            department: None,
        }
    }

    pub fn member(&self, pid: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.pid == pid)
    }
}

/// Reads and checks a household document against schema 1.
pub fn read_household(doc: &Automerge) -> Result<Household, SchemaError> {
    let r = Reader::new(doc);
    let root = &ROOT;
    match r.int(root, "schema", "schema")? {
        Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(SchemaError::new(
                "schema",
                format!("must be {SCHEMA_VERSION} for a household, found {other}"),
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
    let grid = r.required_string(root, "grid", "grid")?;
    if !scope::is_valid_path(&grid) {
        return Err(SchemaError::new(
            "grid",
            format!("must be a grid path, found {}", quote(&grid)),
        ));
    }
    let sector = r.string(root, "sector", "sector")?;
    if let Some(sector) = &sector
        && !(scope::is_valid_path(sector) && sector != &grid && scope::is_under(sector, &grid))
    {
        return Err(SchemaError::new(
            "sector",
            format!(
                "must be a sector path under the household's grid {grid}, found {}",
                quote(sector)
            ),
        ));
    }
    let number = r.required_string(root, "number", "number")?;
    let number = number.trim().to_owned();
    if number.is_empty() {
        return Err(SchemaError::new("number", "must not be empty"));
    }
    check_len("number", &number, MAX_NUMBER_CHARS)?;
    let address = r.read_text(&r.text("address", MAX_ADDRESS_CHARS)?, "address")?;
    if r.get(root, "notes").is_some() {
        r.text("notes", MAX_LONG_TEXT_CHARS)?;
    }
    let interval_days = interval(&r, root, "interval_days", "interval_days")?;
    let created_by = r.required_int(root, "created_by", "created_by")?;
    let created_at = r.required_int(root, "created_at", "created_at")?;
    if created_at < 0 {
        return Err(SchemaError::new(
            "created_at",
            format!("must be milliseconds since 1970, found {created_at}"),
        ));
    }
    let members_obj = r
        .object(root, "members", "members", ObjType::Map)?
        .ok_or_else(|| SchemaError::missing("members"))?;
    let mut members = Vec::new();
    for item in doc.map_range(&members_obj, ..) {
        let pid = item.key.to_string();
        let field = format!("members.{pid}");
        if !is_uuid(&pid) {
            return Err(SchemaError::new(
                "members",
                format!("keys must be person ids (UUIDs), found {}", quote(&pid)),
            ));
        }
        let obj = match item.value {
            ValueRef::Object(ObjType::Map | ObjType::Table) => item.id(),
            other => {
                return Err(SchemaError::wrong_type(
                    &field,
                    "a map",
                    &Value::from(other),
                ));
            }
        };
        let relation = r
            .string(&obj, "relation", &format!("{field}.relation"))?
            .ok_or_else(|| SchemaError::missing(&format!("{field}.relation")))?;
        let relation = relation.parse::<Relation>().map_err(|_| {
            SchemaError::new(
                &format!("{field}.relation"),
                format!(
                    "must be one of {}, found {}",
                    <Relation as crate::names::NamedEnum>::names(),
                    quote(&relation)
                ),
            )
        })?;
        let status = r
            .string(&obj, "status", &format!("{field}.status"))?
            .ok_or_else(|| SchemaError::missing(&format!("{field}.status")))?;
        let status = status.parse::<ResidentStatus>().map_err(|_| {
            SchemaError::new(
                &format!("{field}.status"),
                format!(
                    "must be one of {}, found {}",
                    <ResidentStatus as crate::names::NamedEnum>::names(),
                    quote(&status)
                ),
            )
        })?;
        let since = r
            .int(&obj, "since", &format!("{field}.since"))?
            .ok_or_else(|| SchemaError::missing(&format!("{field}.since")))?;
        let interval_days = interval(&r, &obj, "interval_days", &format!("{field}.interval_days"))?;
        members.push(Member {
            pid,
            relation,
            status,
            since,
            interval_days,
        });
    }
    if members.len() > MAX_MEMBERS {
        return Err(SchemaError::new(
            "members",
            format!(
                "lists {} people, more than the {MAX_MEMBERS} a household may",
                members.len()
            ),
        ));
    }
    Ok(Household {
        id,
        grid,
        sector,
        number,
        address,
        interval_days,
        created_by,
        created_at,
        members,
    })
}

fn interval(
    r: &Reader<'_>,
    obj: &automerge::ObjId,
    key: &str,
    field: &str,
) -> Result<Option<i64>, SchemaError> {
    let days = r.int(obj, key, field)?;
    if let Some(d) = days
        && !(1..=MAX_INTERVAL_DAYS).contains(&d)
    {
        return Err(SchemaError::new(
            field,
            format!("must be 1 to {MAX_INTERVAL_DAYS} days, found {d}"),
        ));
    }
    Ok(days)
}

/// A person as a new household lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMember {
    pub pid: String,
    pub relation: Relation,
}

/// Everything needed to create a household document.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHousehold {
    pub id: String,
    pub grid: String,
    pub sector: Option<String>,
    pub number: String,
    pub address: String,
    pub created_by: i64,
    pub created_at: i64,
    pub members: Vec<NewMember>,
}

/// Creates a household document in one change by `actor`; every member living, added at
/// `created_at`. Writes what it is given without validating it.
pub fn new_household(actor: ActorId, f: &NewHousehold) -> Automerge {
    let mut doc = Automerge::new().with_actor(actor);
    let mut tx = doc.transaction();
    write_new(&mut tx, f).expect("writing a new household into an empty document");
    tx.commit_with(CommitOptions::default().with_time(f.created_at.div_euclid(1000)));
    doc
}

fn write_new<T: Transactable>(tx: &mut T, f: &NewHousehold) -> Result<(), AutomergeError> {
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put(ROOT, "id", f.id.as_str())?;
    tx.put(ROOT, "grid", f.grid.as_str())?;
    if let Some(sector) = &f.sector {
        tx.put(ROOT, "sector", sector.as_str())?;
    }
    tx.put(ROOT, "number", f.number.as_str())?;
    let address = tx.put_object(ROOT, "address", ObjType::Text)?;
    tx.splice_text(&address, 0, 0, &f.address)?;
    tx.put(ROOT, "created_by", f.created_by)?;
    tx.put(ROOT, "created_at", f.created_at)?;
    tx.put_object(ROOT, "members", ObjType::Map)?;
    for m in &f.members {
        add_member(tx, &m.pid, m.relation, f.created_at)?;
    }
    Ok(())
}

fn members_obj<T: Transactable>(tx: &T) -> Result<automerge::ObjId, AutomergeError> {
    match tx.get(ROOT, "members")? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(AutomergeError::InvalidObjId("members".to_owned())),
    }
}

fn member_obj<T: Transactable>(tx: &T, pid: &str) -> Result<automerge::ObjId, AutomergeError> {
    match tx.get(members_obj(tx)?, pid)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(AutomergeError::InvalidObjId(pid.to_owned())),
    }
}

/// Adds a living person to the household at `since`.
pub fn add_member<T: Transactable>(
    tx: &mut T,
    pid: &str,
    relation: Relation,
    since: i64,
) -> Result<(), AutomergeError> {
    let members = members_obj(tx)?;
    let m = tx.put_object(&members, pid, ObjType::Map)?;
    tx.put(&m, "relation", relation.as_str())?;
    tx.put(&m, "status", ResidentStatus::Living.as_str())?;
    tx.put(&m, "since", since)?;
    Ok(())
}

/// Marks a person moved out, deceased, or back.
pub fn set_member_status<T: Transactable>(
    tx: &mut T,
    pid: &str,
    status: ResidentStatus,
) -> Result<(), AutomergeError> {
    let m = member_obj(tx, pid)?;
    tx.put(&m, "status", status.as_str())
}

/// Sets or clears a person's visit interval (a supervisor's decision).
pub fn set_member_interval<T: Transactable>(
    tx: &mut T,
    pid: &str,
    days: Option<i64>,
) -> Result<(), AutomergeError> {
    let m = member_obj(tx, pid)?;
    match days {
        Some(d) => tx.put(&m, "interval_days", d),
        None => tx.delete(&m, "interval_days"),
    }
}

/// Replaces a root Text field (`address`, `notes`) by splicing, so concurrent typing merges.
pub fn set_household_text<T: Transactable>(
    tx: &mut T,
    key: &str,
    value: &str,
) -> Result<(), AutomergeError> {
    let text = match tx.get(ROOT, key)? {
        Some((Value::Object(ObjType::Text), id)) => id,
        _ => tx.put_object(ROOT, key, ObjType::Text)?,
    };
    let len = tx.length(&text);
    tx.splice_text(&text, 0, len as isize, value)?;
    Ok(())
}

/// Corrects a person's relation to the head of household.
pub fn set_member_relation<T: Transactable>(
    tx: &mut T,
    pid: &str,
    relation: Relation,
) -> Result<(), AutomergeError> {
    let m = member_obj(tx, pid)?;
    tx.put(&m, "relation", relation.as_str())
}

/// Moves the household to another sector of its grid, or out of any.
pub fn set_sector<T: Transactable>(tx: &mut T, sector: Option<&str>) -> Result<(), AutomergeError> {
    match sector {
        Some(s) => tx.put(ROOT, "sector", s),
        None => tx.delete(ROOT, "sector"),
    }
}
