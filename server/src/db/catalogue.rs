//! The category catalogue (`categories`): seeded at start, served to the apps, and handed to
//! ingest as the rules each category sets.

use super::{Db, DbError};
use crate::routes::catalogue::CategoryRow;
use haitang_sync::catalogue::SEED;
use haitang_sync::workflow::CategoryRules;
use rusqlite::params;
use std::collections::HashMap;

impl Db {
    /// Adds the built-in categories that are missing; never changes ones already there,
    /// which administrators may have edited.
    pub async fn seed_catalogue(&self) -> Result<(), DbError> {
        self.write(|c| {
            let mut stmt = c.prepare_cached(
                "INSERT INTO categories(code, parent, name_zh, name_en, kinds, handling_hours, field_resolvable) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(code) DO NOTHING",
            )?;
            // Parents first, so the foreign key holds row by row.
            let mut seed: Vec<_> = SEED.iter().collect();
            seed.sort_by_key(|cat| cat.parent.is_some());
            for cat in seed {
                let kinds = cat.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
                stmt.execute(params![
                    cat.code,
                    cat.parent,
                    cat.name_zh,
                    cat.name_en,
                    kinds,
                    cat.handling_hours,
                    cat.field_resolvable
                ])?;
            }
            Ok(())
        })
        .await
    }

    /// The active categories, classes first.
    pub async fn categories(&self) -> Result<Vec<CategoryRow>, DbError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT code, parent, name_zh, name_en, kinds, handling_hours, field_resolvable \
                 FROM categories WHERE active = 1 ORDER BY parent IS NOT NULL, code",
            )?;
            let rows = stmt.query_map([], |r| {
                let kinds: String = r.get(4)?;
                Ok(CategoryRow {
                    code: r.get(0)?,
                    parent: r.get(1)?,
                    name_zh: r.get(2)?,
                    name_en: r.get(3)?,
                    kinds: kinds
                        .split(',')
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    handling_hours: r.get(5)?,
                    field_resolvable: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// What each active category sets for the workflow, by code.
    pub async fn category_rules(&self) -> Result<HashMap<String, CategoryRules>, DbError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT code, handling_hours, field_resolvable FROM categories WHERE active = 1",
            )?;
            let rows = stmt.query_map([], |r| {
                let rules = CategoryRules {
                    handling_hours: r.get::<_, i64>(1)?.clamp(1, 24 * 365) as u32,
                    field_resolvable: r.get(2)?,
                };
                Ok((r.get::<_, String>(0)?, rules))
            })?;
            Ok(rows.collect::<Result<HashMap<_, _>, _>>()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;

    #[tokio::test]
    async fn the_seed_is_served_once_and_edits_survive_it() {
        let (_dir, db) = fixture::open().await;
        let listed = db.categories().await.expect("categories");
        assert_eq!(listed.len(), haitang_sync::catalogue::SEED.len());
        let classes = listed.iter().take_while(|c| c.parent.is_none()).count();
        assert!(
            classes > 0 && listed[classes..].iter().all(|c| c.parent.is_some()),
            "classes first"
        );
        let rules = db.category_rules().await.expect("rules");
        let seed = haitang_sync::catalogue::find("city.garbage_exposed").expect("seeded");
        assert_eq!(
            rules["city.garbage_exposed"].handling_hours,
            seed.handling_hours
        );

        // An administrator's edit and retirement are kept through the next start's seed.
        db.write(|c| {
            c.execute_batch(
                "UPDATE categories SET handling_hours = 3 WHERE code = 'city.garbage_exposed';
                 UPDATE categories SET active = 0 WHERE code = 'city.garbage_overflow';",
            )?;
            Ok(())
        })
        .await
        .expect("edit");
        db.seed_catalogue().await.expect("seed again");
        let rules = db.category_rules().await.expect("rules");
        assert_eq!(rules["city.garbage_exposed"].handling_hours, 3);
        assert!(!rules.contains_key("city.garbage_overflow"), "retired");
        assert_eq!(
            db.categories().await.expect("categories").len(),
            haitang_sync::catalogue::SEED.len() - 1
        );
    }
}
