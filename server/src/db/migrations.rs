//! Numbered migrations, embedded in the binary and applied at start, each in its own
//! transaction. `PRAGMA user_version` records the last one applied, so the version moves
//! with the schema change it describes or not at all.

use super::DbError;
use rusqlite::Connection;
use std::path::Path;

/// (version, name, SQL). Versions start at 1 and have no gaps; a test checks that.
#[rustfmt::skip]
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../../migrations/0001_foundation.sql")),
    (2, "records", include_str!("../../migrations/0002_records.sql")),
    (3, "workflow", include_str!("../../migrations/0003_workflow.sql")),
    (4, "blobs", include_str!("../../migrations/0004_blobs.sql")),
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
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
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
