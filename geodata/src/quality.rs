//! The quality report of one grid layer (a department's grid system) against the communities
//! it claims to cover: overlaps between its grids, gaps, grids crossing community boundaries,
//! and slivers.
//!
//! Department layers are drawn independently of the community boundaries and of each other, so
//! before a merge a planner wants to see what is wrong with each: [`check_layer`] answers every
//! fault as a [`LayerFault`] with its area in m², the households inside it and a point to zoom
//! to. The method:
//!
//! - **overlaps**: every pair of grids of the layer (not just grids of one community) whose
//!   boxes meet is intersected; this is [`check_topology`]'s overlap check with the grids
//!   taken as siblings;
//! - **crossings**: each grid is cut by the communities its box meets; the community holding the
//!   largest piece is its *home*, every other piece is a crossing into that community (and the
//!   part in no community at all a crossing into `None`);
//! - **gaps**: the communities that are home to at least one grid are the ones the layer covers;
//!   what of them no grid covers (one overlay per community, the grids as a non-zero clip) is a
//!   gap, piece by piece;
//! - **slivers**: a grid under `sliver_m2` or holding no household, or a crossing piece that is.
//!
//! Regions under `min_area_m2` are the rounding noise of polygon clipping along shared edges,
//! and are ignored. Grids and communities are checked in parallel (rayon), with R-trees to find
//! candidates, so a layer of thousands of grids takes well under a second per thousand.

use std::collections::HashSet;

use geo::algorithm::bool_ops::FillRule;
use geo::algorithm::orient::{Direction, Orient};
use geo::{
    BooleanOps, BoundingRect, Centroid, InteriorPoint, Intersects, MultiPolygon, OpType, Point,
    Rect,
};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::measure::area_m2;
use crate::topology::{check_topology, FaultKind, TopologyConfig};
use crate::{Household, Level, Unit, UnitId};

/// The four faults a layer can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerFaultKind {
    /// Two grids of the layer share ground.
    Overlap,
    /// Part of a community the layer covers lies in none of its grids.
    Gap,
    /// Part of a grid lies outside the community that holds most of it.
    Crossing,
    /// A grid (or a piece of one, cut off by a community boundary) that is tiny or holds no
    /// household.
    Sliver,
}

impl LayerFaultKind {
    /// The wire spelling: `OVERLAP`, `GAP`, `CROSSING` or `SLIVER`.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerFaultKind::Overlap => "OVERLAP",
            LayerFaultKind::Gap => "GAP",
            LayerFaultKind::Crossing => "CROSSING",
            LayerFaultKind::Sliver => "SLIVER",
        }
    }
}

/// One fault, with where to look.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerFault {
    pub kind: LayerFaultKind,
    /// Overlap: the grid with the lower id; crossing and sliver: the grid; gap: `None`.
    pub grid: Option<UnitId>,
    /// Overlap: the other grid; crossing: the community crossed into (`None`: outside every
    /// community); gap: the community; sliver: the community of the piece (its home community
    /// for a whole grid).
    pub other: Option<UnitId>,
    /// The faulty region's area, m².
    pub area_m2: f64,
    /// Households inside the faulty region.
    pub households: u32,
    /// A point inside the faulty region (WGS84), to zoom to.
    pub location: Point<f64>,
}

/// Every fault of a layer, by kind, largest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LayerQuality {
    pub overlaps: Vec<LayerFault>,
    pub gaps: Vec<LayerFault>,
    pub crossings: Vec<LayerFault>,
    pub slivers: Vec<LayerFault>,
}

impl LayerQuality {
    /// Every fault, overlaps first.
    pub fn all(&self) -> impl Iterator<Item = &LayerFault> + '_ {
        self.overlaps
            .iter()
            .chain(&self.gaps)
            .chain(&self.crossings)
            .chain(&self.slivers)
    }

    /// No fault at all.
    pub fn is_empty(&self) -> bool {
        self.all().next().is_none()
    }
}

type Boxed = GeomWithData<Rectangle<[f64; 2]>, usize>;
type Located = GeomWithData<[f64; 2], usize>;

