//! Numbered migrations, embedded in the binary and applied at start, each in its own
//! transaction. `PRAGMA user_version` records the last one applied, so the version moves
//! with the schema change it describes or not at all.

use super::DbError;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// (version, name, SQL). Versions start at 1 and have no gaps; a test checks that.
#[rustfmt::skip]
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../../migrations/0001_foundation.sql")),
    (2, "records", include_str!("../../migrations/0002_records.sql")),
    (3, "workflow", include_str!("../../migrations/0003_workflow.sql")),
    (4, "blobs", include_str!("../../migrations/0004_blobs.sql")),
    (5, "doc_keys", include_str!("../../migrations/0005_doc_keys.sql")),
    (6, "blob_uploads", include_str!("../../migrations/0006_blob_uploads.sql")),
    (7, "refresh_retry", include_str!("../../migrations/0007_refresh_retry.sql")),
    (8, "quarantine", include_str!("../../migrations/0008_quarantine.sql")),
    (9, "doc_types", include_str!("../../migrations/0009_doc_types.sql")),
    (10, "households", include_str!("../../migrations/0010_households.sql")),
    (11, "residents_rev", include_str!("../../migrations/0011_residents_rev.sql")),
];

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

pub(super) fn run(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = latest_version();
    if found > known {
        return Err(DbError::TooNew {
            path: path.display().to_string(),
            found,
            known,
        });
    }
    // A migration that rebuilds a table drops and renames tables other tables point at;
    // SQLite's way is to turn foreign keys off around it (they cannot be switched inside
    // a transaction) and check them all before committing.
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    let result = apply(conn, found);
    if enforced {
        conn.execute_batch("PRAGMA foreign_keys = ON")?;
    }
    result
}

fn apply(conn: &mut Connection, found: i64) -> Result<(), DbError> {
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(DbError::Corrupt(format!(
                "migration {version} ({name}) would leave rows of {table} pointing at nothing"
            )));
        }
        // user_version cannot take a bound parameter; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, (v, name, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1, "migration {name} is out of order");
            assert!(!sql.trim().is_empty(), "migration {name} is empty");
        }
    }

    #[test]
    fn fresh_database_reaches_latest_and_rerun_is_a_no_op() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).expect("open");
        run(&mut conn, &path).expect("first run");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, latest_version());
        run(&mut conn, &path).expect("second run");
        conn.execute_batch("PRAGMA foreign_key_check")
            .expect("fk check");
    }

    /// A version-4 database with records, a move and a photo reference comes through the
    /// rebuild of migration 5 whole: every row, pointing at the same record.
    #[test]
    fn doc_keys_keep_every_row_of_an_existing_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA foreign_keys = ON").expect("fk");
        for (version, _, sql) in &MIGRATIONS[..4] {
            conn.execute_batch(sql).expect("old migration");
            conn.execute_batch(&format!("PRAGMA user_version = {version}"))
                .expect("version");
        }
        let ids = [
            "00000000-0000-4000-8000-00000000000b",
            "00000000-0000-4000-8000-00000000000a",
        ];
        conn.execute_batch(&format!(
            "INSERT INTO docs(id, seq, created_seq, moved_seq, state, heads, change_count, kind,
                 grid, category, status, urgency, title, reported_by, reported_at, updated_at)
             VALUES ('{b}', 4, 1, 4, x'01', '', 2, 'event', '/g2', 'c', 'reported', 'normal', 'B', 1, 0, 0),
                    ('{a}', 3, 2, 2, x'02', '', 2, 'need', '/g1', 'c', 'reported', 'normal', 'A', 1, 0, 0);
             INSERT INTO changes(seq, doc_id, hash, actor, bytes, received_at) VALUES
                 (1, '{b}', x'b1', x'aa', x'10', 0), (2, '{a}', x'a1', x'aa', x'20', 0),
                 (3, '{a}', x'a2', x'aa', x'21', 0), (4, '{b}', x'b2', x'aa', x'11', 0);
             INSERT INTO doc_moves(seq, doc_id, old_grid) VALUES (4, '{b}', '/g1');
             INSERT INTO blob_refs(sha256, doc_id) VALUES ('f00d', '{a}');",
            b = ids[0],
            a = ids[1]
        ))
        .expect("version 4 rows");

        run(&mut conn, &path).expect("migrate");
        let keys: Vec<(i64, String)> = conn
            .prepare("SELECT key, id FROM docs ORDER BY key")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        // Keys follow the order records were first stored in (created_seq).
        assert_eq!(keys, vec![(1, ids[0].to_owned()), (2, ids[1].to_owned())]);
        let changes: Vec<(i64, String, Vec<u8>)> = conn
            .prepare("SELECT c.seq, d.id, c.bytes FROM changes c JOIN docs d ON d.key = c.doc ORDER BY c.seq")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            changes,
            vec![
                (1, ids[0].to_owned(), vec![0x10]),
                (2, ids[1].to_owned(), vec![0x20]),
                (3, ids[1].to_owned(), vec![0x21]),
                (4, ids[0].to_owned(), vec![0x11]),
            ]
        );
        let moved: String = conn
            .query_row(
                "SELECT d.id FROM doc_moves m JOIN docs d ON d.key = m.doc",
                [],
                |r| r.get(0),
            )
            .expect("move");
        assert_eq!(moved, ids[0]);
        let photo: String = conn
            .query_row(
                "SELECT d.id FROM blob_refs r JOIN docs d ON d.key = r.doc",
                [],
                |r| r.get(0),
            )
            .expect("photo");
        assert_eq!(photo, ids[1]);
        // Migration 9: every document is a record, its projection in `records`.
        let projected: Vec<(String, String, String)> = conn
            .prepare("SELECT d.id, d.type, r.title FROM records r JOIN docs d ON d.key = r.doc ORDER BY d.key")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            projected,
            vec![
                (ids[0].to_owned(), "record".to_owned(), "B".to_owned()),
                (ids[1].to_owned(), "record".to_owned(), "A".to_owned()),
            ]
        );
        let enforced: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("fk");
        assert!(enforced, "foreign keys are on again after migrating");
        // The rebuilt tables still refuse what they refused before.
        assert!(conn.execute("INSERT INTO changes(doc, hash, actor, bytes, received_at) VALUES (99, x'00', x'00', x'00', 0)", []).is_err());
        assert!(conn.execute("INSERT INTO changes(doc, hash, actor, bytes, received_at) VALUES (1, x'b1', x'00', x'00', 0)", []).is_err());
    }

    #[test]
    fn newer_database_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).expect("open");
        conn.execute_batch(&format!("PRAGMA user_version = {}", latest_version() + 1))
            .expect("set");
        let err = run(&mut conn, &path).expect_err("must refuse");
        assert!(matches!(err, DbError::TooNew { .. }), "{err}");
        assert!(err.to_string().contains("newer"), "{err}");
    }
}
