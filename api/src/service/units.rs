//! Reading units: one by id or code, pages filtered by level, parent, system and bounding
//! box. Pages are keyset-paginated by id, so cursors stay valid while units are added.

use entity::unit;
use geo::Rect;
use geodata::{Level, UnitId};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::catalog::{Catalog, SHARED_LEVELS};
use crate::error::{ApiError, ApiResult};

/// Which units a page lists.
#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    pub level: Option<Level>,
    pub parent_id: Option<UnitId>,
    /// The grid system whose grids are listed (resolved: never absent).
    pub system: i64,
    /// Only units whose polygon intersects this box (lon/lat).
    pub bbox: Option<Rect<f64>>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    pub total: u64,
}

impl<T> Page<T> {
    /// A page from a query that asked for one item more than `first`, to learn whether
    /// another page follows.
    pub fn from_one_more(mut items: Vec<T>, first: usize, total: u64) -> Page<T> {
        let has_next = items.len() > first;
        items.truncate(first);
        Page {
            items,
            has_next,
            total,
        }
    }
}

/// A page of units after the unit `after` (ids ascending).
pub async fn page_units(
    db: &impl ConnectionTrait,
    catalog: &Catalog,
    filter: &UnitFilter,
    after: Option<UnitId>,
    first: usize,
) -> ApiResult<Page<unit::Model>> {
    if let Some(bbox) = filter.bbox {
        let ids = ids_in_box(catalog, filter, bbox)?;
        let total = ids.len() as u64;
        let start = after.map_or(0, |after| ids.partition_point(|id| *id <= after));
        let page: Vec<UnitId> = ids.iter().skip(start).take(first + 1).copied().collect();
        let has_next = page.len() > first;
        let items = units_by_ids(db, &page[..page.len().min(first)]).await?;
        return Ok(Page {
            items,
            has_next,
            total,
        });
    }
    let condition = sql_filter(filter);
    let total = unit::Entity::find()
        .filter(condition.clone())
        .count(db)
        .await?;
    let mut query = unit::Entity::find().filter(condition);
    if let Some(after) = after {
        query = query.filter(unit::Column::Id.gt(after));
    }
    let items = query
        .order_by_asc(unit::Column::Id)
        .limit(first as u64 + 1)
        .all(db)
        .await?;
    Ok(Page::from_one_more(items, first, total))
}

/// Units by id, in the order of `ids` (missing ones skipped).
pub async fn units_by_ids(
    db: &impl ConnectionTrait,
    ids: &[UnitId],
) -> ApiResult<Vec<unit::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = unit::Entity::find()
        .filter(unit::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(rows)
}

/// A unit by id, or by code among the units `system` sees.
pub async fn find_unit(
    db: &impl ConnectionTrait,
    id: Option<UnitId>,
    code: Option<&str>,
    system: i64,
) -> ApiResult<Option<unit::Model>> {
    let mut query = unit::Entity::find();
    if let Some(id) = id {
        query = query.filter(unit::Column::Id.eq(id));
    }
    if let Some(code) = code {
        query = query
            .filter(unit::Column::Code.eq(code))
            .filter(unit::Column::SystemId.is_in([SHARED_LEVELS, system]));
    }
    Ok(query.one(db).await?)
}

fn sql_filter(filter: &UnitFilter) -> Condition {
    let mut condition = Condition::all();
    condition = match filter.level {
        Some(level) if level.is_grid() => condition
            .add(unit::Column::Level.eq(level.as_str()))
            .add(unit::Column::SystemId.eq(filter.system)),
        Some(level) => condition.add(unit::Column::Level.eq(level.as_str())),
        None => condition.add(unit::Column::SystemId.is_in([SHARED_LEVELS, filter.system])),
    };
    if let Some(parent) = filter.parent_id {
        condition = condition.add(unit::Column::ParentId.eq(parent));
    }
    condition
}

fn ids_in_box(catalog: &Catalog, filter: &UnitFilter, bbox: Rect<f64>) -> ApiResult<Vec<UnitId>> {
    let index = catalog.index(filter.system)?;
    let levels: Vec<Level> = match filter.level {
        Some(level) => vec![level],
        None => Level::ALL.to_vec(),
    };
    let mut ids: Vec<UnitId> = levels
        .into_iter()
        .flat_map(|level| index.intersecting(level, bbox))
        .map(|slot| index.unit(slot))
        .filter(|unit| filter.parent_id.is_none() || unit.parent == filter.parent_id)
        .map(|unit| unit.id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Locks a grid against redrawing, or unlocks it; a new version of its grid system.
///
/// # Errors
/// `NOT_FOUND` for an unknown unit; `INVALID_INPUT` for a unit that is not a grid or
/// micro-grid (only those are redrawn).
pub async fn set_unit_locked(
    state: &crate::state::AppState,
    id: UnitId,
    locked: bool,
    actor: &crate::service::audit::Actor,
) -> ApiResult<unit::Model> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
    let _writer = state.writer.lock().await;
    let row = find_unit(&state.db, Some(id), None, SHARED_LEVELS)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unit {id} does not exist")))?;
    if row.system_id == SHARED_LEVELS {
        return Err(ApiError::InvalidInput {
            message: format!("id: unit {id} is a {}; only grids can be locked", row.level),
            feature: None,
            field: Some("id".to_owned()),
        });
    }
    if row.locked == locked {
        return Ok(row);
    }
    let txn = super::begin_write(state).await?;
    let mut active = row.into_active_model();
    active.locked = Set(locked);
    let row = active.update(&txn).await?;
    let unit = crate::catalog::stored_unit(row.clone())?.unit;
    let change = crate::service::history::GridChange {
        opened: vec![(&unit, locked)],
        closed: vec![id],
    };
    let action = if locked {
        "setUnitLocked"
    } else {
        "setUnitLocked false"
    };
    let system = crate::service::history::new_version(&txn, row.system_id, action, change).await?;
    let details = format!(
        "grid {} {}",
        row.code,
        if locked { "locked" } else { "unlocked" }
    );
    let change = crate::service::audit::Change::new("setUnitLocked", details).on_system(
        system.id,
        system.version - 1,
        system.version,
    );
    crate::service::audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    state.committed(system);
    Ok(row)
}
