//! Many grids into one: department layers imported as grid systems of their own, their
//! quality report, merge plans (stored dry runs, previewed like rebalance plans) and their
//! apply, which creates the unified system, makes it the default and writes the crosswalk.
//!
//! A merge plan records the versions of its source systems; applying it after any of them
//! changed is a `CONFLICT`, as is a unified system name that was taken meanwhile.

use std::collections::HashMap;

use entity::{crosswalk, grid_system, plan, plan_grid, unit};
use geo::BoundingRect;
use geodata::assign::{assign_households, UnitCounts};
use geodata::merge::{
    merge_communities, merge_inputs, MergeInput, MergeOptions, MergePlan, SourceGrid,
};
use geodata::quality::{check_layer, LayerQuality};
use geodata::rebalance::Bounds;
use geodata::{codes, GridKind, Index, Level, Unit, UnitId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{Catalog, StoredUnit};
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{self, Actor, Change};
use crate::service::import::{check_codes_free, issue_missing_codes, resolve_parents};
use crate::service::rebalance::{
    encode_json, explain, grid_name, households_in_area, mean, store_plan, InfeasibleGrid,
    PlanHeader, PlanRow,
};
use crate::service::writes::{self, CounterKey};
use crate::service::{history, off_the_runtime, systems};
use crate::state::AppState;

/// The kind of plan stored by this module.
pub const MERGE: &str = "MERGE";

/// Faults smaller than this (m²) are numeric noise in quality reports.
const NOISE_M2: f64 = 1.0;

/// Imports a department's grid layer as a new grid system: polygons as its grids, each in the
/// community holding its interior point, codes issued under it where none is given. Layers
/// may overlap each other and stray over community boundaries (`gridSystemQuality` reports
/// that); invalid geometry is refused as in any import. All or nothing.
///
/// # Errors
/// `CONFLICT` for a name in use; `INVALID_GEOMETRY`/`INVALID_INPUT` with the feature at fault.
pub async fn import_grid_system(
    state: &AppState,
    name: String,
    department: Option<String>,
    collection: Value,
    actor: &Actor,
) -> ApiResult<grid_system::Model> {
    let features = off_the_runtime(move || geodata::parse_units(&collection)).await??;
    let _writer = state.writer.lock().await;
    check_name_free(&state.db, &name).await?;
    let catalog = state.catalog()?;
    let shared: Vec<Unit> = catalog
        .index(catalog.default_system)?
        .units()
        .iter()
        .filter(|u| !u.level.is_grid())
        .cloned()
        .collect();
    // The new system sees only the shared levels: its codes need not differ from other
    // systems' grids.
    let shared = off_the_runtime(move || Index::new(shared)).await?;
    let parents = resolve_parents(&shared, Level::Grid, &features)?;
    check_codes_free(&shared, &features)?;

    let txn = super::begin_write(state).await?;
    let system = grid_system::ActiveModel {
        name: Set(name),
        department: Set(department),
        version: Set(1),
        is_default: Set(false),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let (codes, counters) =
        issue_missing_codes(&txn, &shared, system.id, Level::Grid, &features, &parents).await?;
    let first_id = writes::next_unit_id(&txn).await?;
    let grids: Vec<Unit> = features
        .into_iter()
        .zip(codes)
        .zip(&parents)
        .enumerate()
        .map(|(i, ((feature, code), parent))| Unit {
            id: first_id + i as UnitId,
            code,
            name: feature.name,
            level: Level::Grid,
            kind: feature.kind,
            parent: parent.map(|p| p.id),
            geometry: feature.geometry,
        })
        .collect();
    let next = with_system(&catalog, catalog.default_system, system.id, &grids).await?;
    let counts = grid_counts(&txn, next.index(system.id)?, &grids).await?;
    let rows: Vec<(i64, &Unit, UnitCounts)> = grids
        .iter()
        .map(|g| (system.id, g, counts.get(&g.id).copied().unwrap_or_default()))
        .collect();
    writes::insert_units(&txn, &rows).await?;
    writes::raise_code_counters(&txn, &counters).await?;
    let opened: Vec<(&Unit, bool)> = grids.iter().map(|g| (g, false)).collect();
    history::note_version(&txn, system.id, system.version, "importGridSystem").await?;
    history::record_units(&txn, system.id, system.version, &opened).await?;
    let change = Change::new("importGridSystem", format!("{} grids", grids.len())).on_system(
        system.id,
        0,
        system.version,
    );
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    state.set_catalog(next);
    state.committed(system.clone());
    Ok(system)
}

/// A layer's own faults against the communities it covers: overlaps, gaps, crossings and
/// slivers (below `sliver_m2`, or holding no household).
///
/// # Errors
/// `NOT_FOUND` for an unknown system.
pub async fn layer_quality(
    state: &AppState,
    system_id: i64,
    sliver_m2: f64,
) -> ApiResult<LayerQuality> {
    let catalog = state.catalog()?;
    let index = catalog.index(system_id)?.clone();
    let grids: Vec<Unit> = index
        .units()
        .iter()
        .filter(|u| u.level == Level::Grid)
        .cloned()
        .collect();
    let households =
        match geodata::measure::extent(grids.iter().filter_map(|g| g.geometry.bounding_rect())) {
            Some(area) => households_in_area(&state.db, area).await?,
            None => Vec::new(),
        };
    off_the_runtime(move || {
        let communities: Vec<Unit> = index
            .units()
            .iter()
            .filter(|u| u.level == Level::Community)
            .cloned()
            .collect();
        check_layer(&communities, &grids, &households, sliver_m2, NOISE_M2)
    })
    .await
}

/// What a planner asks a merge for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeRequest {
    pub source_systems: Vec<i64>,
    pub name: String,
    pub grid_min: u32,
    pub grid_max: u32,
    pub sliver_m2: f64,
}

/// A source layer as the plan saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceLayer {
    pub system_id: i64,
    pub name: String,
    pub version: i32,
    pub grids: usize,
}

