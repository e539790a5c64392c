//! The integer plane of one community: every polygon the planner cuts or joins is first put on
//! one integer grid, so that boolean operations on pieces never disagree by a rounding.
//!
//! geo's `BooleanOps` hand each operation to i_overlay with an integer grid scaled to that
//! operation's own bounding box, so two operations round the same vertex differently and the
//! union of two cells cut in separate operations can keep slivers or specks. Here one [`Plane`]
//! per community fixes a single grid (about 2^28 units across the community, so a unit is well
//! under a millimetre), all operations run on i_overlay's integer API, and vertices shared by
//! two pieces are the very same integers. The plane is locally isometric (x is scaled by the
//! metres per degree of longitude), so Voronoi cells and lengths measured in it are metric.

use std::collections::HashMap;

use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::{IntOverlayOptions, Overlay, ShapeType};
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::i_float::int::point::IntPoint;
use i_overlay::i_shape::int::shape::{IntContour, IntShape, IntShapes};
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

use crate::measure::metres_per_degree;

/// Half the community's extent in plane units: leaves two bits of headroom in `i32` for the
/// margin around the community and for i_overlay's arithmetic.
pub(crate) const HALF_SPAN: f64 = (1u32 << 28) as f64;

/// One community's integer grid, and the way back to lon/lat.
pub(crate) struct Plane {
    origin: Coord<f64>,
    /// Plane units per degree of longitude and of latitude.
    per_degree: (f64, f64),
    /// Plane units per metre.
    pub(crate) per_metre: f64,
    /// Input vertices by their plane image, so that output vertices that are input vertices
    /// come back bit for bit (kept grids and new grids then share their vertices exactly).
    originals: HashMap<IntPoint, Coord<f64>>,
}

impl Plane {
    /// The plane of a community; `None` if it has no extent to speak of.
    pub(crate) fn new(community: &MultiPolygon<f64>) -> Option<Plane> {
        let bounds = community.bounding_rect()?;
        let origin = bounds.center();
        let (x_metres, y_metres) = metres_per_degree(origin.y);
        let half_metres = (bounds.width() * x_metres)
            .max(bounds.height() * y_metres)
            .max(1e-3)
            / 2.0;
        let per_metre = HALF_SPAN / half_metres;
        if !per_metre.is_finite() {
            return None;
        }
        Some(Plane {
            origin,
            per_degree: (per_metre * x_metres, per_metre * y_metres),
            per_metre,
            originals: HashMap::new(),
        })
    }

    /// A lon/lat point in plane units, unrounded.
    pub(crate) fn project(&self, c: Coord<f64>) -> (f64, f64) {
        (
            (c.x - self.origin.x) * self.per_degree.0,
            (c.y - self.origin.y) * self.per_degree.1,
        )
    }

    /// A lon/lat point on the grid.
    pub(crate) fn snap(&self, c: Coord<f64>) -> IntPoint {
        let (x, y) = self.project(c);
        IntPoint::new(to_i32(x), to_i32(y))
    }

    /// A polygon of the input on the grid, outer rings counter-clockwise and holes clockwise
    /// (whatever the input's winding), remembering its vertices.
    pub(crate) fn shapes(&mut self, geometry: &MultiPolygon<f64>) -> IntShapes {
        let mut shapes = Vec::new();
        for polygon in geometry {
            let mut ring = |line: &LineString<f64>, outer: bool| -> Option<IntContour> {
                let mut contour: IntContour = Vec::with_capacity(line.0.len());
                for c in line.coords() {
                    let p = self.snap(*c);
                    self.originals.entry(p).or_insert(*c);
                    if contour.last() != Some(&p) {
                        contour.push(p);
                    }
                }
                while contour.len() > 1 && contour.first() == contour.last() {
                    contour.pop();
                }
                let area = signed_area(&contour);
                if contour.len() < 3 || area == 0.0 {
                    return None;
                }
                if (area > 0.0) != outer {
                    contour.reverse();
                }
                Some(contour)
            };
            let Some(outer) = ring(polygon.exterior(), true) else {
                continue;
            };
            let mut shape = vec![outer];
            shape.extend(polygon.interiors().iter().filter_map(|r| ring(r, false)));
            shapes.push(shape);
        }
        shapes
    }

