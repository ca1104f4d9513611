//! What each pushed change does, read from its operations rather than from the states it
//! leads to.
//!
//! Judging a push only by states misses what no single state shows: a change that edits
//! an old timeline entry and a later one that puts it back, a concurrent branch that
//! leaves a record half-made so that the rules cannot read it. The operations say exactly
//! which fields and which objects a change wrote, so the rules here hold for every change,
//! whatever it is merged with:
//!
//! - The timeline, the notes and the attachments are append-only: a change may insert new
//!   entries into them, and write inside an entry only in the change that made it. An
//!   entry is never edited, re-signed, moved or removed afterwards, and the lists
//!   themselves are never replaced.
//! - The fields fixed at creation (`schema`, `id`, `kind`, `reported_by`, `reported_at`)
//!   are written only by the change that creates the record.
//! - A change that writes a workflow field or adds a timeline entry is a workflow step and
//!   is judged by the rule table ([`crate::workflow::check_changes`]); every other change
//!   is an ordinary edit.

use std::collections::HashSet;

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{ActorId, Automerge, Change, ObjId, ObjType, ROOT, ReadDoc, ValueRef};

/// Lists whose entries are history: appended, never changed.
pub const APPEND_ONLY: [&str; 3] = ["timeline", "notes", "attachments"];

/// Root fields a record is created with and keeps.
pub const FIXED_AT_CREATION: [&str; 5] = ["schema", "id", "kind", "reported_by", "reported_at"];

/// Root fields only workflow actions write (see [`crate::workflow::Field`]).
pub const WORKFLOW_FIELDS: [&str; 7] = [
    "status",
    "level",
    "assignee",
    "department",
    "due_at",
    "urged",
    "duplicate_of",
];

/// An object as both the document and a change's operations name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Obj(u64, ActorId);

impl Obj {
    fn of_doc(id: &ObjId) -> Option<Obj> {
        match id {
            ObjId::Root => None,
            ObjId::Id(counter, actor, _) => Some(Obj(*counter, actor.clone())),
        }
    }

    fn of_op(id: &OpId) -> Obj {
        Obj(id.0, id.1.clone())
    }
}

/// What one change does, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Touches {
    /// Writes a workflow field or adds a timeline entry.
    pub workflow: bool,
}

/// Why a change may not be taken: names the field and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

/// The append-only lists of `doc` and every object inside their entries.
struct History {
    lists: Vec<(Obj, &'static str)>,
    inside: HashSet<Obj>,
}

impl History {
    fn of(doc: &Automerge) -> History {
        let mut lists = Vec::new();
        let mut inside = HashSet::new();
        for key in APPEND_ONLY {
            let Ok(Some((automerge::Value::Object(ObjType::List), list))) = doc.get(ROOT, key)
            else {
                continue;
            };
            if let Some(obj) = Obj::of_doc(&list) {
                lists.push((obj, key));
            }
            // Entries are shallow (a note may be a Text inside its map); walk every level
            // anyway so no nested object escapes the rule.
            let mut stack: Vec<ObjId> = doc
                .list_range(&list, ..)
                .filter(|item| matches!(item.value, ValueRef::Object(_)))
                .map(|item| item.id())
                .collect();
            while let Some(obj) = stack.pop() {
                match doc.object_type(&obj) {
                    Ok(ObjType::Map | ObjType::Table) => stack.extend(
                        doc.map_range(&obj, ..)
                            .filter(|item| matches!(item.value, ValueRef::Object(_)))
                            .map(|item| item.id()),
                    ),
                    Ok(ObjType::List) => stack.extend(
                        doc.list_range(&obj, ..)
                            .filter(|item| matches!(item.value, ValueRef::Object(_)))
                            .map(|item| item.id()),
                    ),
                    _ => {}
                }
                if let Some(o) = Obj::of_doc(&obj) {
                    inside.insert(o);
                }
            }
        }
        History { lists, inside }
    }

    fn list(&self, obj: &Obj) -> Option<&'static str> {
        self.lists.iter().find(|(o, _)| o == obj).map(|(_, k)| *k)
    }
}

