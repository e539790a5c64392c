//! Rebalance plans: gather a scope's communities, grids and households, let
//! `geodata::rebalance` redraw them, store the result as a plan (a dry run: nothing live
//! changes), and apply a stored plan atomically when its system has not moved since.
//!
//! A plan records new grids with the codes they will be issued, so the preview shows what the
//! apply writes. Applying needs the system's version unchanged since the plan was drawn (and
//! equal to the caller's `expectedVersion`); anything else is a `CONFLICT` with nothing written.

use std::collections::{BTreeMap, HashMap, HashSet};

use entity::{grid_system, household, plan, plan_grid, unit};
use geo::{BoundingRect, Coord, Rect};
use geodata::assign::{locate_batch, UnitCounts};
use geodata::rebalance::{
    plan_communities, Bounds, CommunityInput, CommunityPlan, ExistingGrid, ExistingMicroGrid,
    GridStatus, Options,
};
use geodata::{codes, GridKind, Household, Index, Level, Unit, UnitId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, StoredUnit};
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{self, Actor, Change};
use crate::service::history::{self, GridChange};
use crate::service::import::reassign;
use crate::service::writes::{self, CounterKey};
use crate::service::{off_the_runtime, systems};
use crate::state::AppState;

/// The kind of plan stored by this module.
pub const REBALANCE: &str = "REBALANCE";

/// What a planner asks for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebalanceRequest {
    pub grid_min: u32,
    pub grid_max: u32,
    pub micro_grids: bool,
    pub micro_min: u32,
    pub micro_max: u32,
}

impl Default for RebalanceRequest {
    fn default() -> Self {
        RebalanceRequest {
            grid_min: Bounds::GRID.min,
            grid_max: Bounds::GRID.max,
            micro_grids: false,
            micro_min: Bounds::MICRO_GRID.min,
            micro_max: Bounds::MICRO_GRID.max,
        }
    }
}

impl RebalanceRequest {
    /// The engine's options.
    pub fn options(&self) -> Options {
        Options {
            grid: Bounds {
                min: self.grid_min,
                max: self.grid_max,
            },
            micro_grid: self.micro_grids.then_some(Bounds {
                min: self.micro_min,
                max: self.micro_max,
            }),
        }
    }
}

/// A grid the planner should look at: why it is out of bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InfeasibleGrid {
    /// The planned grid's code.
    pub unit_code: String,
    /// `UNDER_MIN_INFEASIBLE`, `BUILDING_OVER_MAX` or `NO_FEASIBLE_SPLIT`.
    pub code: String,
    /// In words, with the numbers.
    pub reason: String,
    pub households: u32,
}

/// The metrics of a plan, stored with it as JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebalanceSummary {
    pub communities: usize,
    pub households: usize,
    pub grids_before: usize,
    pub grids_after: usize,
    pub within_bounds_before: usize,
    pub within_bounds_after: usize,
    pub grids_kept: usize,
    pub grids_changed: usize,
    pub grids_new: usize,
    pub grids_removed: usize,
    pub households_moved: usize,
    pub min_households: u32,
    pub mean_households: f64,
    pub max_households: u32,
    pub mean_polsby_popper: f64,
    pub worst_polsby_popper: f64,
    pub micro_grids_before: usize,
    /// Micro-grids once the plan is applied: those kept, and those drawn anew.
    pub micro_grids_after: usize,
    /// Existing micro-grids the plan retires: those of removed grids, and of changed grids
    /// whose micro-grids were not planned anew.
    pub micro_grids_retired: usize,
    pub infeasible: Vec<InfeasibleGrid>,
}

/// A stored plan with its decoded options and summary.
#[derive(Debug, Clone)]
pub struct StoredPlan {
    pub row: plan::Model,
    pub request: RebalanceRequest,
    pub summary: RebalanceSummary,
}

impl StoredPlan {
    fn decode(row: plan::Model) -> ApiResult<StoredPlan> {
        let broken = |e: serde_json::Error| ApiError::Internal(format!("plan {}: {e}", row.id));
        Ok(StoredPlan {
            request: serde_json::from_str(&row.options).map_err(broken)?,
            summary: serde_json::from_str(&row.summary).map_err(broken)?,
            row,
        })
    }
}

