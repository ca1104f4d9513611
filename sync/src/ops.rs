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

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{ActorId, Automerge, Change, ObjType, Prop, ReadDoc};

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

/// Why a change may not be taken: it rewrites history or a field fixed at creation. Names
/// the field or change and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

/// Where an object sits in the record, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// One of the append-only lists itself.
    List(&'static str),
    /// Inside an entry of one of them.
    InHistory,
    /// Holds a workflow field's value (a Text, say), or lies inside one.
    WorkflowValue,
    Elsewhere,
}

/// Finds each object's place by walking up to the root key it hangs from, once per object:
/// a push edits few objects (a Text typed into holds most of its operations).
struct Places<'a> {
    doc: &'a Automerge,
    known: HashMap<Obj, Place>,
}

impl Places<'_> {
    fn of(&mut self, obj: &Obj) -> Place {
        if let Some(place) = self.known.get(obj) {
            return *place;
        }
        let place = self.find(obj);
        self.known.insert(obj.clone(), place);
        place
    }

    fn find(&self, obj: &Obj) -> Place {
        let Ok(id) = self.doc.import_obj(&format!("{}@{}", obj.0, obj.1)) else {
            // Not an object of the document: the change would not have applied.
            return Place::InHistory;
        };
        let Ok(parents) = self.doc.parents(&id) else {
            return Place::InHistory;
        };
        let path: Vec<_> = parents.collect();
        let Some(top) = path.last() else {
            return Place::Elsewhere;
        };
        let Prop::Map(key) = &top.prop else {
            return Place::Elsewhere;
        };
        if let Some(list) = APPEND_ONLY.iter().find(|k| **k == key.as_str()) {
            if path.len() == 1 {
                Place::List(list)
            } else {
                Place::InHistory
            }
        } else if WORKFLOW_FIELDS.contains(&key.as_str()) {
            Place::WorkflowValue
        } else {
            Place::Elsewhere
        }
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
    let mut places = Places {
        doc: after,
        known: HashMap::new(),
    };
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let creates = creating && change.deps().is_empty();
        let start = change.start_op().get();
        let end = start + change.len() as u64;
        let actor = change.actor_id();
        let made_here = |id: &OpId| &id.1 == actor && id.0 >= start && id.0 < end;
        let mut touches = Touches::default();
        let expanded = change.decode();
        for op in &expanded.operations {
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
                    // An object made by this change is judged by where the change put it,
                    // like any value it writes; its place is needed only if it is a Text
                    // at a workflow field, which the root write already made a step.
                    if made_here(id) {
                        continue;
                    }
                    match places.of(&Obj::of_op(id)) {
                        Place::List(list) => {
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
                        }
                        Place::InHistory => {
                            return Err(Violation(format!(
                                "an entry of the timeline, notes or attachments is never changed once made; change {} writes into one",
                                change.hash()
                            )));
                        }
                        Place::WorkflowValue => touches.workflow = true,
                        Place::Elsewhere => {}
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
    use automerge::{ObjId, ROOT};

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
    fn editing_a_workflow_field_kept_as_text_is_a_workflow_step() {
        let mut doc = new_record(ActorId::random(), &sample(ID, 7));
        edit(&mut doc, |tx| {
            let status = tx.put_object(ROOT, "status", ObjType::Text).expect("text");
            tx.splice_text(&status, 0, 0, "reported").expect("splice");
        });
        let heads = doc.get_heads();
        edit(&mut doc, |tx| {
            let status = list(tx, "status");
            tx.splice_text(&status, 0, 8, "closed").expect("splice");
        });
        let t = inspect(&doc, false, &changes_after(&doc, &heads)).expect("inspected");
        assert!(t[0].workflow);
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
