//! Many grids into one (多网合一): merge several departments' grid layers, on top of the
//! community boundaries, into one unified grid system, and say where each old grid went (the
//! crosswalk).
//!
//! Departments draw their grids independently: the layers overlap each other and the community
//! boundaries imperfectly. [`merge_community`] redraws one community from all of them; the
//! method, in order:
//!
//! 1. **Atoms.** Every source ring is cut into the community in one string overlay on the
//!    community's integer plane (see `rebalance::plane`), so the faces of the overlay (regions
//!    covered by the same set of source grids, land covered by none included) share their
//!    vertices exactly and unified grids never cross a community boundary. Each boundary between
//!    two atoms is drawn by the layers whose grids differ on its two sides.
//! 2. **Slivers.** Atoms under [`MergeOptions::sliver_m2`] or holding no household dissolve,
//!    smallest first, into the neighbour sharing the longest boundary; atoms holding households
//!    of one building are joined.
//! 3. **Grids.** The remaining groups of atoms are the cells of the rebalance engine's graph
//!    partitioner (balanced bisection of random spanning trees, then border moves), weighted by
//!    households; a shared boundary costs its length divided by (1 + layers drawing it)², so
//!    cuts follow boundaries that several departments agree on (a street, a wall). A group over
//!    the maximum is first cut into the Voronoi cells of its buildings (the rebalance engine's
//!    cells); when the groups admit no split within bounds, the groups of the parts out of
//!    bounds and of their neighbours are cut too, then every group, and the best division kept.
//! 4. **Cover.** Land no source grid covers is atoms too, so it joins a neighbouring grid in 2.
//!
//! The unified grids exactly partition the community (pieces share the plane's integer
//! vertices), each is one polygon (the parts are connected in the graph of shared edges), and
//! every household lies in the grid that lists it (in its atom or its building's cell). Buildings
//! are never split (a building over the maximum becomes a grid of its own,
//! [`Infeasibility::BuildingOverMax`]). [`crosswalk`] then relates every source grid to the
//! unified grids that replace it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use geo::{BoundingRect, Coord, Intersects, MultiPolygon};
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::i_shape::int::shape::{IntShape, IntShapes};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

use crate::index::Slot;
use crate::measure::polsby_popper;
use crate::rebalance::cells::{self, Graph, Node};
use crate::rebalance::partition::{part_count, shortfall, Rng};
use crate::rebalance::plan::{divide, Part};
use crate::rebalance::plane::{self, Plane};
use crate::rebalance::{Bounds, Infeasibility, RebalanceError};
use crate::{Household, Index, Level, UnitId};

mod atoms;
mod crosswalk;
#[cfg(test)]
mod tests;

pub use crosswalk::crosswalk;

/// What to merge with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MergeOptions {
    pub grid: Bounds,
    /// Atoms smaller than this (m²), or holding no household, dissolve into the neighbour that
    /// shares the longest boundary with them.
    pub sliver_m2: f64,
}

impl MergeOptions {
    /// The default sliver threshold, m².
    pub const DEFAULT_SLIVER_M2: f64 = 200.0;
}

impl Default for MergeOptions {
    /// Grids of 300-500 households, slivers under 200 m².
    fn default() -> Self {
        MergeOptions {
            grid: Bounds::GRID,
            sliver_m2: MergeOptions::DEFAULT_SLIVER_M2,
        }
    }
}

/// One grid of a source layer.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceGrid {
    /// The grid system (layer) it belongs to.
    pub system_id: i64,
    pub id: UnitId,
    pub code: String,
    pub geometry: MultiPolygon<f64>,
}

/// One community and every source grid that overlaps it.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeInput {
    pub community_id: UnitId,
    pub community_code: String,
    pub geometry: MultiPolygon<f64>,
    /// Source grids of all layers intersecting the community (whole, not clipped).
    pub sources: Vec<SourceGrid>,
    /// The households inside the community.
    pub households: Vec<Household>,
}

