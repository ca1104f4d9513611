//! Pulling: one page of what changed in a phone's scope, planned by `sync::pull` from the
//! rows storage reads for it in one transaction, and documents asked for by id (`want`).
//! Neither looks at a document's type beyond passing it on: scope is judged by the
//! position every type has.

use super::Records;
use crate::db::DbError;
use haitang_sync::protocol::PullItem;
use haitang_sync::pull::{self, PAGE_BYTES, Page, Window};
use haitang_sync::scope::Principal;
use std::collections::HashSet;

impl Records {
    /// One page of everything in scope that changed after `cursor`, in commit order;
    /// `resume` goes on with a pull that answered `more`.
    pub async fn pull(
        &self,
        principal: &Principal,
        cursor: Option<u64>,
        resume: Option<u64>,
        limit: usize,
    ) -> Result<Page, DbError> {
        let window = Window::new(cursor, resume, limit);
        let scope = principal.scope();
        let rows = self.db.pull_rows(scope.clone(), window).await?;
        Ok(pull::page(
            &window,
            &scope,
            rows.docs,
            rows.moves,
            rows.newest,
        ))
    }

    /// The saved documents, of any type, the caller may see among those named, each once,
    /// up to about [`PAGE_BYTES`] in all, and the ids left for another request past that. A
    /// document that does not exist and one the caller may not see are both left out
    /// without a word.
    pub async fn want(
        &self,
        principal: &Principal,
        mut ids: Vec<String>,
    ) -> Result<(Vec<PullItem>, Vec<String>), DbError> {
        let mut seen = HashSet::with_capacity(ids.len());
        ids.retain(|id| seen.insert(id.clone()));
        let (found, unsent) = self
            .db
            .states_in_scope(principal.scope(), ids, PAGE_BYTES)
            .await?;
        let items = found
            .into_iter()
            .map(|(doc, doc_type, snapshot)| PullItem::Snapshot {
                doc,
                doc_type,
                snapshot,
            })
            .collect();
        Ok((items, unsent))
    }
}
