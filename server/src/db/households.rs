//! The household projection (`households`, `members`) and the care plan's dates, kept
//! current in the savepoint of whatever moves them: a household document, a visit record,
//! a resident's care tags (`db::residents`). The plan itself is `sync::care`; this module
//! only feeds it what is stored and writes back the dates it gives.

use super::DbError;
use haitang_sync::care;
use haitang_sync::household::Household;
use haitang_sync::personal::ResidentStatus;
use haitang_sync::record::Kind;
use rusqlite::{Connection, OptionalExtension, params};

/// Writes the projection of the household whose `docs` key is `key`.
pub(super) fn project(c: &Connection, key: i64, h: &Household) -> Result<(), DbError> {
    c.prepare_cached(
        "INSERT INTO households(doc, number, address, interval_days, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT(doc) DO UPDATE SET number = excluded.number, address = excluded.address, \
           interval_days = excluded.interval_days",
    )?
    .execute(params![
        key,
        h.number,
        h.address,
        h.interval_days,
        h.created_by,
        h.created_at
    ])?;
    let mut upsert = c.prepare_cached(
        "INSERT INTO members(pid, household, grid, sector, relation, status, since, interval_override) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT(pid) DO UPDATE SET grid = excluded.grid, sector = excluded.sector, \
           relation = excluded.relation, status = excluded.status, \
           interval_override = excluded.interval_override \
         WHERE members.household = excluded.household",
    )?;
    for m in &h.members {
        upsert.execute(params![
            m.pid,
            key,
            h.grid,
            h.sector,
            m.relation.as_str(),
            m.status.as_str(),
            m.since,
            m.interval_days.or(h.interval_days),
        ])?;
    }
    let pids: Vec<&str> = h.members.iter().map(|m| m.pid.as_str()).collect();
    refresh(c, &pids)
}

/// The pids the push would list that another household already lists: a person belongs to
/// one household; one who moves gets a new entry in the new household.
pub(super) fn listed_elsewhere(
    c: &Connection,
    doc_id: &str,
    pids: &[String],
) -> Result<Option<String>, DbError> {
    let mut stmt = c.prepare_cached(
        "SELECT d.id FROM members m JOIN docs d ON d.key = m.household WHERE m.pid = ?1",
    )?;
    for pid in pids {
        let owner: Option<String> = stmt.query_row([pid], |r| r.get(0)).optional()?;
        if owner.is_some_and(|o| o != doc_id) {
            return Ok(Some(pid.clone()));
        }
    }
    Ok(None)
}

