//! Reading households: every household inside a unit of any level, paged by id.

use entity::household;
use geodata::UnitId;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};

use crate::error::ApiResult;
use crate::service::units::Page;

/// A page of the households inside `unit` (its own and those of every unit below it), after
/// the household id `after`. `total` is the unit's stored household count.
pub async fn page_households(
    db: &impl ConnectionTrait,
    unit: UnitId,
    total: u64,
    after: Option<&str>,
    first: usize,
) -> ApiResult<Page<household::Model>> {
    let backend = db.get_database_backend();
    let placeholder = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    // Households point at their deepest unit; the subtree of `unit` finds them at any level.
    let sql = format!(
        "WITH RECURSIVE subtree(id) AS ( \
             SELECT id FROM unit WHERE id = {p1} \
             UNION ALL SELECT unit.id FROM unit JOIN subtree ON unit.parent_id = subtree.id) \
         SELECT id, lon, lat, persons, building, unit_id FROM household \
         WHERE unit_id IN (SELECT id FROM subtree) AND id > {p2} ORDER BY id LIMIT {p3}",
        p1 = placeholder(1),
        p2 = placeholder(2),
        p3 = placeholder(3),
    );
    let statement = Statement::from_sql_and_values(
        backend,
        sql,
        [
            unit.into(),
            after.unwrap_or_default().into(),
            (first as i64 + 1).into(),
        ],
    );
    let mut items = household::Entity::find()
        .from_raw_sql(statement)
        .all(db)
        .await?;
    let has_next = items.len() > first;
    items.truncate(first);
    Ok(Page {
        items,
        has_next,
        total,
    })
}
