//! Actor bindings (`actors`): each Automerge actor id belongs to the user who first pushed a
//! change made with it, or to no user for the server's own actor.

use super::{Db, DbError, now_ms};
use automerge::ActorId;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

impl Db {
    /// The user each of `actors` is bound to, for those bound to a user. An actor missing
    /// from the answer is unbound, or the server's (bound to no user).
    pub async fn actor_users(
        &self,
        actors: Vec<ActorId>,
    ) -> Result<HashMap<ActorId, i64>, DbError> {
        self.read(move |c| {
            let mut users = HashMap::with_capacity(actors.len());
            for actor in actors {
                if let Some(Some(user)) = owner(c, &actor)? {
                    users.insert(actor, user);
                }
            }
            Ok(users)
        })
        .await
    }
}

/// `None`: never seen; `Some(None)`: the server's own.
pub(super) fn owner(c: &Connection, actor: &ActorId) -> rusqlite::Result<Option<Option<i64>>> {
    c.prepare_cached("SELECT user_id FROM actors WHERE actor = ?1")?
        .query_row([actor.to_bytes()], |r| r.get(0))
        .optional()
}

/// Binds `actor` to `user_id` unless it is bound already.
pub(super) fn bind(c: &Connection, actor: &ActorId, user_id: Option<i64>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO actors(actor, user_id, first_seen) VALUES (?1, ?2, ?3) ON CONFLICT(actor) DO NOTHING",
    )?
    .execute(params![actor.to_bytes(), user_id, now_ms()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[tokio::test]
    async fn only_actors_bound_to_a_user_are_named() {
        let (_dir, db) = fixture::open().await;
        let user = fixture::grid_staff(&db, "g1staff").await;
        let (mine, servers, new) = (ActorId::random(), ActorId::random(), ActorId::random());
        let (a, b) = (mine.clone(), servers.clone());
        db.write(move |c| {
            bind(c, &a, Some(user))?;
            bind(c, &b, None)?;
            // A second binding never moves an actor.
            bind(c, &a, None)?;
            Ok(())
        })
        .await
        .expect("bind");
        let users = db
            .actor_users(vec![mine.clone(), servers, new])
            .await
            .expect("owners");
        assert_eq!(users, HashMap::from([(mine, user)]));
    }
}
