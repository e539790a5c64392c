//! Coverage simplification: simplify a set of polygons that tile a region (one level of the
//! hierarchy) so that neighbours stay gap-free, as PostGIS's `ST_CoverageSimplify` does.
//!
//! Simplifying each polygon on its own moves a shared edge differently on its two sides and
//! opens slivers between neighbours. A [`Coverage`] instead breaks the polygons into **arcs**
//! once: the paths between *junctions*, the vertices where the set of polygons owning the
//! boundary changes (where three polygons meet, or where a shared edge reaches the outer
//! boundary). Each arc is shared by the one or two rings that run along it, so simplifying
//! each arc once ([`Coverage::simplify`], Douglas-Peucker with the junctions fixed) and
//! rebuilding every ring from its simplified arcs ([`Coverage::multi_polygon`]) moves both
//! sides of a shared edge the same way.
//!
//! # Noding
//! Two rings share an arc only if they share its vertices. A vertex of one ring lying on an
//! edge of another (a "T-junction", as where grids of two communities meet the communities'
//! common border at different places) is inserted into that edge first, if it lies within
//! `node_tolerance` of it. Polygons that overlap or leave gaps in the input (not a coverage)
//! are simplified all the same, but their gaps can then widen by up to the tolerance.
//!
//! # Limits
//! Arcs are simplified independently, so two different arcs can, rarely, cross after
//! simplification (a self-intersection at the scale of the tolerance); rings that collapse
//! (fewer than three distinct vertices, or no area) are dropped, and a polygon whose exterior
//! collapses is dropped with its holes.

use std::collections::HashMap;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

/// An arc and the direction a ring runs along it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ArcRef {
    arc: u32,
    reversed: bool,
}

/// Polygons broken into shared arcs, ready to be simplified at any tolerance.
///
/// ```
/// use geo::{polygon, MultiPolygon, Area};
/// use geodata::coverage::Coverage;
/// // Two squares sharing a wiggly edge x ≈ 1.
/// let left = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.01, y: 0.5),
///                     (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)];
/// let right = polygon![(x: 1.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0),
///                      (x: 1.0, y: 1.0), (x: 1.01, y: 0.5)];
/// let coverage = Coverage::new(&[MultiPolygon::new(vec![left]), MultiPolygon::new(vec![right])], 0.0);
/// // The shared edge is one arc, between the junctions (1, 0) and (1, 1).
/// let simplified = coverage.simplify(0.1);
/// let (a, b) = (coverage.multi_polygon(&simplified, 0), coverage.multi_polygon(&simplified, 1));
/// // Both sides lost the wiggle, so the two areas still add up to the whole.
/// assert_eq!(a.0[0].exterior().0.len(), 5);
/// assert!((a.unsigned_area() - 1.0).abs() < 1e-12 && (b.unsigned_area() - 1.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct Coverage {
    /// Every arc's vertices, end to end; arc `i` is `coords[arc_starts[i]..arc_starts[i + 1]]`.
    coords: Vec<Coord<f64>>,
    arc_starts: Vec<u32>,
    /// Every ring as a run of arcs; ring `i` is `ring_arcs[ring_starts[i]..ring_starts[i + 1]]`.
    ring_arcs: Vec<ArcRef>,
    ring_starts: Vec<u32>,
    /// Polygon `i` is rings `polygon_starts[i]..polygon_starts[i + 1]`, the exterior first.
    polygon_starts: Vec<u32>,
    /// Owner `i` (the position of its multi-polygon in the input) is polygons
    /// `owner_starts[i]..owner_starts[i + 1]`.
    owner_starts: Vec<u32>,
}

/// A [`Coverage`]'s arcs simplified at one tolerance.
#[derive(Debug, Clone)]
pub struct SimplifiedArcs {
    coords: Vec<Coord<f64>>,
    arc_starts: Vec<u32>,
}

impl SimplifiedArcs {
    /// The number of vertices kept, over all arcs.
    pub fn vertex_count(&self) -> usize {
        self.coords.len()
    }

    fn arc(&self, arc: u32) -> &[Coord<f64>] {
        let arc = arc as usize;
        &self.coords[self.arc_starts[arc] as usize..self.arc_starts[arc + 1] as usize]
    }
}

