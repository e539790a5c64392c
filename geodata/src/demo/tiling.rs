//! A synthetic layer shaped like the one behind PERF-NOTES' peer figures (shapely, PostGIS,
//! plain rstar): irregular polygons tiling 104.0-104.2 E × 30.6-30.75 N exactly, and clustered
//! household points in random order. It has no hierarchy (every polygon a micro-grid without a
//! parent), so it measures point lookup alone, at a polygon count chosen apart from the demo
//! city's.

use geo::{Coord, LineString, MultiPolygon, Point, Polygon};

use super::{DemoCity, Rng};
use crate::{GridKind, Household, Level, Unit, UnitId};

const WEST: f64 = 104.0;
const EAST: f64 = 104.2;
const SOUTH: f64 = 30.6;
const NORTH: f64 = 30.75;
/// Households around one cluster centre, on average.
const HOUSEHOLDS_PER_CLUSTER: usize = 250;

/// `cols × rows` polygons and `households` points. The lattice's inner corners are moved by up
/// to a quarter of a cell, and every edge bends through 0 to 12 extra vertices (4 to 52 a
/// polygon, 28 on average), stored once and walked both ways, so neighbours share their edges
/// exactly and the polygons cover the box without gaps or overlaps.
///
/// ```
/// let tiling = geodata::demo::irregular_tiling(4, 3, 100, 1);
/// assert_eq!((tiling.units.len(), tiling.households.len()), (12, 100));
/// ```
pub fn irregular_tiling(cols: usize, rows: usize, households: usize, seed: u64) -> DemoCity {
    let mut rng = Rng::new(seed, "irregular tiling");
    let (cell_x, cell_y) = ((EAST - WEST) / cols as f64, (NORTH - SOUTH) / rows as f64);
    let mut corners = Vec::with_capacity((cols + 1) * (rows + 1));
    for i in 0..=cols {
        for j in 0..=rows {
            let inner = i > 0 && i < cols && j > 0 && j < rows;
            let (jx, jy) = if inner {
                (rng.range(-0.25, 0.25), rng.range(-0.25, 0.25))
            } else {
                (0.0, 0.0)
            };
            corners.push(Coord {
                x: WEST + (i as f64 + jx) * cell_x,
                y: SOUTH + (j as f64 + jy) * cell_y,
            });
        }
    }
    let corner = |i: usize, j: usize| corners[i * (rows + 1) + j];
    let mut bend = |from: Coord<f64>, to: Coord<f64>, on_box_edge: bool| -> Vec<Coord<f64>> {
        let extra = rng.below(13) as usize;
        let (along, across) = (
            to - from,
            Coord {
                x: from.y - to.y,
                y: to.x - from.x,
            },
        );
        let mut line = vec![from];
        for m in 0..extra {
            let t = 0.2 + 0.6 * (m + 1) as f64 / (extra + 1) as f64;
            // Sideways by up to 3% of the edge: no bend reaches a neighbouring edge.
            let side = if on_box_edge {
                0.0
            } else {
                rng.range(-0.03, 0.03)
            };
            line.push(from + along * t + across * side);
        }
        line
    };
    // Bottom-to-top edges at column line i, left-to-right edges at row line j.
    let upward: Vec<Vec<Coord<f64>>> = (0..=cols)
        .flat_map(|i| (0..rows).map(move |j| (i, j)))
        .map(|(i, j)| bend(corner(i, j), corner(i, j + 1), i == 0 || i == cols))
        .collect();
    let rightward: Vec<Vec<Coord<f64>>> = (0..cols)
        .flat_map(|i| (0..=rows).map(move |j| (i, j)))
        .map(|(i, j)| bend(corner(i, j), corner(i + 1, j), j == 0 || j == rows))
        .collect();
    let up = |i: usize, j: usize| &upward[i * rows + j];
    let right = |i: usize, j: usize| &rightward[i * (rows + 1) + j];
    let mut units = Vec::with_capacity(cols * rows);
    for i in 0..cols {
        for j in 0..rows {
            // Counter-clockwise: bottom, right side, top backwards, left side backwards. Each
            // edge holds its start and its bends; its end is the next edge's start.
            let mut ring: Vec<Coord<f64>> = right(i, j).clone();
            ring.extend(up(i + 1, j));
            ring.extend(reversed(right(i, j + 1), corner(i + 1, j + 1)));
            ring.extend(reversed(up(i, j), corner(i, j + 1)));
            ring.push(ring[0]);
            units.push(Unit {
                id: (units.len() + 1) as UnitId,
                code: format!("T{i:04}{j:04}"),
                name: format!("tile {i},{j}"),
                level: Level::MicroGrid,
                kind: GridKind::General,
                parent: None,
                geometry: MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])]),
            });
        }
    }
    let clusters: Vec<Coord<f64>> = (0..households.div_ceil(HOUSEHOLDS_PER_CLUSTER))
        .map(|_| Coord {
            x: rng.range(WEST, EAST),
            y: rng.range(SOUTH, NORTH),
        })
        .collect();
    let mut points = Vec::with_capacity(households);
    while points.len() < households {
        let centre = clusters[rng.below(clusters.len() as u64) as usize];
        let x = centre.x + rng.normal() * 0.3 * cell_x;
        let y = centre.y + rng.normal() * 0.3 * cell_y;
        if (WEST..EAST).contains(&x) && (SOUTH..NORTH).contains(&y) {
            points.push(Point::new(x, y));
        }
    }
    let households = points
        .into_iter()
        .enumerate()
        .map(|(n, point)| Household {
            id: format!("t{n}"),
            point,
            persons: 1,
            building: None,
        })
        .collect();
    DemoCity { units, households }
}

/// An edge walked from its end back to its start, without the start (the next edge's).
fn reversed(edge: &[Coord<f64>], end: Coord<f64>) -> Vec<Coord<f64>> {
    std::iter::once(end)
        .chain(edge[1..].iter().rev().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use geo::{Area, Intersects, Validation};

    use super::*;
    use crate::Index;

    #[test]
    fn the_tiles_are_valid_and_cover_the_box_once() {
        let tiling = irregular_tiling(30, 20, 20_000, 7);
        let box_area = (EAST - WEST) * (NORTH - SOUTH);
        let mut area = 0.0;
        for unit in &tiling.units {
            assert!(unit.geometry.is_valid(), "{} is not valid", unit.code);
            area += unit.geometry.unsigned_area();
        }
        assert!((area - box_area).abs() < 1e-12, "{area} against {box_area}");
        let vertices: usize = tiling
            .units
            .iter()
            .map(|u| u.geometry.0[0].exterior().0.len() - 1)
            .sum();
        let mean = vertices as f64 / tiling.units.len() as f64;
        assert!((20.0..36.0).contains(&mean), "{mean} vertices a polygon");
        // Every point is in exactly one tile (and on no shared edge, almost surely).
        let index = Index::new(tiling.units.clone());
        for household in &tiling.households {
            let holding = tiling
                .units
                .iter()
                .filter(|u| u.geometry.intersects(&household.point))
                .count();
            assert_eq!(holding, 1, "{:?}", household.point);
            assert_eq!(index.locate(household.point).len(), 1);
        }
    }
}
