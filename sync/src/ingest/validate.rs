//! Steps 2 and 4: the document as the caller may see it, the actors, and the document the
//! push leads to: its type's schema, its id, its scope, then its type's rules on the state.

use std::collections::HashMap;

use automerge::{ActorId, Automerge, Change};

use super::{PushContext, Refusal, RefusalCode, refuse};
use crate::doctype::DocKind;
use crate::record::SchemaError;
use crate::scope::Principal;

/// The stored document as the caller may see it.
pub(super) struct Base<K: DocKind> {
    pub doc: Option<Automerge>,
    pub value: Option<K::Value>,
    /// The server has the record but the caller may not see it.
    pub hidden: bool,
}

impl<K: DocKind> Base<K> {
    /// A document outside the caller's scope is judged as if the server had no copy, so that
    /// what a push answers never tells whether an id exists; only a push that would create
    /// the record is refused at the end, as out of scope.
    pub fn of(
        doc_id: &str,
        stored: Option<Automerge>,
        principal: &Principal,
    ) -> Result<Base<K>, Refusal> {
        let Some(doc) = stored else {
            return Ok(Base {
                doc: None,
                value: None,
                hidden: false,
            });
        };
        let value = K::read(&doc).map_err(|e| {
            Refusal::new(
                RefusalCode::InvalidDocument,
                format!(
                    "the stored copy of {} {doc_id} is not valid ({e}); this needs an administrator",
                    K::TYPE
                ),
            )
        })?;
        Ok(if principal.can_see(K::position(&value)) {
            Base {
                doc: Some(doc),
                value: Some(value),
                hidden: false,
            }
        } else {
            Base {
                doc: None,
                value: None,
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

/// The document the push leads to, if it is one of its type the caller may hold.
pub(super) fn check_value<K: DocKind>(
    doc_id: &str,
    value: Result<K::Value, SchemaError>,
    before: Option<&K::Value>,
    ctx: &PushContext<'_>,
    facts: &K::Facts,
) -> Result<K::Value, Refusal> {
    use RefusalCode::*;

    let what = K::TYPE;
    let value =
        value.map_err(|e| Refusal::new(InvalidDocument, format!("{what} {doc_id}: {e}")))?;
    if K::id(&value) != doc_id {
        return refuse(
            InvalidDocument,
            format!(
                "{what} {doc_id}: field `id` is {:?}, but it must equal the document id",
                K::id(&value)
            ),
        );
    }
    let position = K::position(&value);
    if !ctx.principal.can_see(position) {
        return refuse(
            OutOfScope,
            format!(
                "{what} {doc_id} would lie outside your scope (grid {}{})",
                position.grid,
                position
                    .sector
                    .map(|s| format!(", sector {s}"))
                    .unwrap_or_default()
            ),
        );
    }
    K::check_state(doc_id, &value, before, ctx, facts)?;
    Ok(value)
}
