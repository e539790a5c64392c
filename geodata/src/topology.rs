//! The topology quality report: the three faults a grid hierarchy must not have.
//!
//! Each level of the hierarchy is meant to tile its parent exactly: every street lies inside its
//! district, the streets of a district do not overlap, and together they leave no part of the
//! district uncovered. Boundaries drawn by hand, digitised from paper maps or clipped from other
//! data sets break these rules in three ways, and [`check_topology`] reports each as a [`Fault`]
//! with its area in m² and a point to zoom to:
//!
//! - [`FaultKind::OutsideParent`]: part of a unit lies outside its parent, so a household there
//!   would be assigned to the child but not to the parent;
//! - [`FaultKind::Overlap`]: two siblings share ground, so a household there belongs to two grid
//!   workers (or to neither, depending on which one the index finds first);
//! - [`FaultKind::Gap`]: part of a parent is covered by none of its children, so nobody is
//!   responsible for the households there.
//!
//! Polygon clipping leaves numeric noise (slivers far below a square metre) along shared edges;
//! [`TopologyConfig::min_area_m2`] tells it apart from real faults. The check is pure and runs in
//! parallel per family (a parent and its children), with an R-tree to find candidate overlaps,
//! so a whole city of 100k+ units is checked in seconds.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use geo::algorithm::bool_ops::FillRule;
use geo::algorithm::orient::Direction;
use geo::{BooleanOps, BoundingRect, Centroid, InteriorPoint, OpType, Orient, Rect};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::{measure, Level, MultiPolygon, Point, Unit, UnitId};

/// Tuning for [`check_topology`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopologyConfig {
    /// Faulty regions (and pieces of them) smaller than this, in m², are ignored as numeric noise.
    /// Default 1 m²: the slivers that polygon clipping leaves along shared edges are far smaller,
    /// and no planner cares about a fault smaller than a doormat.
    pub min_area_m2: f64,
}

impl Default for TopologyConfig {
    fn default() -> Self {
        TopologyConfig { min_area_m2: 1.0 }
    }
}

/// What is wrong with a region of the map. The order (outside, overlap, gap) is the report's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// Part of a unit lies outside its parent.
    OutsideParent,
    /// Two siblings (units with the same parent) overlap.
    Overlap,
    /// Part of a parent is covered by none of its children.
    Gap,
}

impl FaultKind {
    /// The GraphQL spelling: `OUTSIDE_PARENT`, `OVERLAP` or `GAP`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::OutsideParent => "OUTSIDE_PARENT",
            FaultKind::Overlap => "OVERLAP",
            FaultKind::Gap => "GAP",
        }
    }
}

/// One faulty region of the map.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// [`FaultKind::OutsideParent`]: the child; [`FaultKind::Overlap`]: the sibling with the
    /// lower id; [`FaultKind::Gap`]: the parent.
    pub unit: UnitId,
    /// [`FaultKind::OutsideParent`]: the parent; [`FaultKind::Overlap`]: the sibling with the
    /// higher id; [`FaultKind::Gap`]: `None`.
    pub other: Option<UnitId>,
    /// The geodesic area of [`Fault::region`], in m² ([`measure::area_m2`]).
    pub area_m2: f64,
    /// A point inside the region (its interior point), where a map should zoom to.
    pub location: Point<f64>,
    /// The faulty region itself, in WGS84 lon/lat, for display. Pieces smaller than
    /// [`TopologyConfig::min_area_m2`] are left out.
    pub region: MultiPolygon<f64>,
}

/// The faults found by [`check_topology`], sorted by kind, then unit, then other unit (then
/// location, for the several pieces of one parent's gap).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopologyReport {
    pub faults: Vec<Fault>,
}

impl TopologyReport {
    /// No fault at all: the hierarchy tiles cleanly.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// The number of faults.
    pub fn len(&self) -> usize {
        self.faults.len()
    }

    /// The faults of one kind, in report order.
    pub fn of_kind(&self, kind: FaultKind) -> impl Iterator<Item = &Fault> + '_ {
        self.faults.iter().filter(move |f| f.kind == kind)
    }

    /// How many faults of one kind there are.
    pub fn count(&self, kind: FaultKind) -> usize {
        self.of_kind(kind).count()
    }

    /// The faults that name `id`, as [`Fault::unit`] or as [`Fault::other`].
    pub fn involving(&self, id: UnitId) -> impl Iterator<Item = &Fault> + '_ {
        self.faults
            .iter()
            .filter(move |f| f.unit == id || f.other == Some(id))
    }

    /// The total area of the faults of one kind, in m².
    pub fn total_area_m2(&self, kind: FaultKind) -> f64 {
        self.of_kind(kind).map(|f| f.area_m2).sum()
    }
}