/// Checks a layer's `grids` against the `communities`: overlaps between any two grids, gaps in
/// the communities the layer covers (those holding most of at least one grid), crossings of
/// community boundaries, and slivers (grids or crossing pieces under `sliver_m2` m², or holding
/// no household). Regions under `min_area_m2` m² are numeric noise and ignored. Boundaries
/// belong to both sides: a household on an edge counts in both regions.
///
/// ```
/// use geo::{polygon, MultiPolygon, Point};
/// use geodata::quality::check_layer;
/// use geodata::{GridKind, Household, Level, Unit};
/// let unit = |id, level, parent, x0: f64, x1: f64| Unit {
///     id,
///     code: format!("{id}"),
///     name: format!("{id}"),
///     level,
///     kind: GridKind::General,
///     parent,
///     geometry: MultiPolygon::new(vec![polygon![
///         (x: x0, y: 30.60), (x: x1, y: 30.60), (x: x1, y: 30.61), (x: x0, y: 30.61),
///     ]]),
/// };
/// let communities = vec![unit(1, Level::Community, None, 104.00, 104.01)];
/// // Two grids overlapping by 0.001° (about 96 m × 1.1 km), leaving 0.002° uncovered.
/// let grids = vec![
///     unit(10, Level::Grid, Some(1), 104.000, 104.005),
///     unit(11, Level::Grid, Some(1), 104.004, 104.008),
/// ];
/// let households: Vec<Household> = [104.002, 104.0045, 104.006]
///     .iter()
///     .enumerate()
///     .map(|(i, &x)| Household {
///         id: format!("h{i}"),
///         point: Point::new(x, 30.605),
///         persons: 2,
///         building: None,
///     })
///     .collect();
/// let report = check_layer(&communities, &grids, &households, 200.0, 1.0);
/// assert_eq!(report.overlaps.len(), 1);
/// assert_eq!((report.overlaps[0].grid, report.overlaps[0].other), (Some(10), Some(11)));
/// assert_eq!(report.overlaps[0].households, 1);
/// assert!((report.overlaps[0].area_m2 - 106_280.0).abs() < 500.0);
/// assert_eq!(report.gaps.len(), 1);
/// assert_eq!(report.gaps[0].other, Some(1));
/// assert!(report.crossings.is_empty() && report.slivers.is_empty());
/// ```
///
/// # Performance
/// One intersection per pair of grids whose boxes overlap and per grid and community whose
/// boxes meet, one difference per covered community; all in parallel.
pub fn check_layer(
    communities: &[Unit],
    grids: &[Unit],
    households: &[Household],
    sliver_m2: f64,
    min_area_m2: f64,
) -> LayerQuality {
    let points: RTree<Located> = RTree::bulk_load(
        households
            .iter()
            .enumerate()
            .filter(|(_, h)| h.point.x().is_finite() && h.point.y().is_finite())
            .map(|(i, h)| Located::new([h.point.x(), h.point.y()], i))
            .collect(),
    );
    let count = |region: &MultiPolygon<f64>| -> u32 {
        let Some(b) = region.bounding_rect() else {
            return 0;
        };
        points
            .locate_in_envelope(envelope(b))
            .filter(|p| region.intersects(&households[p.data].point))
            .count() as u32
    };
    let community_boxes: RTree<Boxed> = boxes(communities);

    let mut quality = LayerQuality {
        overlaps: overlaps(grids, min_area_m2, &count),
        ..LayerQuality::default()
    };

    // Crossings and slivers, grid by grid; each grid also names its home community.
    let per_grid: Vec<(Option<usize>, Vec<LayerFault>)> = grids
        .par_iter()
        .map(|grid| {
            cut_by_communities(
                grid,
                communities,
                &community_boxes,
                sliver_m2,
                min_area_m2,
                &count,
            )
        })
        .collect();
    let mut covered: HashSet<usize> = HashSet::new();
    for (home, faults) in per_grid {
        covered.extend(home);
        for fault in faults {
            match fault.kind {
                LayerFaultKind::Crossing => quality.crossings.push(fault),
                _ => quality.slivers.push(fault),
            }
        }
    }

    // Gaps, community by community.
    let grid_boxes: RTree<Boxed> = boxes(grids);
    let mut covered: Vec<usize> = covered.into_iter().collect();
    covered.sort_unstable();
    quality.gaps = covered
        .par_iter()
        .flat_map_iter(|&c| gaps(&communities[c], grids, &grid_boxes, min_area_m2, &count))
        .collect();

    for list in [
        &mut quality.overlaps,
        &mut quality.gaps,
        &mut quality.crossings,
        &mut quality.slivers,
    ] {
        list.sort_by(|a, b| {
            b.area_m2
                .total_cmp(&a.area_m2)
                .then(a.grid.cmp(&b.grid))
                .then(a.other.cmp(&b.other))
        });
    }
    quality
}

/// Overlaps between any two grids: the topology check with every grid as a sibling.
fn overlaps(
    grids: &[Unit],
    min_area_m2: f64,
    count: &(dyn Fn(&MultiPolygon<f64>) -> u32 + Sync),
) -> Vec<LayerFault> {
    let siblings: Vec<Unit> = grids
        .iter()
        .map(|g| Unit {
            id: g.id,
            code: String::new(),
            name: String::new(),
            level: Level::Grid,
            kind: g.kind,
            parent: None,
            geometry: g.geometry.clone(),
        })
        .collect();
    let report = check_topology(
        &siblings,
        &TopologyConfig {
            min_area_m2: min_area_m2.max(0.0),
        },
    );
    report
        .of_kind(FaultKind::Overlap)
        .map(|fault| LayerFault {
            kind: LayerFaultKind::Overlap,
            grid: Some(fault.unit),
            other: fault.other,
            area_m2: fault.area_m2,
            households: count(&fault.region),
            location: fault.location,
        })
        .collect()
}

