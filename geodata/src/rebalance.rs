//! Rebalancing: redraw a community's grids so that each holds 300-500 households (micro-grids
//! 30-100), stays one contiguous polygon, never splits a building, and changes as little as
//! possible.
//!
//! [`plan_community`] answers a plan and changes nothing; the `api` crate applies it. The
//! method, in order:
//!
//! 1. **What stays.** Dedicated and locked grids stay whatever their counts. A general grid is
//!    redrawn if it is out of bounds, overlaps another grid or spills out of the community.
//!    The land no staying grid covers (redrawn grids and gaps) falls into connected regions;
//!    while a region's households admit no count of grids within bounds
//!    (`ceil(W/max) <= k <= floor(W/min)`), it absorbs the neighbouring grid (by shared
//!    boundary) that best mends it. Regions that touch are one region. A community whose grids
//!    are all within bounds and tile it is left exactly as it is.
//! 2. **Cells.** Households are grouped into buildings (a building key, or else a point); each
//!    building gets its Voronoi cell cut to the free land, so that empty land is covered too
//!    and every household lies strictly inside its building's cell (see `cells`). Cells sharing
//!    an edge are neighbours.
//! 3. **Parts.** A building over the maximum becomes a dedicated grid of its own. Every
//!    connected rest is split into `k` parts by recursive bisection of random spanning trees of
//!    the cell graph: both sides of a tree cut are connected, so every grid is one polygon; the
//!    cut chosen keeps both sides within reach of the bounds and is the shortest and most even
//!    of several trees. Single border cells then move where that mends a bound or shortens the
//!    borders (compactness). Micro-grids are cut from each new grid's cells the same way.
//! 4. **Identities.** Each new grid takes the id of the redrawn grid that held most of its
//!    households (greedily, one to one); the others are new, and redrawn grids left without a
//!    successor are removed.
//!
//! All cutting and joining runs on one integer grid per community (see `plane`), so pieces
//! share their vertices exactly and the grids tile the community with neither gap nor overlap
//! beyond a unit of that grid (well under a millimetre). A grid's vertex lying on the
//! community's edge (or a neighbour's) is put on that edge there too, so no needle of free land
//! is left along a border they share. The random trees come from a generator
//! seeded by the community's id: the same input always gives the same plan.
//!
//! Fixed grids (dedicated or locked) are never flagged, whatever their counts: they are not
//! the planner's to change.

use std::sync::atomic::{AtomicUsize, Ordering};

use geo::MultiPolygon;
use rayon::prelude::*;

use crate::{GridKind, Household, Index, Level, Unit, UnitId};

pub(crate) mod cells;
pub(crate) mod partition;
pub(crate) mod plan;
pub(crate) mod plane;
#[cfg(test)]
mod tests;

/// Inclusive bounds on the households of one grid (or micro-grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

impl Bounds {
    /// Grids: one worker's patch, 300-500 households.
    pub const GRID: Bounds = Bounds { min: 300, max: 500 };
    /// Micro-grids: one volunteer's patch, 30-100 households.
    pub const MICRO_GRID: Bounds = Bounds { min: 30, max: 100 };

    /// Whether `households` lies within the bounds.
    pub fn holds(self, households: u32) -> bool {
        (self.min..=self.max).contains(&households)
    }
}

/// What to plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub grid: Bounds,
    /// `Some`: micro-grids are drawn inside every new or changed grid (and inside kept grids
    /// whose micro-grids are missing or out of bounds). `None`: micro-grids are not planned.
    pub micro_grid: Option<Bounds>,
}

/// A micro-grid as it stands now.
#[derive(Debug, Clone, PartialEq)]
pub struct ExistingMicroGrid {
    pub id: UnitId,
    pub code: String,
    pub geometry: MultiPolygon<f64>,
}

/// A grid as it stands now.
#[derive(Debug, Clone, PartialEq)]
pub struct ExistingGrid {
    pub id: UnitId,
    pub code: String,
    pub kind: GridKind,
    /// Locked by a planner: keeps its geometry and code, like a dedicated grid.
    pub locked: bool,
    pub geometry: MultiPolygon<f64>,
    pub micro_grids: Vec<ExistingMicroGrid>,
}

/// One community and everything inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityInput {
    pub community_id: UnitId,
    pub community_code: String,
    pub geometry: MultiPolygon<f64>,
    pub grids: Vec<ExistingGrid>,
    /// The households inside the community.
    pub households: Vec<Household>,
    /// For each household (same order), the id of the grid that holds it now, if any.
    pub current_grid: Vec<Option<UnitId>>,
}

