//! The plan types: `RebalancePlan` (metrics, infeasibilities, proposed grids) and `PlanGrid`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, Json, Object, ResultExt, SimpleObject, ID};
use entity::plan_grid;
use serde_json::Value;

use super::args;
use super::types::{
    connection, geometry_in, load_units, state, ConnectionTotals, CrsValue, GridKindValue,
    GridSystemNode, LevelValue, UnitNode,
};
use crate::error::ApiError;
use crate::service::rebalance::{page_plan_grids, InfeasibleGrid, StoredPlan};
use crate::service::systems::resolve_system;

/// `PlanGridConnection`.
pub type PlanGridConnection = Connection<String, PlanGridNode, ConnectionTotals>;

/// A stored rebalance plan: a dry run, read back by id and applied with `applyRebalancePlan`.
pub struct RebalancePlanNode(pub StoredPlan);

#[Object(name = "RebalancePlan")]
impl RebalancePlanNode {
    async fn id(&self) -> ID {
        ID(self.0.row.id.to_string())
    }

    /// The grid system the plan redraws.
    async fn system(&self, ctx: &Context<'_>) -> async_graphql::Result<GridSystemNode> {
        let state = state(ctx).extend()?;
        let system = resolve_system(&state.db, Some(self.0.row.system_id))
            .await
            .extend()?;
        Ok(GridSystemNode(system))
    }

