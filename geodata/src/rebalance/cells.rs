//! The support of a plan: Voronoi cells of the households' buildings, cut to the region being
//! redrawn, and the graph of the cells that share a stretch of boundary.
//!
//! Every building's cell holds the land nearer to it than to any other building, so the cells
//! cover the whole region, empty land included, and each household lies strictly inside its
//! building's cell. A cell cut by a non-convex region can fall apart: the piece holding the
//! building stays with it, the other pieces become nodes of their own with no households, free
//! to join whichever grid surrounds them. Two nodes are neighbours when their pieces share an
//! edge of the plane (the same two integer points): then the union of any connected set of
//! nodes is one polygon.

use std::collections::HashMap;

use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::i_float::int::point::IntPoint;
use i_overlay::i_shape::int::shape::{IntShape, IntShapes};
use spade::{DelaunayTriangulation, Point2, Triangulation};

use super::plane::{self, Plane, HALF_SPAN};
use crate::Household;

/// Sites closer than this (plane units, well under a millimetre) are one site: a Voronoi edge
/// between them could not be drawn on the grid.
const MERGE_UNITS: f64 = 8.0;
/// The cells are cut to this box before rounding; the community lies within ±[`HALF_SPAN`].
const BOX: f64 = HALF_SPAN * 1.25;
/// Frame points far around the sites keep every site's cell bounded.
const FRAME_RADIUS: f64 = HALF_SPAN * 8.0;
const FRAME_POINTS: usize = 16;

/// A node of the graph: a building's piece (with its households) or a stray piece of a cell.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) pieces: Vec<usize>,
    /// Indices into the community's households.
    pub(crate) households: Vec<usize>,
    pub(crate) weight: u32,
    pub(crate) centroid: (f64, f64),
}

/// The cells of a region and their adjacency.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    pub(crate) pieces: Vec<IntShape>,
    pub(crate) nodes: Vec<Node>,
    /// Per node: neighbours and the length of the shared boundary, in plane units.
    pub(crate) adjacency: Vec<Vec<(usize, f64)>>,
}

impl Graph {
    /// The connected components of a set of nodes, each in ascending order.
    pub(crate) fn components(&self, nodes: &[usize]) -> Vec<Vec<usize>> {
        let mut member = vec![false; self.nodes.len()];
        for &n in nodes {
            member[n] = true;
        }
        let mut seen = vec![false; self.nodes.len()];
        let mut components = Vec::new();
        for &start in nodes {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            let mut component = vec![start];
            let mut stack = vec![start];
            while let Some(n) = stack.pop() {
                for &(m, _) in &self.adjacency[n] {
                    if member[m] && !seen[m] {
                        seen[m] = true;
                        component.push(m);
                        stack.push(m);
                    }
                }
            }
            component.sort_unstable();
            components.push(component);
        }
        components
    }

    /// The union of the nodes' pieces.
    pub(crate) fn union(&self, nodes: &[usize]) -> IntShapes {
        let shapes: Vec<IntShape> = nodes
            .iter()
            .flat_map(|&n| self.nodes[n].pieces.iter())
            .map(|&p| self.pieces[p].clone())
            .collect();
        plane::union(&shapes)
    }
}

