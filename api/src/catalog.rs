//! The in-memory side of the server: every unit's polygon in a `geodata::Index`, one index per
//! grid system (the shared administrative levels plus that system's grids), swapped whole
//! after each committed change so readers never see half an import.

use std::collections::HashMap;
use std::sync::Arc;

use entity::{grid_system, unit};
use geodata::{GridKind, Index, Level, Unit, UnitId};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use crate::error::{ApiError, ApiResult};

/// The id of the pseudo-system that owns the administrative levels (city to community).
pub const SHARED_LEVELS: i64 = 0;

/// Which grid system a stored unit belongs to, and the unit.
#[derive(Debug, Clone)]
pub struct StoredUnit {
    pub system_id: i64,
    pub unit: Unit,
}

/// Point-lookup indexes for every grid system.
#[derive(Debug)]
pub struct Catalog {
    pub default_system: i64,
    indexes: HashMap<i64, Arc<Index>>,
}

impl Catalog {
    /// Reads every unit (geometry as WKB) and builds the indexes.
    pub async fn load(db: &impl ConnectionTrait) -> ApiResult<Catalog> {
        let systems = grid_system::Entity::find()
            .order_by_asc(grid_system::Column::Id)
            .all(db)
            .await?;
        let default_system = systems
            .iter()
            .find(|s| s.is_default)
            .map(|s| s.id)
            .ok_or_else(|| ApiError::NotFound("no default grid system".to_owned()))?;
        let rows = unit::Entity::find()
            .order_by_asc(unit::Column::Id)
            .all(db)
            .await?;
        let systems: Vec<i64> = systems.iter().map(|s| s.id).collect();
        crate::service::off_the_runtime(move || {
            let units = rows
                .into_iter()
                .map(stored_unit)
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(Catalog::build(default_system, systems, units))
        })
        .await?
    }

    /// Builds the indexes of `systems` from all stored units.
    pub fn build(
        default_system: i64,
        systems: impl IntoIterator<Item = i64>,
        units: Vec<StoredUnit>,
    ) -> Catalog {
        let (shared, grids): (Vec<StoredUnit>, Vec<StoredUnit>) = units
            .into_iter()
            .partition(|u| u.system_id == SHARED_LEVELS);
        let shared: Vec<Unit> = shared.into_iter().map(|u| u.unit).collect();
        let mut grids_by_system: HashMap<i64, Vec<Unit>> = HashMap::new();
        for stored in grids {
            grids_by_system
                .entry(stored.system_id)
                .or_default()
                .push(stored.unit);
        }
        let indexes = systems
            .into_iter()
            .map(|system| {
                let mut units = shared.clone();
                units.extend(grids_by_system.remove(&system).unwrap_or_default());
                (system, Arc::new(Index::new(units)))
            })
            .collect();
        Catalog {
            default_system,
            indexes,
        }
    }

    /// Every stored unit, for rebuilding after a change.
    pub fn stored_units(&self) -> Vec<StoredUnit> {
        let mut units = Vec::new();
        for (system, index) in &self.indexes {
            for unit in index.units() {
                let shared = !unit.level.is_grid();
                // The shared levels are in every index: take them from the default one only.
                if shared && *system != self.default_system {
                    continue;
                }
                units.push(StoredUnit {
                    system_id: if shared { SHARED_LEVELS } else { *system },
                    unit: unit.clone(),
                });
            }
        }
        units
    }

    /// The ids of every grid system.
    pub fn systems(&self) -> impl Iterator<Item = i64> + '_ {
        self.indexes.keys().copied()
    }

    /// The index of a grid system.
    pub fn index(&self, system: i64) -> ApiResult<&Arc<Index>> {
        self.indexes
            .get(&system)
            .ok_or_else(|| ApiError::NotFound(format!("grid system {system} does not exist")))
    }

    /// The id of the deepest unit of `system` holding a WGS84 point.
    pub fn deepest_unit(&self, system: i64, point: geo::Point<f64>) -> ApiResult<Option<UnitId>> {
        Ok(self.index(system)?.deepest(point).map(|u| u.id))
    }

    /// A unit's ancestors, nearest first, as far as the system's index knows them.
    pub fn ancestors(&self, system: i64, id: UnitId) -> Vec<UnitId> {
        let Ok(index) = self.index(system) else {
            return Vec::new();
        };
        index
            .slot(id)
            .map(|slot| {
                index
                    .chain_of_slot(slot)
                    .skip(1)
                    .map(|s| index.unit(s).id)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Decodes a stored row into the engine's unit.
pub fn stored_unit(row: unit::Model) -> ApiResult<StoredUnit> {
    let level: Level = row
        .level
        .parse()
        .map_err(|_| ApiError::Internal(format!("unit {} has level {:?}", row.id, row.level)))?;
    let kind: GridKind = row.kind.parse().unwrap_or_default();
    Ok(StoredUnit {
        system_id: row.system_id,
        unit: Unit {
            id: row.id,
            code: row.code,
            name: row.name,
            level,
            kind,
            parent: row.parent_id,
            geometry: geodata::encoding::from_wkb(&row.geometry)?,
        },
    })
}