/// Why a planned grid could not be brought within bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Infeasibility {
    /// The community (or what is left of it around fixed grids) holds fewer households than the
    /// minimum, so no grid of it can reach it.
    UnderMinInfeasible,
    /// One building holds more households than the maximum; buildings are never split, so it
    /// becomes a dedicated grid of its own.
    BuildingOverMax,
    /// The households could not be divided within bounds for another reason (for example the
    /// sizes of the buildings leave no way); the plan does the best it can.
    NoFeasibleSplit,
}

impl Infeasibility {
    /// The wire spelling: `UNDER_MIN_INFEASIBLE`, `BUILDING_OVER_MAX`, `NO_FEASIBLE_SPLIT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Infeasibility::UnderMinInfeasible => "UNDER_MIN_INFEASIBLE",
            Infeasibility::BuildingOverMax => "BUILDING_OVER_MAX",
            Infeasibility::NoFeasibleSplit => "NO_FEASIBLE_SPLIT",
        }
    }
}

/// What becomes of a grid in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridStatus {
    /// An existing grid, geometry and code unchanged.
    Kept(UnitId),
    /// An existing grid redrawn: it keeps its id and code, its geometry changes.
    Changed(UnitId),
    /// A new grid, to get a new code under its community.
    New,
}

/// A micro-grid of a planned grid.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMicroGrid {
    /// `Some(id)`: an existing micro-grid kept as it is.
    pub kept: Option<UnitId>,
    pub geometry: MultiPolygon<f64>,
    /// Indices into [`CommunityInput::households`].
    pub households: Vec<usize>,
    pub persons: u32,
    pub infeasible: Option<Infeasibility>,
}

/// A grid of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedGrid {
    pub status: GridStatus,
    pub kind: GridKind,
    /// One polygon for every new or changed grid; kept grids keep theirs as they were.
    pub geometry: MultiPolygon<f64>,
    /// Indices into [`CommunityInput::households`].
    pub households: Vec<usize>,
    pub persons: u32,
    /// 4πA/P² in a local metric projection: 1 for a disc, near 0 for a thread.
    pub polsby_popper: f64,
    pub infeasible: Option<Infeasibility>,
    /// `None`: the grid's micro-grids are not planned (kept grids keep theirs; a new or changed
    /// grid gets none). `Some`: the micro-grids that exactly partition this grid.
    pub micro_grids: Option<Vec<PlannedMicroGrid>>,
}

/// The plan for one community: grids that exactly partition it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityPlan {
    pub community_id: UnitId,
    pub grids: Vec<PlannedGrid>,
    /// Existing grids that disappear (with their micro-grids).
    pub removed: Vec<UnitId>,
    /// Households whose grid changes (their id in the plan differs from `current_grid`, a new
    /// grid counting as a change).
    pub households_moved: usize,
}

/// Bad options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebalanceError {
    #[error(
        "bounds {min}-{max} of {what}: the minimum must be at least 1 and at most the maximum"
    )]
    InvalidBounds {
        what: &'static str,
        min: u32,
        max: u32,
    },
}

/// Plans one community: grids that exactly partition it, each within `options.grid` where
/// the households allow, changing only what must change.
///
/// ```
/// use geo::{polygon, Area, MultiPolygon, Point};
/// use geodata::rebalance::{plan_community, Bounds, CommunityInput, GridStatus, Options};
/// use geodata::Household;
/// let community = MultiPolygon::new(vec![polygon![
///     (x: 104.0, y: 30.6), (x: 104.02, y: 30.6), (x: 104.02, y: 30.61), (x: 104.0, y: 30.61),
/// ]]);
/// // Four buildings of three households each, and no grids yet.
/// let households: Vec<Household> = (0..12)
///     .map(|i| Household {
///         id: format!("h{i}"),
///         point: Point::new(104.002 + 0.005 * f64::from(i / 3), 30.605),
///         persons: 2,
///         building: Some(format!("b{}", i / 3)),
///     })
///     .collect();
/// let input = CommunityInput {
///     community_id: 7,
///     community_code: "510104017001".into(),
///     geometry: community.clone(),
///     grids: Vec::new(),
///     current_grid: vec![None; households.len()],
///     households,
/// };
/// let options = Options { grid: Bounds { min: 5, max: 7 }, micro_grid: None };
/// let plan = plan_community(&input, &options).unwrap();
/// assert_eq!(plan.grids.len(), 2);
/// for grid in &plan.grids {
///     assert_eq!(grid.status, GridStatus::New);
///     assert_eq!(grid.households.len(), 6);
///     assert_eq!(grid.geometry.0.len(), 1);
///     assert!(grid.infeasible.is_none());
/// }
/// let area: f64 = plan.grids.iter().map(|g| g.geometry.unsigned_area()).sum();
/// assert!((area - community.unsigned_area()).abs() < 1e-12);
/// assert_eq!(plan.households_moved, 12);
/// ```
///
/// # Errors
/// [`RebalanceError::InvalidBounds`] if a minimum is 0 or above its maximum.
///
/// # Performance
/// Linear in the buildings of the redrawn region, times a few overlay operations per cell;
/// a community of a few thousand households plans in milliseconds.
pub fn plan_community(
    input: &CommunityInput,
    options: &Options,
) -> Result<CommunityPlan, RebalanceError> {
    validate(options)?;
    Ok(plan::plan(input, options))
}