/// A unified grid of the merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedGrid {
    /// One polygon, inside the community.
    pub geometry: MultiPolygon<f64>,
    /// Indices into [`MergeInput::households`].
    pub households: Vec<usize>,
    pub persons: u32,
    /// 4πA/P² in a local metric projection.
    pub polsby_popper: f64,
    pub infeasible: Option<Infeasibility>,
}

/// The merge of one community: unified grids that exactly partition it.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePlan {
    pub community_id: UnitId,
    pub grids: Vec<MergedGrid>,
    /// Atoms of the overlay (before dissolving slivers; specks of rounding under 0.1 m² not
    /// counted).
    pub atoms: usize,
    /// Atoms (or groups of them) dissolved as slivers, specks not counted.
    pub slivers_dissolved: usize,
    /// Source boundary length inside the community (m), and how much of it the unified grids
    /// keep as their own boundaries. A stretch drawn by several layers counts once per layer
    /// (the sum of every layer's own boundary length inside the community).
    pub source_boundary_m: f64,
    pub kept_boundary_m: f64,
}

/// One row of the crosswalk: how much of a source grid went to a unified grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrosswalkShare {
    /// The source grid's id.
    pub from: UnitId,
    /// The index of the unified grid in the list given to [`crosswalk`].
    pub to: usize,
    /// Share of the source grid's area (inside the communities) in the unified grid; a source
    /// grid's shares sum to 1.
    pub area_share: f64,
    /// Share of the source grid's households in the unified grid; they sum to 1 (a source grid
    /// without households takes its area shares).
    pub household_share: f64,
}

/// Merges one community: unified grids that exactly partition it, each one polygon within
/// `options.grid` where the households allow, cut along the source boundaries most layers agree
/// on (see the module doc).
///
/// ```
/// use geo::{polygon, Area, MultiPolygon, Point};
/// use geodata::merge::{merge_community, MergeInput, MergeOptions, SourceGrid};
/// use geodata::rebalance::Bounds;
/// use geodata::Household;
/// let rect = |x0: f64, x1: f64| MultiPolygon::new(vec![polygon![
///     (x: x0, y: 30.60), (x: x1, y: 30.60), (x: x1, y: 30.61), (x: x0, y: 30.61),
/// ]]);
/// let community = rect(104.00, 104.02);
/// // Two layers: both cut at 104.01, one also at 104.005 (and it strays out of the community).
/// let grid = |system_id, id, x0, x1| SourceGrid {
///     system_id, id, code: format!("g{id}"), geometry: rect(x0, x1),
/// };
/// let sources = vec![
///     grid(1, 1, 104.00, 104.01), grid(1, 2, 104.01, 104.02),
///     grid(2, 3, 103.99, 104.005), grid(2, 4, 104.005, 104.01), grid(2, 5, 104.01, 104.02),
/// ];
/// // Six households in each quarter of the community.
/// let households: Vec<Household> = (0..24)
///     .map(|i| Household {
///         id: format!("h{i}"),
///         point: Point::new(104.0025 + 0.005 * f64::from(i / 6), 30.601 + 0.001 * f64::from(i % 6)),
///         persons: 2,
///         building: None,
///     })
///     .collect();
/// let input = MergeInput {
///     community_id: 7,
///     community_code: "510104017001".into(),
///     geometry: community.clone(),
///     sources,
///     households,
/// };
/// let options = MergeOptions { grid: Bounds { min: 10, max: 14 }, sliver_m2: 200.0 };
/// let plan = merge_community(&input, &options).unwrap();
/// // Two grids of twelve, split where both layers agree.
/// assert_eq!(plan.grids.len(), 2);
/// for grid in &plan.grids {
///     assert_eq!(grid.households.len(), 12);
///     assert_eq!(grid.geometry.0.len(), 1);
///     assert!(grid.infeasible.is_none());
/// }
/// let area: f64 = plan.grids.iter().map(|g| g.geometry.unsigned_area()).sum();
/// assert!((area - community.unsigned_area()).abs() < 1e-12);
/// assert!(plan.kept_boundary_m > 2_000.0 && plan.kept_boundary_m < plan.source_boundary_m);
/// ```
///
/// # Errors
/// [`RebalanceError::InvalidBounds`] if the grid minimum is 0 or above the maximum.
///
/// # Performance
/// One overlay for the atoms, then the rebalance engine's work on a graph of atoms (and of
/// building cells where atoms must be cut): milliseconds for a community of a few thousand
/// households and a few dozen source grids.
pub fn merge_community(
    input: &MergeInput,
    options: &MergeOptions,
) -> Result<MergePlan, RebalanceError> {
    validate(options)?;
    Ok(plan(input, options))
}