    /// The unit whose communities the plan covers.
    async fn scope(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UnitNode>> {
        Ok(load_units(ctx, &[self.0.row.scope_id])
            .await
            .extend()?
            .pop())
    }

    /// The system's version the plan was drawn on; applying needs it unchanged.
    async fn base_version(&self) -> i32 {
        self.0.row.base_version
    }

    /// The system's version the plan's apply produced; null until applied.
    async fn applied_version(&self) -> Option<i32> {
        self.0.row.applied_version
    }

    /// The bounds the plan was drawn with.
    async fn grid_min(&self) -> u32 {
        self.0.request.grid_min
    }

    async fn grid_max(&self) -> u32 {
        self.0.request.grid_max
    }

    /// Whether micro-grids were planned too, and their bounds.
    async fn micro_grids(&self) -> bool {
        self.0.request.micro_grids
    }

    async fn micro_min(&self) -> u32 {
        self.0.request.micro_min
    }

    async fn micro_max(&self) -> u32 {
        self.0.request.micro_max
    }

    async fn communities(&self) -> usize {
        self.0.summary.communities
    }

    /// Households in the scope's communities.
    async fn households(&self) -> usize {
        self.0.summary.households
    }

    async fn grids_before(&self) -> usize {
        self.0.summary.grids_before
    }

    async fn grids_after(&self) -> usize {
        self.0.summary.grids_after
    }

    async fn within_bounds_before(&self) -> usize {
        self.0.summary.within_bounds_before
    }

    async fn within_bounds_after(&self) -> usize {
        self.0.summary.within_bounds_after
    }

    /// Grids whose geometry, id and code stay as they are.
    async fn grids_kept(&self) -> usize {
        self.0.summary.grids_kept
    }

    /// Grids redrawn that keep their id and code.
    async fn grids_changed(&self) -> usize {
        self.0.summary.grids_changed
    }

    /// Grids that get a new code.
    async fn grids_new(&self) -> usize {
        self.0.summary.grids_new
    }

    /// Grids retired (their codes are never issued again).
    async fn grids_removed(&self) -> usize {
        self.0.summary.grids_removed
    }

    /// Churn: households whose grid changes.
    async fn households_moved(&self) -> usize {
        self.0.summary.households_moved
    }

    async fn min_households(&self) -> u32 {
        self.0.summary.min_households
    }

    async fn mean_households(&self) -> f64 {
        self.0.summary.mean_households
    }

    async fn max_households(&self) -> u32 {
        self.0.summary.max_households
    }

    /// Mean Polsby-Popper compactness (4πA/P²) of the grids after.
    async fn mean_polsby_popper(&self) -> f64 {
        self.0.summary.mean_polsby_popper
    }

    async fn worst_polsby_popper(&self) -> f64 {
        self.0.summary.worst_polsby_popper
    }

    async fn micro_grids_before(&self) -> usize {
        self.0.summary.micro_grids_before
    }

    async fn micro_grids_after(&self) -> usize {
        self.0.summary.micro_grids_after
    }

    /// Existing micro-grids the plan retires: those of removed grids, and of changed grids
    /// when `microGrids` is false (ask for `microGrids: true` to redraw them instead).
    async fn micro_grids_retired(&self) -> usize {
        self.0.summary.micro_grids_retired
    }

    /// Grids the plan could not bring within bounds, and why.
    async fn infeasible(&self) -> Vec<Infeasibility> {
        self.0
            .summary
            .infeasible
            .iter()
            .cloned()
            .map(Infeasibility::from)
            .collect()
    }

    /// The proposed grids (and micro-grids, unless `level` picks one), in plan order.
    async fn grids(
        &self,
        ctx: &Context<'_>,
        level: Option<LevelValue>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<PlanGridConnection> {
        plan_grid_connection(ctx, self.0.row.id, level, first, after).await
    }
}

/// A page of a stored plan's grids (any kind of plan), in plan order.
pub async fn plan_grid_connection(
    ctx: &Context<'_>,
    plan_id: i64,
    level: Option<LevelValue>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<PlanGridConnection> {
    let state = state(ctx).extend()?;
    let first = args::page_size(first).extend()?;
    let after_position = args::id_cursor(after.as_deref()).extend()?;
    let page = page_plan_grids(
        &state.db,
        plan_id,
        level.map(Into::into),
        after_position,
        first,
    )
    .await
    .extend()?;
    Ok(connection(
        page,
        after.is_some(),
        |g| g.position.to_string(),
        PlanGridNode,
    ))
}

/// Why a planned grid is out of bounds.
#[derive(SimpleObject, Debug, Clone)]
pub struct Infeasibility {
    /// The planned grid's code.
    pub unit_code: String,
    /// `UNDER_MIN_INFEASIBLE`, `BUILDING_OVER_MAX` or `NO_FEASIBLE_SPLIT`.
    pub code: String,
    /// In words.
    pub reason: String,
    pub households: u32,
}

impl From<InfeasibleGrid> for Infeasibility {
    fn from(grid: InfeasibleGrid) -> Self {
        Infeasibility {
            unit_code: grid.unit_code,
            code: grid.code,
            reason: grid.reason,
            households: grid.households,
        }
    }
}

/// What becomes of a grid in a plan.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "PlanGridStatus")]
pub enum PlanGridStatus {
    /// Geometry, id and code unchanged.
    Kept,
    /// Redrawn; keeps its id and code.
    Changed,
    /// A new grid with a new code.
    New,
}

/// A grid or micro-grid a plan proposes.
pub struct PlanGridNode(pub plan_grid::Model);

#[Object(name = "PlanGrid")]
impl PlanGridNode {
    /// The code it has (kept, changed) or will be issued (new).
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn level(&self) -> async_graphql::Result<LevelValue> {
        let level: geodata::Level = self
            .0
            .level
            .parse()
            .map_err(|e: geodata::UnknownLevel| ApiError::Internal(e.to_string()))
            .extend()?;
        Ok(level.into())
    }

    async fn kind(&self) -> GridKindValue {
        match self.0.kind.parse() {
            Ok(geodata::GridKind::Dedicated) => GridKindValue::Dedicated,
            _ => GridKindValue::General,
        }
    }

    async fn status(&self) -> PlanGridStatus {
        match self.0.status.as_str() {
            "KEPT" => PlanGridStatus::Kept,
            "CHANGED" => PlanGridStatus::Changed,
            _ => PlanGridStatus::New,
        }
    }

    /// The existing unit it is (kept or changed grids), as it stands now.
    async fn unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UnitNode>> {
        match self.0.unit_id {
            Some(id) => Ok(load_units(ctx, &[id]).await.extend()?.pop()),
            None => Ok(None),
        }
    }

    /// The community it lies in.
    async fn community(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UnitNode>> {
        Ok(load_units(ctx, &[self.0.community_id])
            .await
            .extend()?
            .pop())
    }

    async fn households(&self) -> i32 {
        self.0.households
    }

    async fn persons(&self) -> i32 {
        self.0.persons
    }

    /// 4πA/P²: 1 for a disc, near 0 for a thread.
    async fn polsby_popper(&self) -> f64 {
        self.0.polsby_popper
    }

    /// `UNDER_MIN_INFEASIBLE`, `BUILDING_OVER_MAX`, `NO_FEASIBLE_SPLIT`, or null.
    async fn infeasible(&self) -> Option<&str> {
        self.0.infeasible.as_deref()
    }

    /// GeoJSON geometry in `crs` (RFC 7946 winding).
    async fn geometry(
        &self,
        #[graphql(default)] crs: CrsValue,
    ) -> async_graphql::Result<Json<Value>> {
        geometry_in(&self.0.geometry, crs)
    }
}