impl Coverage {
    /// Breaks `polygons` into shared arcs; the position of a multi-polygon in `polygons` is
    /// its owner number in the other methods. A vertex within `node_tolerance` of another
    /// ring's edge is inserted into that edge (see the module doc); 0 inserts only vertices
    /// lying exactly on it.
    ///
    /// # Performance
    /// O(n log n) in the number of vertices: one R-tree query per edge for the noding, one
    /// sort for the junctions.
    pub fn new(polygons: &[MultiPolygon<f64>], node_tolerance: f64) -> Coverage {
        let mut vertices = Vertices::default();
        // Rings as vertex ids, with the polygon and owner structure.
        let mut rings: Vec<Vec<u32>> = Vec::new();
        let mut polygon_starts = vec![0u32];
        let mut owner_starts = vec![0u32];
        for multi in polygons {
            for polygon in &multi.0 {
                let Some(exterior) = vertices.ring(polygon.exterior()) else {
                    continue;
                };
                rings.push(exterior);
                rings.extend(polygon.interiors().iter().filter_map(|r| vertices.ring(r)));
                polygon_starts.push(rings.len() as u32);
            }
            owner_starts.push(polygon_starts.len() as u32 - 1);
        }
        let rings = node(&vertices.coords, rings, node_tolerance);
        let junction = junctions(vertices.coords.len(), &rings);

        let mut coords = Vec::new();
        let mut arc_starts = vec![0u32];
        let mut ring_arcs = Vec::new();
        let mut ring_starts = vec![0u32];
        let mut by_first_edge: HashMap<(u32, u32), ArcRef> = HashMap::new();
        for ring in &rings {
            // Start at a junction; a ring with none starts at its smallest vertex id, which
            // every ring running along the same closed path picks too.
            let start = ring
                .iter()
                .position(|&v| junction[v as usize])
                .unwrap_or_else(|| (0..ring.len()).min_by_key(|&i| ring[i]).unwrap_or_default());
            let mut path: Vec<u32> = vec![ring[start]];
            for step in 1..=ring.len() {
                let v = ring[(start + step) % ring.len()];
                path.push(v);
                if step == ring.len() || junction[v as usize] {
                    let first_edge = (path[0], path[1]);
                    let arc = *by_first_edge.entry(first_edge).or_insert_with(|| {
                        let id = arc_starts.len() as u32 - 1;
                        coords.extend(path.iter().map(|&v| vertices.coords[v as usize]));
                        arc_starts.push(coords.len() as u32);
                        ArcRef {
                            arc: id,
                            reversed: false,
                        }
                    });
                    let n = path.len();
                    by_first_edge
                        .entry((path[n - 1], path[n - 2]))
                        .or_insert(ArcRef {
                            arc: arc.arc,
                            reversed: !arc.reversed,
                        });
                    ring_arcs.push(arc);
                    path.clear();
                    path.push(v);
                }
            }
            ring_starts.push(ring_arcs.len() as u32);
        }
        Coverage {
            coords,
            arc_starts,
            ring_arcs,
            ring_starts,
            polygon_starts,
            owner_starts,
        }
    }

    /// The number of owners (multi-polygons given to [`Coverage::new`]).
    pub fn owners(&self) -> usize {
        self.owner_starts.len() - 1
    }

    /// The number of distinct arcs.
    pub fn arc_count(&self) -> usize {
        self.arc_starts.len() - 1
    }

