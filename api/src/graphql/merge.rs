//! The merge types: `QualityReport` (a layer's faults), `MergePlan` and `CrosswalkEntry`.

use async_graphql::{Context, Enum, Object, ResultExt, SimpleObject, ID};
use entity::crosswalk;
use geodata::quality::{LayerFault, LayerFaultKind, LayerQuality};

use super::plans::{plan_grid_connection, Infeasibility, PlanGridConnection};
use super::types::{load_units, state, GridSystemNode, LevelValue, UnitNode};
use crate::error::ApiError;
use crate::service::merge::StoredMergePlan;
use crate::service::systems::resolve_system;

/// A layer's faults against the communities it covers, largest first in each list.
pub struct QualityReport(pub LayerQuality);

#[Object]
impl QualityReport {
    /// Two grids of the layer sharing ground.
    async fn overlaps(&self) -> Vec<QualityFault> {
        self.0.overlaps.iter().map(QualityFault::from).collect()
    }

    /// Parts of covered communities that no grid of the layer covers.
    async fn gaps(&self) -> Vec<QualityFault> {
        self.0.gaps.iter().map(QualityFault::from).collect()
    }

    /// Parts of grids lying outside the community that holds most of them.
    async fn crossings(&self) -> Vec<QualityFault> {
        self.0.crossings.iter().map(QualityFault::from).collect()
    }

    /// Tiny grids or pieces, or ones holding no household.
    async fn slivers(&self) -> Vec<QualityFault> {
        self.0.slivers.iter().map(QualityFault::from).collect()
    }
}

/// The kind of a layer fault.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum QualityFaultKind {
    Overlap,
    Gap,
    Crossing,
    Sliver,
}

/// One fault, with where to look.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct QualityFault {
    pub kind: QualityFaultKind,
    /// Overlap: the grid with the lower id; crossing and sliver: the grid; gap: null.
    #[graphql(skip)]
    pub grid_id: Option<i64>,
    /// Overlap: the other grid; crossing: the community crossed into; gap: the community.
    #[graphql(skip)]
    pub other_id: Option<i64>,
    pub area_m2: f64,
    /// Households inside the faulty region.
    pub households: u32,
    /// `[lon, lat]` inside the faulty region, to zoom to.
    pub location: Vec<f64>,
}

