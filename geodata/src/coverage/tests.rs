//! Tests of coverage simplification: arcs, noding, collapse, and the property that matters,
//! that simplified neighbours neither gap nor overlap (on random lattices and on the demo
//! city's grids), where simplifying each polygon on its own does.

use geo::{polygon, Area, Contains, Coord, Distance, Euclidean, MapCoords, Point, Simplify};
use proptest::prelude::*;

use super::*;
use crate::demo::{demo_city, DemoSize, DEFAULT_SEED};
use crate::{tiles, Level};

fn one(polygon: Polygon<f64>) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![polygon])
}

#[test]
fn a_vertex_on_a_neighbours_edge_is_inserted_into_it() {
    // The left square's right edge holds the corner the two right squares share.
    let left = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)];
    let low = polygon![(x: 2.0, y: 0.0), (x: 3.0, y: 0.0), (x: 3.0, y: 1.0), (x: 2.0, y: 1.0)];
    let high = polygon![(x: 2.0, y: 1.0), (x: 3.0, y: 1.0), (x: 3.0, y: 2.0), (x: 2.0, y: 2.0)];
    let coverage = Coverage::new(&[one(left), one(low), one(high)], 0.0);
    let rebuilt = coverage.multi_polygon(&coverage.original(), 0);
    assert!(rebuilt.0[0]
        .exterior()
        .0
        .contains(&Coord { x: 2.0, y: 1.0 }));
    // Arcs: left|low, left|high, low|high, and the outer boundary of each square.
    assert_eq!(coverage.arc_count(), 6);
    assert_eq!(coverage.owners(), 3);
}

#[test]
fn a_ring_that_collapses_is_dropped_and_its_polygon_with_it() {
    let tiny = polygon![(x: 0.0, y: 0.0), (x: 0.1, y: 0.0), (x: 0.1, y: 0.1), (x: 0.0, y: 0.1)];
    let big = polygon![(x: 5.0, y: 5.0), (x: 15.0, y: 5.0), (x: 15.0, y: 15.0), (x: 5.0, y: 15.0)];
    let coverage = Coverage::new(&[MultiPolygon::new(vec![tiny, big])], 0.0);
    let simplified = coverage.multi_polygon(&coverage.simplify(1.0), 0);
    assert_eq!(simplified.0.len(), 1);
    assert_eq!(simplified.unsigned_area(), 100.0);
}

#[test]
fn holes_and_islands_share_their_ring() {
    let outer = Polygon::new(
        LineString::from(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]),
        vec![LineString::from(vec![
            (3.0, 3.0),
            (5.0, 2.9),
            (7.0, 3.0),
            (7.0, 7.0),
            (3.0, 7.0),
        ])],
    );
    let island = polygon![(x: 3.0, y: 3.0), (x: 3.0, y: 7.0), (x: 7.0, y: 7.0), (x: 7.0, y: 3.0), (x: 5.0, y: 2.9)];
    let coverage = Coverage::new(&[one(outer), one(island)], 0.0);
    let arcs = coverage.simplify(0.5);
    let (a, b) = (
        coverage.multi_polygon(&arcs, 0),
        coverage.multi_polygon(&arcs, 1),
    );
    assert!((a.unsigned_area() + b.unsigned_area() - 100.0).abs() < 1e-9);
}

/// `cols × rows` quadrilaterals tiling [0, cols] × [0, rows], inner vertices jittered, each
/// edge given a wiggly midpoint, so that simplification has work on shared edges.
fn wiggly_lattice(cols: usize, rows: usize, jitter: &[f64]) -> Vec<MultiPolygon<f64>> {
    let pick = |k: usize| jitter[k % jitter.len()];
    let vertex = |i: usize, j: usize| -> Coord<f64> {
        let k = (i * (rows + 1) + j) * 2;
        let inner_x = i > 0 && i < cols;
        let inner_y = j > 0 && j < rows;
        Coord {
            x: i as f64 + if inner_x { pick(k) * 0.3 } else { 0.0 },
            y: j as f64 + if inner_y { pick(k + 1) * 0.3 } else { 0.0 },
        }
    };
    // The wiggle of an edge, the same whichever side walks it.
    let middle = |a: (usize, usize), b: (usize, usize)| -> Coord<f64> {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        let (pa, pb) = (vertex(a.0, a.1), vertex(b.0, b.1));
        let k = a.0 * 7 + a.1 * 13 + b.0 * 17 + b.1 * 19;
        let outer =
            (a.0 == b.0 && (a.0 == 0 || a.0 == cols)) || (a.1 == b.1 && (a.1 == 0 || a.1 == rows));
        let w = if outer { 0.0 } else { pick(k) * 0.05 };
        Coord {
            x: (pa.x + pb.x) / 2.0 + w,
            y: (pa.y + pb.y) / 2.0 - w,
        }
    };
    let mut cells = Vec::new();
    for i in 0..cols {
        for j in 0..rows {
            let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let mut ring = Vec::new();
            for k in 0..4 {
                let (a, b) = (corners[k], corners[(k + 1) % 4]);
                ring.push(vertex(a.0, a.1));
                ring.push(middle(a, b));
            }
            cells.push(one(Polygon::new(LineString::new(ring), vec![])));
        }
    }
    cells
}

