//! The crosswalk from source grids to the unified grids that replace them: for every pair that
//! shares area, the share of the source grid's area and of its households in the unified grid.
//!
//! Candidate pairs come from an R-tree of the unified grids' boxes; each candidate is
//! intersected exactly (geo's boolean operations) and measured in m². Households are placed
//! once (their unified grid, by R-tree and point-in-polygon) and counted per source grid that
//! holds them. Source grids run in parallel (rayon).

use std::collections::BTreeMap;

use geo::{BooleanOps, BoundingRect, Intersects, MultiPolygon};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use super::{CrosswalkShare, SourceGrid};
use crate::measure::area_m2;
use crate::Household;

/// Area shares below this, for a pair holding no household, are rounding along shared edges.
const NOISE: f64 = 1e-9;

/// The crosswalk between source grids and unified grids (given with the unified grids'
/// households as points): every pair that shares area, with area and household shares.
///
/// A source grid's area shares are of its area inside the unified grids (so inside the
/// communities) and sum to 1; its household shares are of its households (points inside it,
/// boundaries included) that lie in a unified grid, and sum to 1 too; a source grid without such
/// households takes its area shares. A source grid outside every unified grid has no row. Rows
/// come sorted by source grid (in the order given), then unified grid.
///
/// ```
/// use geo::{polygon, MultiPolygon, Point};
/// use geodata::merge::{crosswalk, SourceGrid};
/// use geodata::Household;
/// let rect = |x0: f64, x1: f64| MultiPolygon::new(vec![polygon![
///     (x: x0, y: 30.60), (x: x1, y: 30.60), (x: x1, y: 30.61), (x: x0, y: 30.61),
/// ]]);
/// let unified = vec![rect(104.00, 104.01), rect(104.01, 104.02)];
/// // A source grid over a quarter of the first unified grid and three quarters of the second.
/// let source = SourceGrid { system_id: 1, id: 9, code: "g".into(), geometry: rect(104.0075, 104.0175) };
/// let household = |x: f64| Household {
///     id: format!("{x}"), point: Point::new(x, 30.605), persons: 1, building: None,
/// };
/// let households = vec![household(104.008), household(104.012), household(104.013), household(104.03)];
/// let rows = crosswalk(&[source], &unified, &households);
/// assert_eq!(rows.len(), 2);
/// assert_eq!((rows[0].from, rows[0].to, rows[1].to), (9, 0, 1));
/// assert!((rows[0].area_share - 0.25).abs() < 1e-3 && (rows[1].area_share - 0.75).abs() < 1e-3);
/// assert!((rows[0].household_share - 1.0 / 3.0).abs() < 1e-12);
/// ```
///
/// # Performance
/// One intersection per source and unified grid whose boxes meet; parallel over sources.
pub fn crosswalk(
    sources: &[SourceGrid],
    unified: &[MultiPolygon<f64>],
    households: &[Household],
) -> Vec<CrosswalkShare> {
    let tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>> = RTree::bulk_load(
        unified
            .iter()
            .enumerate()
            .filter_map(|(i, u)| {
                let b = u.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    i,
                ))
            })
            .collect(),
    );
    // Each household's unified grid (the first holding it), and a tree of the placed ones.
    let placed: Vec<Option<usize>> = households
        .par_iter()
        .map(|h| {
            tree.locate_all_at_point([h.point.x(), h.point.y()])
                .map(|c| c.data)
                .filter(|&u| unified[u].intersects(&h.point))
                .min()
        })
        .collect();
    let points: RTree<GeomWithData<[f64; 2], usize>> = RTree::bulk_load(
        placed
            .iter()
            .enumerate()
            .filter_map(|(h, u)| {
                u.map(|u| GeomWithData::new([households[h].point.x(), households[h].point.y()], u))
            })
            .collect(),
    );

    let rows: Vec<Vec<CrosswalkShare>> = sources
        .par_iter()
        .map(|source| {
            let Some(b) = source.geometry.bounding_rect() else {
                return Vec::new();
            };
            let envelope = AABB::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]);
            // (area m², households) per unified grid.
            let mut pairs: BTreeMap<usize, (f64, u64)> = BTreeMap::new();
            for candidate in tree.locate_in_envelope_intersecting(envelope) {
                let u = candidate.data;
                let area = area_m2(&source.geometry.intersection(&unified[u]));
                if area > 0.0 {
                    pairs.entry(u).or_default().0 = area;
                }
            }
            for point in points.locate_in_envelope(envelope) {
                let p = geo::Point::new(point.geom()[0], point.geom()[1]);
                if source.geometry.intersects(&p) {
                    pairs.entry(point.data).or_default().1 += 1;
                }
            }
            let total_area: f64 = pairs.values().map(|v| v.0).sum();
            if total_area <= 0.0 {
                return Vec::new();
            }
            pairs.retain(|_, (area, n)| *n > 0 || *area / total_area >= NOISE);
            let total_area: f64 = pairs.values().map(|v| v.0).sum();
            let total_households: u64 = pairs.values().map(|v| v.1).sum();
            pairs
                .into_iter()
                .map(|(u, (area, n))| {
                    let area_share = if total_area > 0.0 {
                        area / total_area
                    } else {
                        0.0
                    };
                    CrosswalkShare {
                        from: source.id,
                        to: u,
                        area_share,
                        household_share: if total_households > 0 {
                            n as f64 / total_households as f64
                        } else {
                            area_share
                        },
                    }
                })
                .collect()
        })
        .collect();
    rows.into_iter().flatten().collect()
}