    /// Every arc simplified once, by Douglas-Peucker with its end points fixed: no kept
    /// vertex is more than `tolerance` from the original arc's path, in the units of the
    /// coordinates. A closed arc (a ring that touches no other) also keeps its vertex
    /// farthest from its start.
    pub fn simplify(&self, tolerance: f64) -> SimplifiedArcs {
        let mut coords = Vec::with_capacity(self.coords.len() / 2);
        let mut arc_starts = Vec::with_capacity(self.arc_starts.len());
        arc_starts.push(0u32);
        let mut keep = Vec::new();
        for arc in self.arc_starts.windows(2) {
            let points = &self.coords[arc[0] as usize..arc[1] as usize];
            keep.clear();
            keep.resize(points.len(), false);
            let last = points.len() - 1;
            keep[0] = true;
            keep[last] = true;
            if points[0] == points[last] && last > 1 {
                let far = (1..last)
                    .max_by(|&a, &b| {
                        squared(points[a] - points[0]).total_cmp(&squared(points[b] - points[0]))
                    })
                    .unwrap_or(1);
                keep[far] = true;
                douglas_peucker(points, 0, far, tolerance * tolerance, &mut keep);
                douglas_peucker(points, far, last, tolerance * tolerance, &mut keep);
            } else {
                douglas_peucker(points, 0, last, tolerance * tolerance, &mut keep);
            }
            coords.extend(
                points
                    .iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(c, _)| *c),
            );
            arc_starts.push(coords.len() as u32);
        }
        SimplifiedArcs { coords, arc_starts }
    }

    /// The arcs as they are (tolerance 0), for rebuilding the original rings.
    pub fn original(&self) -> SimplifiedArcs {
        SimplifiedArcs {
            coords: self.coords.clone(),
            arc_starts: self.arc_starts.clone(),
        }
    }

    /// The polygons of `owner` rebuilt from `arcs` (from [`Coverage::simplify`] on this
    /// coverage), without the rings that collapsed; empty for an unknown owner.
    pub fn multi_polygon(&self, arcs: &SimplifiedArcs, owner: usize) -> MultiPolygon<f64> {
        let mut polygons = Vec::new();
        self.for_each_polygon(arcs, owner, |rings| {
            let mut rings = rings.iter().map(|r| LineString::new(r.clone()));
            if let Some(exterior) = rings.next() {
                polygons.push(Polygon::new(exterior, rings.collect()));
            }
        });
        MultiPolygon::new(polygons)
    }

    /// Calls `f` with each polygon of `owner` rebuilt from `arcs`, as closed rings (the
    /// exterior first), skipping collapsed rings and polygons whose exterior collapsed.
    pub fn for_each_polygon(
        &self,
        arcs: &SimplifiedArcs,
        owner: usize,
        mut f: impl FnMut(&[Vec<Coord<f64>>]),
    ) {
        let Some(range) = self.owner_starts.get(owner..owner + 2) else {
            return;
        };
        let mut rings: Vec<Vec<Coord<f64>>> = Vec::new();
        for polygon in range[0]..range[1] {
            rings.clear();
            let (first, end) = (
                self.polygon_starts[polygon as usize],
                self.polygon_starts[polygon as usize + 1],
            );
            for ring in first..end {
                let coords = self.ring(arcs, ring as usize);
                if coords.len() >= 4 && signed_area(&coords) != 0.0 {
                    rings.push(coords);
                } else if ring == first {
                    break;
                }
            }
            if !rings.is_empty() {
                f(&rings);
            }
        }
    }

    /// One ring rebuilt from its arcs, closed.
    fn ring(&self, arcs: &SimplifiedArcs, ring: usize) -> Vec<Coord<f64>> {
        let refs =
            &self.ring_arcs[self.ring_starts[ring] as usize..self.ring_starts[ring + 1] as usize];
        let mut coords: Vec<Coord<f64>> = Vec::new();
        for arc_ref in refs {
            let arc = arcs.arc(arc_ref.arc);
            let skip = usize::from(!coords.is_empty());
            if arc_ref.reversed {
                coords.extend(arc.iter().rev().skip(skip));
            } else {
                coords.extend(arc.iter().skip(skip));
            }
        }
        coords
    }
}

/// Twice the signed area of a closed ring (positive when counter-clockwise with y up).
fn signed_area(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum()
}

fn squared(c: Coord<f64>) -> f64 {
    c.x * c.x + c.y * c.y
}

/// The squared distance from `p` to the segment `a`-`b`.
fn segment_distance2(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let ab = b - a;
    let length2 = squared(ab);
    if length2 == 0.0 {
        return squared(p - a);
    }
    let t = ((p - a).x * ab.x + (p - a).y * ab.y) / length2;
    let t = t.clamp(0.0, 1.0);
    squared(p - (a + ab * t))
}

/// Marks in `keep` the vertices strictly between `first` and `last` that Douglas-Peucker
/// keeps at `tolerance2` (squared), without recursion.
fn douglas_peucker(
    points: &[Coord<f64>],
    first: usize,
    last: usize,
    tolerance2: f64,
    keep: &mut [bool],
) {
    let mut stack = vec![(first, last)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (far, distance2) = (a + 1..b)
            .map(|i| (i, segment_distance2(points[i], points[a], points[b])))
            .fold((a + 1, -1.0), |best, d| if d.1 > best.1 { d } else { best });
        if distance2 > tolerance2 {
            keep[far] = true;
            stack.push((a, far));
            stack.push((far, b));
        }
    }
}

/// Distinct vertices by exact coordinates.
#[derive(Default)]
struct Vertices {
    coords: Vec<Coord<f64>>,
    ids: HashMap<(u64, u64), u32>,
}