/// Draws a plan for every community under `scope_id` (a city, district, street or community)
/// in `system` (the default when `None`) and stores it. Nothing live changes.
/// `progress(done, total)` is called as communities are planned.
///
/// # Errors
/// `NOT_FOUND` for an unknown scope or system; `INVALID_INPUT` for a scope below community
/// level or bounds that make no sense.
pub async fn plan_rebalance(
    state: &AppState,
    scope_id: UnitId,
    system: Option<i64>,
    request: RebalanceRequest,
    progress: impl Fn(usize, usize) + Send + Sync + 'static,
) -> ApiResult<StoredPlan> {
    let catalog = state.catalog()?;
    let system = systems::resolve_system(&state.db, system).await?;
    let index = catalog.index(system.id)?.clone();
    let scope = index
        .get(scope_id)
        .ok_or_else(|| ApiError::NotFound(format!("unit {scope_id} does not exist")))?
        .clone();
    if scope.level.is_grid() {
        return Err(ApiError::InvalidInput {
            message: format!(
                "scopeId: unit {scope_id} is a {}; a rebalance covers a community or a larger area",
                scope.level
            ),
            feature: None,
            field: Some("scopeId".to_owned()),
        });
    }
    let locked = locked_grids(&state.db, system.id).await?;
    let households = households_within(&state.db, &scope).await?;
    let counters = grid_counters(&state.db, &index, system.id, &scope).await?;
    let options = request.options();
    let system_id = system.id;
    let drawn = off_the_runtime(move || {
        let inputs = community_inputs(&index, &scope, &locked, households);
        let total = inputs.len();
        let plans = plan_communities(&inputs, &options, &|done| progress(done, total))?;
        Ok::<_, ApiError>(describe(
            &index, system_id, &inputs, plans, &counters, &options,
        ))
    })
    .await??;
    save_plan(
        &state.db,
        system.id,
        scope_id,
        system.version,
        request,
        drawn,
    )
    .await
}

/// A stored plan.
///
/// # Errors
/// `NOT_FOUND` when there is none with this id.
pub async fn find_plan(db: &impl ConnectionTrait, id: i64) -> ApiResult<StoredPlan> {
    let row = plan::Entity::find_by_id(id)
        .filter(plan::Column::Kind.eq(REBALANCE))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("rebalance plan {id} does not exist")))?;
    StoredPlan::decode(row)
}

/// A plan's grids and micro-grids, in plan order.
pub async fn plan_grids(
    db: &impl ConnectionTrait,
    plan_id: i64,
) -> ApiResult<Vec<plan_grid::Model>> {
    Ok(plan_grid::Entity::find()
        .filter(plan_grid::Column::PlanId.eq(plan_id))
        .order_by_asc(plan_grid::Column::Position)
        .all(db)
        .await?)
}

/// One page of a plan's grids (positions after `after`), micro-grids too when `levels` says.
pub async fn page_plan_grids(
    db: &impl ConnectionTrait,
    plan_id: i64,
    level: Option<Level>,
    after: Option<i64>,
    first: usize,
) -> ApiResult<crate::service::units::Page<plan_grid::Model>> {
    use sea_orm::PaginatorTrait;
    let mut query = plan_grid::Entity::find().filter(plan_grid::Column::PlanId.eq(plan_id));
    if let Some(level) = level {
        query = query.filter(plan_grid::Column::Level.eq(level.as_str()));
    }
    let total = query.clone().count(db).await?;
    if let Some(after) = after {
        query = query.filter(plan_grid::Column::Position.gt(after));
    }
    let items = query
        .order_by_asc(plan_grid::Column::Position)
        .limit(first as u64 + 1)
        .all(db)
        .await?;
    Ok(crate::service::units::Page::from_one_more(
        items, first, total,
    ))
}