    /// Plane shapes back in lon/lat: outer rings counter-clockwise, holes clockwise, rings
    /// closed; input vertices come back exactly.
    pub(crate) fn geometry(&self, shapes: &[IntShape]) -> MultiPolygon<f64> {
        let ring = |contour: &IntContour| {
            let contour = without_spikes(contour);
            let mut coords: Vec<Coord<f64>> = contour.iter().map(|p| self.unsnap(*p)).collect();
            if let Some(first) = coords.first().copied() {
                coords.push(first);
            }
            LineString::new(coords)
        };
        MultiPolygon::new(
            shapes
                .iter()
                .filter(|shape| !shape.is_empty() && without_spikes(&shape[0]).len() >= 3)
                .map(|shape| {
                    let holes = shape[1..]
                        .iter()
                        .filter(|hole| without_spikes(hole).len() >= 3)
                        .map(ring)
                        .collect();
                    Polygon::new(ring(&shape[0]), holes)
                })
                .collect(),
        )
    }

    fn unsnap(&self, p: IntPoint) -> Coord<f64> {
        self.originals.get(&p).copied().unwrap_or(Coord {
            x: self.origin.x + f64::from(p.x) / self.per_degree.0,
            y: self.origin.y + f64::from(p.y) / self.per_degree.1,
        })
    }
}

/// A ring without spikes: vertices where the ring turns back on itself (an acute turn) and its
/// two edges stay within [`SPIKE_UNITS`] of each other, however long they are. Rounding the
/// crossing of two edges to the grid can leave such a needle next to a vertex; it holds no
/// area to speak of, its two sides may cross once its vertices are back in lon/lat (input
/// vertices come back exactly, computed ones rounded), and lon/lat consumers that judge a
/// ring's winding at its extreme vertex would misread it.
///
/// The width of the needle is the triangle's lowest altitude (on its longest side): measured on
/// the base between the two neighbours instead, a needle hundreds of metres long that comes back
/// a few metres from where it left would count as wide.
fn without_spikes(contour: &IntContour) -> IntContour {
    const SPIKE_UNITS: f64 = 2.0;
    let mut ring = contour.clone();
    let mut changed = true;
    while changed && ring.len() >= 3 {
        changed = false;
        let mut i = 0;
        while i < ring.len() && ring.len() >= 3 {
            let n = ring.len();
            let (p, v, q) = (ring[(i + n - 1) % n], ring[i], ring[(i + 1) % n]);
            let (ax, ay) = (
                f64::from(v.x) - f64::from(p.x),
                f64::from(v.y) - f64::from(p.y),
            );
            let (bx, by) = (
                f64::from(q.x) - f64::from(v.x),
                f64::from(q.y) - f64::from(v.y),
            );
            let cross = ax * by - ay * bx;
            let base = distance(p, q)
                .max(distance(p, v))
                .max(distance(v, q))
                .max(1.0);
            let repeated = v == p;
            if repeated || (ax * bx + ay * by < 0.0 && cross.abs() / base <= SPIKE_UNITS) {
                ring.remove(i);
                changed = true;
            } else {
                i += 1;
            }
        }
    }
    ring
}

/// Vertices this close to an edge of another polygon (plane units) lie on it: see [`node`].
const NODE_UNITS: f64 = 2.0;

