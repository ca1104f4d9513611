//! Photo blobs: which are complete, who uploaded them, which records reference them.

use super::{Db, DbError, now_ms};
use haitang_sync::scope::{Position, Principal};
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlobInfo {
    pub sha256: String,
    pub bytes: i64,
    pub mime: String,
}

impl Db {
    pub async fn blob(&self, sha: String) -> Result<Option<BlobInfo>, DbError> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT bytes, mime FROM blobs WHERE sha256 = ?1")?
                    .query_row([&sha], |r| {
                        Ok(BlobInfo {
                            sha256: sha.clone(),
                            bytes: r.get(0)?,
                            mime: r.get(1)?,
                        })
                    })
                    .optional()?,
            )
        })
        .await
    }

    /// Records a complete blob; returns false if it was there already.
    pub async fn insert_blob(&self, info: BlobInfo, user_id: i64) -> Result<bool, DbError> {
        self.write(move |c| {
            let n = c.execute(
                "INSERT INTO blobs(sha256, bytes, mime, uploaded_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(sha256) DO NOTHING",
                params![info.sha256, info.bytes, info.mime, user_id, now_ms()],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Bytes of complete blobs `user_id` uploaded since `since` (ms).
    pub async fn uploaded_since(&self, user_id: i64, since: i64) -> Result<i64, DbError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT coalesce(sum(bytes), 0) FROM blobs WHERE uploaded_by = ?1 AND created_at >= ?2",
                params![user_id, since],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Whether `principal` may see some record that references the blob.
    pub async fn blob_visible(&self, principal: Principal, sha: String) -> Result<bool, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.grid, d.sector, d.department FROM blob_refs r JOIN docs d ON d.key = r.doc WHERE r.sha256 = ?1",
            )?;
            let rows = stmt.query_map([&sha], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<String>>(2)?))
            })?;
            for row in rows {
                let (grid, sector, department) = row?;
                if principal.can_see(Position {
                    grid: &grid,
                    sector: sector.as_deref(),
                    department: department.as_deref(),
                }) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
    }

    /// Complete blobs no record references, stored before `before` (ms).
    pub async fn orphan_blobs(&self, before: i64, limit: usize) -> Result<Vec<String>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT sha256 FROM blobs b WHERE created_at < ?1 \
                 AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = b.sha256) LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![before, limit as i64], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Forgets an orphan blob, unless a record started referencing it meanwhile.
    pub async fn forget_orphan(&self, sha: String) -> Result<bool, DbError> {
        self.write(move |c| {
            let n = c.execute(
                "DELETE FROM blobs WHERE sha256 = ?1 AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = ?1)",
                [&sha],
            )?;
            Ok(n == 1)
        })
        .await
    }
}