/// Applies a stored plan: retires the grids it removes, redraws the changed ones, inserts the
/// new ones with the codes the plan showed, reassigns the households and their counts, bumps
/// the system's version and swaps the index, all in one transaction.
///
/// # Errors
/// `NOT_FOUND` for an unknown plan; `CONFLICT` when `expected_version` is stale, when the
/// system changed since the plan was drawn, or when the plan was applied already.
pub async fn apply_rebalance_plan(
    state: &AppState,
    plan_id: i64,
    expected_version: i32,
    actor: &Actor,
) -> ApiResult<grid_system::Model> {
    let _writer = state.writer.lock().await;
    let stored = find_plan(&state.db, plan_id).await?;
    let system = systems::resolve_system(&state.db, Some(stored.row.system_id)).await?;
    check_applicable(&stored.row, &system, expected_version)?;
    let rows = plan_grids(&state.db, plan_id).await?;
    let removed: Vec<UnitId> = serde_json::from_str(&stored.row.removed_units)
        .map_err(|e| ApiError::Internal(format!("plan {plan_id}: {e}")))?;
    let catalog = state.catalog()?;
    let index = catalog.index(system.id)?.clone();
    let txn = super::begin_write(state).await?;
    let first_id = writes::next_unit_id(&txn).await?;
    let system_id = system.id;
    let changes =
        off_the_runtime(move || unit_changes(&index, system_id, &rows, &removed, first_id))
            .await??;

    let inserted: Vec<(i64, &Unit, UnitCounts)> = changes
        .inserted
        .iter()
        .map(|u| (system.id, u, UnitCounts::default()))
        .collect();
    writes::insert_units(&txn, &inserted).await?;
    for unit in &changes.redrawn {
        writes::set_unit_geometry(&txn, unit.id, &unit.geometry).await?;
    }
    writes::raise_code_counters(&txn, &changes.counters).await?;

    let mut stored_units = catalog.stored_units();
    let gone: HashSet<UnitId> = changes.retired.iter().map(|(id, _)| *id).collect();
    let redrawn: HashMap<UnitId, &Unit> = changes.redrawn.iter().map(|u| (u.id, u)).collect();
    stored_units.retain(|s| !gone.contains(&s.unit.id));
    for stored in &mut stored_units {
        if let Some(unit) = redrawn.get(&stored.unit.id) {
            stored.unit.geometry = unit.geometry.clone();
        }
    }
    stored_units.extend(changes.inserted.iter().map(|unit| StoredUnit {
        system_id: system.id,
        unit: unit.clone(),
    }));
    let (default_system, system_ids) = (
        catalog.default_system,
        catalog.systems().collect::<Vec<_>>(),
    );
    let next =
        off_the_runtime(move || Catalog::build(default_system, system_ids, stored_units)).await?;
    if let Some(area) = changes.area {
        reassign(&txn, &catalog, &next, system.id, area).await?;
    }
    writes::delete_units(&txn, changes.retired.iter().copied()).await?;
    let change = GridChange {
        opened: changes
            .inserted
            .iter()
            .chain(&changes.redrawn)
            .map(|u| (u, false))
            .collect(),
        closed: changes
            .redrawn
            .iter()
            .map(|u| u.id)
            .chain(changes.retired.iter().map(|(id, _)| *id))
            .collect(),
    };
    let action = format!("applyRebalancePlan {plan_id}");
    let system = history::new_version(&txn, system.id, &action, change).await?;
    plan::Entity::update_many()
        .col_expr(
            plan::Column::AppliedVersion,
            sea_orm::sea_query::Expr::value(system.version),
        )
        .filter(plan::Column::Id.eq(plan_id))
        .exec(&txn)
        .await?;
    let change = Change::new("applyRebalancePlan", format!("plan {plan_id} applied")).on_system(
        system.id,
        expected_version,
        system.version,
    );
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    state.set_catalog(next);
    state.committed(system.clone());
    Ok(system)
}

fn check_applicable(
    plan: &plan::Model,
    system: &grid_system::Model,
    expected_version: i32,
) -> ApiResult<()> {
    let conflict = |message: String| ApiError::Conflict {
        message,
        feature: None,
    };
    if let Some(applied) = plan.applied_version {
        return Err(conflict(format!(
            "plan {} was applied already (grid system {} became version {applied})",
            plan.id, system.id
        )));
    }
    if expected_version != system.version {
        return Err(conflict(format!(
            "expectedVersion {expected_version} is stale: grid system {} is at version {}",
            system.id, system.version
        )));
    }
    if plan.base_version != system.version {
        return Err(conflict(format!(
            "plan {} was drawn on version {} of grid system {}, which is now at version {}: plan again",
            plan.id, plan.base_version, system.id, system.version
        )));
    }
    Ok(())
}

/// Grids of `system` that planners locked.
async fn locked_grids(db: &impl ConnectionTrait, system: i64) -> ApiResult<HashSet<UnitId>> {
    let ids: Vec<i64> = unit::Entity::find()
        .select_only()
        .column(unit::Column::Id)
        .filter(unit::Column::SystemId.eq(system))
        .filter(unit::Column::Locked.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

/// Every household inside the scope's bounding box (the index sorts out which are inside).
async fn households_within(db: &impl ConnectionTrait, scope: &Unit) -> ApiResult<Vec<Household>> {
    match scope.geometry.bounding_rect() {
        Some(area) => households_in_area(db, area).await,
        None => Ok(Vec::new()),
    }
}

/// Every household inside a lon/lat box, ordered by id.
pub async fn households_in_area(
    db: &impl ConnectionTrait,
    area: Rect<f64>,
) -> ApiResult<Vec<Household>> {
    let rows: Vec<(String, f64, f64, i32, Option<String>)> = household::Entity::find()
        .select_only()
        .columns([
            household::Column::Id,
            household::Column::Lon,
            household::Column::Lat,
            household::Column::Persons,
            household::Column::Building,
        ])
        .filter(household::Column::Lon.between(area.min().x, area.max().x))
        .filter(household::Column::Lat.between(area.min().y, area.max().y))
        .order_by_asc(household::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, lon, lat, persons, building)| Household {
            id,
            point: geo::Point::new(lon, lat),
            persons: persons.max(0) as u32,
            building,
        })
        .collect())
}