/// Merges many communities in parallel (rayon), calling `progress` with the number done so far
/// after each (from whichever thread finished it, so calls may arrive slightly out of order).
///
/// ```
/// use geodata::merge::{merge_communities, MergeOptions};
/// use geodata::rebalance::{Bounds, RebalanceError};
/// let bad = MergeOptions { grid: Bounds { min: 600, max: 500 }, ..MergeOptions::default() };
/// assert!(matches!(
///     merge_communities(&[], &bad, &|_| {}),
///     Err(RebalanceError::InvalidBounds { what: "grid", .. })
/// ));
/// assert_eq!(merge_communities(&[], &MergeOptions::default(), &|_| {}), Ok(Vec::new()));
/// ```
///
/// # Errors
/// [`RebalanceError::InvalidBounds`] if the grid minimum is 0 or above the maximum; nothing is
/// merged.
pub fn merge_communities(
    inputs: &[MergeInput],
    options: &MergeOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<MergePlan>, RebalanceError> {
    validate(options)?;
    let done = AtomicUsize::new(0);
    Ok(inputs
        .par_iter()
        .map(|input| {
            let plan = plan(input, options);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            plan
        })
        .collect())
}

/// Step 1 alone, for benchmarks against other overlay engines: the number of atoms of a
/// community's overlay (the community cut by every source ring, each face labelled with the
/// source grids covering it).
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// use geodata::merge::{overlay_atoms, MergeInput, SourceGrid};
/// let rect = |x0: f64, x1: f64| MultiPolygon::new(vec![polygon![
///     (x: x0, y: 30.60), (x: x1, y: 30.60), (x: x1, y: 30.61), (x: x0, y: 30.61),
/// ]]);
/// let grid = |id, x0, x1| SourceGrid { system_id: id, id, code: String::new(), geometry: rect(x0, x1) };
/// let input = MergeInput {
///     community_id: 1,
///     community_code: "c".into(),
///     geometry: rect(104.00, 104.03),
///     // Two overlapping grids leave five faces: a, a and b, b, and the land of neither twice.
///     sources: vec![grid(1, 104.005, 104.015), grid(2, 104.01, 104.02)],
///     households: Vec::new(),
/// };
/// assert_eq!(overlay_atoms(&input), 5);
/// ```
pub fn overlay_atoms(input: &MergeInput) -> usize {
    let Some(mut plane) = Plane::new(&input.geometry) else {
        return 0;
    };
    let community = plane.shapes(&input.geometry);
    let mut layer_of: HashMap<i64, usize> = HashMap::new();
    let sources: Vec<atoms::Source> = input
        .sources
        .iter()
        .map(|s| {
            let next = layer_of.len();
            let layer = *layer_of.entry(s.system_id).or_insert(next);
            atoms::source(&plane, &s.geometry, layer)
        })
        .collect();
    let speck = SPECK_M2 * plane.per_metre * plane.per_metre;
    let atoms = atoms::overlay(&community, &sources);
    atoms.area.iter().filter(|&&a| a >= speck).count()
}

/// The inputs of a merge: every community of `index` that a source grid meets, by id, with
/// the source grids whose polygons meet it and the households inside it. A household belongs
/// to the community on the chain of the unit [`Index::locate`] gives it, so a point on a
/// border goes where a lookup sends it, and a batch of a city's households costs a batch
/// assignment, not a polygon test each.
///
/// ```
/// use geodata::demo::{demo_city, department_layers, DemoSize, DEFAULT_SEED};
/// use geodata::merge::{merge_inputs, SourceGrid};
/// use geodata::{Index, Level};
/// let city = demo_city(DemoSize::Default, DEFAULT_SEED);
/// let index = Index::new(city.units.clone());
/// let layers = department_layers(&city, 1);
/// let sources: Vec<SourceGrid> = layers[1]
///     .grids
///     .iter()
///     .map(|g| SourceGrid { system_id: 2, id: g.id, code: g.code.clone(), geometry: g.geometry.clone() })
///     .collect();
/// let inputs = merge_inputs(&index, &sources, &city.households);
/// assert_eq!(inputs.len(), city.count(Level::Community));
/// let placed: usize = inputs.iter().map(|i| i.households.len()).sum();
/// assert_eq!(placed, city.households.len());
/// ```
pub fn merge_inputs(
    index: &Index,
    sources: &[SourceGrid],
    households: &[Household],
) -> Vec<MergeInput> {
    let met: Vec<Vec<Slot>> = sources
        .par_iter()
        .map(|source| {
            let Some(rect) = source.geometry.bounding_rect() else {
                return Vec::new();
            };
            index
                .intersecting(Level::Community, rect)
                .into_iter()
                .filter(|&slot| index.unit(slot).geometry.intersects(&source.geometry))
                .collect()
        })
        .collect();
    let mut inputs: BTreeMap<UnitId, MergeInput> = BTreeMap::new();
    for (source, slots) in sources.iter().zip(met) {
        for slot in slots {
            let community = index.unit(slot);
            inputs
                .entry(community.id)
                .or_insert_with(|| MergeInput {
                    community_id: community.id,
                    community_code: community.code.clone(),
                    geometry: community.geometry.clone(),
                    sources: Vec::new(),
                    households: Vec::new(),
                })
                .sources
                .push(source.clone());
        }
    }
    let coords: Vec<Coord<f64>> = households.iter().map(|h| h.point.0).collect();
    let slots = crate::assign::locate_batch(index, &coords);
    for (household, slot) in households.iter().zip(slots) {
        let community = slot.and_then(|slot| {
            index
                .chain_of_slot(slot)
                .find(|&s| index.unit(s).level == Level::Community)
        });
        if let Some(input) = community.and_then(|c| inputs.get_mut(&index.unit(c).id)) {
            input.households.push(household.clone());
        }
    }
    inputs.into_values().collect()
}

fn validate(options: &MergeOptions) -> Result<(), RebalanceError> {
    let Bounds { min, max } = options.grid;
    if min >= 1 && min <= max {
        Ok(())
    } else {
        Err(RebalanceError::InvalidBounds {
            what: "grid",
            min,
            max,
        })
    }
}

/// Faces under this (m²) are specks of rounding (a vertex of one layer half a unit of the plane
/// off another's edge), not counted as atoms nor as slivers dissolved.
const SPECK_M2: f64 = 0.1;

/// `length / (1 + layers)²`: what cutting along a boundary drawn by that many layers costs.
fn cost(length: f64, layers: f64) -> f64 {
    length / ((1.0 + layers) * (1.0 + layers))
}

/// A group of atoms (after dissolving slivers).
#[derive(Debug, Default)]
struct Group {
    faces: Vec<usize>,
    area: f64,
    households: Vec<usize>,
    /// Neighbouring groups: shared length, and the length times the layers drawing it.
    neighbours: HashMap<usize, (f64, f64)>,
}

/// One division of the community: the graph it was made on and its parts.
struct Division {
    graph: Graph,
    /// Per node, its group.
    node_group: Vec<usize>,
    parts: Vec<Part>,
    /// Households out of bounds in all (buildings over the maximum aside).
    miss: u64,
}

fn plan(input: &MergeInput, options: &MergeOptions) -> MergePlan {
    let households = &input.households;
    let Some(mut plane) = Plane::new(&input.geometry) else {
        return whole(input, options);
    };
    let community = plane.shapes(&input.geometry);
    if community.is_empty() {
        return whole(input, options);
    }
    let mut layer_of: HashMap<i64, usize> = HashMap::new();
    let sources: Vec<atoms::Source> = input
        .sources
        .iter()
        .map(|s| {
            let next = layer_of.len();
            let layer = *layer_of.entry(s.system_id).or_insert(next);
            atoms::source(&plane, &s.geometry, layer)
        })
        .collect();
    let atoms = atoms::overlay(&community, &sources);
    if atoms.faces.is_empty() {
        return whole(input, options);
    }
    let face_of = locate(&plane, &atoms.faces, households);

    // Groups: one per atom, then buildings joined and slivers dissolved.
    let mut groups: Vec<Option<Group>> = (0..atoms.faces.len())
        .map(|f| {
            Some(Group {
                faces: vec![f],
                area: atoms.area[f],
                ..Group::default()
            })
        })
        .collect();
    for (h, &f) in face_of.iter().enumerate() {
        if let Some(group) = groups[f].as_mut() {
            group.households.push(h);
        }
    }
    for &(a, b, length, layers) in &atoms.adjacency {
        let entry = (length, length * f64::from(layers));
        if let Some(group) = groups[a].as_mut() {
            group.neighbours.insert(b, entry);
        }
        if let Some(group) = groups[b].as_mut() {
            group.neighbours.insert(a, entry);
        }
    }
    let mut owner: Vec<usize> = (0..atoms.faces.len()).collect();
    join_buildings(&mut groups, &mut owner, &face_of, households);
    let sliver = options.sliver_m2 * plane.per_metre * plane.per_metre;
    let speck = SPECK_M2 * plane.per_metre * plane.per_metre;
    let slivers_dissolved = dissolve(&mut groups, &mut owner, sliver, speck);
    let live: Vec<usize> = (0..groups.len()).filter(|&g| groups[g].is_some()).collect();

    // Divide, cutting groups into building cells where needed.
    let bounds = options.grid;
    let seed = input.community_id as u64;
    let total = households.len() as u64;
    let feasible = total > 0 && shortfall(total, part_count(total, bounds), bounds) == 0;
    let mut best = divide_groups(
        &plane,
        &atoms.faces,
        &groups,
        &live,
        households,
        bounds,
        seed,
        &|g| group_weight(&groups, g) > u64::from(bounds.max),
    );
    if best.miss > 0 && feasible {
        // The groups of the parts out of bounds, and of the parts around them.
        let mut bad_parts: HashSet<usize> = HashSet::new();
        let mut part_of_node = vec![usize::MAX; best.graph.nodes.len()];
        for (p, part) in best.parts.iter().enumerate() {
            for &n in &part.nodes {
                part_of_node[n] = p;
            }
            if part
                .infeasible
                .is_some_and(|i| i != Infeasibility::BuildingOverMax)
            {
                bad_parts.insert(p);
            }
        }
        let mut near = bad_parts.clone();
        for (n, links) in best.graph.adjacency.iter().enumerate() {
            if bad_parts.contains(&part_of_node[n]) {
                near.extend(links.iter().map(|&(m, _)| part_of_node[m]));
            }
        }
        let chosen: HashSet<usize> = best
            .parts
            .iter()
            .enumerate()
            .filter(|(p, _)| near.contains(p))
            .flat_map(|(_, part)| part.nodes.iter().map(|&n| best.node_group[n]))
            .collect();
        let second = divide_groups(
            &plane,
            &atoms.faces,
            &groups,
            &live,
            households,
            bounds,
            seed,
            &|g| chosen.contains(&g) || group_weight(&groups, g) > u64::from(bounds.max),
        );
        if second.miss < best.miss {
            best = second;
        }
        if best.miss > 0 {
            let third = divide_groups(
                &plane,
                &atoms.faces,
                &groups,
                &live,
                households,
                bounds,
                seed,
                &|_| true,
            );
            if third.miss < best.miss {
                best = third;
            }
        }
    }

    // The unified grids.
    let Division {
        graph,
        node_group,
        parts,
        ..
    } = best;
    let mut part_of_node = vec![0usize; graph.nodes.len()];
    let mut grids = Vec::with_capacity(parts.len());
    for (p, part) in parts.into_iter().enumerate() {
        for &n in &part.nodes {
            part_of_node[n] = p;
        }
        let geometry = plane.geometry(&union_of(&graph, &part.nodes));
        let mut members: Vec<usize> = part
            .nodes
            .iter()
            .flat_map(|&n| graph.nodes[n].households.iter().copied())
            .collect();
        members.sort_unstable();
        grids.push(MergedGrid {
            polsby_popper: polsby_popper(&geometry),
            persons: members.iter().map(|&h| households[h].persons).sum(),
            households: members,
            geometry,
            infeasible: part.infeasible,
        });
    }

    // Boundaries kept: each atom's grid, at its interior point.
    let mut nodes_of_group: HashMap<usize, Vec<usize>> = HashMap::new();
    for (n, &g) in node_group.iter().enumerate() {
        nodes_of_group.entry(g).or_default().push(n);
    }
    let part_of_face: Vec<usize> = (0..atoms.faces.len())
        .map(|f| {
            let nodes = nodes_of_group.get(&owner[f]).map_or(&[][..], Vec::as_slice);
            let node = if nodes.len() == 1 {
                nodes[0]
            } else {
                nodes
                    .iter()
                    .copied()
                    .find(|&n| {
                        graph.nodes[n]
                            .pieces
                            .iter()
                            .any(|&p| plane::contains(&graph.pieces[p], atoms.inside[f]))
                    })
                    .or(nodes.first().copied())
                    .unwrap_or(0)
            };
            part_of_node.get(node).copied().unwrap_or(0)
        })
        .collect();
    let (mut source_boundary, mut kept_boundary) = (0.0, 0.0);
    for &(a, b, length, layers) in &atoms.adjacency {
        let drawn = length * f64::from(layers);
        source_boundary += drawn;
        if part_of_face[a] != part_of_face[b] {
            kept_boundary += drawn;
        }
    }

    MergePlan {
        community_id: input.community_id,
        grids,
        atoms: atoms.area.iter().filter(|&&a| a >= speck).count(),
        slivers_dissolved,
        source_boundary_m: source_boundary / plane.per_metre,
        kept_boundary_m: kept_boundary / plane.per_metre,
    }
}

/// The plan of a community with no extent to speak of: itself as one grid, if anything.
fn whole(input: &MergeInput, options: &MergeOptions) -> MergePlan {
    let grids = if input.geometry.0.is_empty() {
        Vec::new()
    } else {
        let n = input.households.len() as u32;
        vec![MergedGrid {
            geometry: input.geometry.clone(),
            households: (0..input.households.len()).collect(),
            persons: input.households.iter().map(|h| h.persons).sum(),
            polsby_popper: polsby_popper(&input.geometry),
            infeasible: (!options.grid.holds(n)).then_some(if n < options.grid.min {
                Infeasibility::UnderMinInfeasible
            } else {
                Infeasibility::NoFeasibleSplit
            }),
        }]
    };
    MergePlan {
        community_id: input.community_id,
        grids,
        atoms: 0,
        slivers_dissolved: 0,
        source_boundary_m: 0.0,
        kept_boundary_m: 0.0,
    }
}

/// The face holding each household (or the nearest, for one outside every face).
fn locate(plane: &Plane, faces: &[IntShape], households: &[Household]) -> Vec<usize> {
    let tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>> = RTree::bulk_load(
        faces
            .iter()
            .enumerate()
            .map(|(i, face)| {
                let b = plane::bounds(face);
                GeomWithData::new(
                    Rectangle::from_corners(
                        [f64::from(b[0]), f64::from(b[1])],
                        [f64::from(b[2]), f64::from(b[3])],
                    ),
                    i,
                )
            })
            .collect(),
    );
    households
        .iter()
        .map(|h| {
            let (x, y) = plane.project(h.point.0);
            let p = if x.is_finite() && y.is_finite() {
                (x, y)
            } else {
                (0.0, 0.0)
            };
            let mut holders: Vec<usize> = tree
                .locate_all_at_point([p.0, p.1])
                .map(|c| c.data)
                .filter(|&f| plane::contains(&faces[f], p))
                .collect();
            holders.sort_unstable();
            holders.first().copied().unwrap_or_else(|| {
                (0..faces.len())
                    .min_by(|&a, &b| {
                        plane::distance_to_boundary(&faces[a], p)
                            .total_cmp(&plane::distance_to_boundary(&faces[b], p))
                    })
                    .unwrap_or(0)
            })
        })
        .collect()
}

fn group_weight(groups: &[Option<Group>], g: usize) -> u64 {
    groups[g]
        .as_ref()
        .map_or(0, |group| group.households.len() as u64)
}

/// Moves group `from` into group `into`.
fn absorb(groups: &mut [Option<Group>], owner: &mut [usize], from: usize, into: usize) {
    let Some(gone) = groups[from].take() else {
        return;
    };
    for &f in &gone.faces {
        owner[f] = into;
    }
    for (&n, &(length, drawn)) in &gone.neighbours {
        if n == into {
            continue;
        }
        if let Some(neighbour) = groups[n].as_mut() {
            neighbour.neighbours.remove(&from);
            let entry = neighbour.neighbours.entry(into).or_default();
            entry.0 += length;
            entry.1 += drawn;
        }
        if let Some(target) = groups[into].as_mut() {
            let entry = target.neighbours.entry(n).or_default();
            entry.0 += length;
            entry.1 += drawn;
        }
    }
    if let Some(target) = groups[into].as_mut() {
        target.neighbours.remove(&from);
        target.faces.extend(gone.faces);
        target.area += gone.area;
        target.households.extend(gone.households);
    }
}

/// Joins neighbouring groups that hold households of one building.
fn join_buildings(
    groups: &mut [Option<Group>],
    owner: &mut [usize],
    face_of: &[usize],
    households: &[Household],
) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (h, household) in households.iter().enumerate() {
        let Some(key) = household.building.as_deref() else {
            continue;
        };
        let face = *first.entry(key).or_insert(face_of[h]);
        let (a, b) = (owner[face], owner[face_of[h]]);
        let adjacent = groups[a]
            .as_ref()
            .is_some_and(|g| g.neighbours.contains_key(&b));
        if a != b && adjacent {
            absorb(groups, owner, b, a);
        }
    }
}

