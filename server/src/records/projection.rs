//! The projection: what the server keeps of a document beside its saved state, so that
//! inboxes, rates, scope and pulls are SQL over columns instead of loading documents. It is
//! derived from the document alone, after every accepted change, and storage writes it as
//! given: the [`Place`] of every document to `docs` (`db::docs`), the rest to its type's
//! own table (a record's to `records`, `db::records`).
//!
//! [`Projected`] is the server's side of the document-type registry (`sync::doctype`): one
//! variant per type. A new type adds its variant and its projection module; the compiler
//! then names each place that must say what to do with it.

use automerge::Automerge;
use haitang_sync::doctype::DocType;
use haitang_sync::household::Household;
use haitang_sync::record::{Record, Status};
use haitang_sync::workflow;

/// The projection of a document of any type.
#[derive(Debug, Clone, PartialEq)]
pub enum Projected {
    // Boxed: a record's projection is several times a household's, and documents of both
    // types pass through the same queues.
    Record(Box<Projection>),
    /// A household is projected from its reading alone (`db::households`).
    Household(Household),
}

impl Projected {
    pub fn doc_type(&self) -> DocType {
        match self {
            Projected::Record(_) => DocType::Record,
            Projected::Household(_) => DocType::Household,
        }
    }

    /// Where the document is: what scope and pulls are judged by.
    pub fn place(&self) -> Place {
        match self {
            Projected::Record(p) => p.place(),
            Projected::Household(h) => Place {
                grid: h.grid.clone(),
                sector: h.sector.clone(),
                department: None,
            },
        }
    }
}

impl From<Projection> for Projected {
    fn from(p: Projection) -> Projected {
        Projected::Record(Box::new(p))
    }
}

/// A record's projection: its fields (`Record`) and what its timeline says.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub record: Record,
    pub times: Times,
}

impl Projection {
    /// The projection of `doc`, whose record `record` is.
    pub fn of(doc: &Automerge, record: Record) -> Projection {
        let times = Times::of(doc, record.status);
        Projection { record, times }
    }

    /// Where the record is.
    pub fn place(&self) -> Place {
        Place::of(&self.record)
    }
}

/// What the projection keeps from a record's timeline, for the rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Times {
    /// The first acceptance.
    pub accepted_at: Option<i64>,
    /// The latest close, while the record is closed.
    pub closed_at: Option<i64>,
    pub ever_returned: bool,
}

impl Times {
    pub fn of(doc: &Automerge, status: Status) -> Times {
        let mut t = Times::default();
        for e in workflow::timeline(doc) {
            match e.action.as_str() {
                "accept" if t.accepted_at.is_none() => t.accepted_at = Some(e.at),
                "close" | "close_duplicate" => t.closed_at = Some(e.at),
                "return" => t.ever_returned = true,
                _ => {}
            }
        }
        // A reopened record is not closed, whatever its timeline once said.
        if status != Status::Closed {
            t.closed_at = None;
        }
        t
    }
}

/// Where a record is: what scope is judged by, and what an eviction remembers it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub grid: String,
    pub sector: Option<String>,
    pub department: Option<String>,
}

impl Place {
    pub fn of(r: &Record) -> Place {
        Place {
            grid: r.grid.clone(),
            sector: r.sector.clone(),
            department: r.department.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::fixture;
    use automerge::ActorId;
    use haitang_sync::record::read_record;
    use haitang_sync::workflow::{Action, Facts, Params, perform};

    /// Takes `action` as user 4 at `at`, as a supervisor's phone would.
    fn act(doc: &mut Automerge, action: Action, at: i64, params: Params<'_>) {
        let record = read_record(doc).expect("valid");
        let facts = Facts::of(doc, &record, false);
        let mut tx = doc.transaction();
        perform(&mut tx, &facts, action, 4, at, &params).expect("perform");
        tx.commit();
    }

    #[test]
    fn the_timeline_gives_the_first_acceptance_and_a_close_only_while_closed() {
        let mut doc = haitang_sync::record::new_record(
            ActorId::random(),
            &fixture::record("0f8fad5b-d9cb-469f-a165-70867728950e", 7),
        );
        let note = Params {
            note: Some("退回"),
            ..Params::default()
        };
        act(&mut doc, Action::Return, 2_000, note);
        let p = Projection::of(&doc, read_record(&doc).expect("valid"));
        assert_eq!(
            p.times,
            Times {
                accepted_at: None,
                closed_at: None,
                ever_returned: true
            }
        );
        assert_eq!(p.place().grid, fixture::GRID);
        let mut doc = haitang_sync::record::new_record(
            ActorId::random(),
            &fixture::record("7c9e6679-7425-40de-944b-e07fc1f90ae7", 7),
        );
        act(
            &mut doc,
            Action::CloseDuplicate,
            3_000,
            Params {
                duplicate_of: Some("0f8fad5b-d9cb-469f-a165-70867728950e"),
                ..Params::default()
            },
        );
        let closed = Projection::of(&doc, read_record(&doc).expect("valid"));
        assert_eq!(closed.times.closed_at, Some(3_000));
        // Read as if it were open again: a close in the timeline is no longer its close.
        assert_eq!(Times::of(&doc, Status::Accepted).closed_at, None);
    }
}
