//! Households: paging through every household inside a unit of any level, and single changes
//! (add, move, remove) that move counts along the household's chains without a recount.

use entity::household;
use geo::Point;
use geodata::UnitId;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, ModelTrait, Set,
    Statement,
};

use crate::error::{ApiError, ApiResult};
use crate::service::audit::{self, Actor, Change};
use crate::service::counts::count_household;
use crate::service::units::Page;
use crate::service::writes::{self, CountDeltas};
use crate::service::{checked_point, systems};
use crate::state::AppState;

/// A household to add.
#[derive(Debug, Clone)]
pub struct NewHousehold {
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    pub persons: u32,
    pub building: Option<String>,
}

/// Adds one household, assigned to its deepest unit and counted along its chains.
///
/// # Errors
/// `INVALID_INPUT` for a bad position or id, `CONFLICT` when the id exists.
pub async fn add_household(
    state: &AppState,
    new: NewHousehold,
    actor: &Actor,
) -> ApiResult<household::Model> {
    let point = checked_point(new.lon, new.lat)?;
    if new.id.trim().is_empty() {
        return Err(ApiError::invalid("id: a household needs a non-empty id"));
    }
    // PostgreSQL cannot store U+0000 in text.
    let with_nul = [("id", Some(&new.id)), ("building", new.building.as_ref())]
        .into_iter()
        .find(|(_, text)| text.is_some_and(|t| t.contains('\0')));
    if let Some((field, _)) = with_nul {
        return Err(ApiError::InvalidInput {
            message: format!("{field}: a NUL character (U+0000) cannot be stored"),
            feature: None,
            field: Some(field.to_owned()),
        });
    }
    let _writer = state.writer.lock().await;
    let catalog = state.catalog()?;
    if household::Entity::find_by_id(new.id.clone())
        .one(&state.db)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict {
            message: format!("household {:?} already exists", new.id),
            feature: None,
        });
    }
    let unit = catalog.deepest_unit(catalog.default_system, point)?;
    let mut deltas = CountDeltas::new();
    count_household(
        &mut deltas,
        &catalog,
        point,
        unit,
        i64::from(new.persons),
        1,
    );
    let txn = super::begin_write(state).await?;
    let row = household::ActiveModel {
        id: Set(new.id),
        lon: Set(new.lon),
        lat: Set(new.lat),
        persons: Set(new.persons as i32),
        building: Set(new.building),
        unit_id: Set(unit),
    }
    .insert(&txn)
    .await?;
    writes::apply_count_deltas(&txn, &deltas).await?;
    let details = format!("household {:?} added", row.id);
    audit_household(&txn, &catalog, actor, "addHousehold", details).await?;
    txn.commit().await?;
    state.tiles.forget_counts();
    Ok(row)
}

/// Moves one household to a new position: its old chains lose it, its new chains gain it.
///
/// # Errors
/// `NOT_FOUND` for an unknown id, `INVALID_INPUT` for a bad position.
pub async fn move_household(
    state: &AppState,
    id: &str,
    lon: f64,
    lat: f64,
    actor: &Actor,
) -> ApiResult<household::Model> {
    let point = checked_point(lon, lat)?;
    let _writer = state.writer.lock().await;
    let catalog = state.catalog()?;
    let row = find(state, id).await?;
    let persons = i64::from(row.persons);
    let unit = catalog.deepest_unit(catalog.default_system, point)?;
    let mut deltas = CountDeltas::new();
    count_household(
        &mut deltas,
        &catalog,
        Point::new(row.lon, row.lat),
        row.unit_id,
        persons,
        -1,
    );
    count_household(&mut deltas, &catalog, point, unit, persons, 1);
    let txn = super::begin_write(state).await?;
    let mut active = row.into_active_model();
    active.lon = Set(lon);
    active.lat = Set(lat);
    active.unit_id = Set(unit);
    let row = active.update(&txn).await?;
    writes::apply_count_deltas(&txn, &deltas).await?;
    let details = format!("household {:?} moved", row.id);
    audit_household(&txn, &catalog, actor, "moveHousehold", details).await?;
    txn.commit().await?;
    state.tiles.forget_counts();
    Ok(row)
}

/// Removes one household and uncounts it; returns it as it was.
///
/// # Errors
/// `NOT_FOUND` for an unknown id.
pub async fn remove_household(
    state: &AppState,
    id: &str,
    actor: &Actor,
) -> ApiResult<household::Model> {
    let _writer = state.writer.lock().await;
    let catalog = state.catalog()?;
    let row = find(state, id).await?;
    let mut deltas = CountDeltas::new();
    let point = Point::new(row.lon, row.lat);
    count_household(
        &mut deltas,
        &catalog,
        point,
        row.unit_id,
        i64::from(row.persons),
        -1,
    );
    let txn = super::begin_write(state).await?;
    row.clone().delete(&txn).await?;
    writes::apply_count_deltas(&txn, &deltas).await?;
    let details = format!("household {:?} removed", row.id);
    audit_household(&txn, &catalog, actor, "removeHousehold", details).await?;
    txn.commit().await?;
    state.tiles.forget_counts();
    Ok(row)
}

/// Records a household change against the default grid system, whose version households do
/// not change.
async fn audit_household(
    txn: &impl ConnectionTrait,
    catalog: &crate::catalog::Catalog,
    actor: &Actor,
    action: &'static str,
    details: String,
) -> ApiResult<()> {
    let system = systems::resolve_system(txn, Some(catalog.default_system)).await?;
    let change = Change::new(action, details).on_system(system.id, system.version, system.version);
    audit::record(txn, actor, change).await
}

async fn find(state: &AppState, id: &str) -> ApiResult<household::Model> {
    household::Entity::find_by_id(id.to_owned())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("household {id:?} does not exist")))
}

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
    let items = household::Entity::find()
        .from_raw_sql(statement)
        .all(db)
        .await?;
    Ok(Page::from_one_more(items, first, total))
}
