//! Versions and history of grid systems. Every change to a system's grids makes a new version
//! (`new_version`), recorded with when and what made it; every state a grid or micro-grid has
//! been in is kept with the versions it held for, so `rollback` can restore any earlier version
//! exactly: the same units with the same ids, codes and geometry, and households assigned by
//! them again. Codes are never rolled back: a code issued once is never issued again.

use std::collections::{HashMap, HashSet};

use entity::{grid_system, system_version, unit, unit_history};
use geo::BoundingRect;
use geodata::assign::UnitCounts;
use geodata::{GridKind, Level, Unit, UnitId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Set,
};

use crate::catalog::{Catalog, StoredUnit};
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{self, Actor, Change};
use crate::service::import::reassign;
use crate::service::{off_the_runtime, systems, writes};
use crate::state::AppState;

/// Rows per multi-row insert of history (12 columns).
const HISTORY_BATCH: usize = 500;

/// The grids and micro-grids a change touched: their new states, and the ids whose previous
/// state ends (changed or gone).
#[derive(Debug, Default)]
pub struct GridChange<'a> {
    /// New or changed units, with their lock.
    pub opened: Vec<(&'a Unit, bool)>,
    /// Units changed or gone.
    pub closed: Vec<UnitId>,
}

/// Makes the next version of a grid system: bumps it, records what made it, and closes and
/// opens the history of the units the change touched. Call inside the change's transaction.
pub async fn new_version(
    db: &impl ConnectionTrait,
    system_id: i64,
    action: &str,
    change: GridChange<'_>,
) -> ApiResult<grid_system::Model> {
    let system = systems::bump_version(db, system_id).await?;
    for batch in change.closed.chunks(HISTORY_BATCH) {
        unit_history::Entity::update_many()
            .col_expr(unit_history::Column::ValidTo, Expr::value(system.version))
            .filter(unit_history::Column::UnitId.is_in(batch.iter().copied()))
            .filter(unit_history::Column::ValidTo.is_null())
            .exec(db)
            .await?;
    }
    note_version(db, system_id, system.version, action).await?;
    record_units(db, system_id, system.version, &change.opened).await?;
    Ok(system)
}

