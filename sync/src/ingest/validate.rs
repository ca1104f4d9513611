//! Steps 2 and 4: the record as the caller may see it, the actors, and the record the push
//! leads to: schema 1, its id, its scope, who may create it, the fields fixed at creation,
//! its category.

use std::collections::HashMap;

use automerge::{ActorId, Automerge, Change};

use super::{PushContext, Refusal, RefusalCode, refuse};
use crate::record::{Record, SchemaError, read_record};
use crate::scope::{Principal, Role};

/// The stored document as the caller may see it.
pub(super) struct Base {
    pub doc: Option<Automerge>,
    pub record: Option<Record>,
    /// The server has the record but the caller may not see it.
    pub hidden: bool,
}

impl Base {
    /// A record outside the caller's scope is judged as if the server had no copy, so that
    /// what a push answers never tells whether an id exists; only a push that would create
    /// the record is refused at the end, as out of scope.
    pub fn of(
        doc_id: &str,
        stored: Option<Automerge>,
        principal: &Principal,
    ) -> Result<Base, Refusal> {
        let Some(doc) = stored else {
            return Ok(Base {
                doc: None,
                record: None,
                hidden: false,
            });
        };
        let record = read_record(&doc).map_err(|e| {
            Refusal::new(
                RefusalCode::InvalidDocument,
                format!(
                    "the stored copy of record {doc_id} is not valid ({e}); this needs an administrator"
                ),
            )
        })?;
        Ok(if principal.can_see(record.position()) {
            Base {
                doc: Some(doc),
                record: Some(record),
                hidden: false,
            }
        } else {
            Base {
                doc: None,
                record: None,
                hidden: true,
            }
        })
    }
}

/// Refuses changes by actors bound to someone else; returns the actors never seen before.
/// Each distinct actor is judged once: a push is usually many changes by one actor.
pub(super) fn check_actors(
    fresh: &[(usize, Vec<u8>, Change)],
    ctx: &PushContext<'_>,
) -> Result<Vec<ActorId>, Refusal> {
    let mut owners: HashMap<&ActorId, Option<i64>> = HashMap::new();
    let mut new_actors = Vec::new();
    for (i, _, change) in fresh {
        let actor = change.actor_id();
        let owner = *owners.entry(actor).or_insert_with(|| {
            let owner = ctx.actor_users.get(actor).copied();
            if owner.is_none() {
                new_actors.push(actor.clone());
            }
            owner
        });
        if let Some(owner) = owner
            && owner != ctx.principal.user_id
        {
            return refuse(
                RefusalCode::ForeignActor,
                format!(
                    "change {i} was made by actor {actor}, which belongs to another user; an app must start a new actor id when a different user signs in"
                ),
            );
        }
    }
    Ok(new_actors)
}

/// The record the push leads to, if it is one the caller may hold.
pub(super) fn check_record(
    doc_id: &str,
    record: Result<Record, SchemaError>,
    before: Option<&Record>,
    ctx: &PushContext<'_>,
) -> Result<Record, Refusal> {
    use RefusalCode::*;

    let record =
        record.map_err(|e| Refusal::new(InvalidDocument, format!("record {doc_id}: {e}")))?;
    if record.id != doc_id {
        return refuse(
            InvalidDocument,
            format!(
                "record {doc_id}: field `id` is {:?}, but it must equal the document id",
                record.id
            ),
        );
    }
    if !ctx.principal.can_see(record.position()) {
        return refuse(
            OutOfScope,
            format!(
                "record {doc_id} would lie outside your scope (grid {}{})",
                record.grid,
                record
                    .sector
                    .as_deref()
                    .map(|s| format!(", sector {s}"))
                    .unwrap_or_default()
            ),
        );
    }

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
            if let Some((field, was, now)) = changed_immutable(before, &record) {
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
    if category_changed && !ctx.categories.contains_key(&record.category) {
        return refuse(
            InvalidDocument,
            format!(
                "record {doc_id}: field `category` is {:?}, which is not in the catalogue",
                record.category
            ),
        );
    }
    Ok(record)
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
    None
}