/// The communities of the scope, each with its grids (and their micro-grids) and the
/// households inside it, in community code order.
pub fn community_inputs(
    index: &Index,
    scope: &Unit,
    locked: &HashSet<UnitId>,
    households: Vec<Household>,
) -> Vec<CommunityInput> {
    let mut by_community: BTreeMap<&str, CommunityInput> = BTreeMap::new();
    let mut slot_of_community = HashMap::new();
    for (slot, unit) in index.units().iter().enumerate() {
        let inside_scope = index.chain_ids(slot as u32).contains(&scope.id);
        if unit.level == Level::Community && inside_scope {
            slot_of_community.insert(unit.id, unit.code.as_str());
            by_community.insert(
                &unit.code,
                CommunityInput {
                    community_id: unit.id,
                    community_code: unit.code.clone(),
                    geometry: unit.geometry.clone(),
                    grids: Vec::new(),
                    households: Vec::new(),
                    current_grid: Vec::new(),
                },
            );
        }
    }
    let mut micro_grids: HashMap<UnitId, Vec<ExistingMicroGrid>> = HashMap::new();
    for unit in index.units().iter().filter(|u| u.level == Level::MicroGrid) {
        if let Some(parent) = unit.parent {
            micro_grids
                .entry(parent)
                .or_default()
                .push(ExistingMicroGrid {
                    id: unit.id,
                    code: unit.code.clone(),
                    geometry: unit.geometry.clone(),
                });
        }
    }
    for unit in index.units().iter().filter(|u| u.level == Level::Grid) {
        let community = unit.parent.and_then(|p| slot_of_community.get(&p));
        if let Some(input) = community.and_then(|code| by_community.get_mut(code)) {
            input.grids.push(ExistingGrid {
                id: unit.id,
                code: unit.code.clone(),
                kind: unit.kind,
                locked: locked.contains(&unit.id),
                geometry: unit.geometry.clone(),
                micro_grids: micro_grids.remove(&unit.id).unwrap_or_default(),
            });
        }
    }
    let coords: Vec<Coord<f64>> = households.iter().map(|h| h.point.0).collect();
    let slots = locate_batch(index, &coords);
    for (household, slot) in households.into_iter().zip(slots) {
        let Some(slot) = slot else { continue };
        let chain = index.chain_of_slot(slot).map(|s| index.unit(s));
        let (mut community, mut grid) = (None, None);
        for unit in chain {
            match unit.level {
                Level::Grid => grid = Some(unit.id),
                Level::Community => community = Some(unit.code.as_str()),
                _ => {}
            }
        }
        if let Some(input) = community.and_then(|code| by_community.get_mut(code)) {
            input.households.push(household);
            input.current_grid.push(grid);
        }
    }
    by_community.into_values().collect()
}

/// The highest grid number ever issued under each community of the scope, and micro-grid
/// number under each of its grids: new codes continue after them, so retired ones never return.
async fn grid_counters(
    db: &impl ConnectionTrait,
    index: &Index,
    system: i64,
    scope: &Unit,
) -> ApiResult<HashMap<CounterKey, u32>> {
    let mut keys: Vec<CounterKey> = Vec::new();
    let mut highest: HashMap<CounterKey, u32> = HashMap::new();
    for (slot, unit) in index.units().iter().enumerate() {
        if !index.chain_ids(slot as u32).contains(&scope.id) {
            continue;
        }
        match unit.level {
            Level::Community => keys.push((system, unit.code.clone(), Level::Grid)),
            Level::Grid => keys.push((system, unit.code.clone(), Level::MicroGrid)),
            _ => {}
        }
        let parent = unit.parent.and_then(|p| index.get(p));
        if let (true, Some(parent)) = (unit.level.is_grid(), parent) {
            if let Some(number) = writes::code_number(&unit.code, &parent.code, unit.level) {
                let last = highest
                    .entry((system, parent.code.clone(), unit.level))
                    .or_default();
                *last = (*last).max(number);
            }
        }
    }
    for (key, number) in writes::code_counters(db, &keys).await? {
        let last = highest.entry(key).or_default();
        *last = (*last).max(number);
    }
    Ok(highest)
}

