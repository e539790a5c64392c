//! Point lookup over the hierarchy: "whose patch is this address in?".
//!
//! One R-tree per level, bulk-loaded over the units' bounding boxes, filters the candidates;
//! an exact, robust containment test decides. Beside each R-tree a cell map (see `cells`)
//! answers most points with one memory read, and the others with one more: a block holding the
//! few edges that cross the point's cell. [`Index::locate`] finds the deepest unit that
//! holds the point and answers its whole chain up to the city through the parent links, so the
//! chain is always consistent (each unit's parent follows it), even on shared borders.
//!
//! # Who owns a point on a shared border
//! Units are closed sets: a point on a unit's boundary is in it. A point in the interior of a
//! unit belongs to that unit. A point on the boundary of several siblings (a shared edge or
//! corner) and in the interior of none belongs to the one with the **smallest code** (byte
//! order). Codes are unique and stable, so the rule is deterministic and survives redraws of
//! other units; it needs no tolerance, as the tests are exact (geo's robust predicates).

use std::collections::HashMap;

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{BoundingRect, Coord, Intersects, Point, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::{Level, Unit, UnitId};

/// A unit's position inside an [`Index`]; dense, so that per-unit tallies can be plain vectors.
pub type Slot = u32;

type Envelope = GeomWithData<Rectangle<[f64; 2]>, Slot>;

/// A chain has at most one unit per level.
const CHAIN_MAX: usize = Level::ALL.len();

/// One slot's chain of ids, nearest first, aligned to a cache line.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Chain {
    ids: [UnitId; CHAIN_MAX],
    len: usize,
}

mod cells;
mod rings;

/// The search structures of one level: an R-tree over bounding boxes, and a cell map that
/// answers most points without descending it.
struct LevelTree {
    level: Level,
    tree: RTree<Envelope>,
    cells: Option<cells::CellMap>,
}

/// An immutable point-lookup index over a set of units of any levels. Rebuild it (cheaply,
/// with bulk loading) rather than mutate it.
///
/// ```
/// use geo::{polygon, MultiPolygon, Point};
/// use geodata::{GridKind, Index, Level, Unit};
/// let square = |x: f64| MultiPolygon::new(vec![polygon![
///     (x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0),
/// ]]);
/// let unit = |id, code: &str, level, parent, geometry| Unit {
///     id, code: code.into(), name: code.into(), level, kind: GridKind::General, parent, geometry,
/// };
/// let index = Index::new(vec![
///     unit(1, "C", Level::Community, None, MultiPolygon::new(vec![polygon![
///         (x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0), (x: 0.0, y: 1.0),
///     ]])),
///     unit(2, "C002", Level::Grid, Some(1), square(1.0)),
///     unit(3, "C001", Level::Grid, Some(1), square(0.0)),
/// ]);
/// assert_eq!(index.locate(Point::new(1.5, 0.5)), vec![2, 1]);
/// // On the shared edge x = 1 the smaller code wins.
/// assert_eq!(index.locate(Point::new(1.0, 0.5)), vec![3, 1]);
/// assert!(index.locate(Point::new(5.0, 0.5)).is_empty());
/// ```
pub struct Index {
    units: Vec<Unit>,
    slot_of: HashMap<UnitId, Slot>,
    parent_slot: Vec<Option<Slot>>,
    /// Every slot's chain of ids (itself, then its ancestors), one cache line each, so that
    /// an answer is one read rather than a walk up the parent links.
    chains: Vec<Chain>,
    /// Deepest level first.
    levels: Vec<LevelTree>,
}

