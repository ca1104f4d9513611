//! Queries over the projection (`docs`' columns): supervisors' inboxes and their counts,
//! the rates districts are judged on, and the records the escalation job should look at.
//! Which statuses are open, running a deadline or with the handler comes from the rule
//! table (`sync::workflow`), never from a list of this file's own.

use super::records::CASES;
use super::scope::scope_sql;
use super::{Db, DbError, now_ms};
use crate::records::escalate::Neglect;
use crate::routes::cases::{Bucket, CasePage, CaseQuery, CaseSummary, Rates};
use haitang_sync::scope::Principal;
use haitang_sync::workflow;
use rusqlite::params;

/// `status IN (…)` for a set of statuses from the rule table, so the SQL never spells its
/// own copy of which statuses are open, running a deadline or with the handler.
fn status_in(set: &[haitang_sync::record::Status]) -> String {
    let names: Vec<String> = set.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!("status IN ({})", names.join(","))
}

fn bucket_sql(
    bucket: Bucket,
    principal: &Principal,
    params: &mut Vec<rusqlite::types::Value>,
) -> String {
    use rusqlite::types::Value as V;
    let level = workflow::role_level(principal.role)
        .map(|l| l.as_str())
        .unwrap_or("");
    let mut with_level = |sql: &str| {
        params.push(V::Text(level.to_owned()));
        sql.replace("?L", &format!("?{}", params.len()))
    };
    match bucket {
        Bucket::All => "1".into(),
        Bucket::New => with_level("(status = 'reported' AND level = ?L)"),
        Bucket::Escalated => with_level(&format!(
            "(level = ?L AND level != 'community' AND {})",
            status_in(workflow::OPEN)
        )),
        Bucket::AwaitingVerification => with_level(&format!(
            "({} AND level = ?L)",
            status_in(workflow::VERIFYING)
        )),
        Bucket::Overdue => {
            params.push(V::Integer(now_ms()));
            format!(
                "(due_at IS NOT NULL AND due_at < ?{} AND {})",
                params.len(),
                status_in(workflow::DEADLINE_RUNS)
            )
        }
        Bucket::Conflicting => "(conflict = 1)".into(),
        Bucket::Mine => {
            params.push(V::Integer(principal.user_id));
            format!(
                "({} AND (assignee = ?{}",
                status_in(workflow::WITH_HANDLER),
                params.len()
            ) + &match &principal.department {
                Some(d) => {
                    params.push(V::Text(d.clone()));
                    format!(" OR department = ?{}))", params.len())
                }
                None => "))".into(),
            }
        }
    }
}

