//! The overlay of a community's source grids: its faces (the atoms), which source grids cover
//! each, and which atoms share boundary, with how many layers draw that boundary.
//!
//! All source boundaries are cut into the community in **one** i_overlay operation on the
//! community's integer plane (a string overlay, slicing the community by every source ring), so
//! the atoms share their vertices exactly: two atoms are neighbours when they hold the same edge.
//! Each atom's covering grids are then found at an interior point; source rings are first cut to
//! a box around the community, so that far-away vertices never overflow the plane.

use std::collections::HashMap;

use geo::{Coord, InteriorPoint, LineString, Polygon};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::i_float::int::point::IntPoint;
use i_overlay::i_shape::int::shape::{IntContour, IntShape, IntShapes};
use i_overlay::string::overlay::StringOverlay;
use i_overlay::string::rule::StringRule;

use crate::rebalance::plane::{self, Plane, HALF_SPAN};

/// Source rings are cut to this box (plane units) before rounding.
const BOX: f64 = HALF_SPAN * 1.5;

/// One source grid on the plane.
pub(super) struct Source {
    /// All its rings (outer and holes), cut to the box; even-odd containment.
    pub(super) rings: Vec<IntContour>,
    pub(super) bounds: [i32; 4],
    /// The layer's index (dense).
    pub(super) layer: usize,
}

/// The atoms of a community.
pub(super) struct Atoms {
    pub(super) faces: Vec<IntShape>,
    /// Per face: its area (square plane units), and a point inside it.
    pub(super) area: Vec<f64>,
    pub(super) inside: Vec<(f64, f64)>,
    /// Faces sharing boundary: (a, b) with a < b, the shared length (plane units) and the
    /// number of layers drawing that boundary.
    pub(super) adjacency: Vec<(usize, usize, f64, u32)>,
}

/// A source grid's rings on the plane, cut to the box around the community.
pub(super) fn source(plane: &Plane, geometry: &geo::MultiPolygon<f64>, layer: usize) -> Source {
    let mut rings = Vec::new();
    for polygon in geometry {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            let projected: Vec<(f64, f64)> = ring
                .coords()
                .map(|c| plane.project(*c))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            let mut contour: IntContour = Vec::with_capacity(projected.len());
            for (x, y) in clip_to_box(projected) {
                let p = IntPoint::new(x.round() as i32, y.round() as i32);
                if contour.last() != Some(&p) {
                    contour.push(p);
                }
            }
            while contour.len() > 1 && contour.first() == contour.last() {
                contour.pop();
            }
            if contour.len() >= 3 && plane::signed_area(&contour) != 0.0 {
                rings.push(contour);
            }
        }
    }
    let mut bounds = [i32::MAX, i32::MAX, i32::MIN, i32::MIN];
    for p in rings.iter().flatten() {
        bounds = [
            bounds[0].min(p.x),
            bounds[1].min(p.y),
            bounds[2].max(p.x),
            bounds[3].max(p.y),
        ];
    }
    Source {
        rings,
        bounds,
        layer,
    }
}

/// Cuts the community by every source ring and labels the faces.
pub(super) fn overlay(community: &IntShapes, sources: &[Source]) -> Atoms {
    let faces: IntShapes = if sources.iter().all(|s| s.rings.is_empty()) {
        community.clone()
    } else {
        let mut overlay = StringOverlay::with_shapes(community);
        for source in sources {
            overlay.add_string_contours(&source.rings);
        }
        overlay
            .build_graph_view(FillRule::NonZero)
            .map(|graph| graph.extract_shapes(StringRule::Slice))
            .unwrap_or_default()
    };
    let faces: Vec<IntShape> = faces
        .into_iter()
        .filter(|face| !face.is_empty() && plane::area(std::slice::from_ref(face)) > 0.0)
        .collect();
    let area: Vec<f64> = faces
        .iter()
        .map(|f| plane::area(std::slice::from_ref(f)))
        .collect();
    let inside: Vec<(f64, f64)> = faces.iter().map(interior_point).collect();
    // Per face: the sources covering it, ascending.
    let labels: Vec<Vec<usize>> = inside
        .iter()
        .map(|&(x, y)| {
            sources
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    f64::from(s.bounds[0]) <= x
                        && x <= f64::from(s.bounds[2])
                        && f64::from(s.bounds[1]) <= y
                        && y <= f64::from(s.bounds[3])
                        && plane::contains(&s.rings, (x, y))
                })
                .map(|(i, _)| i)
                .collect()
        })
        .collect();

    let mut shared: HashMap<(usize, usize), f64> = HashMap::new();
    let owners: Vec<usize> = (0..faces.len()).collect();
    for ((a, b), length) in shared_edges(&faces, &owners) {
        *shared.entry((a, b)).or_default() += length;
    }
    let mut adjacency: Vec<(usize, usize, f64, u32)> = shared
        .into_iter()
        .map(|((a, b), length)| {
            let layers = layers_between(&labels[a], &labels[b], sources);
            (a, b, length, layers)
        })
        .collect();
    adjacency.sort_by_key(|x| (x.0, x.1));
    Atoms {
        faces,
        area,
        inside,
        adjacency,
    }
}