/// A plan ready to store: its rows (grids, then each grid's micro-grids), retired units and
/// summary.
struct DrawnPlan {
    rows: Vec<plan_grid::ActiveModel>,
    removed: Vec<UnitId>,
    summary: RebalanceSummary,
}

/// Turns the engine's community plans into rows with codes and names, and the summary.
fn describe(
    index: &Index,
    system: i64,
    inputs: &[CommunityInput],
    plans: Vec<CommunityPlan>,
    counters: &HashMap<CounterKey, u32>,
    options: &Options,
) -> DrawnPlan {
    let mut drawn = DrawnPlan {
        rows: Vec::new(),
        removed: Vec::new(),
        summary: RebalanceSummary {
            communities: inputs.len(),
            ..RebalanceSummary::default()
        },
    };
    let summary = &mut drawn.summary;
    let mut after_counts = Vec::new();
    let mut polsby_popper = Vec::new();
    let mut new_micro_grids = 0;
    for (input, plan) in inputs.iter().zip(plans) {
        summary.households += input.households.len();
        summary.grids_before += input.grids.len();
        summary.micro_grids_before += input
            .grids
            .iter()
            .map(|g| g.micro_grids.len())
            .sum::<usize>();
        summary.within_bounds_before += before_within_bounds(input, options.grid);
        summary.households_moved += plan.households_moved;
        summary.grids_removed += plan.removed.len();
        summary.micro_grids_retired += retired_micro_grids(input, &plan);
        drawn.removed.extend(&plan.removed);
        let Some(community) = index.get(input.community_id) else {
            continue;
        };
        let grid_codes = new_codes(
            system,
            &community.code,
            Level::Grid,
            counters,
            plan.grids
                .iter()
                .filter(|g| g.status == GridStatus::New)
                .map(|g| g.geometry.clone()),
        );
        let mut grid_codes = grid_codes.into_iter();
        for grid in plan.grids {
            let households = grid.households.len() as u32;
            after_counts.push(households);
            polsby_popper.push(grid.polsby_popper);
            match grid.status {
                GridStatus::Kept(_) => summary.grids_kept += 1,
                GridStatus::Changed(_) => summary.grids_changed += 1,
                GridStatus::New => summary.grids_new += 1,
            }
            let (unit_id, code, name) = match grid.status {
                GridStatus::Kept(id) | GridStatus::Changed(id) => {
                    let existing = index.get(id);
                    (
                        Some(id),
                        existing.map(|u| u.code.clone()).unwrap_or_default(),
                        existing.map(|u| u.name.clone()).unwrap_or_default(),
                    )
                }
                GridStatus::New => {
                    let code = grid_codes.next().unwrap_or_default();
                    let name = grid_name(&community.name, &code, &community.code, grid.kind);
                    (None, code, name)
                }
            };
            if let Some(reason) = grid.infeasible {
                summary.infeasible.push(InfeasibleGrid {
                    unit_code: code.clone(),
                    code: reason.as_str().to_owned(),
                    reason: explain(
                        reason,
                        households,
                        (&community.code, input.households.len() as u32),
                        options.grid,
                    ),
                    households,
                });
            }
            let position = drawn.rows.len() as i32;
            let row = PlanRow {
                position,
                level: Level::Grid,
                parent_position: None,
                community_id: input.community_id,
                unit_id,
                status: status_name(grid.status),
                code: &code,
                name: &name,
                kind: grid.kind,
                geometry: &grid.geometry,
                households: grid.households.len(),
                persons: grid.persons,
                polsby_popper: grid.polsby_popper,
                infeasible: grid.infeasible,
            };
            drawn.rows.push(row.model());
            if let Some(micro) = grid.micro_grids.as_ref() {
                new_micro_grids += micro.iter().filter(|m| m.kept.is_none()).count();
                push_micro_grids(
                    &mut drawn.rows,
                    index,
                    system,
                    position,
                    &code,
                    &name,
                    micro,
                    counters,
                    input,
                );
            }
        }
    }
    summary.grids_after = after_counts.len();
    summary.micro_grids_after =
        summary.micro_grids_before + new_micro_grids - summary.micro_grids_retired;
    summary.within_bounds_after = after_counts
        .iter()
        .filter(|&&n| options.grid.holds(n))
        .count();
    summary.min_households = after_counts.iter().copied().min().unwrap_or(0);
    summary.max_households = after_counts.iter().copied().max().unwrap_or(0);
    summary.mean_households = mean(after_counts.iter().map(|&n| f64::from(n)));
    summary.mean_polsby_popper = mean(polsby_popper.iter().copied());
    summary.worst_polsby_popper = polsby_popper.iter().copied().fold(f64::NAN, f64::min);
    if summary.worst_polsby_popper.is_nan() {
        summary.worst_polsby_popper = 0.0;
    }
    drawn
}