/// Checks a hierarchy of units for children outside their parent, overlapping siblings and gaps.
///
/// - **Outside parent**: for each unit whose parent is in `units`, the part of the unit outside
///   the parent (one fault per child, its region possibly in several pieces).
/// - **Overlap**: for each pair of siblings, their intersection (one fault per pair, reported
///   once with the lower id as [`Fault::unit`]). Siblings are the units with the same parent
///   (whether or not the parent itself is in `units`); units without a parent are siblings of the
///   other parentless units of the same level. Candidate pairs come from an R-tree of bounding
///   boxes; pairs whose boxes only touch are skipped.
/// - **Gap**: for each parent in `units` with at least one child in `units`, the part of the
///   parent covered by no child, **one fault per piece**, each with its own location.
///
/// Regions are computed in lon/lat with geo's boolean operations, measured geodesically, and
/// their pieces below [`TopologyConfig::min_area_m2`] are dropped; a fault is reported when what
/// remains is non-empty and at least that large. Polygons may be wound either way. Families
/// (a parent and its children) are checked in parallel; the result does not depend on the order
/// of `units` or on the number of threads.
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// use geodata::topology::{check_topology, FaultKind, TopologyConfig};
/// use geodata::{GridKind, Level, Unit};
///
/// let unit = |id, parent: Option<i64>, polygon| Unit {
///     id,
///     code: id.to_string(),
///     name: format!("unit {id}"),
///     level: if parent.is_some() { Level::Grid } else { Level::Community },
///     kind: GridKind::General,
///     parent,
///     geometry: MultiPolygon::new(vec![polygon]),
/// };
/// // A 0.01° community at Chengdu, split into a west and an east grid...
/// let community = unit(1, None, polygon![
///     (x: 104.0, y: 30.6), (x: 104.01, y: 30.6), (x: 104.01, y: 30.61), (x: 104.0, y: 30.61),
/// ]);
/// // ...but the west grid reaches 0.001° too far east, over the east grid,
/// let west = unit(2, Some(1), polygon![
///     (x: 104.0, y: 30.6), (x: 104.006, y: 30.6), (x: 104.006, y: 30.61), (x: 104.0, y: 30.61),
/// ]);
/// // and the east grid stops 0.002° short of the community's north edge.
/// let east = unit(3, Some(1), polygon![
///     (x: 104.005, y: 30.6), (x: 104.01, y: 30.6), (x: 104.01, y: 30.608), (x: 104.005, y: 30.608),
/// ]);
///
/// let report = check_topology(&[community, west, east], &TopologyConfig::default());
/// assert_eq!(report.len(), 2);
///
/// let overlap = &report.faults[0];
/// assert_eq!((overlap.kind, overlap.unit, overlap.other), (FaultKind::Overlap, 2, Some(3)));
/// // 0.001° × 0.008°: about 96 m × 888 m.
/// assert!((overlap.area_m2 - 85_000.0).abs() < 2_000.0, "{}", overlap.area_m2);
///
/// let gap = &report.faults[1];
/// assert_eq!((gap.kind, gap.unit, gap.other), (FaultKind::Gap, 1, None));
/// // North of the east grid, east of the west grid: 0.004° × 0.002°.
/// assert!(gap.location.x() > 104.006 && gap.location.y() > 30.608);
/// ```
pub fn check_topology(units: &[Unit], config: &TopologyConfig) -> TopologyReport {
    let by_id: HashMap<UnitId, &Unit> = units.iter().map(|u| (u.id, u)).collect();

    let mut families: BTreeMap<FamilyKey, Vec<&Unit>> = BTreeMap::new();
    for unit in units {
        families.entry(FamilyKey::of(unit)).or_default().push(unit);
    }
    let families: Vec<(FamilyKey, Vec<&Unit>)> = families
        .into_iter()
        .map(|(key, mut children)| {
            children.sort_by_key(|u| u.id);
            (key, children)
        })
        .collect();

    let min_area = config.min_area_m2;
    let mut faults: Vec<Fault> = families
        .par_iter()
        .flat_map_iter(|(key, children)| {
            let parent = key.parent.and_then(|id| by_id.get(&id).copied());
            check_family(parent, children, min_area)
        })
        .collect();
    faults.sort_by(report_order);
    TopologyReport { faults }
}

