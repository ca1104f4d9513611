//! Photo blobs: which are complete, who uploaded them, which records reference them.

use super::{Db, DbError, now_ms};
use automerge::{Automerge, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use haitang_sync::scope::{Position, Principal};
use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlobInfo {
    pub sha256: String,
    pub bytes: i64,
    pub mime: String,
}

/// What storing a complete upload changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The server did not have the blob before.
    pub new_blob: bool,
    /// This user had not sent these bytes before.
    pub new_upload: bool,
}

/// How many referencing records one access check loads at most: a photo is attached to
/// one record, or a few (duplicates); a long list is someone spraying a hash about.
const MAX_RECORDS_LOADED: usize = 64;

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

    /// Records a complete blob and `user_id` as one who sent its bytes.
    pub async fn insert_blob(&self, info: BlobInfo, user_id: i64) -> Result<Stored, DbError> {
        self.write(move |c| {
            let now = now_ms();
            let new_blob = c.execute(
                "INSERT INTO blobs(sha256, bytes, mime, uploaded_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(sha256) DO NOTHING",
                params![info.sha256, info.bytes, info.mime, user_id, now],
            )? == 1;
            let new_upload = c.execute(
                "INSERT INTO blob_uploads(sha256, user_id, uploaded_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
                params![info.sha256, user_id, now],
            )? == 1;
            Ok(Stored {
                new_blob,
                new_upload,
            })
        })
        .await
    }

    /// Bytes of complete blobs `user_id` uploaded since `since` (ms).
    pub async fn uploaded_since(&self, user_id: i64, since: i64) -> Result<i64, DbError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT coalesce(sum(b.bytes), 0) FROM blob_uploads u JOIN blobs b ON b.sha256 = u.sha256 \
                 WHERE u.user_id = ?1 AND u.uploaded_at >= ?2",
                params![user_id, since],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Whether `principal` may download the blob, and so learn that it exists (see
    /// [`readable`]).
    pub async fn blob_readable(&self, principal: Principal, sha: String) -> Result<bool, DbError> {
        self.read(move |c| readable(c, &principal, &sha)).await
    }

    /// Whether a record `principal` pushes may name the blob (see [`may_reference`]).
    pub async fn may_reference_blob(
        &self,
        principal: Principal,
        sha: String,
    ) -> Result<bool, DbError> {
        self.read(move |c| may_reference(c, &principal, &sha)).await
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
            let orphan = !c
                .prepare_cached("SELECT 1 FROM blob_refs WHERE sha256 = ?1")?
                .exists([&sha])?;
            if !orphan {
                return Ok(false);
            }
            c.execute("DELETE FROM blob_uploads WHERE sha256 = ?1", [&sha])?;
            Ok(c.execute("DELETE FROM blobs WHERE sha256 = ?1", [&sha])? == 1)
        })
        .await
    }
}

/// Whether a record `principal` pushes may name the blob: one the server does not have
/// yet (a photo still uploading, its bytes to come from the same phone) or one they may
/// download. For the push path, on the connection it prepares the push with, so that a
/// record cannot name a photo its author has no right to; access never depends on it
/// (see [`readable`]).
pub(crate) fn may_reference(
    c: &Connection,
    principal: &Principal,
    sha: &str,
) -> Result<bool, DbError> {
    let known = c
        .prepare_cached("SELECT 1 FROM blobs WHERE sha256 = ?1")?
        .exists([sha])?;
    Ok(!known || readable(c, principal, sha)?)
}

fn has_uploaded(c: &Connection, user_id: i64, sha: &str) -> rusqlite::Result<bool> {
    c.prepare_cached("SELECT 1 FROM blob_uploads WHERE sha256 = ?1 AND user_id = ?2")?
        .exists(params![sha, user_id])
}

/// The access rule for photos: a user may download a blob if they sent its bytes
/// themselves, or if a record they may see names it *and that name was written by someone
/// who sent the bytes*.
///
/// Knowing a hash proves nothing, so a reference only passes on access when its author
/// had the photo. The author is read from the document itself: the Automerge operation
/// that set the attachment's `sha256` carries its actor, and an actor is bound to the one
/// user who first pushed with it (`actors`; a change from an actor bound to someone else
/// is refused), so it cannot be forged. Whoever else edited the record, reported it or
/// could see it is irrelevant: grid2 naming grid1's photo in a record of its own, or in a
/// record grid1 also edits, gains nothing, since grid2 did not send those bytes. A user
/// who legitimately got the photo and attaches it elsewhere (a supervisor linking
/// duplicates) proves possession by sending the bytes once (`PUT`), which any client that
/// shows the photo has.
fn readable(c: &Connection, principal: &Principal, sha: &str) -> Result<bool, DbError> {
    if has_uploaded(c, principal.user_id, sha)? {
        return Ok(true);
    }
    // Only records an uploader pushed to can hold a reference an uploader wrote (a change
    // is only accepted from its actor's own user), so the others are never loaded.
    let mut stmt = c.prepare_cached(
        "SELECT d.key, d.grid, d.sector, d.department FROM blob_refs r JOIN docs d ON d.key = r.doc \
         WHERE r.sha256 = ?1 AND EXISTS (SELECT 1 FROM changes ch \
           JOIN blob_uploads u ON u.user_id = ch.user_id AND u.sha256 = ?1 WHERE ch.doc = r.doc)",
    )?;
    let mut rows = stmt.query([sha])?;
    let mut loaded = 0;
    while let Some(row) = rows.next()? {
        let (key, grid, sector, department): (i64, String, Option<String>, Option<String>) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        if !principal.can_see(Position {
            grid: &grid,
            sector: sector.as_deref(),
            department: department.as_deref(),
        }) {
            continue;
        }
        loaded += 1;
        if loaded > MAX_RECORDS_LOADED {
            break;
        }
        let state: Vec<u8> = c
            .prepare_cached("SELECT state FROM docs WHERE key = ?1")?
            .query_row([key], |r| r.get(0))?;
        let doc = Automerge::load(&state)
            .map_err(|e| DbError::Corrupt(format!("a stored record does not load: {e}")))?;
        for author in reference_authors(&doc, sha) {
            let user: Option<Option<i64>> = c
                .prepare_cached("SELECT user_id FROM actors WHERE actor = ?1")?
                .query_row([author.to_bytes()], |r| r.get(0))
                .optional()?;
            if let Some(Some(user)) = user
                && has_uploaded(c, user, sha)?
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The actors of the operations that set an attachment's `sha256` to `sha`, every
/// conflicting value included.
fn reference_authors(doc: &Automerge, sha: &str) -> Vec<automerge::ActorId> {
    let Ok(Some((Value::Object(ObjType::List), list))) = doc.get(ROOT, "attachments") else {
        return Vec::new();
    };
    let mut authors = Vec::new();
    for i in 0..doc.length(&list) {
        let Ok(Some((Value::Object(ObjType::Map), att))) = doc.get(&list, i) else {
            continue;
        };
        for (value, op) in doc.get_all(&att, "sha256").unwrap_or_default() {
            let names_it = matches!(&value, Value::Scalar(s) if matches!(s.as_ref(), ScalarValue::Str(v) if v.as_str() == sha));
            if let (true, automerge::ObjId::Id(_, actor, _)) = (names_it, op) {
                authors.push(actor);
            }
        }
    }
    authors
}
