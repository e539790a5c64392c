//! Imports of units and households. All-or-nothing: the whole document is validated, parents
//! and codes are resolved, and only then is anything written, in one transaction; the new
//! catalog is swapped in after the commit. Households whose deepest unit changes are
//! reassigned, and counts move along their old and new chains without a full recount.

use std::collections::{BTreeMap, HashMap, HashSet};

use entity::{grid_system, household};
use geo::{BoundingRect, Coord, InteriorPoint, Rect};
use geodata::assign::{locate_batch, UnitCounts};
use geodata::validate::{parse_households, ImportFeature};
use geodata::{assign_households, codes, Index, Level, Unit, UnitId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;

use crate::catalog::{Catalog, StoredUnit, SHARED_LEVELS};
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{self, Actor, Change};
use crate::service::counts::add_along_chain;
use crate::service::history::{self, GridChange};
use crate::service::writes::{self, CountDeltas, CounterKey};
use crate::service::{off_the_runtime, systems};
use crate::state::AppState;

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// The new units' ids, in the order of the features.
    pub unit_ids: Vec<UnitId>,
    /// Households imported.
    pub households: usize,
    /// Households whose deepest unit changed.
    pub reassigned: usize,
    /// Imported households that fall in no grid (household imports only).
    pub outside_grids: Option<usize>,
    /// The grid system the import changed or counted in, as it is after the import.
    pub system: grid_system::Model,
}

/// Imports a FeatureCollection of units of one level. Grids and micro-grids go to `system`
/// (the default system when `None`); the administrative levels are shared by all systems.
///
/// # Errors
/// `INVALID_GEOMETRY`/`INVALID_INPUT` with the feature and member at fault; `CONFLICT` when a
/// code is taken; `NOT_FOUND` for an unknown system. Nothing is written then.
pub async fn import_units(
    state: &AppState,
    level: Level,
    collection: Value,
    system: Option<i64>,
    actor: &Actor,
) -> ApiResult<ImportOutcome> {
    let features = off_the_runtime(move || geodata::parse_units(&collection)).await??;
    let _writer = state.writer.lock().await;
    let catalog = state.catalog()?;
    let system = systems::resolve_system(&state.db, system).await?;
    // Grids belong to their system and count there; the shared levels count in the default.
    let (scope, counted_system) = if level.is_grid() {
        (system.id, system.id)
    } else {
        (SHARED_LEVELS, catalog.default_system)
    };
    let index = catalog.index(system.id)?;
    let parents = resolve_parents(index, level, &features)?;
    check_codes_free(index, &features)?;

    let txn = super::begin_write(state).await?;
    let (codes, counters) =
        issue_missing_codes(&txn, index, scope, level, &features, &parents).await?;
    let first_id = writes::next_unit_id(&txn).await?;
    let new_units: Vec<Unit> = features
        .into_iter()
        .zip(codes)
        .zip(&parents)
        .enumerate()
        .map(|(i, ((feature, code), parent))| Unit {
            id: first_id + i as UnitId,
            code,
            name: feature.name,
            level,
            kind: feature.kind,
            parent: parent.map(|p| p.id),
            geometry: feature.geometry,
        })
        .collect();
    let rows: Vec<(i64, &Unit, UnitCounts)> = new_units
        .iter()
        .map(|u| (scope, u, UnitCounts::default()))
        .collect();
    writes::insert_units(&txn, &rows).await?;
    writes::raise_code_counters(&txn, &counters).await?;
    let change = GridChange {
        opened: if level.is_grid() {
            new_units.iter().map(|u| (u, false)).collect()
        } else {
            Vec::new()
        },
        closed: Vec::new(),
    };
    let action = format!("importUnits {level}");
    let system = history::new_version(&txn, counted_system, &action, change).await?;

    let changed_area = envelope_of(&new_units);
    let unit_ids: Vec<UnitId> = new_units.iter().map(|u| u.id).collect();
    let mut stored = catalog.stored_units();
    stored.extend(new_units.into_iter().map(|unit| StoredUnit {
        system_id: scope,
        unit,
    }));
    let (default_system, systems) = (
        catalog.default_system,
        catalog.systems().collect::<Vec<_>>(),
    );
    let next = off_the_runtime(move || Catalog::build(default_system, systems, stored)).await?;
    let reassigned = match changed_area {
        Some(area) => reassign(&txn, &catalog, &next, counted_system, area).await?,
        None => 0,
    };
    let change = Change::new(
        "importUnits",
        format!(
            "{} {level} units imported; {reassigned} households reassigned",
            unit_ids.len()
        ),
    )
    .on_system(system.id, system.version - 1, system.version);
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    state.set_catalog(next);
    state.committed(system.clone());
    Ok(ImportOutcome {
        unit_ids,
        households: 0,
        reassigned,
        outside_grids: None,
        system,
    })
}