impl Vertices {
    fn id(&mut self, c: Coord<f64>) -> u32 {
        // +0.0 folds -0.0 into 0.0, so both spell one vertex.
        let key = ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits());
        *self.ids.entry(key).or_insert_with(|| {
            self.coords.push(c);
            self.coords.len() as u32 - 1
        })
    }

    /// A ring as vertex ids, open (no closing repeat), without repeated vertices or spikes
    /// (`a b a`); `None` when fewer than three vertices remain.
    fn ring(&mut self, ring: &LineString<f64>) -> Option<Vec<u32>> {
        let mut ids: Vec<u32> = Vec::with_capacity(ring.0.len());
        for c in &ring.0 {
            if !(c.x.is_finite() && c.y.is_finite()) {
                continue;
            }
            let id = self.id(*c);
            if ids.last() == Some(&id) {
                continue;
            }
            if ids.len() >= 2 && ids[ids.len() - 2] == id {
                ids.pop();
                continue;
            }
            ids.push(id);
        }
        clean_cycle(&mut ids);
        (ids.len() >= 3).then_some(ids)
    }
}

/// Removes the closing repeat, repeats and spikes across the start of a cyclic ring.
fn clean_cycle(ids: &mut Vec<u32>) {
    loop {
        let n = ids.len();
        if n >= 2 && ids[0] == ids[n - 1] {
            ids.pop();
        } else if n >= 3 && ids[n - 2] == ids[0] {
            // ... a b | a ...: the spike at the seam.
            ids.pop();
        } else if n >= 3 && ids[1] == ids[n - 1] {
            ids.remove(0);
        } else {
            return;
        }
    }
}

/// Inserts into every edge the vertices of other rings lying on it (within `tolerance`).
fn node(coords: &[Coord<f64>], rings: Vec<Vec<u32>>, tolerance: f64) -> Vec<Vec<u32>> {
    let tree = RTree::bulk_load(
        coords
            .iter()
            .enumerate()
            .map(|(i, c)| GeomWithData::new([c.x, c.y], i as u32))
            .collect(),
    );
    let tolerance2 = tolerance * tolerance;
    let mut on_edge: Vec<(f64, u32)> = Vec::new();
    rings
        .into_iter()
        .map(|ring| {
            let mut noded = Vec::with_capacity(ring.len());
            for (i, &a) in ring.iter().enumerate() {
                let b = ring[(i + 1) % ring.len()];
                noded.push(a);
                let (pa, pb) = (coords[a as usize], coords[b as usize]);
                let envelope = AABB::from_corners(
                    [pa.x.min(pb.x) - tolerance, pa.y.min(pb.y) - tolerance],
                    [pa.x.max(pb.x) + tolerance, pa.y.max(pb.y) + tolerance],
                );
                on_edge.clear();
                let ab = pb - pa;
                let length2 = squared(ab);
                for candidate in tree.locate_in_envelope(envelope) {
                    let v = candidate.data;
                    if v == a || v == b || length2 == 0.0 {
                        continue;
                    }
                    let p = coords[v as usize];
                    let t = ((p - pa).x * ab.x + (p - pa).y * ab.y) / length2;
                    if t <= 0.0 || t >= 1.0 {
                        continue;
                    }
                    let on_line = if tolerance2 == 0.0 {
                        // Exactly on the segment: the cross product vanishes.
                        (p - pa).x * ab.y == (p - pa).y * ab.x
                    } else {
                        squared(p - (pa + ab * t)) <= tolerance2
                    };
                    if on_line {
                        on_edge.push((t, v));
                    }
                }
                on_edge.sort_by(|x, y| x.0.total_cmp(&y.0));
                noded.extend(on_edge.iter().map(|&(_, v)| v));
            }
            clean_cycle(&mut noded);
            noded
        })
        .collect()
}

/// Which vertices are junctions: those with other than two distinct neighbours over all the
/// rings through them (where three polygons meet, or a shared edge leaves the shared part).
fn junctions(vertex_count: usize, rings: &[Vec<u32>]) -> Vec<bool> {
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(rings.iter().map(|r| 2 * r.len()).sum());
    for ring in rings {
        let n = ring.len();
        for i in 0..n {
            pairs.push((ring[i], ring[(i + 1) % n]));
            pairs.push((ring[i], ring[(i + n - 1) % n]));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut neighbours = vec![0u32; vertex_count];
    for (v, _) in &pairs {
        neighbours[*v as usize] += 1;
    }
    neighbours.into_iter().map(|n| n != 2).collect()
}

#[cfg(test)]
mod tests;
