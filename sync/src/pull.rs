//! Planning a pull: what one page sends a phone, decided from the request and the rows the
//! server read for it, with no I/O. The server reads the rows a [`Window`] names, all in one
//! consistent read, and [`page`] turns them into the page's items, cursor and resume point.
//!
//! Documents come in the order of their latest change. A document edited again while a pull
//! pages through its scope therefore moves to a later page, so what the phone lacks is
//! judged against `since`, where the whole pull started, never against the page position
//! `after`: a phone at `since` has every change up to `since` and nothing after it.

use serde_bytes::ByteBuf;

use crate::doctype::DocType;
use crate::protocol::PullItem;
use crate::scope::{Position, Scope};

/// A document goes out as changes unless it has more than this many since the cursor;
/// then the saved document is smaller and cheaper to apply.
pub const SNAPSHOT_AFTER_CHANGES: usize = 16;

/// A page stops growing past this many bytes of documents and changes, whatever the limit,
/// so one response never holds a street's history in memory. `want` stops at it too.
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// What one page reads, from the request alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Where the whole pull started (the request's cursor, 0 for none): what the phone has.
    pub since: u64,
    /// Rows after this position: the page's start (`resume`, never before `since`).
    pub after: u64,
    /// How many document rows and how many move rows to read: one past the limit, to know
    /// whether more wait.
    pub rows: usize,
    limit: usize,
    /// The phone has no cursor: it has nothing yet.
    first: bool,
}

impl Window {
    pub fn new(cursor: Option<u64>, resume: Option<u64>, limit: usize) -> Window {
        let since = cursor.unwrap_or(0);
        Window {
            since,
            after: resume.map_or(since, |r| r.max(since)),
            rows: limit + 1,
            limit,
            first: cursor.is_none(),
        }
    }

    /// Whether a phone at `since` may hold a copy of a document created at `created_seq`
    /// and last moved into view at `moved_seq`. Only then are its changes worth reading
    /// ([`DocRow::changes`]); a phone that cannot have it gets it whole.
    pub fn may_have(&self, created_seq: u64, moved_seq: u64) -> bool {
        !self.first && created_seq <= self.since && moved_seq <= self.since
    }

    /// How many of a document's changes after `since` to read: one past the most that go
    /// out as changes, to know when the saved document goes instead.
    pub const CHANGES_TO_READ: usize = SNAPSHOT_AFTER_CHANGES + 1;
}

/// A document in scope whose latest change is after the window's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRow {
    pub id: String,
    pub doc_type: DocType,
    /// Its latest change.
    pub seq: u64,
    pub created_seq: u64,
    pub moved_seq: u64,
    /// The saved document.
    pub state: Vec<u8>,
    /// Its changes after `since`, in order, at most [`Window::CHANGES_TO_READ`]; read only
    /// when [`Window::may_have`] says so, empty otherwise.
    pub changes: Vec<Vec<u8>>,
}

/// A document that moved away from a position in scope at `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveRow {
    pub id: String,
    pub seq: u64,
    /// Where the document is now.
    pub grid: String,
    pub sector: Option<String>,
    pub department: Option<String>,
}

/// One page of a pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<PullItem>,
    /// The cursor to store: the pull's start while `more`, the new position after.
    pub cursor: u64,
    pub more: bool,
    /// Where the next page starts, when `more`.
    pub resume: Option<u64>,
}

impl Page {
    /// The answer to a request that does not pull: nothing, and the cursor it came with.
    pub fn unpulled(cursor: Option<u64>) -> Page {
        Page {
            items: Vec::new(),
            cursor: cursor.unwrap_or(0),
            more: false,
            resume: None,
        }
    }
}

enum Entry {
    Doc(DocRow),
    Move(MoveRow),
}

impl Entry {
    fn seq(&self) -> u64 {
        match self {
            Entry::Doc(d) => d.seq,
            Entry::Move(m) => m.seq,
        }
    }
}