/// A grid's pieces in each community: its home (the index of the community holding most of
/// it), and its crossings and slivers.
fn cut_by_communities(
    grid: &Unit,
    communities: &[Unit],
    community_boxes: &RTree<Boxed>,
    sliver_m2: f64,
    min_area_m2: f64,
    count: &(dyn Fn(&MultiPolygon<f64>) -> u32 + Sync),
) -> (Option<usize>, Vec<LayerFault>) {
    let mut faults = Vec::new();
    let Some(b) = grid.geometry.bounding_rect() else {
        return (None, faults);
    };
    let area = area_m2(&grid.geometry);
    if !(area >= min_area_m2 && area > 0.0) {
        return (None, faults);
    }
    let mut pieces: Vec<(usize, MultiPolygon<f64>, f64)> = community_boxes
        .locate_in_envelope_intersecting(envelope(b))
        .filter_map(|candidate| {
            let c = candidate.data;
            let piece = grid.geometry.intersection(&communities[c].geometry);
            let a = area_m2(&piece);
            (a > 0.0).then_some((c, piece, a))
        })
        .collect();
    pieces.sort_by(|x, y| y.2.total_cmp(&x.2).then(x.0.cmp(&y.0)));
    let home = pieces.first().map(|p| p.0);
    let inside: f64 = pieces.iter().map(|p| p.2).sum();

    let households = count(&grid.geometry);
    if area < sliver_m2 || households == 0 {
        faults.extend(fault(
            LayerFaultKind::Sliver,
            Some(grid.id),
            home.map(|c| communities[c].id),
            &grid.geometry,
            area,
            households,
        ));
    }
    for (c, piece, a) in pieces.iter().skip(1) {
        if *a < min_area_m2 {
            continue;
        }
        let n = count(piece);
        let other = Some(communities[*c].id);
        faults.extend(fault(
            LayerFaultKind::Crossing,
            Some(grid.id),
            other,
            piece,
            *a,
            n,
        ));
        if *a < sliver_m2 || n == 0 {
            faults.extend(fault(
                LayerFaultKind::Sliver,
                Some(grid.id),
                other,
                piece,
                *a,
                n,
            ));
        }
    }
    if area - inside >= min_area_m2 {
        // Some of the grid lies in no community at all.
        let all = MultiPolygon::new(
            pieces
                .iter()
                .flat_map(|(c, _, _)| communities[*c].geometry.orient(Direction::Default).0)
                .collect(),
        );
        let outside = grid
            .geometry
            .orient(Direction::Default)
            .boolean_op_with_fill_rule(&all, OpType::Difference, FillRule::NonZero);
        let a = area_m2(&outside);
        if a >= min_area_m2 {
            let n = count(&outside);
            faults.extend(fault(
                LayerFaultKind::Crossing,
                Some(grid.id),
                None,
                &outside,
                a,
                n,
            ));
        }
    }
    (home, faults)
}

/// The parts of a community in no grid, piece by piece.
fn gaps(
    community: &Unit,
    grids: &[Unit],
    grid_boxes: &RTree<Boxed>,
    min_area_m2: f64,
    count: &(dyn Fn(&MultiPolygon<f64>) -> u32 + Sync),
) -> Vec<LayerFault> {
    let Some(b) = community.geometry.bounding_rect() else {
        return Vec::new();
    };
    // With every ring oriented, the non-zero rule makes the clip the union of the grids.
    let clip = MultiPolygon::new(
        grid_boxes
            .locate_in_envelope_intersecting(envelope(b))
            .flat_map(|g| grids[g.data].geometry.orient(Direction::Default).0)
            .collect(),
    );
    let region = community
        .geometry
        .orient(Direction::Default)
        .boolean_op_with_fill_rule(&clip, OpType::Difference, FillRule::NonZero);
    region
        .0
        .into_iter()
        .filter_map(|polygon| {
            let piece = MultiPolygon::new(vec![polygon]);
            let a = area_m2(&piece);
            if !(a >= min_area_m2 && a > 0.0) {
                return None;
            }
            let n = count(&piece);
            fault(LayerFaultKind::Gap, None, Some(community.id), &piece, a, n)
        })
        .collect()
}

fn fault(
    kind: LayerFaultKind,
    grid: Option<UnitId>,
    other: Option<UnitId>,
    region: &MultiPolygon<f64>,
    area_m2: f64,
    households: u32,
) -> Option<LayerFault> {
    let location = region.interior_point().or_else(|| region.centroid())?;
    Some(LayerFault {
        kind,
        grid,
        other,
        area_m2,
        households,
        location,
    })
}

fn envelope(b: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y])
}

fn boxes(units: &[Unit]) -> RTree<Boxed> {
    RTree::bulk_load(
        units
            .iter()
            .enumerate()
            .filter_map(|(i, u)| {
                let b = u.geometry.bounding_rect()?;
                Some(Boxed::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    i,
                ))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests;