/// Dissolves groups under `sliver` (square plane units) or holding no household into the
/// neighbour sharing the longest boundary, smallest first; answers how many dissolved (specks
/// under `speck` aside).
fn dissolve(groups: &mut [Option<Group>], owner: &mut [usize], sliver: f64, speck: f64) -> usize {
    let is_sliver = |g: &Group| g.area < sliver || g.households.is_empty();
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = groups
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            g.as_ref()
                .filter(|g| is_sliver(g))
                .map(|g| Reverse((g.area.max(0.0).to_bits(), i)))
        })
        .collect();
    let mut dissolved = 0;
    while let Some(Reverse((area, g))) = heap.pop() {
        let Some(group) = groups[g].as_ref() else {
            continue;
        };
        if group.area.max(0.0).to_bits() != area || !is_sliver(group) {
            continue;
        }
        let target = group
            .neighbours
            .iter()
            .map(|(&n, &(length, _))| (n, length))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((into, _)) = target else {
            continue;
        };
        if group.area >= speck {
            dissolved += 1;
        }
        absorb(groups, owner, g, into);
        if let Some(target) = groups[into].as_ref().filter(|t| is_sliver(t)) {
            heap.push(Reverse((target.area.max(0.0).to_bits(), into)));
        }
    }
    dissolved
}

