//! Step 5: what each new change writes, read from its operations. History only grows and
//! fields fixed at creation are written only by the change that creates the record
//! (`ops`); every workflow step is judged where it was made and the push's net effect is
//! held to the steps (`workflow`); new notes and attachments carry the pusher's id.

use std::collections::HashSet;

use automerge::{Automerge, ReadDoc};

use super::apply::History;
use super::{PushContext, Refusal, RefusalCode, guarded, refuse, unreadable};
use crate::record::Record;
use crate::workflow;

pub(super) fn check(
    doc_id: &str,
    history: &History,
    before: Option<&Record>,
    record: &Record,
    ctx: &PushContext<'_>,
) -> Result<(), Refusal> {
    use RefusalCode::*;

    let History {
        doc,
        changes,
        known,
    } = history;
    let creating = before.is_none();
    let touches = match guarded(|| crate::ops::inspect(doc, creating, changes)) {
        Some(Ok(touches)) => touches,
        Some(Err(violation)) => {
            return refuse(Forbidden, format!("record {doc_id}: {violation}"));
        }
        None => return unreadable(doc_id),
    };
    let rules = |code: &str| ctx.categories.get(code).copied();
    let checked = guarded(|| {
        workflow::check_changes(
            doc,
            changes,
            &touches,
            creating,
            ctx.principal,
            &rules,
            ctx.now,
        )
    });
    let allowed = match checked {
        Some(Ok(allowed)) => allowed,
        Some(Err(denied)) => {
            return refuse(ForbiddenTransition, format!("record {doc_id}: {denied}"));
        }
        None => return unreadable(doc_id),
    };
    if let Err(denied) = workflow::check_net_effect(before, record, &allowed) {
        return refuse(ForbiddenTransition, format!("record {doc_id}: {denied}"));
    }
    match guarded(|| known.check_new(doc, ctx.principal.user_id)) {
        Some(Ok(())) => Ok(()),
        Some(Err(problem)) => refuse(Forbidden, format!("record {doc_id}: {problem}")),
        None => unreadable(doc_id),
    }
}

/// The notes and attachments a record had before a push, to tell the push's new ones.
pub(super) struct Known {
    notes: HashSet<automerge::ObjId>,
    attachments: HashSet<automerge::ObjId>,
}

impl Known {
    pub fn of(doc: &Automerge) -> Known {
        Known {
            notes: list_items(doc, "notes").into_iter().collect(),
            attachments: list_items(doc, "attachments").into_iter().collect(),
        }
    }

    /// New notes and attachments carry the pusher's id. (They cannot change after the
    /// change that made them: `ops`.) Their dates are the phone's and drive nothing.
    fn check_new(&self, doc: &Automerge, user_id: i64) -> Result<(), String> {
        for (key, known) in [("notes", &self.notes), ("attachments", &self.attachments)] {
            for item in list_items(doc, key) {
                if known.contains(&item) {
                    continue;
                }
                let int = |field: &str| match doc.get(&item, field) {
                    Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
                        automerge::ScalarValue::Int(n) | automerge::ScalarValue::Timestamp(n) => {
                            Some(*n)
                        }
                        automerge::ScalarValue::Uint(n) => i64::try_from(*n).ok(),
                        automerge::ScalarValue::F64(f) if f.fract() == 0.0 => Some(*f as i64),
                        _ => None,
                    },
                    _ => None,
                };
                let by = int("by");
                if by != Some(user_id) {
                    return Err(format!(
                        "a new entry of `{key}` must carry your user id ({user_id}) as `by`, found {}",
                        by.map_or("none".to_owned(), |b| b.to_string())
                    ));
                }
            }
        }
        Ok(())
    }
}

fn list_items(doc: &Automerge, key: &str) -> Vec<automerge::ObjId> {
    match doc.get(automerge::ROOT, key) {
        Ok(Some((automerge::Value::Object(automerge::ObjType::List), list))) => doc
            .list_range(&list, ..)
            .filter(|item| matches!(item.value, automerge::ValueRef::Object(_)))
            .map(|item| item.id())
            .collect(),
        _ => Vec::new(),
    }
}