impl Index {
    /// Builds the index. Parents that are not among `units` end a unit's chain.
    ///
    /// # Panics
    /// If there are more than `u32::MAX` units.
    pub fn new(units: Vec<Unit>) -> Index {
        assert!(
            units.len() < (1 << 31) - 2,
            "too many units for one index (cell maps keep slots in 31 bits)"
        );
        let slot_of: HashMap<UnitId, Slot> = units
            .iter()
            .enumerate()
            .map(|(slot, unit)| (unit.id, slot as Slot))
            .collect();
        let parent_slot: Vec<Option<Slot>> = units
            .iter()
            .map(|unit| unit.parent.and_then(|p| slot_of.get(&p).copied()))
            .collect();
        let rings = rings::FlatRings::new(&units);
        let mut envelopes: Vec<Vec<Envelope>> = vec![Vec::new(); Level::ALL.len()];
        for (slot, unit) in units.iter().enumerate() {
            if let Some(rect) = unit.geometry.bounding_rect() {
                let (min, max) = (rect.min(), rect.max());
                envelopes[unit.level.depth()].push(GeomWithData::new(
                    Rectangle::from_corners([min.x, min.y], [max.x, max.y]),
                    slot as Slot,
                ));
            }
        }
        let levels: Vec<LevelTree> = Level::ALL
            .iter()
            .rev()
            .zip(envelopes.into_iter().rev())
            .filter(|(_, envelopes)| !envelopes.is_empty())
            .map(|(level, envelopes)| {
                let slots: Vec<Slot> = envelopes.iter().map(|e| e.data).collect();
                let tree = RTree::bulk_load(envelopes);
                let cells = cells::CellMap::build(&units, &slots, &rings, |coord| {
                    pick(
                        &units,
                        tree.locate_all_at_point([coord.x, coord.y]).map(|e| e.data),
                        coord,
                    )
                });
                LevelTree {
                    level: *level,
                    tree,
                    cells,
                }
            })
            .collect();
        // The bound also keeps a malformed cycle of parent links from looping.
        let chains = (0..units.len() as Slot)
            .map(|slot| {
                let mut chain = Chain {
                    ids: [0; CHAIN_MAX],
                    len: 0,
                };
                let walk = std::iter::successors(Some(slot), |s| parent_slot[*s as usize]);
                for (id, s) in chain.ids.iter_mut().zip(walk) {
                    *id = units[s as usize].id;
                    chain.len += 1;
                }
                chain
            })
            .collect();
        Index {
            chains,
            units,
            slot_of,
            parent_slot,
            levels,
        }
    }

    /// The share of `points` that the deepest level's cell map answers with one read (the
    /// rest land in border cells and are tested exactly): a measure for benchmarks.
    pub fn one_read_share(&self, points: &[Point<f64>]) -> f64 {
        let Some(cells) = self.levels.first().and_then(|l| l.cells.as_ref()) else {
            return 0.0;
        };
        let one_read = points
            .iter()
            .filter(|p| {
                !matches!(
                    cells.cell_at(p.0),
                    cells::Cell::Border(_) | cells::Cell::Unknown
                )
            })
            .count();
        one_read as f64 / points.len().max(1) as f64
    }

    /// The chain of units holding `point`, deepest first, up to the top of the hierarchy;
    /// empty when no unit holds it. See the module doc for points on shared borders. The
    /// chains are precomputed, so the answer is borrowed, not built.
    pub fn locate(&self, point: Point<f64>) -> &[UnitId] {
        self.deepest_slot(point.0)
            .map_or(&[], |slot| self.chain_ids(slot))
    }

    /// A slot's id and its ancestors' ids, nearest first.
    pub fn chain_ids(&self, slot: Slot) -> &[UnitId] {
        let chain = &self.chains[slot as usize];
        &chain.ids[..chain.len]
    }

    /// The deepest unit holding `point`, if any.
    pub fn deepest(&self, point: Point<f64>) -> Option<&Unit> {
        self.deepest_slot(point.0)
            .map(|slot| &self.units[slot as usize])
    }

    /// The unit of `level` holding `point`, if any: unlike [`Index::locate`], this ignores the
    /// other levels.
    pub fn unit_at(&self, level: Level, point: Point<f64>) -> Option<&Unit> {
        let tree = self.levels.iter().find(|t| t.level == level)?;
        self.slot_in(tree, point.0)
            .map(|slot| &self.units[slot as usize])
    }

    /// The slots of the units of `level` whose polygon intersects `rect` (boundary contact
    /// counts), in slot order.
    pub fn intersecting(&self, level: Level, rect: Rect<f64>) -> Vec<Slot> {
        let Some(tree) = self.levels.iter().find(|t| t.level == level) else {
            return Vec::new();
        };
        let (min, max) = (rect.min(), rect.max());
        let envelope = AABB::from_corners([min.x, min.y], [max.x, max.y]);
        let mut slots: Vec<Slot> = tree
            .tree
            .locate_in_envelope_intersecting(envelope)
            .map(|candidate| candidate.data)
            .filter(|&slot| self.units[slot as usize].geometry.intersects(&rect))
            .collect();
        slots.sort_unstable();
        slots
    }