/// Builds the cells of `region` around the given households (indices into `all`).
pub(crate) fn build(
    plane: &Plane,
    region: &IntShapes,
    households: &[usize],
    all: &[Household],
) -> Graph {
    let sites = sites(plane, households, all);
    let atoms = atoms(&sites, all);
    let cells = voronoi(&sites);

    let mut graph = Graph::default();
    let mut piece_cell = Vec::new();
    // The piece holding each site, if its cell meets the region.
    let mut site_piece: Vec<Option<usize>> = vec![None; sites.len()];
    for (site, cell) in cells.iter().enumerate() {
        let Some(cell) = cell else { continue };
        let pieces = plane::overlay(&[vec![cell.clone()]], region, OverlayRule::Intersect);
        let first = graph.pieces.len();
        let position = sites[site].position;
        let mut holder = None;
        for (i, piece) in pieces.iter().enumerate() {
            if holder.is_none() && plane::contains(piece, position) {
                holder = Some(first + i);
            }
        }
        if holder.is_none() {
            holder = pieces
                .iter()
                .enumerate()
                .map(|(i, piece)| (first + i, plane::distance_to_boundary(piece, position)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i);
        }
        site_piece[site] = holder;
        piece_cell.extend(std::iter::repeat_n(site, pieces.len()));
        graph.pieces.extend(pieces);
    }
    if cells.iter().all(Option::is_none) {
        // No households: the region's own polygons are the pieces.
        piece_cell.extend(0..region.len());
        graph.pieces.extend(region.iter().cloned());
    }

    // Nodes: one per atom (its sites' pieces), then one per stray piece.
    let mut node_of_piece: Vec<Option<usize>> = vec![None; graph.pieces.len()];
    let mut node_of_atom: HashMap<usize, usize> = HashMap::new();
    let mut homeless = Vec::new();
    for (site, s) in sites.iter().enumerate() {
        let atom = atoms[site];
        let node = match site_piece[site] {
            Some(piece) => match node_of_atom.get(&atom) {
                Some(&node) => {
                    if node_of_piece[piece].is_none() {
                        node_of_piece[piece] = Some(node);
                        graph.nodes[node].pieces.push(piece);
                    }
                    node
                }
                None => {
                    let node = graph.nodes.len();
                    graph.nodes.push(Node {
                        pieces: vec![piece],
                        households: Vec::new(),
                        weight: 0,
                        centroid: (0.0, 0.0),
                    });
                    node_of_piece[piece] = Some(node);
                    node_of_atom.insert(atom, node);
                    node
                }
            },
            None => match node_of_atom.get(&atom) {
                Some(&node) => node,
                None => {
                    homeless.push(site);
                    continue;
                }
            },
        };
        graph.nodes[node].households.extend(&s.households);
    }
    for (piece, node) in node_of_piece.iter_mut().enumerate() {
        if node.is_none() {
            *node = Some(graph.nodes.len());
            graph.nodes.push(Node {
                pieces: vec![piece],
                households: Vec::new(),
                weight: 0,
                centroid: (0.0, 0.0),
            });
        }
    }
    let node_of_piece: Vec<usize> = node_of_piece.into_iter().flatten().collect();
    for node in &mut graph.nodes {
        let (mut area, mut x, mut y) = (0.0, 0.0, 0.0);
        for &p in &node.pieces {
            let (a, cx, cy) = centroid(&graph.pieces[p]);
            area += a;
            x += a * cx;
            y += a * cy;
        }
        node.centroid = if area > 0.0 {
            (x / area, y / area)
        } else {
            (0.0, 0.0)
        };
    }
    // Sites whose cell missed the region (a household on or outside its edge): with the
    // nearest node, so that nobody is lost.
    for site in homeless {
        let position = sites[site].position;
        let nearest = (0..graph.nodes.len()).min_by(|&a, &b| {
            let d = |n: usize| {
                let (x, y) = graph.nodes[n].centroid;
                (x - position.0).hypot(y - position.1)
            };
            d(a).total_cmp(&d(b))
        });
        if let Some(node) = nearest {
            graph.nodes[node].households.extend(&sites[site].households);
        }
    }
    for node in &mut graph.nodes {
        node.households.sort_unstable();
        node.weight = node.households.len() as u32;
    }

    // Adjacency: pieces of different nodes with an edge in common.
    let mut edges: HashMap<(IntPoint, IntPoint), usize> = HashMap::new();
    let mut shared: HashMap<(usize, usize), f64> = HashMap::new();
    for (piece, shape) in graph.pieces.iter().enumerate() {
        for contour in shape {
            let n = contour.len();
            for i in 0..n {
                let (a, b) = (contour[i], contour[(i + 1) % n]);
                let key = if (a.x, a.y) < (b.x, b.y) {
                    (a, b)
                } else {
                    (b, a)
                };
                match edges.get(&key) {
                    Some(&other) if piece_cell.get(other) != piece_cell.get(piece) => {
                        let (u, v) = (node_of_piece[other], node_of_piece[piece]);
                        if u != v {
                            *shared.entry((u.min(v), u.max(v))).or_default() +=
                                plane::distance(a, b);
                        }
                    }
                    Some(_) => {}
                    None => {
                        edges.insert(key, piece);
                    }
                }
            }
        }
    }
    graph.adjacency = vec![Vec::new(); graph.nodes.len()];
    let mut pairs: Vec<((usize, usize), f64)> = shared.into_iter().collect();
    pairs.sort_by_key(|pair| pair.0);
    for ((u, v), length) in pairs {
        graph.adjacency[u].push((v, length));
        graph.adjacency[v].push((u, length));
    }
    graph
}

/// A distinct point of the plane with the households at it.
struct Site {
    position: (f64, f64),
    households: Vec<usize>,
}

fn sites(plane: &Plane, households: &[usize], all: &[Household]) -> Vec<Site> {
    let mut sites: Vec<Site> = Vec::new();
    let mut buckets: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    let bucket = |(x, y): (f64, f64)| {
        (
            (x / MERGE_UNITS).floor() as i64,
            (y / MERGE_UNITS).floor() as i64,
        )
    };
    for &h in households {
        let (x, y) = plane.project(all[h].point.0);
        let position = if x.is_finite() && y.is_finite() {
            (x, y)
        } else {
            (0.0, 0.0)
        };
        let (bx, by) = bucket(position);
        let near = (bx - 1..=bx + 1)
            .flat_map(|cx| (by - 1..=by + 1).map(move |cy| (cx, cy)))
            .filter_map(|key| buckets.get(&key))
            .flatten()
            .copied()
            .find(|&s| {
                let (sx, sy) = sites[s].position;
                (sx - position.0).hypot(sy - position.1) < MERGE_UNITS
            });
        match near {
            Some(s) => sites[s].households.push(h),
            None => {
                buckets.entry((bx, by)).or_default().push(sites.len());
                sites.push(Site {
                    position,
                    households: vec![h],
                });
            }
        }
    }
    sites
}

/// For each site, a representative of its atom: sites tied by a building key are one atom.
fn atoms(sites: &[Site], all: &[Household]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..sites.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut by_building: HashMap<&str, usize> = HashMap::new();
    for (s, site) in sites.iter().enumerate() {
        for &h in &site.households {
            if let Some(building) = all[h].building.as_deref() {
                let first = *by_building.entry(building).or_insert(s);
                let (a, b) = (find(&mut parent, first), find(&mut parent, s));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    (0..sites.len()).map(|s| find(&mut parent, s)).collect()
}

/// Each site's Voronoi cell, cut to [`BOX`] and put on the grid (`None` when it vanishes).
fn voronoi(sites: &[Site]) -> Vec<Option<Vec<IntPoint>>> {
    let mut triangulation: DelaunayTriangulation<Point2<f64>> = DelaunayTriangulation::new();
    let mut handles = Vec::with_capacity(sites.len());
    for site in sites {
        let (x, y) = site.position;
        handles.push(triangulation.insert(Point2::new(x, y)).ok());
    }
    for i in 0..FRAME_POINTS {
        let angle = std::f64::consts::TAU * i as f64 / FRAME_POINTS as f64;
        // Insertion of a frame point only fails for non-finite input.
        let _ = triangulation.insert(Point2::new(
            FRAME_RADIUS * angle.cos(),
            FRAME_RADIUS * angle.sin(),
        ));
    }
    let mut centres: HashMap<usize, (f64, f64)> = HashMap::new();
    for face in triangulation.inner_faces() {
        let c = face.circumcenter();
        centres.insert(face.fix().index(), (c.x, c.y));
    }
    handles
        .into_iter()
        .map(|handle| {
            let vertex = triangulation.vertex(handle?);
            let mut ring = Vec::new();
            for edge in vertex.out_edges() {
                let face = edge.face().as_inner()?;
                ring.push(*centres.get(&face.fix().index())?);
            }
            let clipped = clip_to_box(ring);
            let mut cell: Vec<IntPoint> = Vec::with_capacity(clipped.len());
            for (x, y) in clipped {
                let p = IntPoint::new(x.round() as i32, y.round() as i32);
                if cell.last() != Some(&p) {
                    cell.push(p);
                }
            }
            while cell.len() > 1 && cell.first() == cell.last() {
                cell.pop();
            }
            (cell.len() >= 3 && plane::signed_area(&cell) > 0.0).then_some(cell)
        })
        .collect()
}

/// Sutherland-Hodgman against [`BOX`]. Where an edge crosses a side, the crossing is computed
/// from the edge's endpoints in a fixed order, so the two cells sharing the edge get the very
/// same point.
fn clip_to_box(mut ring: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    // Each side: which coordinate, the bound, and whether points must lie below it.
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
            let (a, b) = if p < q { (p, q) } else { (q, p) };
            if axis == 0 {
                (bound, a.1 + (b.1 - a.1) * ((bound - a.0) / (b.0 - a.0)))
            } else {
                (a.0 + (b.0 - a.0) * ((bound - a.1) / (b.1 - a.1)), bound)
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

/// Area and centroid of a shape (holes count out), in plane units.
fn centroid(shape: &IntShape) -> (f64, f64, f64) {
    let (mut twice, mut x, mut y) = (0.0, 0.0, 0.0);
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
            let cross = ax * by - bx * ay;
            twice += cross;
            x += (ax + bx) * cross;
            y += (ay + by) * cross;
        }
    }
    if twice.abs() > 0.0 {
        (twice.abs() / 2.0, x / (3.0 * twice), y / (3.0 * twice))
    } else {
        let b = plane::bounds(shape);
        (
            0.0,
            (f64::from(b[0]) + f64::from(b[2])) / 2.0,
            (f64::from(b[1]) + f64::from(b[3])) / 2.0,
        )
    }
}
