//! Judging a push for one document, of any registered type (`doctype`): decode the phone's
//! changes, apply them to the stored document, and accept the result only if it is a valid
//! document the caller may hold.
//!
//! Data in, data out, in two calls. [`decode`] takes the pushed bytes and tells the server
//! the document's type and which actors the changes name ([`Decoded::actors`]); the server
//! looks up who those actors belong to, and what the type's checks need (for a record, the
//! catalogue), and hands them to [`apply_push`] as plain values ([`PushContext`] and the
//! type's [`DocKind::Facts`]) with the stored document. `apply_push` reads top to bottom as
//! the order the checks run in (docs/PROTOCOL.md, "Checks, in this order"):
//!
//! 1. `decode.rs`: the type, the id's shape, the size limits, the inflated size, every
//!    change decodes.
//! 2. `validate.rs`: the stored document as the caller may see it (a hidden one is judged
//!    as absent); the changes' actors.
//! 3. `apply.rs`: changes already stored are skipped; the rest applied in one call, with
//!    none missing a dependency.
//! 4. `validate.rs`: the type's schema, the id, the scope; then the type's rules on the
//!    state ([`DocKind::check_state`]: for a record, who may create it, the fixed fields,
//!    the category).
//! 5. [`DocKind::check_changes`]: the type's rules on each change (for a record,
//!    `record::kind`: append-only history, fields fixed at creation, each workflow step
//!    judged where it was made, the net effect, new entries signed).
//! 6. `save.rs`: the document saved and loaded back, within its type's size cap.
//!
//! A push is judged by the state it leads to, all changes at once, so a phone can repair a
//! record (say a merge that put the sector outside the grid) by pushing the repair together
//! with the changes that broke it. The server stores an [`Applied`] in one transaction.

mod apply;
mod decode;
mod save;
mod validate;

use std::collections::HashMap;

use crate::names::named_enum;

use automerge::{ActorId, Automerge, ChangeHash};
use serde::{Deserialize, Serialize};

use crate::doctype::DocKind;
use crate::scope::Principal;

pub use decode::{Decoded, decode};

/// Most changes one push may carry for one document. A phone with more (months offline,
/// typing saved keystroke by keystroke) sends them over several syncs, oldest first.
pub const MAX_CHANGES_PER_PUSH: usize = 10_000;
/// Most bytes of changes one push may carry for one document. Photos never travel inside
/// a document, so a real record stays far below this. No document may grow past
/// [`MAX_RECORD_BYTES`] (the largest cap of any type) anyway, so a push as large as the
/// whole cap is the most that could be taken.
pub const MAX_BYTES_PER_PUSH: usize = MAX_RECORD_BYTES;
/// Most bytes the push's changes may take once decompressed. Automerge inflates a
/// compressed change without a bound, so a few kilobytes of crafted deflate could otherwise
/// ask for gigabytes.
pub const MAX_INFLATED_BYTES_PER_PUSH: usize = 4 * 1024 * 1024;
/// Most bytes a record's saved document may take. A real record, photos kept apart and a
/// long description typed over weeks, stays in the tens of kilobytes; without a cap one
/// user could grow a record that every phone in its area must download.
pub const MAX_RECORD_BYTES: usize = 2 * 1024 * 1024;

/// What [`apply_push`] needs from the server besides the document and the type's facts,
/// as values.
pub struct PushContext<'a> {
    pub principal: &'a Principal,
    /// The user each actor of the push is bound to, for those of [`Decoded::actors`] the
    /// server has bound to a user; an actor missing here is new. (The server's own actor is
    /// bound to no user, so it is missing too: the writer refuses it.)
    pub actor_users: &'a HashMap<ActorId, i64>,
    /// The server's clock when the push arrived, ms since the epoch: workflow steps and new
    /// records are dated no later than this (give or take a phone's clock skew).
    pub now: i64,
}

/// A change the push added, to store next to the document.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub hash: ChangeHash,
    /// The change exactly as the phone sent it (possibly in its compressed form).
    pub bytes: Vec<u8>,
    pub actor: ActorId,
}

/// An accepted push of a document whose value (`DocKind::Value`) is `V`.
#[derive(Debug)]
pub struct Applied<V> {
    /// The document with the push applied.
    pub doc: Automerge,
    /// It, read through its type's schema: what the server projects.
    pub value: V,
    /// The stored document the push started from; `None` for a new one.
    pub before: Option<V>,
    /// Changes the server did not have before, in causal order (every change after the
    /// changes it depends on), the order to store and later send them in.
    pub new_changes: Vec<NewChange>,
    /// Actor ids never seen before, to bind to the caller.
    pub new_actors: Vec<ActorId>,
    pub heads: Vec<ChangeHash>,
    /// The document saved (undeflated), checked to load back to `heads`; empty when the push
    /// brought nothing new.
    pub state: Vec<u8>,
}

/// Why a push was refused. Nothing of a refused push is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    pub code: RefusalCode,
    /// For the person holding the phone: which change or field, and what is wrong.
    pub message: String,
}