    /// The deepest unit's slot holding `coord`.
    pub fn deepest_slot(&self, coord: Coord<f64>) -> Option<Slot> {
        self.levels
            .iter()
            .find_map(|level| self.slot_in(level, coord))
    }

    /// The same answer as [`Index::locate`], found through the R-trees alone, without the
    /// cell maps: slower, kept to check and to measure what the cell maps save.
    pub fn locate_by_tree(&self, point: Point<f64>) -> Vec<UnitId> {
        self.levels
            .iter()
            .find_map(|level| self.slot_by_tree(level, point.0))
            .map(|slot| {
                self.chain_of_slot(slot)
                    .map(|s| self.units[s as usize].id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A slot and its ancestors within the index, nearest first (at most one per level).
    pub fn chain_of_slot(&self, slot: Slot) -> impl Iterator<Item = Slot> + '_ {
        std::iter::successors(Some(slot), move |s| self.parent_slot[*s as usize])
            .take(Level::ALL.len())
    }

    /// The parent's slot, if the parent is in the index.
    pub fn parent_of_slot(&self, slot: Slot) -> Option<Slot> {
        self.parent_slot[slot as usize]
    }

    /// The unit at a slot.
    ///
    /// # Panics
    /// If `slot` is not a slot of this index.
    pub fn unit(&self, slot: Slot) -> &Unit {
        &self.units[slot as usize]
    }

    /// The slot of the unit with this id.
    pub fn slot(&self, id: UnitId) -> Option<Slot> {
        self.slot_of.get(&id).copied()
    }

    /// The unit with this id.
    pub fn get(&self, id: UnitId) -> Option<&Unit> {
        self.slot(id).map(|slot| self.unit(slot))
    }

    /// Every unit, in slot order.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The number of units.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether the index holds no unit.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Gives the units back, in slot order.
    pub fn into_units(self) -> Vec<Unit> {
        self.units
    }

    fn slot_in(&self, level: &LevelTree, coord: Coord<f64>) -> Option<Slot> {
        let found = level
            .cells
            .as_ref()
            .map(|cells| cells.locate(coord, |slot| self.units[slot as usize].code.as_str()));
        match found {
            Some(cells::Found::Nothing) => None,
            Some(cells::Found::Unit(slot)) => Some(slot),
            Some(cells::Found::Unknown) | None => self.slot_by_tree(level, coord),
        }
    }

    fn slot_by_tree(&self, level: &LevelTree, coord: Coord<f64>) -> Option<Slot> {
        let candidates = level.tree.locate_all_at_point([coord.x, coord.y]);
        pick(&self.units, candidates.map(|e| e.data), coord)
    }
}

/// The candidate holding `coord`, by geo's own test (the R-tree path).
fn pick(units: &[Unit], candidates: impl Iterator<Item = Slot>, coord: Coord<f64>) -> Option<Slot> {
    pick_by(
        candidates,
        |slot| units[slot as usize].geometry.coordinate_position(&coord),
        |slot| &units[slot as usize].code,
    )
}

/// The candidate whose interior holds the point, else, among those whose boundary holds it,
/// the one with the smallest code (see the module doc).
fn pick_by<'a>(
    candidates: impl Iterator<Item = Slot>,
    position: impl Fn(Slot) -> CoordPos,
    code: impl Fn(Slot) -> &'a String,
) -> Option<Slot> {
    let mut on_boundary: Option<Slot> = None;
    for slot in candidates {
        match position(slot) {
            CoordPos::Inside => return Some(slot),
            CoordPos::OnBoundary => {
                if on_boundary.is_none_or(|other| code(slot) < code(other)) {
                    on_boundary = Some(slot);
                }
            }
            CoordPos::Outside => {}
        }
    }
    on_boundary
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("units", &self.units.len())
            .field(
                "levels",
                &self.levels.iter().map(|l| l.level).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests;