/// Which units are siblings: the same parent, or no parent and the same level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct FamilyKey {
    parent: Option<UnitId>,
    /// Only for parentless units.
    level: Option<Level>,
}

impl FamilyKey {
    fn of(unit: &Unit) -> Self {
        match unit.parent {
            Some(parent) => FamilyKey {
                parent: Some(parent),
                level: None,
            },
            None => FamilyKey {
                parent: None,
                level: Some(unit.level),
            },
        }
    }
}

fn report_order(a: &Fault, b: &Fault) -> Ordering {
    (a.kind, a.unit, a.other)
        .cmp(&(b.kind, b.unit, b.other))
        .then_with(|| a.location.x().total_cmp(&b.location.x()))
        .then_with(|| a.location.y().total_cmp(&b.location.y()))
        .then_with(|| a.area_m2.total_cmp(&b.area_m2))
}

/// All faults of one family: its children (sorted by id) outside the parent, overlapping each
/// other, and the parent's gaps.
fn check_family(parent: Option<&Unit>, children: &[&Unit], min_area: f64) -> Vec<Fault> {
    let mut faults: Vec<Fault> = Vec::new();

    if let Some(parent) = parent {
        faults.par_extend(children.par_iter().filter_map(|child| {
            let region = child.geometry.difference(&parent.geometry);
            let (region, area) = merge(significant_pieces(region, min_area))?;
            fault(
                FaultKind::OutsideParent,
                child.id,
                Some(parent.id),
                region,
                area,
            )
        }));
    }

    if children.len() > 1 {
        faults.par_extend(overlaps(children, min_area));
    }

    if let Some(parent) = parent {
        faults.extend(gaps(parent, children, min_area));
    }
    faults
}

type Envelope = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// The overlaps between siblings sorted by id, each pair once.
fn overlaps<'a>(
    children: &'a [&'a Unit],
    min_area: f64,
) -> impl ParallelIterator<Item = Fault> + 'a {
    let boxes: Vec<Option<Rect<f64>>> = children
        .iter()
        .map(|c| c.geometry.bounding_rect())
        .collect();
    let tree: RTree<Envelope> = RTree::bulk_load(
        boxes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                b.map(|r| {
                    Envelope::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i,
                    )
                })
            })
            .collect(),
    );
    (0..children.len()).into_par_iter().flat_map_iter(move |i| {
        let mut found = Vec::new();
        let Some(bi) = boxes[i] else {
            return found;
        };
        let query = AABB::from_corners([bi.min().x, bi.min().y], [bi.max().x, bi.max().y]);
        for candidate in tree.locate_in_envelope_intersecting(query) {
            let j = candidate.data;
            // Each pair once, from the lower index (the lower id); boxes that merely touch
            // cannot hold an overlap of positive area.
            if j <= i || !boxes[j].is_some_and(|bj| boxes_overlap(&bi, &bj)) {
                continue;
            }
            let (a, b) = (children[i], children[j]);
            let region = a.geometry.intersection(&b.geometry);
            if let Some((region, area)) = merge(significant_pieces(region, min_area)) {
                found.extend(fault(FaultKind::Overlap, a.id, Some(b.id), region, area));
            }
        }
        found
    })
}

/// Whether two boxes share an area, not just an edge or a corner.
fn boxes_overlap(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x.max(b.min().x) < a.max().x.min(b.max().x)
        && a.min().y.max(b.min().y) < a.max().y.min(b.max().y)
}

/// The parts of `parent` covered by none of `children`, one fault per piece.
fn gaps(parent: &Unit, children: &[&Unit], min_area: f64) -> Vec<Fault> {
    // One overlay: the parent minus all the children's rings at once. With every ring oriented
    // (exteriors counter-clockwise, holes clockwise) the non-zero fill rule makes the clip the
    // union of the children, even where they overlap or one fills another's hole.
    let subject = parent.geometry.orient(Direction::Default);
    let clip = MultiPolygon::new(
        children
            .iter()
            .flat_map(|c| c.geometry.orient(Direction::Default).0)
            .collect(),
    );
    let region = subject.boolean_op_with_fill_rule(&clip, OpType::Difference, FillRule::NonZero);
    significant_pieces(region, min_area)
        .into_iter()
        .filter_map(|(piece, area)| fault(FaultKind::Gap, parent.id, None, piece, area))
        .collect()
}