/// The metrics of a merge plan, stored with it as JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeSummary {
    pub sources: Vec<SourceLayer>,
    pub communities: usize,
    pub households: usize,
    pub unified_grids: usize,
    pub within_bounds: usize,
    pub atoms: usize,
    pub slivers_dissolved: usize,
    pub source_boundary_m: f64,
    pub kept_boundary_m: f64,
    pub min_households: u32,
    pub mean_households: f64,
    pub max_households: u32,
    pub mean_polsby_popper: f64,
    pub infeasible: Vec<InfeasibleGrid>,
}

/// A stored merge plan with its decoded request and summary.
#[derive(Debug, Clone)]
pub struct StoredMergePlan {
    pub row: plan::Model,
    pub request: MergeRequest,
    pub summary: MergeSummary,
}

/// Plans the merge of `source_systems` into a new system called `name` and stores the plan.
/// Nothing live changes. `progress(done, total)` is called as communities are merged.
///
/// # Errors
/// `INVALID_INPUT` for no sources, a source named twice, or bounds that make no sense;
/// `NOT_FOUND` for an unknown source; `CONFLICT` for a name in use.
pub async fn plan_merge(
    state: &AppState,
    request: MergeRequest,
    progress: impl Fn(usize, usize) + Send + Sync + 'static,
) -> ApiResult<StoredMergePlan> {
    let mut sorted = request.source_systems.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if request.source_systems.is_empty() || sorted.len() != request.source_systems.len() {
        return Err(ApiError::InvalidInput {
            message: "sourceSystems: name one or more grid systems, each once".to_owned(),
            feature: None,
            field: Some("sourceSystems".to_owned()),
        });
    }
    check_name_free(&state.db, &request.name).await?;
    let catalog = state.catalog()?;
    let mut sources = Vec::new();
    for &id in &request.source_systems {
        let system = systems::resolve_system(&state.db, Some(id)).await?;
        let index = catalog.index(id)?;
        let grids: Vec<SourceGrid> = index
            .units()
            .iter()
            .filter(|u| u.level == Level::Grid)
            .map(|u| SourceGrid {
                system_id: id,
                id: u.id,
                code: u.code.clone(),
                geometry: u.geometry.clone(),
            })
            .collect();
        sources.push((
            SourceLayer {
                system_id: id,
                name: system.name,
                version: system.version,
                grids: grids.len(),
            },
            grids,
        ));
    }
    let area = geodata::measure::extent(
        sources
            .iter()
            .flat_map(|(_, grids)| grids)
            .filter_map(|g| g.geometry.bounding_rect()),
    );
    let households = match area {
        Some(area) => households_in_area(&state.db, area).await?,
        None => Vec::new(),
    };
    let index = catalog.index(catalog.default_system)?.clone();
    let options = MergeOptions {
        grid: Bounds {
            min: request.grid_min,
            max: request.grid_max,
        },
        sliver_m2: request.sliver_m2,
    };
    let layers: Vec<SourceLayer> = sources.iter().map(|(layer, _)| layer.clone()).collect();
    let grids: Vec<SourceGrid> = sources.into_iter().flat_map(|(_, grids)| grids).collect();
    let (inputs, plans) = off_the_runtime(move || {
        let inputs = merge_inputs(&index, &grids, &households);
        let total = inputs.len();
        let plans = merge_communities(&inputs, &options, &|done| progress(done, total))?;
        Ok::<_, ApiError>((inputs, plans))
    })
    .await??;
    let index = catalog.index(catalog.default_system)?;
    let (rows, summary) = describe(index, &inputs, plans, layers, &options);
    let header = PlanHeader {
        kind: MERGE,
        system_id: 0,
        scope_id: 0,
        base_version: 0,
        options: encode_json(&request)?,
        summary: encode_json(&summary)?,
        removed_units: "[]".to_owned(),
    };
    let row = store_plan(&state.db, header, rows).await?;
    Ok(StoredMergePlan {
        row,
        request,
        summary,
    })
}