/// Edges held by two pieces of different owners: ((owner a, owner b) with a < b, length), one
/// entry per edge; pieces of one owner never count as neighbours.
pub(super) fn shared_edges(pieces: &[IntShape], owner: &[usize]) -> Vec<((usize, usize), f64)> {
    let mut edges: HashMap<(IntPoint, IntPoint), usize> = HashMap::new();
    let mut found = Vec::new();
    for (piece, shape) in pieces.iter().enumerate() {
        let me = owner[piece];
        for contour in shape {
            let n = contour.len();
            for i in 0..n {
                let (a, b) = (contour[i], contour[(i + 1) % n]);
                if a == b {
                    continue;
                }
                let key = if (a.x, a.y) < (b.x, b.y) {
                    (a, b)
                } else {
                    (b, a)
                };
                match edges.get(&key) {
                    Some(&other) => {
                        let them = owner[other];
                        if them != me {
                            found.push(((me.min(them), me.max(them)), plane::distance(a, b)));
                        }
                    }
                    None => {
                        edges.insert(key, piece);
                    }
                }
            }
        }
    }
    found
}

/// How many layers draw the boundary between two faces: the layers whose covering grids differ
/// on the two sides.
fn layers_between(a: &[usize], b: &[usize], sources: &[Source]) -> u32 {
    let mut layers: Vec<usize> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                layers.push(sources[*x].layer);
                i += 1;
            }
            (Some(_), Some(y)) => {
                layers.push(sources[*y].layer);
                j += 1;
            }
            (Some(x), None) => {
                layers.push(sources[*x].layer);
                i += 1;
            }
            (None, Some(y)) => {
                layers.push(sources[*y].layer);
                j += 1;
            }
            (None, None) => break,
        }
    }
    layers.sort_unstable();
    layers.dedup();
    layers.len() as u32
}

/// A point inside a face (plane units): geo's interior point of the face, or its first vertex.
pub(super) fn interior_point(face: &IntShape) -> (f64, f64) {
    let ring = |contour: &IntContour| {
        let mut coords: Vec<Coord<f64>> = contour
            .iter()
            .map(|p| Coord {
                x: f64::from(p.x),
                y: f64::from(p.y),
            })
            .collect();
        if let Some(first) = coords.first().copied() {
            coords.push(first);
        }
        LineString::new(coords)
    };
    let Some(outer) = face.first() else {
        return (0.0, 0.0);
    };
    let polygon = Polygon::new(ring(outer), face[1..].iter().map(ring).collect());
    match polygon.interior_point() {
        Some(p) => (p.x(), p.y()),
        None => (f64::from(outer[0].x), f64::from(outer[0].y)),
    }
}

/// Area and centroid of shapes (plane units); the mean of the first vertices if flat.
pub(super) fn centroid(shapes: &[&IntShape]) -> (f64, f64, f64) {
    let (mut twice, mut x, mut y) = (0.0, 0.0, 0.0);
    let mut first = Vec::new();
    for shape in shapes {
        for contour in shape.iter() {
            let n = contour.len();
            if let Some(p) = contour.first() {
                first.push((f64::from(p.x), f64::from(p.y)));
            }
            for i in 0..n {
                let (a, b) = (contour[i], contour[(i + 1) % n]);
                let (ax, ay, bx, by) = (
                    f64::from(a.x),
                    f64::from(a.y),
                    f64::from(b.x),
                    f64::from(b.y),
                );
                let cross = ax * by - bx * ay;
                twice += cross;
                x += (ax + bx) * cross;
                y += (ay + by) * cross;
            }
        }
    }
    if twice.abs() > 0.0 {
        (twice.abs() / 2.0, x / (3.0 * twice), y / (3.0 * twice))
    } else if first.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        let n = first.len() as f64;
        (
            0.0,
            first.iter().map(|p| p.0).sum::<f64>() / n,
            first.iter().map(|p| p.1).sum::<f64>() / n,
        )
    }
}