/// The pieces of `region` of at least `min_area` m² (and of positive area), each with its area.
fn significant_pieces(region: MultiPolygon<f64>, min_area: f64) -> Vec<(MultiPolygon<f64>, f64)> {
    region
        .0
        .into_iter()
        .filter_map(|polygon| {
            let piece = MultiPolygon::new(vec![polygon]);
            let area = measure::area_m2(&piece);
            (area > 0.0 && area >= min_area).then_some((piece, area))
        })
        .collect()
}

/// The pieces as one region, with their total area; `None` if there is none.
fn merge(pieces: Vec<(MultiPolygon<f64>, f64)>) -> Option<(MultiPolygon<f64>, f64)> {
    if pieces.is_empty() {
        return None;
    }
    let area = pieces.iter().map(|(_, a)| a).sum();
    let region = MultiPolygon::new(pieces.into_iter().flat_map(|(p, _)| p.0).collect());
    Some((region, area))
}

fn fault(
    kind: FaultKind,
    unit: UnitId,
    other: Option<UnitId>,
    region: MultiPolygon<f64>,
    area_m2: f64,
) -> Option<Fault> {
    // A region of positive area always has an interior point; the centroid is a mere fallback.
    let location = region.interior_point().or_else(|| region.centroid())?;
    Some(Fault {
        kind,
        unit,
        other,
        area_m2,
        location,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GridKind;
    use geo::{coord, Contains, Intersects, LineString, Polygon};
    use proptest::prelude::*;

    /// An axis-aligned box, counter-clockwise.
    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
        Rect::new((x0, y0), (x1, y1)).to_polygon()
    }

    fn unit(id: UnitId, parent: Option<UnitId>, level: Level, polygon: Polygon<f64>) -> Unit {
        unit_mp(id, parent, level, MultiPolygon::new(vec![polygon]))
    }

    fn unit_mp(
        id: UnitId,
        parent: Option<UnitId>,
        level: Level,
        geometry: MultiPolygon<f64>,
    ) -> Unit {
        Unit {
            id,
            code: format!("5101{id:02}"),
            name: format!("unit {id}"),
            level,
            kind: GridKind::General,
            parent,
            geometry,
        }
    }

    fn area(polygon: Polygon<f64>) -> f64 {
        measure::area_m2(&MultiPolygon::new(vec![polygon]))
    }

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance * expected.abs(),
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    /// A 1°×1° district at Chengdu (id 1) and its four quarters: SW 2, SE 3, NW 4, NE 5.
    fn district() -> Vec<Unit> {
        let d = Level::District;
        let s = Level::Street;
        vec![
            unit(1, None, d, rect(104.0, 30.6, 105.0, 31.6)),
            unit(2, Some(1), s, rect(104.0, 30.6, 104.5, 31.1)),
            unit(3, Some(1), s, rect(104.5, 30.6, 105.0, 31.1)),
            unit(4, Some(1), s, rect(104.0, 31.1, 104.5, 31.6)),
            unit(5, Some(1), s, rect(104.5, 31.1, 105.0, 31.6)),
        ]
    }

    fn check(units: &[Unit]) -> TopologyReport {
        check_topology(units, &TopologyConfig::default())
    }

    #[test]
    fn exact_tiling_has_no_faults() {
        let report = check(&district());
        assert!(report.is_empty(), "{:?}", report.faults);
        assert_eq!(report.len(), 0);
    }

    #[test]
    fn default_min_area_is_one_square_metre() {
        assert_eq!(TopologyConfig::default().min_area_m2, 1.0);
    }

    #[test]
    fn child_sticking_out_of_its_parent_is_reported() {
        let mut units = district();
        // The NE quarter reaches 0.1° east of the district.
        units[4].geometry = MultiPolygon::new(vec![rect(104.5, 31.1, 105.1, 31.6)]);
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        let fault = &report.faults[0];
        assert_eq!(fault.kind, FaultKind::OutsideParent);
        assert_eq!((fault.unit, fault.other), (5, Some(1)));
        assert_close(fault.area_m2, area(rect(105.0, 31.1, 105.1, 31.6)), 0.01);
        assert!(rect(105.0, 31.1, 105.1, 31.6).contains(&fault.location));
        assert_close(fault.area_m2, measure::area_m2(&fault.region), 1e-9);
    }

    #[test]
    fn overlapping_siblings_are_reported_once_with_the_lower_id_first() {
        let mut units = district();
        // The SE quarter (3) reaches 0.1° west, over the SW quarter (2); list it first.
        units[2].geometry = MultiPolygon::new(vec![rect(104.4, 30.6, 105.0, 31.1)]);
        units.swap(1, 2);
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        let fault = &report.faults[0];
        assert_eq!(fault.kind, FaultKind::Overlap);
        assert_eq!((fault.unit, fault.other), (2, Some(3)));
        assert_close(fault.area_m2, area(rect(104.4, 30.6, 104.5, 31.1)), 0.01);
        assert!(rect(104.4, 30.6, 104.5, 31.1).contains(&fault.location));
        assert_eq!(report.involving(3).count(), 1);
        assert_eq!(report.involving(4).count(), 0);
    }

    #[test]
    fn missing_child_leaves_a_gap() {
        let mut units = district();
        units.remove(4); // the NE quarter
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        let fault = &report.faults[0];
        assert_eq!(fault.kind, FaultKind::Gap);
        assert_eq!((fault.unit, fault.other), (1, None));
        let hole = rect(104.5, 31.1, 105.0, 31.6);
        assert_close(fault.area_m2, area(hole.clone()), 0.01);
        assert!(hole.contains(&fault.location), "{:?}", fault.location);
    }

    #[test]
    fn gap_in_several_pieces_is_one_fault_per_piece() {
        let mut units = district();
        // Drop SW and NE: two gaps touching at a corner; and a 0.1° hole in NW.
        units.retain(|u| u.id != 2 && u.id != 5);
        units[2].geometry = MultiPolygon::new(vec![Polygon::new(
            rect(104.0, 31.1, 104.5, 31.6).exterior().clone(),
            vec![rect(104.2, 31.3, 104.3, 31.4).exterior().clone()],
        )]);
        let report = check(&units);
        let gaps: Vec<&Fault> = report.of_kind(FaultKind::Gap).collect();
        assert_eq!(gaps.len(), 3, "{:?}", report.faults);
        assert_eq!(report.len(), 3);
        let mut expected = [
            rect(104.0, 30.6, 104.5, 31.1),
            rect(104.5, 31.1, 105.0, 31.6),
            rect(104.2, 31.3, 104.3, 31.4),
        ];
        for gap in &gaps {
            let piece = expected
                .iter()
                .position(|p| p.contains(&gap.location))
                .map(|i| std::mem::replace(&mut expected[i], rect(0.0, 0.0, 0.0, 0.0)));
            let piece = piece.unwrap_or_else(|| panic!("{:?} in no expected gap", gap.location));
            assert_close(gap.area_m2, area(piece), 0.01);
            assert_eq!(gap.region.0.len(), 1);
        }
        assert_close(
            report.total_area_m2(FaultKind::Gap),
            gaps.iter().map(|g| g.area_m2).sum(),
            1e-12,
        );
        // Sorted by location within the parent.
        assert!(gaps
            .windows(2)
            .all(|w| w[0].location.x() <= w[1].location.x()));
    }

    #[test]
    fn faults_below_min_area_are_ignored() {
        let mut units = district();
        // A 1e-12° sliver past the district's east edge, and another over the SE quarter.
        units[4].geometry = MultiPolygon::new(vec![rect(104.5, 31.1, 105.0 + 1e-12, 31.6)]);
        units[1].geometry = MultiPolygon::new(vec![rect(104.0, 30.6, 104.5 + 1e-12, 31.1)]);
        // A 1e-12° sliver of gap under the NW quarter.
        units[3].geometry = MultiPolygon::new(vec![rect(104.0, 31.1 + 1e-12, 104.5, 31.6)]);
        let report = check(&units);
        assert!(report.is_empty(), "{:?}", report.faults);
    }

    #[test]
    fn siblings_touching_along_an_edge_or_a_corner_do_not_overlap() {
        let m = Level::MicroGrid;
        // Bounding boxes that intersect over an area, polygons that only share an edge.
        let units = vec![
            unit(1, None, m, rect(104.0, 30.6, 104.01, 30.61)),
            unit(
                2,
                None,
                m,
                Polygon::new(
                    LineString::from(vec![
                        (104.0, 30.61),
                        (104.01, 30.61),
                        (104.01, 30.6),
                        (104.02, 30.6),
                        (104.02, 30.62),
                        (104.0, 30.62),
                        (104.0, 30.61),
                    ]),
                    vec![],
                ),
            ),
            unit(3, None, m, rect(104.02, 30.62, 104.03, 30.63)), // a corner only
        ];
        assert!(check(&units).is_empty());
    }

    #[test]
    fn min_area_is_configurable() {
        let mut units = district();
        units.remove(4);
        let hole = area(rect(104.5, 31.1, 105.0, 31.6));
        let strict = check_topology(&units, &TopologyConfig { min_area_m2: 0.0 });
        assert_eq!(strict.count(FaultKind::Gap), 1);
        let lax = check_topology(
            &units,
            &TopologyConfig {
                min_area_m2: hole * 1.01,
            },
        );
        assert!(lax.is_empty());
    }

    #[test]
    fn holes_and_clockwise_rings_are_understood() {
        let c = Level::Community;
        let g = Level::Grid;
        // A clockwise parent, tiled by a clockwise child with a hole and an island child that
        // fills half of the hole: the gap is the other half.
        let cw = |p: Polygon<f64>| p.orient(Direction::Reversed);
        let with_hole = Polygon::new(
            rect(104.0, 30.6, 104.1, 30.7).exterior().clone(),
            vec![rect(104.04, 30.64, 104.06, 30.66).exterior().clone()],
        );
        let units = vec![
            unit(10, None, c, cw(rect(104.0, 30.6, 104.1, 30.7))),
            unit(11, Some(10), g, cw(with_hole)),
            unit(12, Some(10), g, cw(rect(104.04, 30.64, 104.05, 30.66))),
        ];
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        let gap = &report.faults[0];
        assert_eq!((gap.kind, gap.unit), (FaultKind::Gap, 10));
        let half = rect(104.05, 30.64, 104.06, 30.66);
        assert_close(gap.area_m2, area(half.clone()), 0.01);
        assert!(half.contains(&gap.location));
    }

    #[test]
    fn overlapping_children_leave_no_false_gap() {
        let mut units = district();
        // SW covers the whole south half, over SE: one overlap, no gap.
        units[1].geometry = MultiPolygon::new(vec![rect(104.0, 30.6, 105.0, 31.1)]);
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        assert_eq!(report.count(FaultKind::Overlap), 1);
    }

    #[test]
    fn parentless_units_are_siblings_per_level() {
        let units = vec![
            unit(1, None, Level::District, rect(104.0, 30.6, 104.2, 30.8)),
            unit(2, None, Level::District, rect(104.1, 30.6, 104.3, 30.8)),
            // Overlaps both districts, but is a street: not their sibling.
            unit(3, None, Level::Street, rect(104.05, 30.6, 104.25, 30.7)),
        ];
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        let fault = &report.faults[0];
        assert_eq!(
            (fault.kind, fault.unit, fault.other),
            (FaultKind::Overlap, 1, Some(2))
        );
    }

    #[test]
    fn children_of_an_absent_parent_are_still_checked_for_overlaps() {
        let g = Level::Grid;
        let units = vec![
            unit(7, Some(99), g, rect(104.0, 30.6, 104.02, 30.61)),
            unit(8, Some(99), g, rect(104.01, 30.6, 104.03, 30.61)),
            unit(9, Some(98), g, rect(104.01, 30.6, 104.03, 30.61)), // another family
        ];
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        assert_eq!(
            (
                report.faults[0].kind,
                report.faults[0].unit,
                report.faults[0].other
            ),
            (FaultKind::Overlap, 7, Some(8))
        );
    }

    #[test]
    fn an_outside_child_in_several_pieces_is_one_fault() {
        let c = Level::Community;
        let g = Level::Grid;
        let units = vec![
            unit(1, None, c, rect(104.0, 30.6, 104.1, 30.7)),
            // Pokes out both west and east.
            unit(2, Some(1), g, rect(103.99, 30.6, 104.11, 30.7)),
        ];
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        let fault = &report.faults[0];
        assert_eq!(fault.kind, FaultKind::OutsideParent);
        assert_eq!(fault.region.0.len(), 2);
        let expected =
            area(rect(103.99, 30.6, 104.0, 30.7)) + area(rect(104.1, 30.6, 104.11, 30.7));
        assert_close(fault.area_m2, expected, 0.01);
        assert!(fault.region.intersects(&fault.location));
    }

    #[test]
    fn report_is_sorted_and_independent_of_input_order() {
        let mut units = district();
        units[4].geometry = MultiPolygon::new(vec![rect(104.5, 31.1, 105.1, 31.6)]); // outside
        units[1].geometry = MultiPolygon::new(vec![rect(104.0, 30.6, 104.6, 31.1)]); // overlap
        units[3].geometry = MultiPolygon::new(vec![rect(104.0, 31.2, 104.5, 31.6)]); // gap
        let report = check(&units);
        let kinds: Vec<FaultKind> = report.faults.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [FaultKind::OutsideParent, FaultKind::Overlap, FaultKind::Gap]
        );
        units.reverse();
        assert_eq!(check(&units), report);
        assert_eq!(FaultKind::OutsideParent.as_str(), "OUTSIDE_PARENT");
        assert_eq!(FaultKind::Gap.as_str(), "GAP");
    }

    #[test]
    fn empty_input_gives_an_empty_report() {
        assert!(check(&[]).is_empty());
        let lone = unit(1, Some(2), Level::Grid, rect(104.0, 30.6, 104.1, 30.7));
        assert!(check(&[lone]).is_empty());
    }

    /// Splits `bounds` by `cuts`: each cut picks a leaf (by index, modulo), an axis, and where
    /// along it to cut (a fraction). Neighbours share the very same cut coordinate.
    fn partition(bounds: Rect<f64>, cuts: &[(usize, bool, f64)]) -> Vec<Rect<f64>> {
        let mut leaves = vec![bounds];
        for &(pick, vertical, fraction) in cuts {
            let leaf = leaves.swap_remove(pick % leaves.len());
            let (min, max) = (leaf.min(), leaf.max());
            if vertical {
                let x = min.x + fraction * (max.x - min.x);
                leaves.push(Rect::new(min, coord! { x: x, y: max.y }));
                leaves.push(Rect::new(coord! { x: x, y: min.y }, max));
            } else {
                let y = min.y + fraction * (max.y - min.y);
                leaves.push(Rect::new(min, coord! { x: max.x, y: y }));
                leaves.push(Rect::new(coord! { x: min.x, y: y }, max));
            }
        }
        leaves
    }

    fn family(bounds: Rect<f64>, leaves: &[Rect<f64>]) -> Vec<Unit> {
        let mut units = vec![unit(1, None, Level::Community, bounds.to_polygon())];
        units.extend(
            leaves
                .iter()
                .zip(2..)
                .map(|(r, id)| unit(id, Some(1), Level::Grid, r.to_polygon())),
        );
        units
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_partitions_are_clean_until_a_child_shrinks(
            x0 in 103.9f64..104.2,
            y0 in 30.5f64..30.8,
            w in 0.001f64..0.2,
            h in 0.001f64..0.2,
            cuts in prop::collection::vec((0usize..64, any::<bool>(), 0.2f64..0.8), 0..24),
            shrink in 0.3f64..0.7,
        ) {
            let bounds = Rect::new((x0, y0), (x0 + w, y0 + h));
            let mut leaves = partition(bounds, &cuts);
            let units = family(bounds, &leaves);
            let report = check(&units);
            prop_assert!(report.is_empty(), "{:?}", report.faults);

            // Shrink the largest leaf from the east: the strip it gives up becomes a gap.
            let largest = (0..leaves.len())
                .max_by(|&a, &b| {
                    let (ra, rb) = (leaves[a], leaves[b]);
                    (ra.width() * ra.height()).total_cmp(&(rb.width() * rb.height()))
                })
                .unwrap_or(0);
            let leaf = leaves[largest];
            let cut_x = leaf.min().x + shrink * leaf.width();
            leaves[largest] = Rect::new(leaf.min(), coord! { x: cut_x, y: leaf.max().y });
            let removed = Rect::new(coord! { x: cut_x, y: leaf.min().y }, leaf.max());

            let report = check(&family(bounds, &leaves));
            prop_assert_eq!(report.len(), 1, "{:?}", report.faults);
            let gap = &report.faults[0];
            prop_assert_eq!((gap.kind, gap.unit, gap.other), (FaultKind::Gap, 1, None));
            let expected = area(removed.to_polygon());
            prop_assert!(
                (gap.area_m2 - expected).abs() <= 1e-6 * expected,
                "gap {} m², removed {} m²", gap.area_m2, expected
            );
            prop_assert!(removed.to_polygon().contains(&gap.location));
        }
    }

    /// `r` with every edge cut into `k` segments, as real boundaries have many vertices; the
    /// extra vertices are not shared with the neighbours, which meet them at T-junctions.
    fn densified(r: Rect<f64>, k: usize) -> Polygon<f64> {
        let corners = [
            r.min(),
            coord! { x: r.max().x, y: r.min().y },
            r.max(),
            coord! { x: r.min().x, y: r.max().y },
        ];
        let mut ring = Vec::with_capacity(4 * k + 1);
        for (i, &a) in corners.iter().enumerate() {
            let b = corners[(i + 1) % 4];
            for s in 0..k {
                let t = s as f64 / k as f64;
                ring.push(coord! { x: a.x + t * (b.x - a.x), y: a.y + t * (b.y - a.y) });
            }
        }
        ring.push(corners[0]);
        Polygon::new(LineString::new(ring), vec![])
    }

    /// A synthetic city: `districts`² districts, each split into a 4×4 of streets, each into a
    /// 4×4 of communities, each into a `grids`² of grids, every edge in `k` segments.
    fn synthetic_city(districts: usize, grids: usize, k: usize) -> Vec<Unit> {
        let mut units = Vec::new();
        let mut next_id: UnitId = 1;
        let mut add = |level, parent, r: Rect<f64>, units: &mut Vec<Unit>| {
            let id = next_id;
            next_id += 1;
            units.push(unit(id, parent, level, densified(r, k)));
            id
        };
        let split = |r: Rect<f64>, n: usize| -> Vec<Rect<f64>> {
            let (w, h) = (r.width() / n as f64, r.height() / n as f64);
            let mut out = Vec::new();
            for i in 0..n {
                for j in 0..n {
                    let x = |k: usize| {
                        if k == n {
                            r.max().x
                        } else {
                            r.min().x + k as f64 * w
                        }
                    };
                    let y = |k: usize| {
                        if k == n {
                            r.max().y
                        } else {
                            r.min().y + k as f64 * h
                        }
                    };
                    out.push(Rect::new((x(i), y(j)), (x(i + 1), y(j + 1))));
                }
            }
            out
        };
        let city_box = Rect::new((103.6, 30.3), (104.6, 31.1));
        let city = add(Level::City, None, city_box, &mut units);
        for d in split(city_box, districts) {
            let district = add(Level::District, Some(city), d, &mut units);
            for s in split(d, 4) {
                let street = add(Level::Street, Some(district), s, &mut units);
                for c in split(s, 4) {
                    let community = add(Level::Community, Some(street), c, &mut units);
                    for g in split(c, grids) {
                        add(Level::Grid, Some(community), g, &mut units);
                    }
                }
            }
        }
        units
    }

    #[test]
    fn synthetic_city_tiles_cleanly_and_faults_are_found() {
        let mut units = synthetic_city(2, 3, 3);
        assert!(check(&units).is_empty());
        // Drop one grid: one gap in its community.
        let dropped = units.pop().map(|u| u.parent);
        let report = check(&units);
        assert_eq!(report.len(), 1, "{:?}", report.faults);
        assert_eq!(Some(report.faults[0].unit), dropped.flatten());
    }

    /// `cargo test -p geodata --release --lib topology::tests::large_city_timing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing only"]
    fn large_city_timing() {
        for (districts, grids, k) in [(2, 6, 1), (2, 6, 8), (4, 6, 8)] {
            let mut units = synthetic_city(districts, grids, k);
            let n = units.len();
            units.truncate(n - 1);
            let start = std::time::Instant::now();
            let report = check(&units);
            println!(
                "{} units of {} vertices: {} faults in {:?}",
                units.len(),
                4 * k,
                report.len(),
                start.elapsed()
            );
            assert_eq!(report.len(), 1);
        }
    }
}
