//! Writing record documents: a new record, and the edits phones and the server make to one.

use super::*;

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
    /// The people of `household` a visit saw (their pids).
    pub persons: Vec<String>,
    /// The record this one was raised from (a need found on a visit).
    pub raised_from: Option<String>,
    /// A visit's checklist answers (`care::VISIT_CHECKS`).
    pub checks: std::collections::BTreeMap<String, String>,
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

pub(super) fn write_new_record<T: Transactable>(
    tx: &mut T,
    f: &NewRecord,
) -> Result<(), AutomergeError> {
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
    if let Some(from) = &f.raised_from {
        tx.put(ROOT, "raised_from", from.as_str())?;
    }
    if !f.checks.is_empty() {
        let map = tx.put_object(ROOT, "checks", ObjType::Map)?;
        for (code, answer) in &f.checks {
            tx.put(&map, code.as_str(), answer.as_str())?;
        }
    }
    if !f.persons.is_empty() {
        let list = tx.put_object(ROOT, "persons", ObjType::List)?;
        for (i, pid) in f.persons.iter().enumerate() {
            tx.insert(&list, i, pid.as_str())?;
        }
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

pub(super) fn insert_timeline_entry<T: Transactable>(
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

pub(super) fn list<T: Transactable>(tx: &T, key: &'static str) -> Result<ObjId, EditError> {
    match tx.get(ROOT, key)? {
        Some((Value::Object(ObjType::List), id)) => Ok(id),
        _ => Err(EditError::MissingList(key)),
    }
}