/// Existing micro-grids of a community that the plan does not keep.
fn retired_micro_grids(input: &CommunityInput, plan: &CommunityPlan) -> usize {
    let mut untouched_grids = HashSet::new();
    let mut kept_micro_grids = HashSet::new();
    for grid in &plan.grids {
        match (grid.status, &grid.micro_grids) {
            (GridStatus::Kept(id), None) => {
                untouched_grids.insert(id);
            }
            (_, Some(micro_grids)) => {
                kept_micro_grids.extend(micro_grids.iter().filter_map(|m| m.kept));
            }
            _ => {}
        }
    }
    input
        .grids
        .iter()
        .filter(|grid| !untouched_grids.contains(&grid.id))
        .flat_map(|grid| &grid.micro_grids)
        .filter(|micro| !kept_micro_grids.contains(&micro.id))
        .count()
}

/// How many of a community's grids hold a number of households within bounds now.
fn before_within_bounds(input: &CommunityInput, bounds: Bounds) -> usize {
    let mut counts: HashMap<UnitId, u32> = input.grids.iter().map(|g| (g.id, 0)).collect();
    for grid in input.current_grid.iter().flatten() {
        if let Some(count) = counts.get_mut(grid) {
            *count += 1;
        }
    }
    counts.values().filter(|&&n| bounds.holds(n)).count()
}

#[allow(clippy::too_many_arguments)]
fn push_micro_grids(
    rows: &mut Vec<plan_grid::ActiveModel>,
    index: &Index,
    system: i64,
    grid_position: i32,
    grid_code: &str,
    grid_name: &str,
    micro_grids: &[geodata::rebalance::PlannedMicroGrid],
    counters: &HashMap<CounterKey, u32>,
    input: &CommunityInput,
) {
    let codes = new_codes(
        system,
        grid_code,
        Level::MicroGrid,
        counters,
        micro_grids
            .iter()
            .filter(|m| m.kept.is_none())
            .map(|m| m.geometry.clone()),
    );
    let mut codes = codes.into_iter();
    for micro in micro_grids {
        let (status, code, name) = match micro.kept.and_then(|id| index.get(id)) {
            Some(existing) => ("KEPT", existing.code.clone(), existing.name.clone()),
            None => {
                let code = codes.next().unwrap_or_default();
                let number = code.get(grid_code.len()..).unwrap_or_default();
                let number = number.trim_start_matches('0');
                ("NEW", code.clone(), format!("{grid_name}第{number}微网格"))
            }
        };
        let position = rows.len() as i32;
        let row = PlanRow {
            position,
            level: Level::MicroGrid,
            parent_position: Some(grid_position),
            community_id: input.community_id,
            unit_id: micro.kept,
            status,
            code: &code,
            name: &name,
            kind: GridKind::General,
            geometry: &micro.geometry,
            households: micro.households.len(),
            persons: micro.persons,
            polsby_popper: geodata::measure::polsby_popper(&micro.geometry),
            infeasible: micro.infeasible,
        };
        rows.push(row.model());
    }
}

/// Codes for new children of `parent_code`, in reading order after the highest number ever
/// issued under it.
fn new_codes(
    system: i64,
    parent_code: &str,
    level: Level,
    counters: &HashMap<CounterKey, u32>,
    shapes: impl Iterator<Item = geo::MultiPolygon<f64>>,
) -> Vec<String> {
    let shapes: Vec<_> = shapes.collect();
    if shapes.is_empty() {
        return Vec::new();
    }
    let last = counters
        .get(&(system, parent_code.to_owned(), level))
        .copied()
        .unwrap_or(0);
    codes::issue_codes(parent_code, level, last, &shapes)
        .map(|(codes, _)| codes)
        .unwrap_or_default()
}

/// "水井坊社区第12网格"; dedicated grids "水井坊社区第12网格（专属）".
pub(crate) fn grid_name(
    community_name: &str,
    code: &str,
    community_code: &str,
    kind: GridKind,
) -> String {
    let number = code
        .get(community_code.len()..)
        .unwrap_or_default()
        .trim_start_matches('0');
    match kind {
        GridKind::General => format!("{community_name}第{number}网格"),
        GridKind::Dedicated => format!("{community_name}第{number}网格（专属）"),
    }
}