/// The page for `window` from the rows read for it: at most `window.rows` documents in
/// `scope` changed after `window.after` and as many moves away from positions in `scope`,
/// each in seq order, and `newest`, the latest seq of the whole log in the same read.
pub fn page(
    window: &Window,
    scope: &Scope,
    docs: Vec<DocRow>,
    moves: Vec<MoveRow>,
    newest: u64,
) -> Page {
    let mut entries: Vec<Entry> = docs.into_iter().map(Entry::Doc).collect();
    entries.extend(moves.into_iter().map(Entry::Move));
    // Stable: a document and its move in the same commit keep that order.
    entries.sort_by_key(Entry::seq);

    let mut more = entries.len() > window.limit;
    entries.truncate(window.limit);
    let mut items = Vec::with_capacity(entries.len());
    let mut bytes = 0usize;
    let mut last = window.after;
    for entry in entries {
        if bytes > PAGE_BYTES {
            more = true;
            break;
        }
        last = entry.seq();
        match entry {
            Entry::Doc(doc) => {
                let whole = !window.may_have(doc.created_seq, doc.moved_seq)
                    || doc.changes.len() > SNAPSHOT_AFTER_CHANGES;
                if whole {
                    bytes += doc.state.len();
                    items.push(PullItem::Snapshot {
                        doc: doc.id,
                        doc_type: doc.doc_type,
                        snapshot: doc.state,
                    });
                } else {
                    bytes += doc.changes.iter().map(Vec::len).sum::<usize>();
                    items.push(PullItem::Changes {
                        doc: doc.id,
                        doc_type: doc.doc_type,
                        changes: doc.changes.into_iter().map(ByteBuf::from).collect(),
                    });
                }
            }
            Entry::Move(m) => {
                let now = Position {
                    grid: &m.grid,
                    sector: m.sector.as_deref(),
                    department: m.department.as_deref(),
                };
                // Moved within the scope, or back into it: the document row says the rest.
                if !scope.contains(now) {
                    items.push(PullItem::evict(m.id));
                }
            }
        }
    }
    if more {
        return Page {
            items,
            cursor: window.since,
            more,
            resume: Some(last),
        };
    }
    // The pull is complete: the phone has everything in scope up to the newest change in
    // this read, in scope or not, so the next pull starts there.
    Page {
        items,
        cursor: newest.max(last),
        more,
        resume: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: &str = "/gusu/byw/ws1/jinzhu/g01";

    fn scope() -> Scope {
        Scope::Subtree {
            path: "/gusu/byw/ws1/jinzhu".into(),
        }
    }

    fn doc(id: &str, seq: u64, created: u64, changes: usize) -> DocRow {
        DocRow {
            id: id.into(),
            doc_type: DocType::Record,
            seq,
            created_seq: created,
            moved_seq: created,
            state: vec![0; 10],
            changes: (0..changes).map(|i| vec![i as u8; 3]).collect(),
        }
    }

    fn moved(id: &str, seq: u64, grid: &str) -> MoveRow {
        MoveRow {
            id: id.into(),
            seq,
            grid: grid.into(),
            sector: None,
            department: None,
        }
    }

    fn kinds(page: &Page) -> Vec<(&str, &str)> {
        page.items
            .iter()
            .map(|i| {
                let kind = match i {
                    PullItem::Changes { .. } => "changes",
                    PullItem::Snapshot { .. } => "snapshot",
                    PullItem::Evict { .. } => "evict",
                };
                (i.doc(), kind)
            })
            .collect()
    }

    #[test]
    fn a_first_pull_gets_every_document_whole() {
        let w = Window::new(None, None, 200);
        assert!(!w.may_have(1, 1), "a phone with no cursor has nothing");
        let p = page(&w, &scope(), vec![doc("a", 3, 1, 0)], vec![], 9);
        assert_eq!(kinds(&p), [("a", "snapshot")]);
        assert_eq!((p.cursor, p.more, p.resume), (9, false, None));
    }

    #[test]
    fn a_phone_gets_changes_of_what_it_has_and_documents_it_cannot_have_whole() {
        let w = Window::new(Some(10), None, 200);
        assert!(w.may_have(10, 4));
        assert!(!w.may_have(11, 11), "created after the cursor");
        assert!(!w.may_have(2, 12), "moved into view after the cursor");
        let mut moved_in = doc("moved-in", 13, 2, 0);
        moved_in.moved_seq = 12;
        let p = page(
            &w,
            &scope(),
            vec![
                doc("few", 11, 1, 2),
                moved_in,
                doc("long", 14, 1, SNAPSHOT_AFTER_CHANGES + 1),
                doc("new", 15, 15, 0),
            ],
            vec![],
            15,
        );
        assert_eq!(
            kinds(&p),
            [
                ("few", "changes"),
                ("moved-in", "snapshot"),
                ("long", "snapshot"),
                ("new", "snapshot")
            ]
        );
        let PullItem::Changes { changes, .. } = &p.items[0] else {
            panic!("changes");
        };
        assert_eq!(changes.len(), 2);
    }

    #[test]
    fn a_document_that_left_the_scope_is_evicted_and_one_that_came_back_is_not() {
        let w = Window::new(Some(5), None, 200);
        let p = page(
            &w,
            &scope(),
            vec![doc("back", 8, 1, 1)],
            vec![
                moved("gone", 6, "/gusu/pj/ws1/daru/g01"),
                moved("back", 8, GRID),
            ],
            8,
        );
        assert_eq!(kinds(&p), [("gone", "evict"), ("back", "changes")]);
    }

    #[test]
    fn documents_and_moves_are_merged_in_commit_order_and_cut_at_the_limit() {
        let w = Window::new(Some(0), None, 2);
        assert_eq!(w.rows, 3, "one past the limit tells whether more wait");
        let p = page(
            &w,
            &scope(),
            vec![doc("a", 2, 0, 1), doc("b", 4, 0, 1), doc("c", 5, 0, 1)],
            vec![moved("m", 3, "/gusu/pj/ws1/daru/g01")],
            50,
        );
        assert_eq!(kinds(&p), [("a", "changes"), ("m", "evict")]);
        assert!(p.more);
        assert_eq!(p.cursor, 0, "the cursor waits for the whole pull");
        assert_eq!(
            p.resume,
            Some(3),
            "the next page starts after the last row sent"
        );
    }

    #[test]
    fn the_next_page_starts_at_resume_but_is_judged_from_the_cursor() {
        let w = Window::new(Some(10), Some(20), 200);
        assert_eq!((w.since, w.after), (10, 20));
        assert!(w.may_have(10, 10));
        // A resume before the cursor never reads before it.
        assert_eq!(Window::new(Some(10), Some(3), 200).after, 10);
        // A page that ends the pull moves the cursor to the newest change read.
        let p = page(&w, &scope(), vec![doc("a", 25, 1, 1)], vec![], 30);
        assert_eq!((p.cursor, p.more, p.resume), (30, false, None));
        // An empty page ends the pull where it stands.
        let p = page(&w, &scope(), vec![], vec![], 0);
        assert_eq!((p.cursor, p.items.len()), (20, 0));
    }

    #[test]
    fn a_page_stops_past_its_byte_budget() {
        let w = Window::new(None, None, 1000);
        let big = |id: &str, seq| DocRow {
            state: vec![0; PAGE_BYTES / 2 + 1],
            ..doc(id, seq, seq, 0)
        };
        let p = page(
            &w,
            &scope(),
            vec![big("a", 1), big("b", 2), big("c", 3)],
            vec![],
            3,
        );
        assert_eq!(kinds(&p), [("a", "snapshot"), ("b", "snapshot")]);
        assert!(p.more);
        assert_eq!((p.cursor, p.resume), (0, Some(2)));
    }

    #[test]
    fn a_request_that_does_not_pull_keeps_its_cursor() {
        assert_eq!(Page::unpulled(Some(7)).cursor, 7);
        assert_eq!(Page::unpulled(None).cursor, 0);
        assert!(!Page::unpulled(None).more);
    }
}