fn containing(polygons: &[MultiPolygon<f64>], point: Point<f64>) -> usize {
    polygons.iter().filter(|p| p.contains(&point)).count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn simplified_neighbours_neither_gap_nor_overlap(
        jitter in prop::collection::vec(-1.0f64..1.0, 16..64),
        tolerance in 0.01f64..0.2,
        points in prop::collection::vec((0.0f64..5.0, 0.0f64..4.0), 200),
    ) {
        let cells = wiggly_lattice(5, 4, &jitter);
        let coverage = Coverage::new(&cells, 0.0);
        let arcs = coverage.simplify(tolerance);
        let simplified: Vec<MultiPolygon<f64>> =
            (0..cells.len()).map(|i| coverage.multi_polygon(&arcs, i)).collect();
        // The outer boundary is straight, so simplification keeps it: every point of the
        // lattice's square is in exactly one simplified cell.
        for (x, y) in points {
            prop_assert_eq!(containing(&simplified, Point::new(x, y)), 1, "at ({}, {})", x, y);
        }
        let total: f64 = simplified.iter().map(|p| p.unsigned_area()).sum();
        prop_assert!((total - 20.0).abs() < 1e-9, "areas add up to {}", total);
    }
}

#[test]
fn the_demo_citys_grids_stay_gap_free_when_simplified_where_one_by_one_simplification_does_not() {
    let city = demo_city(DemoSize::Default, DEFAULT_SEED);
    let grids: Vec<MultiPolygon<f64>> = city
        .units
        .iter()
        .filter(|u| u.level == Level::Grid)
        .map(|u| u.geometry.map_coords(tiles::to_world))
        .collect();
    assert!(grids.len() > 50);
    let district = city
        .units
        .iter()
        .find(|u| u.code == "510104")
        .expect("锦江区")
        .geometry
        .map_coords(tiles::to_world);
    let coverage = Coverage::new(&grids, 1e-10);
    let vertices = |polygons: &[MultiPolygon<f64>]| -> usize {
        polygons.iter().map(geo::CoordsIter::coords_count).sum()
    };
    let area = |p: &[MultiPolygon<f64>]| -> f64 { p.iter().map(|m| m.unsigned_area()).sum() };
    let outline: f64 = district
        .0
        .iter()
        .map(|p| geo::Length::length(&Euclidean, p.exterior()))
        .sum();
    let mut one_by_one_wrong = 0;
    // The demo's grids are simple polygons (cut by straight lines): tile zooms 12 and up
    // barely touch them, so coarser zooms are tested too.
    for z in [6, 8, 10, 12] {
        let tolerance = tiles::tolerance(z);
        let arcs = coverage.simplify(tolerance);
        let simplified: Vec<MultiPolygon<f64>> = (0..grids.len())
            .map(|i| coverage.multi_polygon(&arcs, i))
            .collect();
        if z == 6 {
            let noded: Vec<MultiPolygon<f64>> = (0..grids.len())
                .map(|i| coverage.multi_polygon(&coverage.original(), i))
                .collect();
            assert!(
                vertices(&simplified) < vertices(&noded),
                "nothing was simplified"
            );
        }
        let one_by_one: Vec<MultiPolygon<f64>> =
            grids.iter().map(|p| p.simplify(tolerance)).collect();
        // Households lie strictly inside one grid each; away from the district's outer
        // boundary (which simplification may move by up to the tolerance) each must stay in
        // exactly one.
        let mut checked = 0;
        for household in city.households.iter().step_by(10) {
            let point = Point(tiles::to_world(household.point.0));
            let near_outline = district.0.iter().any(|polygon| {
                std::iter::once(polygon.exterior())
                    .chain(polygon.interiors())
                    .any(|ring| Euclidean.distance(&point, ring) <= 2.0 * tolerance)
            });
            if near_outline {
                continue;
            }
            checked += 1;
            assert_eq!(
                containing(&simplified, point),
                1,
                "zoom {z}: household {} is in a gap or an overlap",
                household.id
            );
            one_by_one_wrong += usize::from(containing(&one_by_one, point) != 1);
        }
        assert!(
            checked > 2000,
            "zoom {z}: only {checked} households checked"
        );
        // The simplified grids' areas add up to what the grids cover, up to what the outer
        // boundary's simplification moves (a sliver of tolerance × outline length).
        assert!((area(&simplified) - area(&grids)).abs() <= tolerance * outline);
    }
    // The test has teeth: simplified one by one, grids leave households in slivers.
    assert!(one_by_one_wrong > 0);
}