/// A stored merge plan.
///
/// # Errors
/// `NOT_FOUND` when there is none with this id.
pub async fn find_merge_plan(db: &impl ConnectionTrait, id: i64) -> ApiResult<StoredMergePlan> {
    let row = plan::Entity::find_by_id(id)
        .filter(plan::Column::Kind.eq(MERGE))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("merge plan {id} does not exist")))?;
    let broken = |e: serde_json::Error| ApiError::Internal(format!("plan {}: {e}", row.id));
    Ok(StoredMergePlan {
        request: serde_json::from_str(&row.options).map_err(broken)?,
        summary: serde_json::from_str(&row.summary).map_err(broken)?,
        row,
    })
}

/// Applies a stored merge plan: creates the unified grid system with the plan's grids and
/// codes, makes it the default, points every household at its deepest unit there, and writes
/// the crosswalk. The sources stay as they are, and queryable.
///
/// # Errors
/// `NOT_FOUND` for an unknown plan; `CONFLICT` when it was applied already, a source changed
/// since it was drawn, or its name was taken meanwhile.
pub async fn apply_merge_plan(
    state: &AppState,
    plan_id: i64,
    actor: &Actor,
) -> ApiResult<grid_system::Model> {
    let _writer = state.writer.lock().await;
    let stored = find_merge_plan(&state.db, plan_id).await?;
    check_mergeable(&state.db, &stored).await?;
    let rows = crate::service::rebalance::plan_grids(&state.db, plan_id).await?;
    let catalog = state.catalog()?;

    let txn = super::begin_write(state).await?;
    grid_system::Entity::update_many()
        .col_expr(grid_system::Column::IsDefault, Expr::value(false))
        .exec(&txn)
        .await?;
    let system = grid_system::ActiveModel {
        name: Set(stored.request.name.clone()),
        department: Set(None),
        version: Set(1),
        is_default: Set(true),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let first_id = writes::next_unit_id(&txn).await?;
    let grids = unified_grids(&rows, first_id)?;
    let next = with_system(&catalog, system.id, system.id, &grids).await?;
    let households = all_households(&txn).await?;
    let new_index = next.index(system.id)?.clone();
    let sources: Vec<SourceGrid> = stored
        .request
        .source_systems
        .iter()
        .filter_map(|&id| catalog.index(id).ok())
        .flat_map(|index| {
            index
                .units()
                .iter()
                .filter(|u| u.level == Level::Grid)
                .map(|u| SourceGrid {
                    system_id: 0,
                    id: u.id,
                    code: u.code.clone(),
                    geometry: u.geometry.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let geometries: Vec<_> = grids.iter().map(|g| g.geometry.clone()).collect();
    let (assignment, shares, points) = off_the_runtime(move || {
        let points: Vec<geodata::Household> = households.iter().map(|h| h.0.clone()).collect();
        let assignment = assign_households(&new_index, &points);
        let shares = geodata::merge::crosswalk(&sources, &geometries, &points);
        (assignment, shares, households)
    })
    .await?;
    let counts: HashMap<UnitId, UnitCounts> = assignment.counts.iter().copied().collect();
    let unit_rows: Vec<(i64, &Unit, UnitCounts)> = grids
        .iter()
        .map(|g| (system.id, g, counts.get(&g.id).copied().unwrap_or_default()))
        .collect();
    writes::insert_units(&txn, &unit_rows).await?;
    let moved: Vec<(String, Option<UnitId>)> = points
        .into_iter()
        .zip(assignment.unit_of.iter().copied())
        .filter(|((_, current), new)| current != new)
        .map(|((household, _), new)| (household.id, new))
        .collect();
    writes::set_household_units(&txn, &moved).await?;
    let crosswalk_rows: Vec<crosswalk::ActiveModel> = shares
        .iter()
        .filter_map(|share| {
            let to = grids.get(share.to)?;
            Some(crosswalk::ActiveModel {
                unified_system_id: Set(system.id),
                from_unit_id: Set(share.from),
                to_unit_id: Set(to.id),
                area_share: Set(share.area_share),
                household_share: Set(share.household_share),
                ..Default::default()
            })
        })
        .collect();
    writes::insert_crosswalk(&txn, crosswalk_rows).await?;
    writes::raise_code_counters(&txn, &counters_of(&catalog, system.id, &grids)?).await?;
    let opened: Vec<(&Unit, bool)> = grids.iter().map(|g| (g, false)).collect();
    let action = format!("applyMergePlan {plan_id}");
    history::note_version(&txn, system.id, system.version, &action).await?;
    history::record_units(&txn, system.id, system.version, &opened).await?;
    plan::Entity::update_many()
        .col_expr(plan::Column::AppliedVersion, Expr::value(system.version))
        .col_expr(plan::Column::SystemId, Expr::value(system.id))
        .filter(plan::Column::Id.eq(plan_id))
        .exec(&txn)
        .await?;
    let change = Change::new(
        "applyMergePlan",
        format!("plan {plan_id}: {} unified grids", grids.len()),
    )
    .on_system(system.id, 0, system.version);
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    state.set_catalog(next);
    state.committed(system.clone());
    Ok(system)
}

/// A crosswalk row as integrators download it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrosswalkRow {
    pub from_system: String,
    pub from_code: String,
    pub to_code: String,
    pub area_share: f64,
    pub household_share: f64,
}

/// The crosswalk entries of a grid, as a source (where it went) or as a unified grid (where it
/// came from).
pub async fn crosswalk_of(
    db: &impl ConnectionTrait,
    grid_id: UnitId,
) -> ApiResult<Vec<crosswalk::Model>> {
    Ok(crosswalk::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(crosswalk::Column::FromUnitId.eq(grid_id))
                .add(crosswalk::Column::ToUnitId.eq(grid_id)),
        )
        .order_by_asc(crosswalk::Column::Id)
        .all(db)
        .await?)
}

/// The whole crosswalk of a unified system, by source system and code.
///
/// # Errors
/// `NOT_FOUND` for an unknown system.
pub async fn crosswalk_rows(
    db: &impl ConnectionTrait,
    system_id: i64,
) -> ApiResult<Vec<CrosswalkRow>> {
    systems::resolve_system(db, Some(system_id)).await?;
    let entries = crosswalk::Entity::find()
        .filter(crosswalk::Column::UnifiedSystemId.eq(system_id))
        .order_by_asc(crosswalk::Column::Id)
        .all(db)
        .await?;
    let mut ids: Vec<i64> = entries
        .iter()
        .flat_map(|e| [e.from_unit_id, e.to_unit_id])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut units: HashMap<i64, (i64, String)> = HashMap::new();
    for batch in ids.chunks(500) {
        let found: Vec<(i64, i64, String)> = unit::Entity::find()
            .select_only()
            .columns([unit::Column::Id, unit::Column::SystemId, unit::Column::Code])
            .filter(unit::Column::Id.is_in(batch.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        units.extend(
            found
                .into_iter()
                .map(|(id, system, code)| (id, (system, code))),
        );
    }
    let names: HashMap<i64, String> = systems::list_systems(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let (from_system, from_code) = units.get(&e.from_unit_id)?;
            let (_, to_code) = units.get(&e.to_unit_id)?;
            Some(CrosswalkRow {
                from_system: names.get(from_system).cloned().unwrap_or_default(),
                from_code: from_code.clone(),
                to_code: to_code.clone(),
                area_share: e.area_share,
                household_share: e.household_share,
            })
        })
        .collect())
}

async fn check_name_free(db: &impl ConnectionTrait, name: &str) -> ApiResult<()> {
    if name.trim().is_empty() {
        return Err(ApiError::InvalidInput {
            message: "name: a grid system needs a name".to_owned(),
            feature: None,
            field: Some("name".to_owned()),
        });
    }
    let taken = grid_system::Entity::find()
        .filter(grid_system::Column::Name.eq(name))
        .one(db)
        .await?;
    match taken {
        Some(system) => Err(ApiError::Conflict {
            message: format!("name: grid system {} is already called {name:?}", system.id),
            feature: None,
        }),
        None => Ok(()),
    }
}

/// A plan applies only once, onto sources as they were, under a name still free.
async fn check_mergeable(db: &impl ConnectionTrait, stored: &StoredMergePlan) -> ApiResult<()> {
    let conflict = |message: String| ApiError::Conflict {
        message,
        feature: None,
    };
    if stored.row.applied_version.is_some() {
        return Err(conflict(format!(
            "merge plan {} was applied already: it made grid system {}",
            stored.row.id, stored.row.system_id
        )));
    }
    for source in &stored.summary.sources {
        let now = systems::resolve_system(db, Some(source.system_id)).await?;
        if now.version != source.version {
            return Err(conflict(format!(
                "grid system {} ({}) changed since the plan was drawn (version {} then, {} now): plan again",
                source.system_id, source.name, source.version, now.version
            )));
        }
    }
    check_name_free(db, &stored.request.name).await
}

/// The catalog with `grids` added as grid system `system` (new), and `default_system` as the
/// default.
async fn with_system(
    catalog: &Catalog,
    default_system: i64,
    system: i64,
    grids: &[Unit],
) -> ApiResult<Catalog> {
    let mut units = catalog.stored_units();
    units.extend(grids.iter().map(|g| StoredUnit {
        system_id: system,
        unit: g.clone(),
    }));
    let mut systems: Vec<i64> = catalog.systems().collect();
    systems.push(system);
    off_the_runtime(move || Catalog::build(default_system, systems, units)).await
}

/// Households and persons per grid of a new layer.
async fn grid_counts(
    db: &impl ConnectionTrait,
    index: &Index,
    grids: &[Unit],
) -> ApiResult<HashMap<UnitId, UnitCounts>> {
    let Some(area) =
        geodata::measure::extent(grids.iter().filter_map(|g| g.geometry.bounding_rect()))
    else {
        return Ok(HashMap::new());
    };
    let households = households_in_area(db, area).await?;
    Ok(assign_households(index, &households)
        .counts
        .into_iter()
        .filter(|(id, _)| index.get(*id).is_some_and(|u| u.level.is_grid()))
        .collect())
}

/// Every household with the unit it points at now.
async fn all_households(
    db: &impl ConnectionTrait,
) -> ApiResult<Vec<(geodata::Household, Option<UnitId>)>> {
    // id, lon, lat, persons, building, unit.
    type Row = (String, f64, f64, i32, Option<String>, Option<i64>);
    let rows: Vec<Row> = entity::household::Entity::find()
        .select_only()
        .columns([
            entity::household::Column::Id,
            entity::household::Column::Lon,
            entity::household::Column::Lat,
            entity::household::Column::Persons,
            entity::household::Column::Building,
            entity::household::Column::UnitId,
        ])
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, lon, lat, persons, building, unit)| {
            (
                geodata::Household {
                    id,
                    point: geo::Point::new(lon, lat),
                    persons: persons.max(0) as u32,
                    building,
                },
                unit,
            )
        })
        .collect())
}