/// After a record is projected: whom a visit saw, and the plan's dates of those people.
pub(super) fn project_visit(
    c: &Connection,
    key: i64,
    kind: Kind,
    household: Option<&str>,
    persons: &[String],
) -> Result<(), DbError> {
    let old: Vec<String> = c
        .prepare_cached("SELECT pid FROM record_persons WHERE doc = ?1")?
        .query_map([key], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if old != persons {
        c.prepare_cached("DELETE FROM record_persons WHERE doc = ?1")?
            .execute([key])?;
        let mut insert =
            c.prepare_cached("INSERT OR IGNORE INTO record_persons(pid, doc) VALUES (?1, ?2)")?;
        for pid in persons {
            insert.execute(params![pid, key])?;
        }
    }
    let Some(household) = household.filter(|_| kind == Kind::Visit) else {
        return Ok(());
    };
    let pids: Vec<String> = c
        .prepare_cached(
            "SELECT m.pid FROM members m JOIN docs d ON d.key = m.household WHERE d.id = ?1",
        )?
        .query_map([household], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let pids: Vec<&str> = pids.iter().map(String::as_str).collect();
    refresh(c, &pids)
}

/// Recomputes the plan's dates of `pids` from what is stored: each one's interval
/// (`care::interval_days` over the supervisor's setting and the person's tags), last visit
/// (the latest visit record about their household that saw them, or saw nobody in
/// particular; withdrawn visits do not count) and next due date.
pub(super) fn refresh(c: &Connection, pids: &[&str]) -> Result<(), DbError> {
    let mut member = c.prepare_cached(
        "SELECT m.status, m.since, m.interval_override, d.id FROM members m \
         JOIN docs d ON d.key = m.household WHERE m.pid = ?1",
    )?;
    let mut tags = c.prepare_cached(
        "SELECT t.interval_days FROM resident_tags rt JOIN care_tags t ON t.code = rt.tag \
         WHERE rt.pid = ?1 AND t.active = 1",
    )?;
    let mut last = c.prepare_cached(
        "SELECT max(r.reported_at) FROM records r \
         WHERE r.household = ?1 AND r.kind = 'visit' AND r.status <> 'withdrawn' \
           AND (EXISTS (SELECT 1 FROM record_persons p WHERE p.doc = r.doc AND p.pid = ?2) \
                OR NOT EXISTS (SELECT 1 FROM record_persons p WHERE p.doc = r.doc))",
    )?;
    let mut update = c.prepare_cached(
        "UPDATE members SET interval_days = ?2, last_visit_at = ?3, due_at = ?4 WHERE pid = ?1",
    )?;
    for pid in pids {
        let Some((status, since, over, household)) = member
            .query_row([pid], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?
        else {
            continue;
        };
        let tag_days: Vec<Option<u32>> = tags
            .query_map([pid], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let interval = care::interval_days(over, None, tag_days);
        let last_visit: Option<i64> = last.query_row(params![household, pid], |r| r.get(0))?;
        let living = status == ResidentStatus::Living.as_str();
        let due = interval
            .filter(|_| living)
            .map(|days| care::due_at(days, last_visit, since));
        update.execute(params![pid, interval, last_visit, due])?;
    }
    Ok(())
}

impl super::Db {
    /// The first of `pids` another household document than `doc_id` already lists.
    pub async fn listed_elsewhere(
        &self,
        doc_id: String,
        pids: Vec<String>,
    ) -> Result<Option<String>, DbError> {
        self.read(move |c| listed_elsewhere(c, &doc_id, &pids))
            .await
    }
}

/// How many people of a unit (or one of its sectors) are on a visit schedule and where
/// their next visits stand at the moment asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DueCounts {
    pub on_plan: i64,
    pub overdue: i64,
    pub due: i64,
    pub soon: i64,
    pub never_visited: i64,
}

/// The counts for a whole unit and per sector (`None`: people of households in no sector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSummary {
    pub total: DueCounts,
    pub by_sector: Vec<(Option<String>, DueCounts)>,
}

/// What one person's visits in a period came to (`Db::visits_by_visitor`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VisitorLine {
    pub user_id: i64,
    pub visits: i64,
    pub households: i64,
    pub people: i64,
    /// Of the visits to people on a plan, those made by the person's due date (the previous
    /// visit, or their registration, plus their interval) and those made after it.
    pub on_time: i64,
    pub late: i64,
}

impl super::Db {
    /// Visit records in `scope` reported from `from` on (withdrawn ones not counted), per
    /// reporter: how many, how many households, how many people seen. Most first.
    pub async fn visits_by_visitor(
        &self,
        scope: haitang_sync::scope::Scope,
        from: i64,
    ) -> Result<Vec<VisitorLine>, DbError> {
        self.read(move |c| {
            let (clause, param) = super::scope::scope_sql(&scope, "d.");
            let mut stmt = c.prepare_cached(&format!(
                "SELECT r.reported_by, count(DISTINCT r.doc), count(DISTINCT r.household),                    count(DISTINCT p.pid)                  FROM records r JOIN docs d ON d.key = r.doc                  LEFT JOIN record_persons p ON p.doc = r.doc                  WHERE {clause} AND r.kind = 'visit' AND r.status != 'withdrawn' AND r.reported_at >= ?2                  GROUP BY r.reported_by ORDER BY 2 DESC, 1"
            ))?;
            let mut rows: Vec<VisitorLine> = stmt
                .query_map(params![param, from], |r| {
                    Ok(VisitorLine {
                        user_id: r.get(0)?,
                        visits: r.get(1)?,
                        households: r.get(2)?,
                        people: r.get(3)?,
                        on_time: 0,
                        late: 0,
                    })
                })?
                .collect::<Result<_, _>>()?;
            // Each person's visits in order: a visit is on time when it came by the date the
            // one before it (or the person's registration) made it due, by `care::due_at`,
            // with today's interval. A visit that named nobody is not counted here.
            let (clause, param) = super::scope::scope_sql(&scope, "m.");
            let mut timely = c.prepare_cached(&format!(
                "WITH seen AS ( \
                   SELECT r.reported_by AS who, p.pid AS pid, r.reported_at AS at, \
                     lag(r.reported_at) OVER (PARTITION BY p.pid ORDER BY r.reported_at) AS prev \
                   FROM record_persons p JOIN records r ON r.doc = p.doc \
                   WHERE r.kind = 'visit' AND r.status != 'withdrawn' \
                     AND p.pid IN (SELECT m.pid FROM members m WHERE {clause})) \
                 SELECT s.who, s.at, s.prev, m.since, m.interval_days \
                 FROM seen s JOIN members m ON m.pid = s.pid \
                 WHERE s.at >= ?2 AND m.interval_days IS NOT NULL"
            ))?;
            let visits = timely.query_map(params![param, from], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            for visit in visits {
                let (who, at, prev, since, interval) = visit?;
                let Some(line) = rows.iter_mut().find(|l| l.user_id == who) else {
                    continue;
                };
                if at <= care::due_at(interval, prev, since) {
                    line.on_time += 1;
                } else {
                    line.late += 1;
                }
            }
            Ok(rows)
        })
        .await
    }

    /// Counts at `now` for the people in `scope` (a subtree or a sector).
    pub async fn due_summary(
        &self,
        scope: haitang_sync::scope::Scope,
        now: i64,
    ) -> Result<DueSummary, DbError> {
        self.read(move |c| {
            let (clause, param) = super::scope::scope_sql(&scope, "m.");
            let (day, soon) = (now + care::DAY_MS, now + care::SOON_DAYS * care::DAY_MS);
            let mut stmt = c.prepare_cached(&format!(
                "SELECT m.sector, count(*), sum(m.due_at < ?2), sum(m.due_at >= ?2 AND m.due_at < ?3), \
                   sum(m.due_at >= ?3 AND m.due_at < ?4), sum(m.last_visit_at IS NULL) \
                 FROM members m WHERE {clause} AND m.due_at IS NOT NULL \
                 GROUP BY m.sector ORDER BY m.sector"
            ))?;
            let by_sector: Vec<(Option<String>, DueCounts)> = stmt
                .query_map(params![param, now, day, soon], |r| {
                    Ok((
                        r.get(0)?,
                        DueCounts {
                            on_plan: r.get(1)?,
                            overdue: r.get(2)?,
                            due: r.get(3)?,
                            soon: r.get(4)?,
                            never_visited: r.get(5)?,
                        },
                    ))
                })?
                .collect::<Result<_, _>>()?;
            let mut total = DueCounts::default();
            for (_, n) in &by_sector {
                total.on_plan += n.on_plan;
                total.overdue += n.overdue;
                total.due += n.due;
                total.soon += n.soon;
                total.never_visited += n.never_visited;
            }
            Ok(DueSummary { total, by_sector })
        })
        .await
    }

    /// People in `scope` whose next visit falls in `[from, to)`, earliest first, one page.
    pub async fn due_page(
        &self,
        scope: haitang_sync::scope::Scope,
        from: i64,
        to: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<super::residents::ResidentRow>, DbError> {
        self.read(move |c| {
            let (clause, param) = super::scope::scope_sql(&scope, "m.");
            let mut stmt = c.prepare_cached(&format!(
                "{} WHERE {clause} AND m.due_at >= ?2 AND m.due_at < ?3 \
                 ORDER BY m.due_at, m.pid LIMIT ?4 OFFSET ?5",
                super::residents::SELECT
            ))?;
            let rows = stmt
                .query_map(
                    params![param, from, to, limit, offset],
                    super::residents::row,
                )?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }
}

/// A stored household as the importer needs it.
#[derive(Debug, Clone)]
pub struct StoredHousehold {
    pub id: String,
    pub grid: String,
    pub number: String,
    pub state: Vec<u8>,
}

impl super::Db {
    /// The households of `grid` with these numbers.
    pub async fn households_by_number(
        &self,
        keys: Vec<(String, String)>,
    ) -> Result<Vec<StoredHousehold>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, d.grid, h.number, d.state FROM households h JOIN docs d ON d.key = h.doc \
                 WHERE d.grid = ?1 AND h.number = ?2",
            )?;
            let mut out = Vec::new();
            for (grid, number) in &keys {
                let found = stmt
                    .query_row(params![grid, number], |r| {
                        Ok(StoredHousehold {
                            id: r.get(0)?,
                            grid: r.get(1)?,
                            number: r.get(2)?,
                            state: r.get(3)?,
                        })
                    })
                    .optional()?;
                out.extend(found);
            }
            Ok(out)
        })
        .await
    }

    /// The people a household lists, with their personal rows.
    pub async fn household_residents(
        &self,
        doc_id: String,
    ) -> Result<Vec<super::residents::ResidentRow>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{} WHERE d.id = ?1 ORDER BY m.since, m.pid",
                super::residents::SELECT
            ))?;
            let rows = stmt
                .query_map([doc_id], super::residents::row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }
}