/// The machine-readable reason of a [`Refusal`], sent as `code` in a push result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// Not a UUID document id, or a change that does not decode or apply.
    Malformed,
    /// A change depends on a change neither stored nor pushed.
    MissingDeps,
    /// The resulting document is not a valid schema 1 record.
    InvalidDocument,
    /// The record is, or would end up, outside the caller's scope.
    OutOfScope,
    /// The caller's role may not make this change.
    Forbidden,
    /// A change was made by an actor id that belongs to another user.
    ForeignActor,
    /// The push is bigger than one push may be.
    TooLarge,
    /// A workflow action the caller's role may not take in the record's status.
    ForbiddenTransition,
    /// The server's copy of the record is damaged (it does not load); an administrator must
    /// repair it (`haitang records check`), and until then it takes no pushes.
    Damaged,
    /// Other pushes kept changing the record at the same moment; send it again. Not a rule:
    /// the server gave up racing.
    Busy,
}

impl RefusalCode {
    /// Whether the same push may succeed if sent again unchanged: its dependencies may
    /// arrive meanwhile, or the race that made the server give up may be over. Every other
    /// refusal needs the phone or an administrator to change something first.
    pub fn retryable(self) -> bool {
        matches!(self, RefusalCode::MissingDeps | RefusalCode::Busy)
    }
}

named_enum!(RefusalCode {
    Malformed => "malformed",
    MissingDeps => "missing_deps",
    InvalidDocument => "invalid_document",
    OutOfScope => "out_of_scope",
    Forbidden => "forbidden",
    ForeignActor => "foreign_actor",
    TooLarge => "too_large",
    ForbiddenTransition => "forbidden_transition",
    Damaged => "damaged",
    Busy => "busy",
});

impl Refusal {
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

pub(crate) fn refuse<T>(code: RefusalCode, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::new(code, message))
}

/// Validates and applies one document's decoded push, as a document of type `K`. The
/// caller picks `K` by [`Decoded::doc_type`] and the stored document's type, which must
/// agree. `stored` is the stored document (`None` if the server has never seen the id); it
/// is consumed because a refused push simply drops the working copy and the server keeps
/// what it stored.
pub fn apply_push<K: DocKind>(
    decoded: Decoded,
    stored: Option<Automerge>,
    ctx: &PushContext<'_>,
    facts: &K::Facts,
) -> Result<Applied<K::Value>, Refusal> {
    let doc_id = decoded.doc_id().to_owned();
    let doc_id = doc_id.as_str();
    let what = K::TYPE;
    if decoded.doc_type() != K::TYPE {
        return refuse(
            RefusalCode::InvalidDocument,
            format!(
                "{doc_id} is a {what}; it cannot be pushed as a {}",
                decoded.doc_type()
            ),
        );
    }
    let base = validate::Base::<K>::of(doc_id, stored, ctx.principal)?;
    let fresh = apply::fresh(decoded, base.doc.as_ref());
    let new_actors = validate::check_actors(&fresh, ctx)?;
    let (doc, before) = match (base.doc, base.value) {
        (Some(doc), Some(before)) if fresh.is_empty() => {
            return Ok(Applied {
                heads: doc.get_heads(),
                doc,
                value: before.clone(),
                before: Some(before),
                new_changes: Vec::new(),
                new_actors: Vec::new(),
                state: Vec::new(),
            });
        }
        // Said the same whether the record is unknown or hidden from the caller.
        (None, _) if fresh.is_empty() => {
            return refuse(
                RefusalCode::OutOfScope,
                format!("{what} {doc_id} is not on the server or is outside your scope"),
            );
        }
        (doc, before) => (doc.unwrap_or_default(), before),
    };
    let merged = apply::apply::<K>(doc_id, doc, fresh)?;
    let value = validate::check_value::<K>(doc_id, merged.value, before.as_ref(), ctx, facts)?;
    K::check_changes(
        doc_id,
        &merged.doc,
        &merged.changes,
        &merged.known,
        before.as_ref(),
        &value,
        ctx,
        facts,
    )?;
    if base.hidden {
        return refuse(
            RefusalCode::OutOfScope,
            format!("{what} {doc_id} is outside your scope"),
        );
    }
    let heads = merged.doc.get_heads();
    let (doc, state) = save::saved::<K>(doc_id, merged.doc)?;
    Ok(Applied {
        heads,
        doc,
        value,
        before,
        new_changes: merged.new_changes,
        new_actors,
        state,
    })
}

/// Runs Automerge on untrusted changes; for the types' checks too (`DocKind`). Automerge 0.12 panics on some changes that decode
/// but do not fit the document (an operation naming an actor the document has never seen,
/// for one). A phone must not be able to take down a request, or poison a lock the server
/// holds around this call, so such a panic becomes a refusal; whatever half-updated
/// document it left behind is dropped with the closure. Needs `panic = "unwind"`.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// The refusal when a type's check panicked inside Automerge (`guarded` said `None`).
pub(crate) fn unreadable<T>(what: crate::doctype::DocType, doc_id: &str) -> Result<T, Refusal> {
    refuse(
        RefusalCode::Malformed,
        format!("{what} {doc_id}: the changes could not be read back for the checks"),
    )
}

#[cfg(test)]
mod tests;
