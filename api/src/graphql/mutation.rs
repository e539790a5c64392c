//! `Mutation`: imports (all-or-nothing) and single household changes.

use async_graphql::{Context, Json, Object, ResultExt, ID};
use serde_json::Value;

use super::args;
use super::merge::MergePlanNode;
use super::plans::RebalancePlanNode;
use super::types::{state, GridSystemNode, HouseholdNode, ImportResult, LevelValue, UnitNode};
use crate::access::{caller_of, Needs, Role};
use crate::service::audit::{self, Change};
use crate::service::history::rollback;
use crate::service::households::{add_household, move_household, remove_household, NewHousehold};
use crate::service::import::{import_households, import_units, ImportOutcome};
use crate::service::merge::{apply_merge_plan, import_grid_system, plan_merge, MergeRequest};
use crate::service::rebalance::{apply_rebalance_plan, plan_rebalance, RebalanceRequest};
use crate::service::units::set_unit_locked;

/// The root of mutations.
#[derive(Debug, Default)]
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Imports a GeoJSON FeatureCollection of polygons as units of `level`. Feature
    /// properties: `name` (required), `code` (optional: issued under the parent when absent),
    /// `parentCode` (optional: found by containment when absent), `kind` (GENERAL or
    /// DEDICATED, grids only). Grids go to `system` (default: the default grid system).
    /// All or nothing: any fault refuses the whole collection.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn import_units(
        &self,
        ctx: &Context<'_>,
        level: LevelValue,
        feature_collection: Json<Value>,
        system: Option<ID>,
    ) -> async_graphql::Result<ImportResult> {
        let state = state(ctx).extend()?;
        let system = args::parse_optional_id(system.as_ref(), "system").extend()?;
        let collection = args::json_document(feature_collection.0, "featureCollection").extend()?;
        args::feature_count_within(&collection, args::limits(ctx).import_features).extend()?;
        let outcome = import_units(
            state,
            level.into(),
            collection,
            system,
            &caller_of(ctx).actor(),
        )
        .await
        .extend()?;
        Ok(result(outcome))
    }

    /// Imports a GeoJSON FeatureCollection of household points: `id` (feature id or
    /// property, unique), `persons` (default 1), `building` (optional key). Each is assigned
    /// to its deepest unit and counted along its chain. All or nothing.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn import_households(
        &self,
        ctx: &Context<'_>,
        feature_collection: Json<Value>,
    ) -> async_graphql::Result<ImportResult> {
        let state = state(ctx).extend()?;
        let collection = args::json_document(feature_collection.0, "featureCollection").extend()?;
        args::feature_count_within(&collection, args::limits(ctx).import_features).extend()?;
        let outcome = import_households(state, &collection, &caller_of(ctx).actor())
            .await
            .extend()?;
        Ok(result(outcome))
    }

    /// Adds one household at a point; it is assigned to its deepest unit and counted along its
    /// chain in every grid system.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn add_household(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lon: f64,
        lat: f64,
        #[graphql(default = 1)] persons: u32,
        building: Option<String>,
    ) -> async_graphql::Result<HouseholdNode> {
        let state = state(ctx).extend()?;
        let new = NewHousehold {
            id: id.0,
            lon,
            lat,
            persons,
            building,
        };
        Ok(HouseholdNode(
            add_household(state, new, &caller_of(ctx).actor())
                .await
                .extend()?,
        ))
    }

    /// Moves one household; counts leave its old chain and join its new one.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn move_household(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lon: f64,
        lat: f64,
    ) -> async_graphql::Result<HouseholdNode> {
        let state = state(ctx).extend()?;
        Ok(HouseholdNode(
            move_household(state, &id, lon, lat, &caller_of(ctx).actor())
                .await
                .extend()?,
        ))
    }

    /// Removes one household and uncounts it; answers the household as it was.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn remove_household(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<HouseholdNode> {
        let state = state(ctx).extend()?;
        Ok(HouseholdNode(
            remove_household(state, &id, &caller_of(ctx).actor())
                .await
                .extend()?,
        ))
    }

    /// Locks a grid against redrawing (or unlocks it): rebalance plans keep a locked grid's
    /// geometry and code. A new version of the grid system.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn set_unit_locked(
        &self,
        ctx: &Context<'_>,
        id: ID,
        locked: bool,
    ) -> async_graphql::Result<UnitNode> {
        let state = state(ctx).extend()?;
        let id = args::parse_id(&id, "id").extend()?;
        Ok(UnitNode(
            set_unit_locked(state, id, locked, &caller_of(ctx).actor())
                .await
                .extend()?,
        ))
    }

    /// Plans a rebalance of the grids in every community under `scopeId` (a city, district,
    /// street or community) so that each holds `gridMin`-`gridMax` households (micro-grids
    /// `microMin`-`microMax` inside them when `microGrids`). A dry run: the plan is stored
    /// (read it back with `rebalancePlan`, preview it at `GET /geojson/plans/{id}`) and nothing
    /// live changes.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn plan_rebalance(
        &self,
        ctx: &Context<'_>,
        scope_id: ID,
        system: Option<ID>,
        #[graphql(default = 300)] grid_min: u32,
        #[graphql(default = 500)] grid_max: u32,
        #[graphql(default = false)] micro_grids: bool,
        #[graphql(default = 30)] micro_min: u32,
        #[graphql(default = 100)] micro_max: u32,
    ) -> async_graphql::Result<RebalancePlanNode> {
        let state = state(ctx).extend()?;
        let scope_id = args::parse_id(&scope_id, "scopeId").extend()?;
        let system = args::parse_optional_id(system.as_ref(), "system").extend()?;
        let request = RebalanceRequest {
            grid_min,
            grid_max,
            micro_grids,
            micro_min,
            micro_max,
        };
        let plan = plan_rebalance(state, scope_id, system, request, |_, _| {})
            .await
            .extend()?;
        let change = Change::new("planRebalance", format!("plan {} drawn", plan.row.id)).on_system(
            plan.row.system_id,
            plan.row.base_version,
            plan.row.base_version,
        );
        audit::record(&state.db, &caller_of(ctx).actor(), change)
            .await
            .extend()?;
        Ok(RebalancePlanNode(plan))
    }

    /// Restores the grids and micro-grids of a grid system as they were at `toVersion`
    /// (geometry, codes, locks, and the households' assignment by them), as a new version.
    /// With `expectedVersion`, a stale version answers `CONFLICT` and nothing is written.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn rollback(
        &self,
        ctx: &Context<'_>,
        system: ID,
        to_version: i32,
        expected_version: Option<i32>,
    ) -> async_graphql::Result<GridSystemNode> {
        let state = state(ctx).extend()?;
        let system = args::parse_id(&system, "system").extend()?;
        let system = rollback(
            state,
            system,
            to_version,
            expected_version,
            &caller_of(ctx).actor(),
        )
        .await
        .extend()?;
        Ok(GridSystemNode(system))
    }

    /// Applies a stored rebalance plan atomically: the grid system must still be at
    /// `expectedVersion`, the version the plan was drawn on (`CONFLICT` otherwise, nothing
    /// written). Answers the grid system with its new version.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn apply_rebalance_plan(
        &self,
        ctx: &Context<'_>,
        plan_id: ID,
        expected_version: i32,
    ) -> async_graphql::Result<GridSystemNode> {
        let state = state(ctx).extend()?;
        let plan_id = args::parse_id(&plan_id, "planId").extend()?;
        let system =
            apply_rebalance_plan(state, plan_id, expected_version, &caller_of(ctx).actor())
                .await
                .extend()?;
        Ok(GridSystemNode(system))
    }

    /// Imports a department's grid layer (a FeatureCollection of polygons: `name`, optional
    /// `code` and `kind`) as a new grid system. Layers may overlap each other and stray over
    /// community boundaries (`gridSystemQuality` reports it); invalid geometry is refused.
    /// All or nothing.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn import_grid_system(
        &self,
        ctx: &Context<'_>,
        name: String,
        department: Option<String>,
        feature_collection: Json<Value>,
    ) -> async_graphql::Result<GridSystemNode> {
        let state = state(ctx).extend()?;
        let collection = args::json_document(feature_collection.0, "featureCollection").extend()?;
        let system =
            import_grid_system(state, name, department, collection, &caller_of(ctx).actor())
                .await
                .extend()?;
        Ok(GridSystemNode(system))
    }

    /// Plans the merge of several grid systems, on top of the community boundaries, into a
    /// new unified system `name` with grids of `gridMin`-`gridMax` households. A dry run: the
    /// plan is stored (read it back with `mergePlan`, preview it at `GET /geojson/plans/{id}`).
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn plan_merge(
        &self,
        ctx: &Context<'_>,
        source_systems: Vec<ID>,
        name: String,
        #[graphql(default = 300)] grid_min: u32,
        #[graphql(default = 500)] grid_max: u32,
        sliver_m2: Option<f64>,
    ) -> async_graphql::Result<MergePlanNode> {
        let state = state(ctx).extend()?;
        let source_systems = source_systems
            .iter()
            .map(|id| args::parse_id(id, "sourceSystems"))
            .collect::<Result<Vec<_>, _>>()
            .extend()?;
        let request = MergeRequest {
            source_systems,
            name,
            grid_min,
            grid_max,
            sliver_m2: sliver_m2.unwrap_or(geodata::merge::MergeOptions::DEFAULT_SLIVER_M2),
        };
        let plan = plan_merge(state, request, |_, _| {}).await.extend()?;
        let change = Change::new("planMerge", format!("plan {} drawn", plan.row.id));
        audit::record(&state.db, &caller_of(ctx).actor(), change)
            .await
            .extend()?;
        Ok(MergePlanNode(plan))
    }

    /// Applies a stored merge plan: creates the unified grid system (the sources stay as they
    /// are), assigns codes and households, writes the crosswalk and makes it the default.
    /// `CONFLICT` when a source changed since the plan, or it was applied already.
    #[graphql(guard = "Needs(Role::Planner)")]
    async fn apply_merge_plan(
        &self,
        ctx: &Context<'_>,
        plan_id: ID,
    ) -> async_graphql::Result<GridSystemNode> {
        let state = state(ctx).extend()?;
        let plan_id = args::parse_id(&plan_id, "planId").extend()?;
        let system = apply_merge_plan(state, plan_id, &caller_of(ctx).actor())
            .await
            .extend()?;
        Ok(GridSystemNode(system))
    }
}

fn result(outcome: ImportOutcome) -> ImportResult {
    ImportResult {
        imported: (outcome.unit_ids.len() + outcome.households) as u64,
        reassigned_households: outcome.reassigned as u64,
        households_outside_grids: outcome.outside_grids.map(|n| n as u64),
        unit_ids: outcome.unit_ids,
        system: outcome.system,
    }
}
