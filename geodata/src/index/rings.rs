//! Every unit's rings laid end to end in one array, for the exact test of points in border
//! cells. A `MultiPolygon` keeps each ring in its own allocation, so testing one point walks
//! unit → polygons → rings → coordinates, a cache miss at each step; here a unit's whole
//! boundary is one contiguous run.
//!
//! The test is the crossing-number rule over all rings of the unit at once (valid parts do not
//! overlap and holes lie inside their shells, so parity is membership), decided with geo's
//! robust orientation predicate, so it agrees exactly with geo's `coordinate_position`, which
//! the R-tree path still uses and the tests compare against.

use geo::algorithm::kernels::RobustKernel;
use geo::coordinate_position::CoordPos;
use geo::{Coord, Kernel, Orientation};

use super::Slot;
use crate::Unit;

/// The rings of every unit, flattened.
pub(super) struct FlatRings {
    coords: Vec<Coord<f64>>,
    /// Where each ring ends in `coords`.
    ring_ends: Vec<u32>,
    /// Per slot, where its rings start in `ring_ends`; one more entry closes the last.
    unit_rings: Vec<u32>,
}

impl FlatRings {
    pub(super) fn new(units: &[Unit]) -> FlatRings {
        let mut rings = FlatRings {
            coords: Vec::new(),
            ring_ends: Vec::new(),
            unit_rings: Vec::with_capacity(units.len() + 1),
        };
        for unit in units {
            rings.unit_rings.push(rings.ring_ends.len() as u32);
            for polygon in &unit.geometry {
                for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                    rings.coords.extend(ring.coords());
                    rings.ring_ends.push(rings.coords.len() as u32);
                }
            }
        }
        rings.unit_rings.push(rings.ring_ends.len() as u32);
        rings
    }

    /// Every vertex of every ring, end to end.
    pub(super) fn coords(&self) -> &[Coord<f64>] {
        &self.coords
    }

    /// The ranges in [`FlatRings::coords`] of the rings of the unit at `slot` (each closed: its
    /// last vertex repeats its first).
    pub(super) fn rings_of(&self, slot: Slot) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let (first, last) = (
            self.unit_rings[slot as usize] as usize,
            self.unit_rings[slot as usize + 1] as usize,
        );
        (first..last).map(move |ring| {
            let start = if ring == 0 {
                0
            } else {
                self.ring_ends[ring - 1] as usize
            };
            start..self.ring_ends[ring] as usize
        })
    }

    /// Where `p` lies relative to the unit at `slot`: inside, on its boundary, or outside.
    pub(super) fn position(&self, slot: Slot, p: Coord<f64>) -> CoordPos {
        let (first, last) = (
            self.unit_rings[slot as usize] as usize,
            self.unit_rings[slot as usize + 1] as usize,
        );
        let mut inside = false;
        let mut start = if first == 0 {
            0
        } else {
            self.ring_ends[first - 1] as usize
        };
        for &end in &self.ring_ends[first..last] {
            for pair in self.coords[start..end as usize].windows(2) {
                let (a, b) = (pair[0], pair[1]);
                let straddles = (a.y > p.y) != (b.y > p.y);
                let near = p.x <= a.x.max(b.x)
                    && p.x >= a.x.min(b.x)
                    && p.y <= a.y.max(b.y)
                    && p.y >= a.y.min(b.y);
                if !straddles && !near {
                    continue;
                }
                match RobustKernel::orient2d(a, b, p) {
                    Orientation::Collinear if near => return CoordPos::OnBoundary,
                    Orientation::Collinear => {}
                    // The edge crosses the ray from p towards +x iff p is on its inner side.
                    orientation if straddles => {
                        let upward = b.y > a.y;
                        if upward == (orientation == Orientation::CounterClockwise) {
                            inside = !inside;
                        }
                    }
                    _ => {}
                }
            }
            start = end as usize;
        }
        if inside {
            CoordPos::Inside
        } else {
            CoordPos::Outside
        }
    }
}