/// Imports a FeatureCollection of household points, assigning each to its deepest unit and
/// adding it to the counts of every unit on its chain, in every grid system.
///
/// # Errors
/// `INVALID_GEOMETRY`/`INVALID_INPUT` with the feature at fault; `CONFLICT` when a household id
/// exists already. Nothing is written then.
pub async fn import_households(
    state: &AppState,
    collection: &Value,
    actor: &Actor,
) -> ApiResult<ImportOutcome> {
    let households = parse_households(collection)?;
    let _writer = state.writer.lock().await;
    let catalog = state.catalog()?;
    check_households_new(&state.db, &households).await?;
    let txn = super::begin_write(state).await?;
    let default_index = catalog.index(catalog.default_system)?;
    let assignment = assign_households(default_index, &households);
    writes::insert_households(&txn, &households, &assignment.unit_of).await?;
    let mut deltas = CountDeltas::new();
    for system in catalog.systems() {
        let index = catalog.index(system)?;
        let is_default = system == catalog.default_system;
        let counts = if is_default {
            assignment.counts.clone()
        } else {
            assign_households(index, &households).counts
        };
        for (id, count) in counts {
            let counted = is_default || index.get(id).is_some_and(|u| u.level.is_grid());
            if counted {
                let delta = deltas.entry(id).or_default();
                delta.0 += count.households as i64;
                delta.1 += count.persons as i64;
            }
        }
    }
    writes::apply_count_deltas(&txn, &deltas).await?;
    let system = systems::resolve_system(&txn, Some(catalog.default_system)).await?;
    let change = Change::new(
        "importHouseholds",
        format!("{} households imported", households.len()),
    )
    .on_system(system.id, system.version, system.version);
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    state.tiles.forget_counts();
    Ok(ImportOutcome {
        unit_ids: Vec::new(),
        households: households.len(),
        reassigned: 0,
        outside_grids: Some(assignment.outside_grids.len()),
        system,
    })
}

/// Each feature's parent: the unit of the level above with its `parentCode`, or else the one
/// holding the feature's interior point. A city has no parent, nor has a unit while no unit of
/// the level above exists (a partial hierarchy may start at any level).
pub(crate) fn resolve_parents<'a>(
    index: &'a Index,
    level: Level,
    features: &[ImportFeature],
) -> ApiResult<Vec<Option<&'a Unit>>> {
    let Some(parent_level) = level.parent() else {
        return match features.iter().find(|f| f.parent_code.is_some()) {
            Some(f) => Err(ApiError::invalid_feature(
                f.index,
                "properties.parentCode",
                "a CITY has no parent",
            )),
            None => Ok(vec![None; features.len()]),
        };
    };
    let by_code: HashMap<&str, &Unit> = index
        .units()
        .iter()
        .filter(|u| u.level == parent_level)
        .map(|u| (u.code.as_str(), u))
        .collect();
    features
        .iter()
        .map(|feature| match &feature.parent_code {
            Some(code) => by_code.get(code.as_str()).copied().map(Some).ok_or_else(|| {
                ApiError::invalid_feature(
                    feature.index,
                    "properties.parentCode",
                    format!("no {parent_level} has code {code:?}"),
                )
            }),
            // The top of a partial hierarchy (say, districts before any city): no parent.
            None if by_code.is_empty() => Ok(None),
            None => feature
                .geometry
                .interior_point()
                .and_then(|point| index.unit_at(parent_level, point))
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid_feature(
                        feature.index,
                        "properties.parentCode",
                        format!(
                            "no {parent_level} holds this {level}; import the {parent_level} first or give parentCode"
                        ),
                    )
                }),
        })
        .collect()
}

/// Codes must be unique among the units a system sees (its grids and the shared levels).
pub(crate) fn check_codes_free(index: &Index, features: &[ImportFeature]) -> ApiResult<()> {
    let taken: HashSet<&str> = index.units().iter().map(|u| u.code.as_str()).collect();
    match features
        .iter()
        .find(|f| f.code.as_deref().is_some_and(|c| taken.contains(c)))
    {
        Some(f) => Err(ApiError::Conflict {
            message: format!(
                "feature {}: properties.code {:?} is already used by another unit",
                f.index,
                f.code.as_deref().unwrap_or_default()
            ),
            feature: Some(f.index),
        }),
        None => Ok(()),
    }
}

