//! `Query`: units, point lookup, households, grid systems.

use async_graphql::{Context, Object, ResultExt, ID};

use super::args;
use super::merge::{CrosswalkEntry, MergePlanNode, QualityReport};
use super::plans::RebalancePlanNode;
use super::types::{
    connection, state, unit_connection, CrsValue, GridSystemNode, HouseholdConnection,
    HouseholdNode, LevelValue, UnitConnection, UnitNode,
};
use crate::access::{Needs, Role};
use crate::error::ApiError;
use crate::service::households::page_households;
use crate::service::merge::{crosswalk_of, find_merge_plan, layer_quality};
use crate::service::rebalance::find_plan;
use crate::service::systems::list_systems;
use crate::service::units::{find_unit, UnitFilter};

/// The root of queries.
#[derive(Debug, Default)]
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// A unit by id or by code (codes are looked up among the shared levels and the grids of
    /// `system`, default: the default grid system).
    async fn unit(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        code: Option<String>,
        system: Option<ID>,
    ) -> async_graphql::Result<Option<UnitNode>> {
        let state = state(ctx).extend()?;
        if id.is_none() && code.is_none() {
            return Err(ApiError::invalid("unit: give an id or a code")).extend();
        }
        let id = args::parse_optional_id(id.as_ref(), "id").extend()?;
        let system = match args::parse_optional_id(system.as_ref(), "system").extend()? {
            Some(system) => system,
            None => state.catalog().extend()?.default_system,
        };
        let row = find_unit(&state.db, id, code.as_deref(), system)
            .await
            .extend()?;
        Ok(row.map(UnitNode))
    }

    /// Units by id, filtered by level, parent, grid system (default: the default system) and
    /// a `[minLon, minLat, maxLon, maxLat]` box (in `crs`) that their polygon intersects.
    #[allow(clippy::too_many_arguments)]
    async fn units(
        &self,
        ctx: &Context<'_>,
        level: Option<LevelValue>,
        parent_id: Option<ID>,
        bbox: Option<Vec<f64>>,
        #[graphql(default)] crs: CrsValue,
        system: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<UnitConnection> {
        let state = state(ctx).extend()?;
        let catalog = state.catalog().extend()?;
        let filter = UnitFilter {
            level: level.map(Into::into),
            parent_id: args::parse_optional_id(parent_id.as_ref(), "parentId").extend()?,
            system: args::parse_optional_id(system.as_ref(), "system")
                .extend()?
                .unwrap_or(catalog.default_system),
            bbox: bbox
                .as_deref()
                .map(|b| args::bbox(b, crs.into()))
                .transpose()
                .extend()?,
        };
        unit_connection(state, &catalog, &filter, first, after).await
    }

    /// The units holding a point given in `crs`, deepest first (micro-grid, grid, community,
    /// ..., city); empty outside every unit. A point on a border shared by siblings belongs to
    /// the one with the smallest code.
    async fn locate(
        &self,
        ctx: &Context<'_>,
        lon: f64,
        lat: f64,
        #[graphql(default)] crs: CrsValue,
        system: Option<ID>,
    ) -> async_graphql::Result<Vec<UnitNode>> {
        let state = state(ctx).extend()?;
        let catalog = state.catalog().extend()?;
        let point = args::position(lon, lat).extend()?;
        let point = geo::Point(geodata::crs::to_wgs84(crs.into(), point.0));
        let system = args::parse_optional_id(system.as_ref(), "system")
            .extend()?
            .unwrap_or(catalog.default_system);
        let chain = catalog.index(system).extend()?.locate(point);
        super::rows::cached_units(ctx, &catalog, chain)
            .await
            .extend()
    }

    /// The households inside a unit of any level, by id, up to 1,000 a page.
    #[graphql(guard = "Needs(Role::Admin)")]
    async fn households(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<HouseholdConnection> {
        let state = state(ctx).extend()?;
        let id = args::parse_id(&unit_id, "unitId").extend()?;
        let unit = find_unit(&state.db, Some(id), None, 0)
            .await
            .extend()?
            .ok_or_else(|| ApiError::NotFound(format!("unit {id} does not exist")))
            .extend()?;
        let first = args::page_size(first).extend()?;
        let page = page_households(
            &state.db,
            id,
            unit.household_count.max(0) as u64,
            after.as_deref(),
            first,
        )
        .await
        .extend()?;
        Ok(connection(
            page,
            after.is_some(),
            |h| h.id.clone(),
            HouseholdNode,
        ))
    }

    /// Every grid system; one of them is the default.
    async fn grid_systems(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GridSystemNode>> {
        let state = state(ctx).extend()?;
        let systems = list_systems(&state.db).await.extend()?;
        Ok(systems.into_iter().map(GridSystemNode).collect())
    }

    /// A stored rebalance plan, or null when there is none with this id.
    async fn rebalance_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<RebalancePlanNode>> {
        let state = state(ctx).extend()?;
        let id = args::parse_id(&id, "id").extend()?;
        match find_plan(&state.db, id).await {
            Ok(plan) => Ok(Some(RebalancePlanNode(plan))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e).extend(),
        }
    }

    /// A grid layer's own faults against the communities it covers: overlaps between its
    /// grids, gaps, grids crossing community boundaries, and slivers (under `sliverM2` m², or
    /// holding no household), each with its area in m² and a location.
    async fn grid_system_quality(
        &self,
        ctx: &Context<'_>,
        system: ID,
        sliver_m2: Option<f64>,
    ) -> async_graphql::Result<QualityReport> {
        let state = state(ctx).extend()?;
        let system = args::parse_id(&system, "system").extend()?;
        let sliver_m2 = sliver_m2.unwrap_or(geodata::merge::MergeOptions::DEFAULT_SLIVER_M2);
        let report = layer_quality(state, system, sliver_m2).await.extend()?;
        Ok(QualityReport(report))
    }

    /// A stored merge plan, or null when there is none with this id.
    async fn merge_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<MergePlanNode>> {
        let state = state(ctx).extend()?;
        let id = args::parse_id(&id, "id").extend()?;
        match find_merge_plan(&state.db, id).await {
            Ok(plan) => Ok(Some(MergePlanNode(plan))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e).extend(),
        }
    }

    /// Where a source grid went (the unified grids that replace it), or where a unified grid
    /// came from, with the shares of area and households.
    async fn crosswalk(
        &self,
        ctx: &Context<'_>,
        grid_id: ID,
    ) -> async_graphql::Result<Vec<CrosswalkEntry>> {
        let state = state(ctx).extend()?;
        let id = args::parse_id(&grid_id, "gridId").extend()?;
        let entries = crosswalk_of(&state.db, id).await.extend()?;
        Ok(entries.into_iter().map(CrosswalkEntry).collect())
    }
}
