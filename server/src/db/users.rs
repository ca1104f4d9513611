//! Accounts, login sessions and refresh-token chains.

use super::org::{department_by_key, unit_by_path};
use super::{Db, DbError};
use haitang_sync::scope::{Principal, Role};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A refresh token's row and its session's.
struct RefreshRow {
    session_id: i64,
    expires_at: i64,
    used_at: Option<i64>,
    successor_hash: Option<Vec<u8>>,
    successor_sealed: Option<Vec<u8>>,
    revoked_at: Option<i64>,
    rotated_iat: Option<i64>,
    user_id: i64,
}

/// The successor a rotation issues: its hash (the row), the token sealed for a retry of
/// the same rotation (see `auth::seal_successor`), and its expiry.
#[derive(Debug, Clone)]
pub struct NextRefresh {
    pub hash: Vec<u8>,
    pub sealed: Vec<u8>,
    pub expires_at: i64,
    /// The `iat` of the access token issued with it.
    pub iat: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub role: Role,
    /// Path of the home unit.
    pub unit: String,
    pub unit_name: String,
    /// Department key for handlers.
    pub department: Option<String>,
    pub active: bool,
}

impl User {
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id,
            role: self.role,
            unit: self.unit.clone(),
            department: self.department.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub name: String,
    pub role: Role,
    pub unit: String,
    pub department: Option<String>,
    pub password_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("the username `{0}` is taken")]
    UsernameTaken(String),
    #[error("no user `{0}`")]
    NoSuchUser(String),
    #[error("no unit at `{0}`")]
    NoSuchUnit(String),
    #[error("no department `{0}`")]
    NoSuchDepartment(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for UserError {
    fn from(e: rusqlite::Error) -> Self {
        UserError::Db(DbError::Sqlite(e))
    }
}

const USER_SELECT: &str = "SELECT u.id, u.username, u.name, u.role, un.path, un.name, d.key, u.active, u.password_hash \
     FROM users u JOIN units un ON un.id = u.unit_id LEFT JOIN departments d ON d.id = u.department_id";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(User, String)> {
    let role: String = r.get(3)?;
    Ok((
        User {
            id: r.get(0)?,
            username: r.get(1)?,
            name: r.get(2)?,
            role: role.parse().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    3,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
            unit: r.get(4)?,
            unit_name: r.get(5)?,
            department: r.get(6)?,
            active: r.get(7)?,
        },
        r.get(8)?,
    ))
}

fn user_where(
    c: &Connection,
    clause: &str,
    arg: &dyn rusqlite::ToSql,
) -> rusqlite::Result<Option<(User, String)>> {
    c.prepare_cached(&format!("{USER_SELECT} WHERE {clause}"))?
        .query_row([arg], user_from_row)
        .optional()
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was good; it is now used and `new_hash` is the session's live token.
    Rotated { session_id: i64, user: User },
    /// The token was rotated moments ago and its successor is still unused: the same
    /// successor again, `sealed` as it was stored.
    Retried {
        session_id: i64,
        user: User,
        sealed: Vec<u8>,
    },
    /// The token had been used before: the session is now revoked.
    Reused { session_id: i64 },
    /// Unknown, expired, or its session or user is no longer valid.
    Invalid,
}

impl Db {
    /// The user and their password hash, for login.
    pub async fn user_for_login(
        &self,
        username: String,
    ) -> Result<Option<(User, String)>, DbError> {
        self.read(move |c| Ok(user_where(c, "u.username = ?1", &username)?))
            .await
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, DbError> {
        self.read(move |c| Ok(user_where(c, "u.id = ?1", &id)?.map(|(u, _)| u)))
            .await
    }

    pub async fn user_by_username(&self, username: String) -> Result<Option<User>, DbError> {
        self.read(move |c| Ok(user_where(c, "u.username = ?1", &username)?.map(|(u, _)| u)))
            .await
    }

    /// Users whose home unit lies at or under `path`.
    pub async fn users_under(&self, path: String) -> Result<Vec<User>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{USER_SELECT} WHERE un.path = ?1 OR (un.path >= ?1 || '/' AND un.path < ?1 || '0') ORDER BY u.username"
            ))?;
            let rows = stmt.query_map([&path], user_from_row)?;
            Ok(rows.map(|r| r.map(|(u, _)| u)).collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn add_user(&self, new: NewUser) -> Result<User, UserError> {
        self.write(move |c| Ok(insert_user(c, &new))).await?
    }

    /// Adds the user unless the username exists; returns whether it was added.
    pub async fn ensure_user(&self, new: NewUser) -> Result<bool, UserError> {
        match self.add_user(new).await {
            Ok(_) => Ok(true),
            Err(UserError::UsernameTaken(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Enables or disables a user. Disabling also revokes every session.
    pub async fn set_active(&self, username: String, active: bool) -> Result<User, UserError> {
        self.write(move |c| {
            let Some((user, _)) = user_where(c, "u.username = ?1", &username)? else {
                return Ok(Err(UserError::NoSuchUser(username)));
            };
            c.execute(
                "UPDATE users SET active = ?1 WHERE id = ?2",
                params![active, user.id],
            )?;
            if !active {
                revoke_all(c, user.id, "user disabled")?;
            }
            Ok(Ok(User { active, ..user }))
        })
        .await?
    }

    /// Sets a new password hash and revokes every session, so a stolen phone stops working.
    pub async fn set_password(&self, username: String, hash: String) -> Result<User, UserError> {
        self.write(move |c| {
            let Some((user, _)) = user_where(c, "u.username = ?1", &username)? else {
                return Ok(Err(UserError::NoSuchUser(username)));
            };
            c.execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![hash, user.id],
            )?;
            revoke_all(c, user.id, "password reset")?;
            Ok(Ok(user))
        })
        .await?
    }

    /// Revokes every session of a user (a lost phone); returns how many were live.
    pub async fn revoke_user_sessions(&self, user_id: i64) -> Result<usize, DbError> {
        self.write(move |c| Ok(revoke_all(c, user_id, "revoked by an administrator")?))
            .await
    }

    pub async fn revoke_session(
        &self,
        session_id: i64,
        reason: &'static str,
    ) -> Result<(), DbError> {
        self.write(move |c| {
            c.execute(
                "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2 WHERE id = ?3 AND revoked_at IS NULL",
                params![super::now_ms(), reason, session_id],
            )?;
            Ok(())
        })
        .await
    }

    /// Starts a session for a login with its first refresh token.
    pub async fn create_session(
        &self,
        user_id: i64,
        refresh_hash: Vec<u8>,
        expires_at: i64,
    ) -> Result<i64, DbError> {
        self.write(move |c| {
            let now = super::now_ms();
            c.execute(
                "INSERT INTO sessions(user_id, created_at) VALUES (?1, ?2)",
                params![user_id, now],
            )?;
            let session_id = c.last_insert_rowid();
            c.execute(
                "INSERT INTO refresh_tokens(hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                params![refresh_hash, session_id, expires_at],
            )?;
            Ok(session_id)
        })
        .await
    }

    /// Exchanges a refresh token for its successor in one transaction, detecting reuse.
    ///
    /// A token presented again within `retry_grace_ms` of its rotation gets the same
    /// successor (`Retried`) rather than revoking the session, as long as nothing shows the
    /// client already has that successor: neither the successor itself nor an access token
    /// issued with it has been used. Two requests that raced each other, or a retry after
    /// an answer lost on a poor network, look exactly like that; a token replayed after the
    /// client moved on, or later than the grace, is reuse as before.
    pub async fn rotate_refresh(
        &self,
        old_hash: Vec<u8>,
        next: NextRefresh,
        retry_grace_ms: i64,
    ) -> Result<Rotation, DbError> {
        self.write(move |c| {
            let now = super::now_ms();
            let found: Option<RefreshRow> = c
                .query_row(
                    "SELECT t.session_id, t.expires_at, t.used_at, t.successor_hash, t.successor_sealed, \
                     s.revoked_at, s.rotated_iat, s.user_id \
                     FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.hash = ?1",
                    [&old_hash],
                    |r| {
                        Ok(RefreshRow {
                            session_id: r.get(0)?,
                            expires_at: r.get(1)?,
                            used_at: r.get(2)?,
                            successor_hash: r.get(3)?,
                            successor_sealed: r.get(4)?,
                            revoked_at: r.get(5)?,
                            rotated_iat: r.get(6)?,
                            user_id: r.get(7)?,
                        })
                    },
                )
                .optional()?;
            let Some(row) = found else {
                return Ok(Rotation::Invalid);
            };
            let session_id = row.session_id;
            if row.revoked_at.is_some() {
                return Ok(Rotation::Invalid);
            }
            let user = user_where(c, "u.id = ?1", &row.user_id)?
                .map(|(u, _)| u)
                .filter(|u| u.active);
            if let Some(used_at) = row.used_at {
                if let (Some(user), Some(successor), Some(sealed)) =
                    (user, &row.successor_hash, row.successor_sealed)
                    && now - used_at <= retry_grace_ms
                    && row.rotated_iat.is_some()
                    && successor_unused(c, successor)?
                {
                    return Ok(Rotation::Retried {
                        session_id,
                        user,
                        sealed,
                    });
                }
                c.execute(
                    "UPDATE sessions SET revoked_at = ?1, revoked_reason = 'refresh token reused' WHERE id = ?2",
                    params![now, session_id],
                )?;
                return Ok(Rotation::Reused { session_id });
            }
            if row.expires_at <= now {
                return Ok(Rotation::Invalid);
            }
            let Some(user) = user else {
                return Ok(Rotation::Invalid);
            };
            c.execute(
                "UPDATE refresh_tokens SET used_at = ?1, successor_hash = ?2, successor_sealed = ?3 WHERE hash = ?4",
                params![now, next.hash, next.sealed, old_hash],
            )?;
            c.execute(
                "INSERT INTO refresh_tokens(hash, session_id, expires_at) VALUES (?1, ?2, ?3)",
                params![next.hash, session_id, next.expires_at],
            )?;
            c.execute(
                "UPDATE sessions SET rotated_iat = ?1 WHERE id = ?2",
                params![next.iat, session_id],
            )?;
            Ok(Rotation::Rotated { session_id, user })
        })
        .await
    }

    /// Notes that the client has used the pair issued with the session's latest rotation
    /// (an access token at least as new as `iat`), which ends that rotation's retry grace.
    pub async fn confirm_rotation(&self, session_id: i64, iat: i64) -> Result<(), DbError> {
        self.write(move |c| {
            c.execute(
                "UPDATE sessions SET rotated_iat = NULL WHERE id = ?1 AND rotated_iat <= ?2",
                params![session_id, iat],
            )?;
            Ok(())
        })
        .await
    }

    /// The user behind a live session, or `None` if the session is revoked or the user
    /// disabled, with the `iat` of its latest rotation while the client has not yet used
    /// that rotation's pair. Checked on every authenticated request so revocation bites at
    /// once.
    pub async fn session_user(
        &self,
        session_id: i64,
        user_id: i64,
    ) -> Result<Option<(User, Option<i64>)>, DbError> {
        self.read(move |c| {
            let live: Option<(i64, Option<i64>)> = c
                .prepare_cached(
                    "SELECT user_id, rotated_iat FROM sessions WHERE id = ?1 AND revoked_at IS NULL",
                )?
                .query_row([session_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((owner, rotated_iat)) = live else {
                return Ok(None);
            };
            if owner != user_id {
                return Ok(None);
            }
            Ok(user_where(c, "u.id = ?1", &user_id)?
                .map(|(u, _)| u)
                .filter(|u| u.active)
                .map(|u| (u, rotated_iat)))
        })
        .await
    }
}

/// Whether the refresh token with this hash has not been used yet.
fn successor_unused(c: &Connection, hash: &[u8]) -> rusqlite::Result<bool> {
    let used: Option<Option<i64>> = c
        .query_row(
            "SELECT used_at FROM refresh_tokens WHERE hash = ?1",
            [hash],
            |r| r.get(0),
        )
        .optional()?;
    Ok(matches!(used, Some(None)))
}

fn revoke_all(c: &Connection, user_id: i64, reason: &str) -> rusqlite::Result<usize> {
    c.execute(
        "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL",
        params![super::now_ms(), reason, user_id],
    )
}

fn insert_user(c: &Connection, new: &NewUser) -> Result<User, UserError> {
    let username = new.username.trim();
    if username.is_empty() || username.len() > 64 || username.chars().any(char::is_whitespace) {
        return Err(UserError::Invalid(
            "a username is 1 to 64 characters without spaces".into(),
        ));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(UserError::Invalid(
            "a display name is 1 to 64 characters".into(),
        ));
    }
    if user_where(c, "u.username = ?1", &username)?.is_some() {
        return Err(UserError::UsernameTaken(username.to_owned()));
    }
    let unit =
        unit_by_path(c, &new.unit)?.ok_or_else(|| UserError::NoSuchUnit(new.unit.clone()))?;
    if !new.role.home_kinds().contains(&unit.kind) {
        let kinds: Vec<&str> = new.role.home_kinds().iter().map(|k| k.as_str()).collect();
        return Err(UserError::Invalid(format!(
            "a {} belongs to a {}, but `{}` is a {}",
            new.role,
            kinds.join(" or "),
            unit.path,
            unit.kind
        )));
    }
    let department_id = match (&new.department, new.role) {
        (Some(key), Role::DepartmentHandler) => {
            let d = department_by_key(c, key)?
                .ok_or_else(|| UserError::NoSuchDepartment(key.clone()))?;
            if d.unit != unit.path {
                return Err(UserError::Invalid(format!(
                    "department `{key}` belongs to `{}`, so its handlers' unit must be that too",
                    d.unit
                )));
            }
            Some(d.id)
        }
        (None, Role::DepartmentHandler) => {
            return Err(UserError::Invalid(
                "a department handler needs a department".into(),
            ));
        }
        (Some(_), _) => {
            return Err(UserError::Invalid(
                "only department handlers have a department".into(),
            ));
        }
        (None, _) => None,
    };
    c.execute(
        "INSERT INTO users(username, name, role, unit_id, department_id, password_hash, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)",
        params![username, name, new.role.as_str(), unit.id, department_id, new.password_hash, super::now_ms()],
    )?;
    let id = c.last_insert_rowid();
    user_where(c, "u.id = ?1", &id)?
        .map(|(u, _)| u)
        .ok_or_else(|| UserError::Db(DbError::Corrupt("the new user vanished".into())))
}
