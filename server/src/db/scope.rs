//! The scope rule's SQL twin: `sync::scope::Scope::contains` for rows of the projection, so
//! pulls and inboxes select in SQL what the rule lets a user see.

use haitang_sync::scope::Scope;

/// `(clause, parameter)` selecting rows whose position columns (`grid`, `sector`,
/// `department`, each with `prefix`) lie in `scope`, its parameter numbered `?1`. The
/// subtree form is a range on the path, so it uses the `(grid, seq)` index.
pub(super) fn scope_sql(scope: &Scope, prefix: &str) -> (String, String) {
    match scope {
        Scope::Subtree { path } => (
            format!(
                "({prefix}grid = ?1 OR ({prefix}grid >= ?1 || '/' AND {prefix}grid < ?1 || '0'))"
            ),
            path.clone(),
        ),
        Scope::Sector { path } => (format!("{prefix}sector = ?1"), path.clone()),
        Scope::Department { department } => {
            (format!("{prefix}department = ?1"), department.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use haitang_sync::scope::Position;
    use rusqlite::Connection;

    /// The clause and the rule agree on every position, edge cases of the path range
    /// included (a sibling whose name starts the same, a handler with no department).
    #[test]
    fn the_clause_selects_what_the_rule_lets_see() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Connection::open(dir.path().join("scope.db")).expect("open");
        c.execute_batch(
            "CREATE TABLE docs (grid TEXT NOT NULL, sector TEXT, department TEXT);
             INSERT INTO docs VALUES
               ('/gusu/byw/ws1/jinzhu/g01', '/gusu/byw/ws1/jinzhu/g01/b1', NULL),
               ('/gusu/byw/ws1/jinzhu/g01', NULL, '/gusu:police'),
               ('/gusu/byw/ws1/jinzhu/g02', '/gusu/byw/ws1/jinzhu/g02/l1', NULL),
               ('/gusu/byw/ws1/jinzhu2/g01', NULL, NULL),
               ('/gusu/byw/ws1/jinzhu', NULL, NULL),
               ('/gusu/pj/ws1/daru/g01', NULL, '/gusu:city');",
        )
        .expect("rows");
        let rows: Vec<(String, Option<String>, Option<String>)> = c
            .prepare("SELECT grid, sector, department FROM docs ORDER BY rowid")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let scopes = [
            Scope::Subtree {
                path: "/gusu/byw/ws1/jinzhu".into(),
            },
            Scope::Subtree {
                path: "/gusu".into(),
            },
            Scope::Sector {
                path: "/gusu/byw/ws1/jinzhu/g01/b1".into(),
            },
            Scope::Department {
                department: "/gusu:police".into(),
            },
            Scope::Department {
                department: String::new(),
            },
        ];
        for scope in &scopes {
            let (clause, param) = scope_sql(scope, "");
            let selected: Vec<i64> = c
                .prepare(&format!(
                    "SELECT rowid FROM docs WHERE {clause} ORDER BY rowid"
                ))
                .expect("prepare")
                .query_map([&param], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            let seen: Vec<i64> = rows
                .iter()
                .zip(1..)
                .filter(|((grid, sector, department), _)| {
                    scope.contains(Position {
                        grid,
                        sector: sector.as_deref(),
                        department: department.as_deref(),
                    })
                })
                .map(|(_, rowid)| rowid)
                .collect();
            assert_eq!(selected, seen, "{scope:?}");
        }
    }
}