/// Why a grid is out of bounds, in words; `community_households` is what its community holds.
pub(crate) fn explain(
    reason: geodata::rebalance::Infeasibility,
    households: u32,
    (community_code, community_households): (&str, u32),
    bounds: Bounds,
) -> String {
    use geodata::rebalance::Infeasibility::*;
    let divisible = (1..=community_households / bounds.min.max(1))
        .any(|k| k * bounds.min <= community_households && community_households <= k * bounds.max);
    match reason {
        NoFeasibleSplit if !divisible => format!(
            "community {community_code} holds {community_households} households, which no number of grids of {}-{} adds up to: this grid holds {households}",
            bounds.min, bounds.max
        ),
        UnderMinInfeasible => format!(
            "community {community_code} has too few households for a grid of {}: this grid holds {households}",
            bounds.min
        ),
        BuildingOverMax => format!(
            "one building holds {households} households, more than {}; buildings are never split, so it is a dedicated grid of its own",
            bounds.max
        ),
        NoFeasibleSplit => format!(
            "the buildings' sizes leave no division within {}-{}: this grid holds {households}",
            bounds.min, bounds.max
        ),
    }
}

fn status_name(status: GridStatus) -> &'static str {
    match status {
        GridStatus::Kept(_) => "KEPT",
        GridStatus::Changed(_) => "CHANGED",
        GridStatus::New => "NEW",
    }
}

/// One grid or micro-grid of a plan, as stored.
pub(crate) struct PlanRow<'a> {
    pub position: i32,
    pub level: Level,
    pub parent_position: Option<i32>,
    pub community_id: UnitId,
    pub unit_id: Option<UnitId>,
    pub status: &'a str,
    pub code: &'a str,
    pub name: &'a str,
    pub kind: GridKind,
    pub geometry: &'a geo::MultiPolygon<f64>,
    pub households: usize,
    pub persons: u32,
    pub polsby_popper: f64,
    pub infeasible: Option<geodata::rebalance::Infeasibility>,
}

impl PlanRow<'_> {
    pub(crate) fn model(&self) -> plan_grid::ActiveModel {
        plan_grid::ActiveModel {
            position: Set(self.position),
            level: Set(self.level.as_str().to_owned()),
            parent_position: Set(self.parent_position),
            community_id: Set(self.community_id),
            unit_id: Set(self.unit_id),
            status: Set(self.status.to_owned()),
            code: Set(self.code.to_owned()),
            name: Set(self.name.to_owned()),
            kind: Set(self.kind.as_str().to_owned()),
            geometry: Set(geodata::encoding::to_wkb(self.geometry)),
            households: Set(self.households as i32),
            persons: Set(self.persons as i32),
            polsby_popper: Set(self.polsby_popper),
            infeasible: Set(self.infeasible.map(|r| r.as_str().to_owned())),
            ..Default::default()
        }
    }
}

pub(crate) fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

async fn save_plan(
    db: &sea_orm::DatabaseConnection,
    system_id: i64,
    scope_id: UnitId,
    base_version: i32,
    request: RebalanceRequest,
    drawn: DrawnPlan,
) -> ApiResult<StoredPlan> {
    let header = PlanHeader {
        kind: REBALANCE,
        system_id,
        scope_id,
        base_version,
        options: encode_json(&request)?,
        summary: encode_json(&drawn.summary)?,
        removed_units: encode_json(&drawn.removed)?,
    };
    let row = store_plan(db, header, drawn.rows).await?;
    Ok(StoredPlan {
        row,
        request,
        summary: drawn.summary,
    })
}

/// What a stored plan says of itself, besides its grids.
pub(crate) struct PlanHeader {
    pub kind: &'static str,
    pub system_id: i64,
    pub scope_id: i64,
    pub base_version: i32,
    /// JSON.
    pub options: String,
    /// JSON.
    pub summary: String,
    /// JSON array of unit ids.
    pub removed_units: String,
}

/// Stores a plan and its grid rows in one transaction.
pub(crate) async fn store_plan(
    db: &sea_orm::DatabaseConnection,
    header: PlanHeader,
    mut rows: Vec<plan_grid::ActiveModel>,
) -> ApiResult<plan::Model> {
    let txn = db.begin().await?;
    let row = plan::ActiveModel {
        kind: Set(header.kind.to_owned()),
        system_id: Set(header.system_id),
        scope_id: Set(header.scope_id),
        base_version: Set(header.base_version),
        created_at: Set(super::unix_now()),
        options: Set(header.options),
        summary: Set(header.summary),
        removed_units: Set(header.removed_units),
        applied_version: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    for model in &mut rows {
        model.plan_id = Set(row.id);
    }
    writes::insert_plan_grids(&txn, rows).await?;
    txn.commit().await?;
    Ok(row)
}

pub(crate) fn encode_json(value: &impl Serialize) -> ApiResult<String> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(format!("plan encoding: {e}")))
}