/// Plans many communities in parallel (rayon), calling `progress` with the number done so far
/// after each (from whichever thread finished it, so calls may arrive slightly out of order).
///
/// ```
/// use geodata::rebalance::{plan_communities, Bounds, Options, RebalanceError};
/// let bad = Options { grid: Bounds { min: 0, max: 500 }, micro_grid: None };
/// assert!(matches!(
///     plan_communities(&[], &bad, &|_| {}),
///     Err(RebalanceError::InvalidBounds { what: "grid", .. })
/// ));
/// ```
///
/// # Errors
/// [`RebalanceError::InvalidBounds`] if a minimum is 0 or above its maximum; nothing is planned.
pub fn plan_communities(
    inputs: &[CommunityInput],
    options: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<CommunityPlan>, RebalanceError> {
    validate(options)?;
    let done = AtomicUsize::new(0);
    Ok(inputs
        .par_iter()
        .map(|input| {
            let plan = plan::plan(input, options);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            plan
        })
        .collect())
}

fn validate(options: &Options) -> Result<(), RebalanceError> {
    let check = |what: &'static str, bounds: Bounds| {
        if bounds.min >= 1 && bounds.min <= bounds.max {
            Ok(())
        } else {
            Err(RebalanceError::InvalidBounds {
                what,
                min: bounds.min,
                max: bounds.max,
            })
        }
    };
    check("grid", options.grid)?;
    options
        .micro_grid
        .map_or(Ok(()), |bounds| check("micro-grid", bounds))
}

/// The inputs for every community of a hierarchy (units of any levels, with parent links), in
/// unit order: its grids and their micro-grids by parent, its households by position (the
/// grid holding a household is its current grid). For tests, benchmarks and the demo city.
///
/// ```
/// use geodata::demo::{demo_city, DemoSize, DEFAULT_SEED};
/// use geodata::rebalance::community_inputs;
/// use geodata::Level;
/// let city = demo_city(DemoSize::Default, DEFAULT_SEED);
/// let inputs = community_inputs(&city.units, &city.households);
/// assert_eq!(inputs.len(), city.count(Level::Community));
/// let placed: usize = inputs.iter().map(|input| input.households.len()).sum();
/// assert_eq!(placed, city.households.len());
/// ```
pub fn community_inputs(units: &[Unit], households: &[Household]) -> Vec<CommunityInput> {
    let index = Index::new(
        units
            .iter()
            .filter(|u| matches!(u.level, Level::Community | Level::Grid))
            .cloned()
            .collect(),
    );
    let mut inputs: Vec<CommunityInput> = Vec::new();
    let mut slot: std::collections::HashMap<UnitId, usize> = std::collections::HashMap::new();
    for unit in units.iter().filter(|u| u.level == Level::Community) {
        slot.insert(unit.id, inputs.len());
        inputs.push(CommunityInput {
            community_id: unit.id,
            community_code: unit.code.clone(),
            geometry: unit.geometry.clone(),
            grids: Vec::new(),
            households: Vec::new(),
            current_grid: Vec::new(),
        });
    }
    let mut grid_place: std::collections::HashMap<UnitId, (usize, usize)> =
        std::collections::HashMap::new();
    for unit in units.iter().filter(|u| u.level == Level::Grid) {
        let Some(&c) = unit.parent.and_then(|p| slot.get(&p)) else {
            continue;
        };
        grid_place.insert(unit.id, (c, inputs[c].grids.len()));
        inputs[c].grids.push(ExistingGrid {
            id: unit.id,
            code: unit.code.clone(),
            kind: unit.kind,
            locked: false,
            geometry: unit.geometry.clone(),
            micro_grids: Vec::new(),
        });
    }
    for unit in units.iter().filter(|u| u.level == Level::MicroGrid) {
        if let Some(&(c, g)) = unit.parent.and_then(|p| grid_place.get(&p)) {
            inputs[c].grids[g].micro_grids.push(ExistingMicroGrid {
                id: unit.id,
                code: unit.code.clone(),
                geometry: unit.geometry.clone(),
            });
        }
    }
    for household in households {
        let chain = index.locate(household.point);
        let Some(&c) = chain.iter().find_map(|id| slot.get(id)) else {
            continue;
        };
        let grid = chain.iter().copied().find(|id| grid_place.contains_key(id));
        inputs[c].households.push(household.clone());
        inputs[c].current_grid.push(grid);
    }
    inputs
}