/// A household as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HouseholdLine {
    pub id: String,
    pub grid: String,
    pub sector: Option<String>,
    pub number: String,
    pub address: String,
    pub interval_days: Option<i64>,
    pub people: i64,
    pub on_plan: i64,
    pub overdue: i64,
}

/// A record about a household, for its page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HouseholdRecord {
    pub id: String,
    pub kind: String,
    pub category: String,
    pub status: String,
    pub title: String,
    pub reported_by: i64,
    pub reported_at: i64,
    pub persons: Vec<String>,
}

/// `?9` is the moment asked (for the overdue count); a query using it numbers its own
/// parameters below it, and binds the ones it does not use to nothing.
const LINE: &str = "SELECT d.id, d.grid, d.sector, h.number, h.address, h.interval_days, \
    (SELECT count(*) FROM members m WHERE m.household = d.key), \
    (SELECT count(*) FROM members m WHERE m.household = d.key AND m.due_at IS NOT NULL), \
    (SELECT count(*) FROM members m WHERE m.household = d.key AND m.due_at < ?9) \
    FROM households h JOIN docs d ON d.key = h.doc";

fn line(r: &rusqlite::Row<'_>) -> rusqlite::Result<HouseholdLine> {
    Ok(HouseholdLine {
        id: r.get(0)?,
        grid: r.get(1)?,
        sector: r.get(2)?,
        number: r.get(3)?,
        address: r.get(4)?,
        interval_days: r.get(5)?,
        people: r.get(6)?,
        on_plan: r.get(7)?,
        overdue: r.get(8)?,
    })
}

