//! The registry of synced document types. Every synced thing is an Automerge document of
//! one [`DocType`]; what the engine (ingest here, push, pull and the projection in the
//! server, the phone's store) needs to know of a type is the one [`DocKind`]
//! implementation beside its document model. Records are the first (`record::RecordKind`);
//! a new type is a new module with its own `DocKind` and a variant here, and the engine
//! stays as it is.
//!
//! A document's type is fixed when it is created: its id is unique across all types, and a
//! push naming another type for a stored id is refused.

use std::fmt::Debug;

use automerge::{Automerge, Change};

use crate::ingest::{PushContext, Refusal};
use crate::names::named_enum;
use crate::record::SchemaError;
use crate::scope::Position;

/// The kinds of synced document, spelled on the wire (`type`), in the database and in the
/// phone's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DocType {
    /// A report or a problem found on patrol, and its workflow (`record`).
    #[default]
    Record,
    /// A household of the registry and the people who live there, named by opaque ids
    /// (`household`).
    Household,
}

named_enum!(DocType {
    Record => "record",
    Household => "household",
});

impl DocType {
    /// The type a wire message means when it names none: every document before types
    /// existed was a record, and a record's messages still leave `type` out.
    pub fn is_default(&self) -> bool {
        *self == DocType::default()
    }
}

impl serde::Serialize for DocType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for DocType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What ingest needs of one document type: how to read it, where it sits for the scope
/// rule, and the type's own rules on a push. Ingest runs the generic steps around these
/// (decode, the caller's view of the stored copy, actors, applying, the id, the scope,
/// saving within [`DocKind::MAX_BYTES`]).
pub trait DocKind: 'static {
    const TYPE: DocType;
    /// Most bytes one saved document of the type may take; a push that grows it past this
    /// is refused `too_large`.
    const MAX_BYTES: usize;
    /// The document read through its schema: what the checks, the projection and the scope
    /// look at.
    type Value: Clone + Debug + Send + 'static;
    /// What the server gives this type's checks besides [`PushContext`], as values (records:
    /// the catalogue's categories).
    type Facts: Sync + ?Sized;
    /// Taken from the stored document before the push's changes are applied, for
    /// [`DocKind::check_changes`] to tell what the push added.
    type Before;

    /// The schema check.
    fn read(doc: &Automerge) -> Result<Self::Value, SchemaError>;
    /// The `id` field, which must equal the document id.
    fn id(value: &Self::Value) -> &str;
    /// Where the document sits in the org tree: the one input of the scope rule
    /// (`scope::Principal::can_see`), whose SQL twin reads the same three columns.
    fn position(value: &Self::Value) -> Position<'_>;
    /// The rules on the state the push leads to: who may create such a document, the
    /// fields fixed at creation, references to other tables. `before` is the stored
    /// document's value, `None` when the push creates it.
    fn check_state(
        doc_id: &str,
        value: &Self::Value,
        before: Option<&Self::Value>,
        ctx: &PushContext<'_>,
        facts: &Self::Facts,
    ) -> Result<(), Refusal>;
    /// See [`DocKind::Before`].
    fn before(stored: &Automerge) -> Self::Before;
    /// The rules on each new change: what history may be rewritten, which workflow steps
    /// the caller may take. `changes` are the push's new changes in causal order, already
    /// applied to `doc`.
    #[allow(clippy::too_many_arguments)]
    fn check_changes(
        doc_id: &str,
        doc: &Automerge,
        changes: &[Change],
        known: &Self::Before,
        before: Option<&Self::Value>,
        value: &Self::Value,
        ctx: &PushContext<'_>,
        facts: &Self::Facts,
    ) -> Result<(), Refusal>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_is_spelled_once_and_unknown_spellings_are_refused() {
        for t in DocType::ALL {
            let json = serde_json::to_string(t).expect("serialise");
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(serde_json::from_str::<DocType>(&json).expect("parse"), *t);
        }
        assert!(serde_json::from_str::<DocType>("\"houshold\"").is_err());
        assert!(DocType::Record.is_default());
    }
}