/// What applying a plan writes.
struct UnitChanges {
    inserted: Vec<Unit>,
    redrawn: Vec<Unit>,
    retired: Vec<(UnitId, Level)>,
    counters: HashMap<CounterKey, u32>,
    /// Where households may change grid.
    area: Option<Rect<f64>>,
}

/// Works out the units to insert, redraw and retire from a plan's rows.
fn unit_changes(
    index: &Index,
    system: i64,
    rows: &[plan_grid::Model],
    removed: &[UnitId],
    first_id: UnitId,
) -> ApiResult<UnitChanges> {
    let decode = |row: &plan_grid::Model| geodata::encoding::from_wkb(&row.geometry);
    let mut next_id = first_id;
    let mut id_at_position: HashMap<i32, UnitId> = HashMap::new();
    let mut changes = UnitChanges {
        inserted: Vec::new(),
        redrawn: Vec::new(),
        retired: Vec::new(),
        counters: HashMap::new(),
        area: None,
    };
    let mut new_codes: HashMap<UnitId, String> = HashMap::new();
    let mut replanned_micro_parents: HashSet<UnitId> = HashSet::new();
    let mut kept_micro: HashSet<UnitId> = HashSet::new();
    let mut areas = Vec::new();
    for row in rows {
        let level: Level = row
            .level
            .parse()
            .map_err(|_| ApiError::Internal(format!("plan row {}: level {}", row.id, row.level)))?;
        let kind: GridKind = row.kind.parse().unwrap_or_default();
        let parent = match row.parent_position {
            Some(position) => id_at_position.get(&position).copied(),
            None => Some(row.community_id),
        };
        match (row.status.as_str(), row.unit_id) {
            ("KEPT", Some(id)) => {
                id_at_position.insert(row.position, id);
                if level == Level::MicroGrid {
                    kept_micro.insert(id);
                }
            }
            ("CHANGED", Some(id)) => {
                id_at_position.insert(row.position, id);
                let geometry = decode(row)?;
                areas.extend(geometry.bounding_rect());
                if let Some(old) = index.get(id) {
                    areas.extend(old.geometry.bounding_rect());
                    replanned_micro_parents.insert(id);
                    changes.redrawn.push(Unit {
                        geometry,
                        ..old.clone()
                    });
                }
            }
            _ => {
                let geometry = decode(row)?;
                areas.extend(geometry.bounding_rect());
                let id = next_id;
                next_id += 1;
                id_at_position.insert(row.position, id);
                if let Some(parent_id) = parent {
                    if level == Level::MicroGrid {
                        replanned_micro_parents.insert(parent_id);
                    }
                    let parent_code = match index.get(parent_id) {
                        Some(existing) => Some(existing.code.clone()),
                        None => new_codes.get(&parent_id).cloned(),
                    };
                    if let Some(parent_code) = parent_code {
                        raise(
                            &mut changes.counters,
                            system,
                            &parent_code,
                            level,
                            &row.code,
                        );
                    }
                }
                new_codes.insert(id, row.code.clone());
                changes.inserted.push(Unit {
                    id,
                    code: row.code.clone(),
                    name: row.name.clone(),
                    level,
                    kind,
                    parent,
                    geometry,
                });
            }
        }
    }
    for &id in removed {
        if let Some(old) = index.get(id) {
            areas.extend(old.geometry.bounding_rect());
        }
    }
    // Micro-grids of retired grids go, and those of grids whose micro-grids were redrawn.
    let retired_set: HashSet<UnitId> = removed.iter().copied().collect();
    for unit in index.units().iter().filter(|u| u.level == Level::MicroGrid) {
        let Some(parent) = unit.parent else { continue };
        let parent_goes = retired_set.contains(&parent);
        let replaced = replanned_micro_parents.contains(&parent) && !kept_micro.contains(&unit.id);
        if parent_goes || replaced {
            changes.retired.push((unit.id, Level::MicroGrid));
            areas.extend(unit.geometry.bounding_rect());
        }
    }
    changes
        .retired
        .extend(removed.iter().map(|&id| (id, Level::Grid)));
    changes.area = geodata::measure::extent(areas);
    Ok(changes)
}

/// Raises the counter of `parent_code`'s children of `level` to the number in `code`.
fn raise(
    counters: &mut HashMap<CounterKey, u32>,
    system: i64,
    parent_code: &str,
    level: Level,
    code: &str,
) {
    if let Some(number) = writes::code_number(code, parent_code, level) {
        let last = counters
            .entry((system, parent_code.to_owned(), level))
            .or_default();
        *last = (*last).max(number);
    }
}