/// Divides the groups, those `split` answers yes for (with two or more buildings) cut into
/// their buildings' cells.
#[allow(clippy::too_many_arguments)]
fn divide_groups(
    plane: &Plane,
    faces: &[IntShape],
    groups: &[Option<Group>],
    live: &[usize],
    households: &[Household],
    bounds: Bounds,
    seed: u64,
    split: &dyn Fn(usize) -> bool,
) -> Division {
    let mut graph = Graph::default();
    let mut node_group: Vec<usize> = Vec::new();
    let mut piece_node: Vec<usize> = Vec::new();
    let mut any_split = false;
    for &g in live {
        let Some(group) = groups[g].as_ref() else {
            continue;
        };
        let shapes: Vec<IntShape> = group.faces.iter().map(|&f| faces[f].clone()).collect();
        if split(g) && buildings(&group.households, households) >= 2 {
            let region: IntShapes = plane::overlay(&shapes, &[], OverlayRule::Subject);
            let cells = cells::build(plane, &region, &group.households, households);
            if cells.nodes.len() >= 2 {
                any_split = true;
                let offset = graph.pieces.len();
                graph.pieces.extend(cells.pieces);
                piece_node.resize(graph.pieces.len(), usize::MAX);
                for node in cells.nodes {
                    let n = graph.nodes.len();
                    let pieces: Vec<usize> = node.pieces.iter().map(|&p| offset + p).collect();
                    for &p in &pieces {
                        piece_node[p] = n;
                    }
                    graph.nodes.push(Node { pieces, ..node });
                    node_group.push(g);
                }
                continue;
            }
        }
        let n = graph.nodes.len();
        let first = graph.pieces.len();
        let (_, cx, cy) = atoms::centroid(&shapes.iter().collect::<Vec<_>>());
        graph.pieces.extend(shapes);
        piece_node.resize(graph.pieces.len(), n);
        let mut members = group.households.clone();
        members.sort_unstable();
        graph.nodes.push(Node {
            pieces: (first..graph.pieces.len()).collect(),
            weight: members.len() as u32,
            households: members,
            centroid: (cx, cy),
        });
        node_group.push(g);
    }
    if any_split {
        atoms::node(&mut graph.pieces);
    }

    // Adjacency, each shared length weighted by the layers drawing it.
    let mut shared: HashMap<(usize, usize), f64> = HashMap::new();
    for ((u, v), length) in atoms::shared_edges(&graph.pieces, &piece_node) {
        if u < graph.nodes.len() && v < graph.nodes.len() {
            *shared.entry((u, v)).or_default() += length;
        }
    }
    let mut pairs: Vec<((usize, usize), f64)> = shared.into_iter().collect();
    pairs.sort_by_key(|p| p.0);
    graph.adjacency = vec![Vec::new(); graph.nodes.len()];
    for ((u, v), length) in pairs {
        let (gu, gv) = (node_group[u], node_group[v]);
        let layers = if gu == gv {
            0.0
        } else {
            groups[gu]
                .as_ref()
                .and_then(|g| g.neighbours.get(&gv))
                .filter(|(l, _)| *l > 0.0)
                .map_or(0.0, |(l, drawn)| drawn / l)
        };
        let weight = cost(length, layers);
        graph.adjacency[u].push((v, weight));
        graph.adjacency[v].push((u, weight));
    }

    let nodes: Vec<usize> = (0..graph.nodes.len()).collect();
    // No land is dropped: every speck belongs to some grid.
    let parts = divide(&graph, &nodes, bounds, 0.0, &mut Rng::new(seed));
    let miss = parts
        .iter()
        .filter(|p| p.infeasible != Some(Infeasibility::BuildingOverMax))
        .map(|p| {
            let w: u64 = p
                .nodes
                .iter()
                .map(|&n| u64::from(graph.nodes[n].weight))
                .sum();
            shortfall(w, 1, bounds)
        })
        .sum();
    Division {
        graph,
        node_group,
        parts,
        miss,
    }
}

/// The union of nodes' pieces (plain i_overlay output, as the pieces were cut).
fn union_of(graph: &Graph, nodes: &[usize]) -> IntShapes {
    let shapes: Vec<IntShape> = nodes
        .iter()
        .flat_map(|&n| graph.nodes[n].pieces.iter())
        .map(|&p| graph.pieces[p].clone())
        .collect();
    plane::overlay(&shapes, &[], OverlayRule::Subject)
}

/// The buildings among some households: building keys, or points for those without one.
fn buildings(members: &[usize], households: &[Household]) -> usize {
    let mut keys: HashSet<(Option<&str>, u64, u64)> = HashSet::new();
    for &h in members {
        let household = &households[h];
        let key = match household.building.as_deref() {
            Some(b) => (Some(b), 0, 0),
            None => (
                None,
                household.point.x().to_bits(),
                household.point.y().to_bits(),
            ),
        };
        keys.insert(key);
    }
    keys.len()
}
