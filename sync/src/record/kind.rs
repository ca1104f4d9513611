//! The record as a synced document type: the rules ingest applies to a record push beyond
//! the generic ones (`ingest`): who may create a record, the fields fixed at creation, the
//! category, and change by change the append-only history (`ops`), the workflow
//! (`workflow`) and who signs new entries.

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, Change, ReadDoc};

use super::{Record, SchemaError, read_record};
use crate::doctype::{DocKind, DocType};
use crate::ingest::{
    MAX_RECORD_BYTES, PushContext, Refusal, RefusalCode, guarded, refuse, unreadable,
};
use crate::scope::{Position, Role};
use crate::workflow::{self, CategoryRules};

/// The record document type.
pub struct RecordKind;

impl DocKind for RecordKind {
    const TYPE: DocType = DocType::Record;
    const MAX_BYTES: usize = MAX_RECORD_BYTES;
    type Value = Record;
    /// The catalogue's current categories by code. A record names one, and each workflow
    /// step is judged by the category the record had where the step was made.
    type Facts = HashMap<String, CategoryRules>;
    type Before = Known;

    fn read(doc: &Automerge) -> Result<Record, SchemaError> {
        read_record(doc)
    }

    fn id(record: &Record) -> &str {
        &record.id
    }

    fn position(record: &Record) -> Position<'_> {
        record.position()
    }

    fn check_state(
        doc_id: &str,
        record: &Record,
        before: Option<&Record>,
        ctx: &PushContext<'_>,
        categories: &Self::Facts,
    ) -> Result<(), Refusal> {
        use RefusalCode::*;

        match before {
            None => {
                if ctx.principal.role == Role::DepartmentHandler {
                    return refuse(
                        Forbidden,
                        format!(
                            "record {doc_id}: department handlers work on dispatched records and cannot create new ones"
                        ),
                    );
                }
                if record.reported_by != ctx.principal.user_id {
                    return refuse(
                        Forbidden,
                        format!(
                            "record {doc_id}: a new record must be reported by you (user {}), but field `reported_by` is {}",
                            ctx.principal.user_id, record.reported_by
                        ),
                    );
                }
            }
            Some(before) => {
                if let Some((field, was, now)) = changed_immutable(before, record) {
                    return refuse(
                        Forbidden,
                        format!(
                            "record {doc_id}: field `{field}` cannot change once a record exists (it was {was}, the push makes it {now})"
                        ),
                    );
                }
            }
        }

        // A category retired from the catalogue stays valid on the records that already use it;
        // only a new record or a new choice must name a current one.
        let category_changed = before.is_none_or(|b| b.category != record.category);
        if category_changed && !categories.contains_key(&record.category) {
            return refuse(
                InvalidDocument,
                format!(
                    "record {doc_id}: field `category` is {:?}, which is not in the catalogue",
                    record.category
                ),
            );
        }
        Ok(())
    }

    fn before(stored: &Automerge) -> Known {
        Known::of(stored)
    }

    fn check_changes(
        doc_id: &str,
        doc: &Automerge,
        changes: &[Change],
        known: &Known,
        before: Option<&Record>,
        record: &Record,
        ctx: &PushContext<'_>,
        categories: &Self::Facts,
    ) -> Result<(), Refusal> {
        use RefusalCode::*;

        let creating = before.is_none();
        let touches = match guarded(|| crate::ops::inspect(doc, creating, changes)) {
            Some(Ok(touches)) => touches,
            Some(Err(violation)) => {
                return refuse(Forbidden, format!("record {doc_id}: {violation}"));
            }
            None => return unreadable(DocType::Record, doc_id),
        };
        let rules = |code: &str| categories.get(code).copied();
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
            None => return unreadable(DocType::Record, doc_id),
        };
        if let Err(denied) = workflow::check_net_effect(before, record, &allowed) {
            return refuse(ForbiddenTransition, format!("record {doc_id}: {denied}"));
        }
        match guarded(|| known.check_new(doc, ctx.principal.user_id)) {
            Some(Ok(())) => Ok(()),
            Some(Err(problem)) => refuse(Forbidden, format!("record {doc_id}: {problem}")),
            None => unreadable(DocType::Record, doc_id),
        }
    }
}

/// The first field fixed at creation that differs, with its old and new value. `schema`
/// and `id` need no check here: `read_record` accepts only schema 1, and the id must equal
/// the document id.
fn changed_immutable(before: &Record, after: &Record) -> Option<(&'static str, String, String)> {
    if before.kind != after.kind {
        return Some(("kind", before.kind.to_string(), after.kind.to_string()));
    }
    if before.reported_by != after.reported_by {
        let (was, now) = (before.reported_by, after.reported_by);
        return Some(("reported_by", was.to_string(), now.to_string()));
    }
    if before.reported_at != after.reported_at {
        let (was, now) = (before.reported_at, after.reported_at);
        return Some(("reported_at", was.to_string(), now.to_string()));
    }
    if before.raised_from.is_some() && before.raised_from != after.raised_from {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "nothing".to_owned());
        return Some((
            "raised_from",
            show(&before.raised_from),
            show(&after.raised_from),
        ));
    }
    None
}

/// The notes and attachments a record had before a push, to tell the push's new ones.
pub struct Known {
    notes: HashSet<automerge::ObjId>,
    attachments: HashSet<automerge::ObjId>,
}

impl Known {
    fn of(doc: &Automerge) -> Known {
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