/// Puts every vertex of each polygon on the edges of the others that it lies on, within
/// [`NODE_UNITS`] (vertices inserted in order along the edge).
///
/// Where the input has a T-junction (a grid's vertex on the community's edge, or on a
/// neighbour's, without being a vertex of it), the vertex lies on the edge in lon/lat but,
/// rounded to the grid on its own, up to a unit beside it: the difference of the two polygons
/// would then keep a needle a unit wide all along their common border, hundreds of metres
/// long, which cells cut into pieces and grids take up. Once the vertex is on both rings, the
/// common border is the very same edges on both sides and nothing is left between them.
///
/// # Performance
/// One R-tree of all vertices; each edge asks it for the vertices in its box.
pub(crate) fn node(polygons: &mut [IntShapes]) {
    let points: Vec<GeomWithData<[i32; 2], usize>> = polygons
        .iter()
        .enumerate()
        .flat_map(|(i, shapes)| {
            shapes
                .iter()
                .flatten()
                .flatten()
                .map(move |p| GeomWithData::new([p.x, p.y], i))
        })
        .collect();
    let tree = RTree::bulk_load(points);
    let reach = NODE_UNITS.ceil() as i32;
    for (i, shapes) in polygons.iter_mut().enumerate() {
        for contour in shapes.iter_mut().flat_map(|shape| shape.iter_mut()) {
            let n = contour.len();
            let mut noded = Vec::with_capacity(n);
            for k in 0..n {
                let (a, b) = (contour[k], contour[(k + 1) % n]);
                noded.push(a);
                let envelope = AABB::from_corners(
                    [
                        a.x.min(b.x).saturating_sub(reach),
                        a.y.min(b.y).saturating_sub(reach),
                    ],
                    [
                        a.x.max(b.x).saturating_add(reach),
                        a.y.max(b.y).saturating_add(reach),
                    ],
                );
                let (ax, ay) = (f64::from(a.x), f64::from(a.y));
                let (dx, dy) = (f64::from(b.x) - ax, f64::from(b.y) - ay);
                let length2 = dx * dx + dy * dy;
                if length2 == 0.0 {
                    continue;
                }
                let mut on: Vec<(f64, IntPoint)> = tree
                    .locate_in_envelope(envelope)
                    .filter(|point| point.data != i)
                    .map(|point| IntPoint::new(point.geom()[0], point.geom()[1]))
                    .filter(|&p| p != a && p != b)
                    .filter_map(|p| {
                        let (px, py) = (f64::from(p.x) - ax, f64::from(p.y) - ay);
                        let t = (px * dx + py * dy) / length2;
                        let off = (px * dy - py * dx).abs() / length2.sqrt();
                        (t > 0.0 && t < 1.0 && off <= NODE_UNITS).then_some((t, p))
                    })
                    .collect();
                on.sort_by(|x, y| x.0.total_cmp(&y.0));
                on.dedup_by(|x, y| x.1 == y.1);
                noded.extend(on.into_iter().map(|(_, p)| p));
            }
            *contour = noded;
        }
    }
}

fn to_i32(v: f64) -> i32 {
    const LIMIT: f64 = (1u32 << 30) as f64;
    v.round().clamp(-LIMIT, LIMIT) as i32
}

/// Runs one boolean operation on the grid; vertices are kept as they are (no collinear points
/// dropped), so that two operations that cut along the same edge split it alike.
pub(crate) fn overlay(subject: &[IntShape], clip: &[IntShape], rule: OverlayRule) -> IntShapes {
    overlay_with(subject, clip, rule, false)
}

/// [`overlay`], optionally with OGC-valid output: a ring that would touch itself at a vertex is
/// split into a polygon and a hole (geo and most readers reject self-touching rings).
pub(crate) fn overlay_with(
    subject: &[IntShape],
    clip: &[IntShape],
    rule: OverlayRule,
    ogc: bool,
) -> IntShapes {
    let capacity: usize = subject
        .iter()
        .chain(clip)
        .flat_map(|shape| shape.iter().map(Vec::len))
        .sum();
    let options = IntOverlayOptions {
        ogc,
        ..IntOverlayOptions::keep_all_points()
    };
    let mut overlay = Overlay::new_custom(capacity, options, Default::default());
    overlay.add_shapes(subject, ShapeType::Subject);
    overlay.add_shapes(clip, ShapeType::Clip);
    overlay.overlay(rule, FillRule::NonZero)
}