/// Records when a version was made, and by what.
pub async fn note_version(
    db: &impl ConnectionTrait,
    system_id: i64,
    version: i32,
    action: &str,
) -> ApiResult<()> {
    system_version::Entity::insert(system_version::ActiveModel {
        system_id: Set(system_id),
        version: Set(version),
        at: Set(super::unix_now()),
        action: Set(action.to_owned()),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Records the states units hold from `version` on (a new system's first units, say).
pub async fn record_units(
    db: &impl ConnectionTrait,
    system_id: i64,
    version: i32,
    opened: &[(&Unit, bool)],
) -> ApiResult<()> {
    for batch in opened.chunks(HISTORY_BATCH) {
        let rows = batch
            .iter()
            .map(|(unit, locked)| unit_history::ActiveModel {
                system_id: Set(system_id),
                unit_id: Set(unit.id),
                valid_from: Set(version),
                valid_to: Set(None),
                code: Set(unit.code.clone()),
                name: Set(unit.name.clone()),
                level: Set(unit.level.as_str().to_owned()),
                kind: Set(unit.kind.as_str().to_owned()),
                parent_id: Set(unit.parent),
                geometry: Set(geodata::encoding::to_wkb(&unit.geometry)),
                locked: Set(*locked),
                ..Default::default()
            });
        unit_history::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// A system's versions, oldest first.
pub async fn versions(
    db: &impl ConnectionTrait,
    system_id: i64,
) -> ApiResult<Vec<system_version::Model>> {
    Ok(system_version::Entity::find()
        .filter(system_version::Column::SystemId.eq(system_id))
        .order_by_asc(system_version::Column::Version)
        .all(db)
        .await?)
}

/// Restores the grids and micro-grids of `system_id` as they were at `to_version`, as a new
/// version (history moves forward; the versions in between stay on record).
///
/// # Errors
/// `NOT_FOUND` for an unknown system; `INVALID_INPUT` for a version the system never had or
/// whose history is not on record; `CONFLICT` when `expected_version` is stale.
pub async fn rollback(
    state: &AppState,
    system_id: i64,
    to_version: i32,
    expected_version: Option<i32>,
    actor: &Actor,
) -> ApiResult<grid_system::Model> {
    let _writer = state.writer.lock().await;
    let system = systems::resolve_system(&state.db, Some(system_id)).await?;
    if let Some(expected) = expected_version.filter(|&v| v != system.version) {
        return Err(ApiError::Conflict {
            message: format!(
                "expectedVersion {expected} is stale: grid system {system_id} is at version {}",
                system.version
            ),
            feature: None,
        });
    }
    let first_recorded = check_recorded(&state.db, &system, to_version).await?;
    if to_version == system.version {
        return Ok(system);
    }
    let target = states_at(&state.db, system_id, Some(to_version)).await?;
    let current = states_at(&state.db, system_id, None).await?;
    let plan = RollbackPlan::new(&target, &current)?;
    if plan.is_empty() {
        tracing::info!(
            system_id,
            to_version,
            first_recorded,
            "rollback changes nothing"
        );
    }

    let catalog = state.catalog()?;
    let txn = super::begin_write(state).await?;
    let inserted: Vec<(i64, &Unit, UnitCounts)> = plan
        .inserted
        .iter()
        .map(|(u, _)| (system_id, u, UnitCounts::default()))
        .collect();
    writes::insert_units(&txn, &inserted).await?;
    for (unit, locked) in plan.inserted.iter().chain(&plan.restored) {
        restore_unit(&txn, unit, *locked).await?;
    }
    let next = next_catalog(&catalog, system_id, &plan).await?;
    if let Some(area) = plan.area() {
        reassign(&txn, &catalog, &next, system_id, area).await?;
    }
    writes::delete_units(&txn, plan.deleted.iter().map(|u| (u.id, u.level))).await?;
    let change = GridChange {
        opened: plan
            .inserted
            .iter()
            .chain(&plan.restored)
            .map(|(u, locked)| (u, *locked))
            .collect(),
        closed: plan
            .restored
            .iter()
            .map(|(u, _)| u.id)
            .chain(plan.deleted.iter().map(|u| u.id))
            .collect(),
    };
    let system = new_version(
        &txn,
        system_id,
        &format!("rollback to {to_version}"),
        change,
    )
    .await?;
    let change = Change::new("rollback", format!("back to version {to_version}")).on_system(
        system.id,
        system.version - 1,
        system.version,
    );
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    state.set_catalog(next);
    state.committed(system.clone());
    Ok(system)
}

/// The version must exist and its history be on record (systems created before history was
/// kept have none for their early versions). Answers the first recorded version.
async fn check_recorded(
    db: &impl ConnectionTrait,
    system: &grid_system::Model,
    to_version: i32,
) -> ApiResult<i32> {
    let invalid = |message: String| ApiError::InvalidInput {
        message,
        feature: None,
        field: Some("toVersion".to_owned()),
    };
    if !(1..=system.version).contains(&to_version) {
        return Err(invalid(format!(
            "toVersion: grid system {} has versions 1 to {}, not {to_version}",
            system.id, system.version
        )));
    }
    let first = versions(db, system.id)
        .await?
        .first()
        .map(|v| v.version)
        .unwrap_or(system.version);
    let units = unit::Entity::find()
        .filter(unit::Column::SystemId.eq(system.id))
        .count(db)
        .await?;
    let recorded = unit_history::Entity::find()
        .filter(unit_history::Column::SystemId.eq(system.id))
        .filter(unit_history::Column::ValidTo.is_null())
        .count(db)
        .await?;
    if to_version < first || units != recorded {
        return Err(invalid(format!(
            "toVersion: the history of grid system {} is on record from version {first} on",
            system.id
        )));
    }
    Ok(first)
}

/// The units of a system at a version (`None`: now), by id.
async fn states_at(
    db: &impl ConnectionTrait,
    system_id: i64,
    version: Option<i32>,
) -> ApiResult<HashMap<UnitId, unit_history::Model>> {
    let held = match version {
        Some(v) => Condition::all()
            .add(unit_history::Column::ValidFrom.lte(v))
            .add(
                Condition::any()
                    .add(unit_history::Column::ValidTo.is_null())
                    .add(unit_history::Column::ValidTo.gt(v)),
            ),
        None => Condition::all().add(unit_history::Column::ValidTo.is_null()),
    };
    let rows = unit_history::Entity::find()
        .filter(unit_history::Column::SystemId.eq(system_id))
        .filter(held)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.unit_id, r)).collect())
}

/// What a rollback writes: units to insert again, units to restore in place, units to delete.
struct RollbackPlan {
    /// Grids before micro-grids, so parents exist first.
    inserted: Vec<(Unit, bool)>,
    restored: Vec<(Unit, bool)>,
    deleted: Vec<Unit>,
}

impl RollbackPlan {
    fn new(
        target: &HashMap<UnitId, unit_history::Model>,
        current: &HashMap<UnitId, unit_history::Model>,
    ) -> ApiResult<RollbackPlan> {
        let mut plan = RollbackPlan {
            inserted: Vec::new(),
            restored: Vec::new(),
            deleted: Vec::new(),
        };
        for (id, row) in target {
            match current.get(id) {
                Some(now) if now.id == row.id => {}
                Some(_) => plan.restored.push((unit_of(row)?, row.locked)),
                None => plan.inserted.push((unit_of(row)?, row.locked)),
            }
        }
        for (id, row) in current {
            if !target.contains_key(id) {
                plan.deleted.push(unit_of(row)?);
            }
        }
        plan.inserted.sort_by_key(|(u, _)| (u.level, u.id));
        plan.deleted
            .sort_by_key(|u| (std::cmp::Reverse(u.level), u.id));
        Ok(plan)
    }

    fn is_empty(&self) -> bool {
        self.inserted.is_empty() && self.restored.is_empty() && self.deleted.is_empty()
    }

    /// Where households may change unit: everything the rollback redraws, before and after.
    fn area(&self) -> Option<geo::Rect<f64>> {
        let units = self
            .inserted
            .iter()
            .chain(&self.restored)
            .map(|(u, _)| u)
            .chain(&self.deleted);
        geodata::measure::extent(units.filter_map(|u| u.geometry.bounding_rect()))
    }
}

/// The catalog after the rollback: restored units in place of their current states.
async fn next_catalog(
    catalog: &Catalog,
    system_id: i64,
    plan: &RollbackPlan,
) -> ApiResult<Catalog> {
    let gone: HashSet<UnitId> = plan.deleted.iter().map(|u| u.id).collect();
    let restored: HashMap<UnitId, &Unit> = plan.restored.iter().map(|(u, _)| (u.id, u)).collect();
    let mut units = catalog.stored_units();
    units.retain(|s| !gone.contains(&s.unit.id));
    for stored in &mut units {
        if let Some(unit) = restored.get(&stored.unit.id) {
            stored.unit = (*unit).clone();
        }
    }
    units.extend(plan.inserted.iter().map(|(unit, _)| StoredUnit {
        system_id,
        unit: unit.clone(),
    }));
    let (default_system, systems) = (
        catalog.default_system,
        catalog.systems().collect::<Vec<_>>(),
    );
    off_the_runtime(move || Catalog::build(default_system, systems, units)).await
}

/// Writes a unit's recorded state over its row.
async fn restore_unit(db: &impl ConnectionTrait, unit: &Unit, locked: bool) -> ApiResult<()> {
    writes::set_unit_geometry(db, unit.id, &unit.geometry).await?;
    unit::Entity::update_many()
        .col_expr(unit::Column::Code, Expr::value(unit.code.clone()))
        .col_expr(unit::Column::Name, Expr::value(unit.name.clone()))
        .col_expr(unit::Column::Kind, Expr::value(unit.kind.as_str()))
        .col_expr(unit::Column::ParentId, Expr::value(unit.parent))
        .col_expr(unit::Column::Locked, Expr::value(locked))
        .filter(unit::Column::Id.eq(unit.id))
        .exec(db)
        .await?;
    Ok(())
}

fn unit_of(row: &unit_history::Model) -> ApiResult<Unit> {
    let level: Level = row
        .level
        .parse()
        .map_err(|_| ApiError::Internal(format!("history row {}: level {}", row.id, row.level)))?;
    Ok(Unit {
        id: row.unit_id,
        code: row.code.clone(),
        name: row.name.clone(),
        level,
        kind: row.kind.parse::<GridKind>().unwrap_or_default(),
        parent: row.parent_id,
        geometry: geodata::encoding::from_wkb(&row.geometry)?,
    })
}