impl super::Db {
    /// Households in `scope` matching `q` (in the number or address, or a person's full
    /// name), with a care tag or overdue people if asked; one page in number order.
    #[allow(clippy::too_many_arguments)]
    pub async fn households_search(
        &self,
        scope: haitang_sync::scope::Scope,
        q: Option<String>,
        tag: Option<String>,
        overdue_only: bool,
        now: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<HouseholdLine>, DbError> {
        self.read(move |c| {
            let (clause, param) = super::scope::scope_sql(&scope, "d.");
            let like = q.as_ref().map(|q| {
                format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
            });
            let mut stmt = c.prepare_cached(&format!(
                "{LINE} WHERE {clause} AND d.type = 'household' \
                 AND (?2 IS NULL OR h.number LIKE ?3 ESCAPE '\\' OR h.address LIKE ?3 ESCAPE '\\' \
                      OR EXISTS (SELECT 1 FROM members m JOIN residents r ON r.pid = m.pid \
                                 WHERE m.household = d.key AND r.name = ?2)) \
                 AND (?4 IS NULL OR EXISTS (SELECT 1 FROM members m JOIN resident_tags t ON t.pid = m.pid \
                                 WHERE m.household = d.key AND t.tag = ?4)) \
                 AND (?5 = 0 OR EXISTS (SELECT 1 FROM members m WHERE m.household = d.key AND m.due_at < ?9)) \
                 ORDER BY h.number, d.id LIMIT ?6 OFFSET ?7"
            ))?;
            let rows = stmt
                .query_map(
                    params![param, q, like, tag, overdue_only, limit, offset, 0, now],
                    line,
                )?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// One household, if in `scope`.
    pub async fn household_line(
        &self,
        scope: haitang_sync::scope::Scope,
        id: String,
        now: i64,
    ) -> Result<Option<HouseholdLine>, DbError> {
        self.read(move |c| {
            let (clause, param) = super::scope::scope_sql(&scope, "d.");
            let found = c
                .prepare_cached(&format!("{LINE} WHERE {clause} AND d.id = ?2"))?
                .query_row(
                    params![
                        param,
                        id,
                        None::<i64>,
                        None::<i64>,
                        None::<i64>,
                        None::<i64>,
                        None::<i64>,
                        None::<i64>,
                        now
                    ],
                    line,
                )
                .optional()?;
            Ok(found)
        })
        .await
    }

    /// The records about a household, newest first.
    pub async fn household_records(&self, id: String) -> Result<Vec<HouseholdRecord>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, r.kind, r.category, r.status, r.title, r.reported_by, r.reported_at, \
                   (SELECT group_concat(pid) FROM record_persons p WHERE p.doc = r.doc) \
                 FROM records r JOIN docs d ON d.key = r.doc WHERE r.household = ?1 \
                 ORDER BY r.reported_at DESC LIMIT 500",
            )?;
            let rows = stmt
                .query_map([id], |r| {
                    let persons: Option<String> = r.get(7)?;
                    Ok(HouseholdRecord {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        category: r.get(2)?,
                        status: r.get(3)?,
                        title: r.get(4)?,
                        reported_by: r.get(5)?,
                        reported_at: r.get(6)?,
                        persons: persons
                            .map(|p| p.split(',').map(str::to_owned).collect())
                            .unwrap_or_default(),
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }
}