/// The union of shapes.
pub(crate) fn union(shapes: &[IntShape]) -> IntShapes {
    overlay_with(shapes, &[], OverlayRule::Subject, true)
}

/// Twice the signed area of a ring (counter-clockwise positive), exactly in `f64` for rings
/// of the grid's size... to within a few units, which is all it is used for.
pub(crate) fn signed_area(contour: &[IntPoint]) -> f64 {
    let n = contour.len();
    let mut twice = 0i128;
    for i in 0..n {
        let (a, b) = (contour[i], contour[(i + 1) % n]);
        twice += i128::from(a.x) * i128::from(b.y) - i128::from(b.x) * i128::from(a.y);
    }
    twice as f64 / 2.0
}

/// The area of shapes in square plane units (holes count out).
pub(crate) fn area(shapes: &[IntShape]) -> f64 {
    shapes
        .iter()
        .flat_map(|shape| shape.iter())
        .map(|contour| signed_area(contour))
        .sum::<f64>()
        .abs()
}

/// The length of every ring of shapes, in plane units.
pub(crate) fn perimeter(shapes: &[IntShape]) -> f64 {
    shapes
        .iter()
        .flat_map(|shape| shape.iter())
        .map(|contour| {
            let n = contour.len();
            (0..n)
                .map(|i| distance(contour[i], contour[(i + 1) % n]))
                .sum::<f64>()
        })
        .sum()
}

pub(crate) fn distance(a: IntPoint, b: IntPoint) -> f64 {
    (f64::from(a.x) - f64::from(b.x)).hypot(f64::from(a.y) - f64::from(b.y))
}

/// Whether a point of the plane lies inside a shape (even-odd over all its rings; a point on a
/// ring may answer either way).
pub(crate) fn contains(shape: &IntShape, (x, y): (f64, f64)) -> bool {
    let mut inside = false;
    for contour in shape {
        let n = contour.len();
        for i in 0..n {
            let (a, b) = (contour[i], contour[(i + 1) % n]);
            let (ax, ay, bx, by) = (
                f64::from(a.x),
                f64::from(a.y),
                f64::from(b.x),
                f64::from(b.y),
            );
            if (ay > y) != (by > y) && x < ax + (y - ay) * (bx - ax) / (by - ay) {
                inside = !inside;
            }
        }
    }
    inside
}

/// The distance from a point to a shape's rings, in plane units.
pub(crate) fn distance_to_boundary(shape: &IntShape, (x, y): (f64, f64)) -> f64 {
    let mut best = f64::INFINITY;
    for contour in shape {
        let n = contour.len();
        for i in 0..n {
            let (a, b) = (contour[i], contour[(i + 1) % n]);
            let (ax, ay) = (f64::from(a.x), f64::from(a.y));
            let (dx, dy) = (f64::from(b.x) - ax, f64::from(b.y) - ay);
            let length2 = dx * dx + dy * dy;
            let t = if length2 > 0.0 {
                (((x - ax) * dx + (y - ay) * dy) / length2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            best = best.min((ax + t * dx - x).hypot(ay + t * dy - y));
        }
    }
    best
}

/// The bounding box of a shape's outer ring: `[min x, min y, max x, max y]`.
pub(crate) fn bounds(shape: &IntShape) -> [i32; 4] {
    let mut b = [i32::MAX, i32::MAX, i32::MIN, i32::MIN];
    for p in shape.first().into_iter().flatten() {
        b = [b[0].min(p.x), b[1].min(p.y), b[2].max(p.x), b[3].max(p.y)];
    }
    b
}

/// Whether two boxes from [`bounds`] meet.
pub(crate) fn boxes_meet(a: [i32; 4], b: [i32; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}