impl Db {
    /// One page of an inbox: records in the caller's scope in `query.bucket`, filtered,
    /// sorted and paged in SQL over the projection, with the count of every bucket.
    pub async fn cases(&self, principal: Principal, query: CaseQuery) -> Result<CasePage, DbError> {
        use rusqlite::types::Value as V;
        self.read(move |c| {
            let scope = principal.scope();
            let (scope_clause, scope_param) = scope_sql(&scope, "");
            // scope_sql numbers its parameter ?1; everything else follows it.
            let mut params: Vec<V> = vec![V::Text(scope_param)];
            let mut filters = vec![scope_clause];
            let push = |params: &mut Vec<V>, sql: &str, v: V| {
                params.push(v);
                sql.replace('?', &format!("?{}", params.len()))
            };
            if let Some(level) = &query.level {
                filters.push(push(&mut params, "level = ?", V::Text(level.clone())));
            }
            if let Some(under) = &query.under {
                params.push(V::Text(under.clone()));
                let n = params.len();
                filters.push(format!("(grid = ?{n} OR (grid >= ?{n} || '/' AND grid < ?{n} || '0'))"));
            }
            if let Some(v) = &query.category {
                // A class matches its subclasses too.
                params.push(V::Text(v.clone()));
                let n = params.len();
                filters.push(format!("(category = ?{n} OR category IN (SELECT code FROM categories WHERE parent = ?{n}))"));
            }
            for (col, v) in [("status", &query.status), ("urgency", &query.urgency), ("kind", &query.kind)] {
                if let Some(v) = v {
                    filters.push(push(&mut params, &format!("{col} = ?"), V::Text(v.clone())));
                }
            }
            if let Some(v) = query.from {
                filters.push(push(&mut params, "reported_at >= ?", V::Integer(v)));
            }
            if let Some(v) = query.to {
                filters.push(push(&mut params, "reported_at < ?", V::Integer(v)));
            }
            if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                filters.push(push(&mut params, "title LIKE ? ESCAPE '\\'", V::Text(format!("%{escaped}%"))));
            }
            let base_where = filters.join(" AND ");

            // Counts per bucket over the scope alone, so the tabs show what waits.
            let mut counts = std::collections::BTreeMap::new();
            for bucket in Bucket::COUNTED {
                let mut p = vec![params[0].clone()];
                let clause = bucket_sql(bucket, &principal, &mut p);
                let (scope_clause, _) = scope_sql(&scope, "");
                let n: i64 = c.query_row(
                    &format!("SELECT count(*) FROM {CASES} WHERE {scope_clause} AND {clause}"),
                    rusqlite::params_from_iter(p.iter()),
                    |r| r.get(0),
                )?;
                let name = match bucket {
                    Bucket::New => "new",
                    Bucket::Escalated => "escalated",
                    Bucket::AwaitingVerification => "awaiting_verification",
                    Bucket::Overdue => "overdue",
                    Bucket::Conflicting => "conflicting",
                    Bucket::Mine => "mine",
                    Bucket::All => "all",
                };
                counts.insert(name, n);
            }

            let bucket_clause = bucket_sql(query.bucket.unwrap_or(Bucket::All), &principal, &mut params);
            let where_sql = format!("{base_where} AND {bucket_clause}");
            let total: i64 = c.query_row(
                &format!("SELECT count(*) FROM {CASES} WHERE {where_sql}"),
                rusqlite::params_from_iter(params.iter()),
                |r| r.get(0),
            )?;
            let order = match query.sort.as_deref() {
                Some("due_at") => "due_at IS NULL, due_at ASC, reported_at DESC",
                Some("updated_at") => "updated_at DESC",
                _ => "reported_at DESC",
            };
            let limit = query.limit.unwrap_or(50).clamp(1, 500);
            let offset = query.offset.unwrap_or(0);
            params.push(V::Integer(now_ms()));
            let now_n = params.len();
            let running = status_in(workflow::DEADLINE_RUNS);
            let sql = format!(
                "SELECT id, kind, title, category, status, level, urgency, grid, sector, department, assignee, \
                 reported_by, reported_at, updated_at, due_at, \
                 (due_at IS NOT NULL AND due_at < ?{now_n} AND {running}), \
                 urged, conflict, lat, lng \
                 FROM {CASES} WHERE {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            );
            let mut stmt = c.prepare(&sql)?;
            let items = stmt
                .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                    Ok(CaseSummary {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        title: r.get(2)?,
                        category: r.get(3)?,
                        status: r.get(4)?,
                        level: r.get(5)?,
                        urgency: r.get(6)?,
                        grid: r.get(7)?,
                        sector: r.get(8)?,
                        department: r.get(9)?,
                        assignee: r.get(10)?,
                        reported_by: r.get(11)?,
                        reported_at: r.get(12)?,
                        updated_at: r.get(13)?,
                        due_at: r.get(14)?,
                        overdue: r.get(15)?,
                        urged: r.get(16)?,
                        conflict: r.get(17)?,
                        lat: r.get(18)?,
                        lng: r.get(19)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(CasePage { total, items, counts })
        })
        .await
    }
}

impl Db {
    /// Rates over records in scope reported in `[from, to)` (ms; either may be open).
    pub async fn rates(
        &self,
        principal: Principal,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Rates, DbError> {
        self.read(move |c| {
            let (clause, param) = scope_sql(&principal.scope(), "");
            let now = now_ms();
            let (open, running, rectified) = (
                status_in(workflow::OPEN),
                status_in(workflow::DEADLINE_RUNS),
                status_in(workflow::RECTIFIED),
            );
            let sql = format!(
                "SELECT count(*), \
                   coalesce(sum({open}), 0), \
                   coalesce(sum(due_at IS NOT NULL AND due_at < ?2 AND {running}), 0), \
                   coalesce(sum(status = 'closed'), 0), \
                   coalesce(sum(kind = 'event' AND status NOT IN ('withdrawn') AND duplicate_of IS NULL), 0), \
                   coalesce(sum(kind = 'event' AND {rectified} AND duplicate_of IS NULL), 0), \
                   coalesce(sum(status = 'closed' OR (due_at IS NOT NULL AND due_at < ?2 AND status NOT IN ('withdrawn'))), 0), \
                   coalesce(sum(status = 'closed' AND (due_at IS NULL OR closed_at <= due_at)), 0), \
                   avg(CASE WHEN status = 'closed' AND closed_at IS NOT NULL THEN (closed_at - reported_at) / 3600000.0 END), \
                   coalesce(sum(status = 'closed' AND ever_returned = 1), 0) \
                 FROM {CASES} WHERE {clause} AND reported_at >= ?3 AND reported_at < ?4"
            );
            let row = c.query_row(
                &sql,
                params![param, now, from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, Option<f64>>(8)?,
                        r.get::<_, i64>(9)?,
                    ))
                },
            )?;
            let (reported, open, overdue, closed, needing, rectified, due, on_time, avg_hours, reworked) = row;
            let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
            Ok(Rates {
                reported,
                open,
                overdue,
                closed,
                rectification_rate: ratio(rectified, needing),
                closure_rate: ratio(closed, due),
                on_time_closure_rate: ratio(on_time, due),
                average_completion_hours: avg_hours,
                rework_rate: ratio(reworked, closed),
            })
        })
        .await
    }
}

impl Db {
    /// Records the escalation job should act on: open and unaccepted since before
    /// `unaccepted_before`, or past their deadline before `overdue_before` and not urged.
    pub async fn neglected(
        &self,
        unaccepted_before: i64,
        overdue_before: i64,
        limit: usize,
    ) -> Result<Vec<(String, Neglect)>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, status = 'reported' FROM {CASES} \
                 WHERE (status = 'reported' AND level != 'district' AND updated_at < ?1) \
                    OR ({} AND due_at IS NOT NULL AND due_at < ?2 AND urged = 0) \
                 ORDER BY updated_at LIMIT ?3",
                status_in(workflow::DEADLINE_RUNS)
            ))?;
            let rows = stmt.query_map(
                params![unaccepted_before, overdue_before, limit as i64],
                |r| {
                    let unaccepted: bool = r.get(1)?;
                    Ok((
                        r.get(0)?,
                        if unaccepted {
                            Neglect::Unaccepted
                        } else {
                            Neglect::Overdue
                        },
                    ))
                },
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