/// The plan's rows (codes issued in reading order under each community) and its summary.
fn describe(
    index: &Index,
    inputs: &[MergeInput],
    plans: Vec<MergePlan>,
    sources: Vec<SourceLayer>,
    options: &MergeOptions,
) -> (Vec<plan_grid::ActiveModel>, MergeSummary) {
    let mut summary = MergeSummary {
        sources,
        communities: inputs.len(),
        ..MergeSummary::default()
    };
    let mut rows = Vec::new();
    let mut counts = Vec::new();
    let mut polsby_popper = Vec::new();
    for (input, plan) in inputs.iter().zip(plans) {
        summary.households += input.households.len();
        summary.atoms += plan.atoms;
        summary.slivers_dissolved += plan.slivers_dissolved;
        summary.source_boundary_m += plan.source_boundary_m;
        summary.kept_boundary_m += plan.kept_boundary_m;
        let Some(community) = index.get(input.community_id) else {
            continue;
        };
        let shapes: Vec<_> = plan.grids.iter().map(|g| g.geometry.clone()).collect();
        let codes = codes::issue_codes(&community.code, Level::Grid, 0, &shapes)
            .map(|(codes, _)| codes)
            .unwrap_or_default();
        for (grid, code) in plan.grids.iter().zip(codes) {
            let households = grid.households.len();
            counts.push(households as u32);
            polsby_popper.push(grid.polsby_popper);
            let kind = match grid.infeasible {
                Some(geodata::rebalance::Infeasibility::BuildingOverMax) => GridKind::Dedicated,
                _ => GridKind::General,
            };
            let name = grid_name(&community.name, &code, &community.code, kind);
            if let Some(reason) = grid.infeasible {
                summary.infeasible.push(InfeasibleGrid {
                    unit_code: code.clone(),
                    code: reason.as_str().to_owned(),
                    reason: explain(
                        reason,
                        households as u32,
                        (&community.code, input.households.len() as u32),
                        options.grid,
                    ),
                    households: households as u32,
                });
            }
            let row = PlanRow {
                position: rows.len() as i32,
                level: Level::Grid,
                parent_position: None,
                community_id: input.community_id,
                unit_id: None,
                status: "NEW",
                code: &code,
                name: &name,
                kind,
                geometry: &grid.geometry,
                households,
                persons: grid.persons,
                polsby_popper: grid.polsby_popper,
                infeasible: grid.infeasible,
            };
            rows.push(row.model());
        }
    }
    summary.unified_grids = counts.len();
    summary.within_bounds = counts.iter().filter(|&&n| options.grid.holds(n)).count();
    summary.min_households = counts.iter().copied().min().unwrap_or(0);
    summary.max_households = counts.iter().copied().max().unwrap_or(0);
    summary.mean_households = mean(counts.iter().map(|&n| f64::from(n)));
    summary.mean_polsby_popper = mean(polsby_popper.into_iter());
    (rows, summary)
}

/// The unified grids of a plan's rows, with ids from `first_id` on.
fn unified_grids(rows: &[plan_grid::Model], first_id: UnitId) -> ApiResult<Vec<Unit>> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            Ok(Unit {
                id: first_id + i as UnitId,
                code: row.code.clone(),
                name: row.name.clone(),
                level: Level::Grid,
                kind: row.kind.parse().unwrap_or_default(),
                parent: Some(row.community_id),
                geometry: geodata::encoding::from_wkb(&row.geometry)?,
            })
        })
        .collect()
}

/// The code counters the unified grids raise.
fn counters_of(
    catalog: &Catalog,
    system: i64,
    grids: &[Unit],
) -> ApiResult<HashMap<CounterKey, u32>> {
    let index = catalog.index(catalog.default_system)?;
    let mut counters: HashMap<CounterKey, u32> = HashMap::new();
    for grid in grids {
        let Some(parent) = grid.parent.and_then(|p| index.get(p)) else {
            continue;
        };
        if let Some(number) = writes::code_number(&grid.code, &parent.code, Level::Grid) {
            let last = counters
                .entry((system, parent.code.clone(), Level::Grid))
                .or_default();
            *last = (*last).max(number);
        }
    }
    Ok(counters)
}