/// Inserts into every edge the vertices of other pieces lying on it (within a unit of the
/// plane), so that pieces cut in separate operations hold the same edges where they meet.
pub(super) fn node(pieces: &mut [IntShape]) {
    use rstar::{primitives::GeomWithData, RTree, AABB};
    let mut points: Vec<IntPoint> = pieces.iter().flatten().flatten().copied().collect();
    points.sort_unstable_by_key(|p| (p.x, p.y));
    points.dedup();
    let tree: RTree<GeomWithData<[f64; 2], IntPoint>> = RTree::bulk_load(
        points
            .iter()
            .map(|p| GeomWithData::new([f64::from(p.x), f64::from(p.y)], *p))
            .collect(),
    );
    for shape in pieces.iter_mut() {
        for contour in shape.iter_mut() {
            let n = contour.len();
            let mut out: IntContour = Vec::with_capacity(n);
            for i in 0..n {
                let (a, b) = (contour[i], contour[(i + 1) % n]);
                out.push(a);
                let (ax, ay, bx, by) = (
                    f64::from(a.x),
                    f64::from(a.y),
                    f64::from(b.x),
                    f64::from(b.y),
                );
                let (dx, dy) = (bx - ax, by - ay);
                let length2 = dx * dx + dy * dy;
                if length2 <= 4.0 {
                    continue;
                }
                let envelope = AABB::from_corners(
                    [ax.min(bx) - 1.0, ay.min(by) - 1.0],
                    [ax.max(bx) + 1.0, ay.max(by) + 1.0],
                );
                let mut on: Vec<(f64, IntPoint)> = tree
                    .locate_in_envelope(envelope)
                    .filter_map(|candidate| {
                        let p = candidate.data;
                        if p == a || p == b {
                            return None;
                        }
                        let (px, py) = (f64::from(p.x) - ax, f64::from(p.y) - ay);
                        let t = (px * dx + py * dy) / length2;
                        let off = (px * dy - py * dx).abs() / length2.sqrt();
                        (t > 0.0 && t < 1.0 && off <= 1.0).then_some((t, p))
                    })
                    .collect();
                on.sort_by(|x, y| x.0.total_cmp(&y.0));
                out.extend(on.into_iter().map(|(_, p)| p));
            }
            out.dedup();
            while out.len() > 1 && out.first() == out.last() {
                out.pop();
            }
            *contour = out;
        }
    }
}

/// Sutherland-Hodgman against [`BOX`].
fn clip_to_box(mut ring: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if ring.iter().all(|(x, y)| x.abs() <= BOX && y.abs() <= BOX) {
        return ring;
    }
    for (axis, bound, below) in [
        (0, -BOX, false),
        (0, BOX, true),
        (1, -BOX, false),
        (1, BOX, true),
    ] {
        let inside = |p: (f64, f64)| {
            let v = if axis == 0 { p.0 } else { p.1 };
            if below {
                v <= bound
            } else {
                v >= bound
            }
        };
        let crossing = |p: (f64, f64), q: (f64, f64)| {
            if axis == 0 {
                (bound, p.1 + (q.1 - p.1) * ((bound - p.0) / (q.0 - p.0)))
            } else {
                (p.0 + (q.0 - p.0) * ((bound - p.1) / (q.1 - p.1)), bound)
            }
        };
        let n = ring.len();
        let mut out = Vec::with_capacity(n + 2);
        for i in 0..n {
            let (p, q) = (ring[i], ring[(i + 1) % n]);
            match (inside(p), inside(q)) {
                (true, true) => out.push(q),
                (true, false) => out.push(crossing(p, q)),
                (false, true) => {
                    out.push(crossing(p, q));
                    out.push(q);
                }
                (false, false) => {}
            }
        }
        ring = out;
    }
    ring
}