/// Checks the pushed `changes` (in causal order) against the rules above and says which of
/// them are workflow steps. `after` is the document with the push applied; `creating` is
/// true when the server had no copy of the record, so the push's dependency-less change is
/// the one that makes it.
pub fn inspect(
    after: &Automerge,
    creating: bool,
    changes: &[Change],
) -> Result<Vec<Touches>, Violation> {
    let mut history: Option<History> = None;
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let creates = creating && change.deps().is_empty();
        let start = change.start_op().get();
        let end = start + change.len() as u64;
        let actor = change.actor_id();
        let made_here = |id: &OpId| &id.1 == actor && id.0 >= start && id.0 < end;
        let mut touches = Touches::default();
        for op in change.decode().operations {
            match (&op.obj, &op.key) {
                (ObjectId::Root, Key::Map(key)) => {
                    let key = key.as_str();
                    if !creates && (APPEND_ONLY.contains(&key) || FIXED_AT_CREATION.contains(&key))
                    {
                        return Err(Violation(format!(
                            "field `{key}` is written once, when the record is made; change {} writes it again",
                            change.hash()
                        )));
                    }
                    if WORKFLOW_FIELDS.contains(&key) {
                        touches.workflow = true;
                    }
                }
                (ObjectId::Root, Key::Seq(_)) => {}
                (ObjectId::Id(id), _) => {
                    if made_here(id) {
                        continue;
                    }
                    let h = history.get_or_insert_with(|| History::of(after));
                    let obj = Obj::of_op(id);
                    if let Some(list) = h.list(&obj) {
                        let adds_entry =
                            op.insert && matches!(op.action, OpType::Make(ObjType::Map));
                        if !adds_entry {
                            return Err(Violation(format!(
                                "`{list}` keeps its entries for good: change {} may add an entry but not change, move or remove one",
                                change.hash()
                            )));
                        }
                        if list == "timeline" {
                            touches.workflow = true;
                        }
                    } else if h.inside.contains(&obj) {
                        return Err(Violation(format!(
                            "an entry of the timeline, notes or attachments is never changed once made; change {} writes into one",
                            change.hash()
                        )));
                    }
                }
            }
        }
        out.push(touches);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::{ID, sample};
    use crate::record::{append_note, new_record};
    use automerge::transaction::Transactable;

    fn changes_after(doc: &Automerge, heads: &[automerge::ChangeHash]) -> Vec<Change> {
        doc.get_changes(heads)
    }

    fn edit(doc: &mut Automerge, f: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) {
        let mut tx = doc.transaction();
        f(&mut tx);
        tx.commit();
    }

    fn list<R: ReadDoc>(doc: &R, key: &str) -> ObjId {
        match doc.get(ROOT, key) {
            Ok(Some((_, id))) => id,
            other => panic!("{key}: {other:?}"),
        }
    }

    #[test]
    fn creation_and_plain_edits_pass() {
        let mut doc = new_record(ActorId::random(), &sample(ID, 7));
        let created = changes_after(&doc, &[]);
        let t = inspect(&doc, true, &created).expect("creation");
        assert!(t[0].workflow, "creation sets the status");
        let heads = doc.get_heads();
        edit(&mut doc, |tx| {
            let title = list(tx, "title");
            tx.splice_text(&title, 0, 0, "急").expect("splice");
            append_note(tx, 7, 1, "复查").expect("note");
        });
        let t = inspect(&doc, false, &changes_after(&doc, &heads)).expect("edit");
        assert!(!t[0].workflow);
    }

    #[test]
    fn history_entries_are_never_rewritten() {
        let mut doc = new_record(ActorId::random(), &sample(ID, 7));
        edit(&mut doc, |tx| append_note(tx, 7, 1, "原文").expect("note"));
        let heads = doc.get_heads();
        let bad = |f: &dyn Fn(&mut automerge::transaction::Transaction<'_>)| {
            let mut d = doc.fork();
            edit(&mut d, |tx| f(tx));
            let err = inspect(&d, false, &changes_after(&d, &heads)).expect_err("refused");
            err.0
        };
        // Re-signing a note, rewriting a timeline entry, removing one, replacing a list,
        // touching a fixed field.
        let msg = bad(&|tx| {
            let notes = list(tx, "notes");
            let (_, note) = tx.get(&notes, 0).expect("get").expect("note");
            tx.put(&note, "by", 99).expect("put");
        });
        assert!(msg.contains("never changed once made"), "{msg}");
        let msg = bad(&|tx| {
            let timeline = list(tx, "timeline");
            let (_, entry) = tx.get(&timeline, 0).expect("get").expect("entry");
            tx.put(&entry, "action", "close").expect("put");
        });
        assert!(msg.contains("never changed once made"), "{msg}");
        let msg = bad(&|tx| {
            let timeline = list(tx, "timeline");
            tx.delete(&timeline, 0).expect("delete");
        });
        assert!(msg.contains("keeps its entries for good"), "{msg}");
        let msg = bad(&|tx| {
            tx.put_object(ROOT, "notes", ObjType::List).expect("put");
        });
        assert!(msg.contains("written once"), "{msg}");
        let msg = bad(&|tx| {
            tx.put(ROOT, "reported_by", 8).expect("put");
        });
        assert!(msg.contains("written once"), "{msg}");
    }

    #[test]
    fn an_entry_made_earlier_in_the_same_push_is_fixed_too() {
        let mut doc = new_record(ActorId::random(), &sample(ID, 7));
        let heads = doc.get_heads();
        edit(&mut doc, |tx| append_note(tx, 99, 1, "冒名").expect("note"));
        edit(&mut doc, |tx| {
            let notes = list(tx, "notes");
            let (_, note) = tx.get(&notes, 0).expect("get").expect("note");
            tx.put(&note, "by", 7).expect("put");
        });
        assert!(inspect(&doc, false, &changes_after(&doc, &heads)).is_err());
    }
}