/// Every feature's code (given, or issued in reading order after the highest number ever
/// issued under its parent), and the counters to raise.
pub(crate) async fn issue_missing_codes(
    db: &impl ConnectionTrait,
    index: &Index,
    scope: i64,
    level: Level,
    features: &[ImportFeature],
    parents: &[Option<&Unit>],
) -> ApiResult<(Vec<String>, HashMap<CounterKey, u32>)> {
    let mut codes: Vec<Option<String>> = features.iter().map(|f| f.code.clone()).collect();
    let mut siblings: BTreeMap<UnitId, Vec<usize>> = BTreeMap::new();
    for (i, (feature, parent)) in features.iter().zip(parents).enumerate() {
        match parent {
            Some(parent) => siblings.entry(parent.id).or_default().push(i),
            None if feature.code.is_none() => {
                return Err(ApiError::invalid_feature(
                    feature.index,
                    "properties.code",
                    format!("a {level} needs a code: it has no parent to derive one from"),
                ))
            }
            None => {}
        }
    }
    let keys: Vec<CounterKey> = siblings
        .values()
        .filter_map(|members| parents[members[0]])
        .map(|parent| (scope, parent.code.clone(), level))
        .collect();
    let stored = writes::code_counters(db, &keys).await?;
    let mut counters = HashMap::new();
    for (parent_id, members) in siblings {
        let Some(parent) = parents[members[0]] else {
            continue;
        };
        let key = (scope, parent.code.clone(), level);
        let existing_children = index
            .units()
            .iter()
            .filter(|u| u.parent == Some(parent_id) && u.level == level)
            .map(|u| u.code.as_str());
        let given = members.iter().filter_map(|&i| features[i].code.as_deref());
        let highest_used = existing_children
            .chain(given)
            .filter_map(|code| writes::code_number(code, &parent.code, level))
            .max()
            .unwrap_or(0);
        let last = highest_used.max(stored.get(&key).copied().unwrap_or(0));
        let missing: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| codes[i].is_none())
            .collect();
        let shapes: Vec<_> = missing
            .iter()
            .map(|&i| features[i].geometry.clone())
            .collect();
        let (issued, last) =
            codes::issue_codes(&parent.code, level, last, &shapes).map_err(|e| {
                ApiError::Conflict {
                    message: e.to_string(),
                    feature: missing.first().map(|&i| features[i].index),
                }
            })?;
        for (i, code) in missing.into_iter().zip(issued) {
            codes[i] = Some(code);
        }
        counters.insert(key, last);
    }
    Ok((
        codes.into_iter().map(Option::unwrap_or_default).collect(),
        counters,
    ))
}

/// Moves the households in `area` whose deepest unit in `system` changed from `old` to
/// `next`, and their counts with them. In the default system the household rows are updated
/// and every level is counted; in other systems only their grids are counted.
pub(crate) async fn reassign(
    db: &impl ConnectionTrait,
    old: &Catalog,
    next: &Catalog,
    system: i64,
    area: Rect<f64>,
) -> ApiResult<usize> {
    let rows: Vec<(String, f64, f64, i32, Option<i64>)> = household::Entity::find()
        .select_only()
        .columns([
            household::Column::Id,
            household::Column::Lon,
            household::Column::Lat,
            household::Column::Persons,
            household::Column::UnitId,
        ])
        .filter(household::Column::Lon.between(area.min().x, area.max().x))
        .filter(household::Column::Lat.between(area.min().y, area.max().y))
        .into_tuple()
        .all(db)
        .await?;
    let coords: Vec<Coord<f64>> = rows.iter().map(|r| Coord { x: r.1, y: r.2 }).collect();
    let (old_index, new_index) = (old.index(system)?, next.index(system)?);
    let is_default = system == old.default_system;
    let new_deepest = ids_of(new_index, locate_batch(new_index, &coords));
    let old_deepest = if is_default {
        rows.iter().map(|r| r.4).collect()
    } else {
        ids_of(old_index, locate_batch(old_index, &coords))
    };
    let counted = |unit: &Unit| is_default || unit.level.is_grid();
    let mut deltas = CountDeltas::new();
    let mut changes = Vec::new();
    for ((row, old_unit), new_unit) in rows.iter().zip(old_deepest).zip(new_deepest) {
        if old_unit == new_unit {
            continue;
        }
        let persons = i64::from(row.3);
        add_along_chain(&mut deltas, old_index, old_unit, counted, -1, persons);
        add_along_chain(&mut deltas, new_index, new_unit, counted, 1, persons);
        changes.push((row.0.clone(), new_unit));
    }
    if is_default {
        writes::set_household_units(db, &changes).await?;
    }
    writes::apply_count_deltas(db, &deltas).await?;
    Ok(changes.len())
}

fn ids_of(index: &Index, slots: Vec<Option<geodata::index::Slot>>) -> Vec<Option<UnitId>> {
    slots
        .into_iter()
        .map(|slot| slot.map(|s| index.unit(s).id))
        .collect()
}

fn envelope_of(units: &[Unit]) -> Option<Rect<f64>> {
    geodata::measure::extent(units.iter().filter_map(|u| u.geometry.bounding_rect()))
}

/// Household ids must be new: an import adds households, it never overwrites one.
async fn check_households_new(
    db: &impl ConnectionTrait,
    households: &[geodata::Household],
) -> ApiResult<()> {
    const BATCH: usize = 500;
    for (batch_number, batch) in households.chunks(BATCH).enumerate() {
        let taken: Vec<String> = household::Entity::find()
            .select_only()
            .column(household::Column::Id)
            .filter(household::Column::Id.is_in(batch.iter().map(|h| h.id.as_str())))
            .into_tuple()
            .all(db)
            .await?;
        if let Some(position) = batch.iter().position(|h| taken.contains(&h.id)) {
            let feature = batch_number * BATCH + position;
            return Err(ApiError::Conflict {
                message: format!(
                    "feature {feature}: household {:?} already exists",
                    batch[position].id
                ),
                feature: Some(feature),
            });
        }
    }
    Ok(())
}