#[async_graphql::ComplexObject]
impl QualityFault {
    async fn grid(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UnitNode>> {
        unit_by_id(ctx, self.grid_id).await
    }

    async fn other(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UnitNode>> {
        unit_by_id(ctx, self.other_id).await
    }
}

impl From<&LayerFault> for QualityFault {
    fn from(fault: &LayerFault) -> Self {
        QualityFault {
            kind: match fault.kind {
                LayerFaultKind::Overlap => QualityFaultKind::Overlap,
                LayerFaultKind::Gap => QualityFaultKind::Gap,
                LayerFaultKind::Crossing => QualityFaultKind::Crossing,
                LayerFaultKind::Sliver => QualityFaultKind::Sliver,
            },
            grid_id: fault.grid,
            other_id: fault.other,
            area_m2: fault.area_m2,
            households: fault.households,
            location: vec![fault.location.x(), fault.location.y()],
        }
    }
}

async fn unit_by_id(ctx: &Context<'_>, id: Option<i64>) -> async_graphql::Result<Option<UnitNode>> {
    match id {
        Some(id) => Ok(load_units(ctx, &[id]).await.extend()?.pop()),
        None => Ok(None),
    }
}

/// A unit the crosswalk names; `NOT_FOUND` if it was retired since.
async fn existing_unit(ctx: &Context<'_>, id: i64) -> async_graphql::Result<UnitNode> {
    unit_by_id(ctx, Some(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unit {id} was retired since the merge")))
        .extend()
}

/// A stored merge plan: a dry run, read back by id and applied with `applyMergePlan`.
pub struct MergePlanNode(pub StoredMergePlan);

#[Object(name = "MergePlan")]
impl MergePlanNode {
    async fn id(&self) -> ID {
        ID(self.0.row.id.to_string())
    }

    /// The name the unified grid system will have.
    async fn name(&self) -> &str {
        &self.0.request.name
    }

    /// The layers merged, with their grid counts and the versions the plan saw.
    async fn sources(&self) -> Vec<MergeSource> {
        self.0
            .summary
            .sources
            .iter()
            .map(|s| MergeSource {
                system_id: s.system_id,
                name: s.name.clone(),
                version: s.version,
                grids: s.grids,
            })
            .collect()
    }

    async fn grid_min(&self) -> u32 {
        self.0.request.grid_min
    }

    async fn grid_max(&self) -> u32 {
        self.0.request.grid_max
    }

    /// Atoms smaller than this (m²), or holding no household, were dissolved.
    async fn sliver_m2(&self) -> f64 {
        self.0.request.sliver_m2
    }

    async fn communities(&self) -> usize {
        self.0.summary.communities
    }

    async fn households(&self) -> usize {
        self.0.summary.households
    }

    /// Pieces of the overlay of all layers within the communities.
    async fn atoms(&self) -> usize {
        self.0.summary.atoms
    }

    async fn slivers_dissolved(&self) -> usize {
        self.0.summary.slivers_dissolved
    }

    async fn unified_grids(&self) -> usize {
        self.0.summary.unified_grids
    }

    async fn within_bounds(&self) -> usize {
        self.0.summary.within_bounds
    }

    /// `withinBounds / unifiedGrids`.
    async fn within_bounds_share(&self) -> f64 {
        let s = &self.0.summary;
        if s.unified_grids == 0 {
            0.0
        } else {
            s.within_bounds as f64 / s.unified_grids as f64
        }
    }

    /// Length of the source layers' boundaries inside the communities (m), and the share of
    /// it the unified grids keep as their own boundaries.
    async fn source_boundary_m(&self) -> f64 {
        self.0.summary.source_boundary_m
    }

    async fn kept_boundary_share(&self) -> f64 {
        let s = &self.0.summary;
        if s.source_boundary_m > 0.0 {
            s.kept_boundary_m / s.source_boundary_m
        } else {
            0.0
        }
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

    async fn mean_polsby_popper(&self) -> f64 {
        self.0.summary.mean_polsby_popper
    }

    /// Unified grids out of bounds, and why.
    async fn infeasible(&self) -> Vec<Infeasibility> {
        self.0
            .summary
            .infeasible
            .iter()
            .cloned()
            .map(Infeasibility::from)
            .collect()
    }

    /// The grid system the plan's apply created; null until applied.
    async fn applied_system(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<GridSystemNode>> {
        if self.0.row.applied_version.is_none() {
            return Ok(None);
        }
        let state = state(ctx).extend()?;
        let system = resolve_system(&state.db, Some(self.0.row.system_id))
            .await
            .extend()?;
        Ok(Some(GridSystemNode(system)))
    }

    /// The proposed unified grids, in plan order.
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

/// A source layer of a merge.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct MergeSource {
    #[graphql(skip)]
    pub system_id: i64,
    pub name: String,
    /// The version the plan saw; applying needs it unchanged.
    pub version: i32,
    pub grids: usize,
}

#[async_graphql::ComplexObject]
impl MergeSource {
    async fn system(&self, ctx: &Context<'_>) -> async_graphql::Result<GridSystemNode> {
        let state = state(ctx).extend()?;
        let system = resolve_system(&state.db, Some(self.system_id))
            .await
            .extend()?;
        Ok(GridSystemNode(system))
    }
}

/// How much of a source grid went to a unified grid.
pub struct CrosswalkEntry(pub crosswalk::Model);

#[Object]
impl CrosswalkEntry {
    /// The source grid (of a department's layer).
    async fn from(&self, ctx: &Context<'_>) -> async_graphql::Result<UnitNode> {
        existing_unit(ctx, self.0.from_unit_id).await
    }

    /// The unified grid.
    async fn to(&self, ctx: &Context<'_>) -> async_graphql::Result<UnitNode> {
        existing_unit(ctx, self.0.to_unit_id).await
    }

    /// Share of the source grid's area (inside the communities) in the unified grid.
    async fn area_share(&self) -> f64 {
        self.0.area_share
    }

    /// Share of the source grid's households in the unified grid.
    async fn household_share(&self) -> f64 {
        self.0.household_share
    }
}
