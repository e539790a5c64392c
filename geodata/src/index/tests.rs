//! Tests of the point index: a brute-force cross-check and the border rule.

use geo::{polygon, Contains, Intersects, MultiPolygon, Point};
use proptest::prelude::*;

use super::*;
use crate::GridKind;

/// `cols × rows` quadrilaterals tiling [0, cols] × [0, rows] exactly, their inner vertices
/// jittered by up to ±0.3 so the cells are irregular; each cell a grid of a community made of
/// one column.
fn jittered_lattice(cols: usize, rows: usize, jitter: &[f64]) -> Vec<Unit> {
    let vertex = |i: usize, j: usize| -> (f64, f64) {
        let inner = i > 0 && i < cols && j > 0 && j < rows;
        let k = (i * (rows + 1) + j) * 2;
        let (dx, dy) = if inner {
            (jitter[k % jitter.len()], jitter[(k + 1) % jitter.len()])
        } else {
            (0.0, 0.0)
        };
        (i as f64 + dx, j as f64 + dy)
    };
    let mut units = Vec::new();
    for i in 0..cols {
        let community_id = (i + 1) as UnitId;
        units.push(Unit {
            id: community_id,
            code: format!("C{i:03}"),
            name: format!("column {i}"),
            level: Level::Community,
            kind: GridKind::General,
            parent: None,
            geometry: MultiPolygon::new(vec![geo::Polygon::new(
                (0..=rows)
                    .map(|j| vertex(i, j))
                    .chain((0..=rows).rev().map(|j| vertex(i + 1, j)))
                    .map(|(x, y)| geo::coord! { x: x, y: y })
                    .collect(),
                vec![],
            )]),
        });
        for j in 0..rows {
            let corners = [
                vertex(i, j),
                vertex(i + 1, j),
                vertex(i + 1, j + 1),
                vertex(i, j + 1),
            ];
            units.push(Unit {
                id: (1000 + i * rows + j) as UnitId,
                code: format!("C{i:03}{j:03}"),
                name: format!("cell {i},{j}"),
                level: Level::Grid,
                kind: GridKind::General,
                parent: Some(community_id),
                geometry: MultiPolygon::new(vec![polygon![
                    (x: corners[0].0, y: corners[0].1),
                    (x: corners[1].0, y: corners[1].1),
                    (x: corners[2].0, y: corners[2].1),
                    (x: corners[3].0, y: corners[3].1),
                ]]),
            });
        }
    }
    units
}

/// The answer by scanning every unit: interior first, else the smallest code among the
/// units whose boundary holds the point; deepest level first.
fn brute_force(units: &[Unit], point: Point<f64>) -> Vec<UnitId> {
    for level in Level::ALL.iter().rev() {
        let at_level = units.iter().filter(|u| u.level == *level);
        let inside: Vec<&Unit> = at_level
            .clone()
            .filter(|u| u.geometry.contains(&point))
            .collect();
        let chosen = match inside.as_slice() {
            [one] => Some(*one),
            [] => at_level
                .filter(|u| u.geometry.intersects(&point))
                .min_by(|a, b| a.code.cmp(&b.code)),
            many => panic!("{} units overlap at {point:?}", many.len()),
        };
        if let Some(unit) = chosen {
            let mut chain = vec![unit.id];
            let mut parent = unit.parent;
            while let Some(id) = parent {
                chain.push(id);
                parent = units.iter().find(|u| u.id == id).and_then(|u| u.parent);
            }
            return chain;
        }
    }
    Vec::new()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn locate_agrees_with_a_brute_force_scan(
        jitter in prop::collection::vec(-0.3f64..0.3, 16..64),
        points in prop::collection::vec((-0.5f64..6.5, -0.5f64..5.5), 50),
        lattice_points in prop::collection::vec((0usize..=6, 0usize..=5), 10),
    ) {
        let units = jittered_lattice(6, 5, &jitter);
        let index = Index::new(units.clone());
        // Random points, and points exactly on the cells' corners (shared by up to 4 cells).
        let corners: Vec<Point<f64>> = lattice_points
            .iter()
            .map(|&(i, j)| {
                let code = format!("C{:03}{:03}", i.min(5), j.min(4));
                let grid = units.iter().find(|u| u.code == code).expect("cell exists");
                Point(grid.geometry.0[0].exterior().0[(i + j) % 4])
            })
            .collect();
        for point in points.iter().map(|(x, y)| Point::new(*x, *y)).chain(corners) {
            let expected = brute_force(&units, point);
            prop_assert_eq!(index.locate(point), expected.clone(), "at {:?}", point);
            prop_assert_eq!(index.locate_by_tree(point), expected, "by tree at {:?}", point);
        }
    }
}

#[test]
fn a_point_on_a_shared_edge_belongs_to_the_smaller_code_only() {
    let units = jittered_lattice(2, 1, &[0.0]);
    let index = Index::new(units);
    // x = 1 is the edge between C000000 and C001000 (no jitter on the outer rows).
    assert_eq!(index.locate(Point::new(1.0, 0.5)), vec![1000, 1]);
    assert_eq!(index.locate(Point::new(1.0 + 1e-12, 0.5)), vec![1001, 2]);
    // On the outer boundary: the one unit there.
    assert_eq!(index.locate(Point::new(2.0, 0.5)), vec![1001, 2]);
    assert!(index.locate(Point::new(2.0 + 1e-12, 0.5)).is_empty());
}

#[test]
fn a_point_where_no_grid_is_answers_the_deepest_unit_there() {
    let mut units = jittered_lattice(2, 2, &[0.1, -0.2]);
    units.retain(|u| u.code != "C001001");
    let index = Index::new(units);
    assert_eq!(index.locate(Point::new(1.5, 1.9)), vec![2]);
    assert_eq!(index.unit_at(Level::Grid, Point::new(1.5, 1.9)), None);
}

/// A ring with a hole filled by another unit, and a unit of two parts around them.
fn holes_and_parts() -> Vec<Unit> {
    let unit = |id: UnitId, code: &str, geometry: MultiPolygon<f64>| Unit {
        id,
        code: code.into(),
        name: code.into(),
        level: Level::Grid,
        kind: GridKind::General,
        parent: None,
        geometry,
    };
    let ring = geo::Polygon::new(
        geo::LineString::from(vec![
            (1.0, 1.0),
            (3.0, 1.0),
            (3.0, 3.0),
            (1.0, 3.0),
            (1.0, 1.0),
        ]),
        vec![geo::LineString::from(vec![
            (1.5, 1.5),
            (1.5, 2.5),
            (2.5, 2.5),
            (2.5, 1.5),
            (1.5, 1.5),
        ])],
    );
    vec![
        unit(1, "A", MultiPolygon::new(vec![ring])),
        unit(
            2,
            "B",
            MultiPolygon::new(vec![polygon![
                (x: 1.5, y: 1.5), (x: 2.5, y: 1.5), (x: 2.5, y: 2.5), (x: 1.5, y: 2.5),
            ]]),
        ),
        unit(
            3,
            "C",
            MultiPolygon::new(vec![
                polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 4.0), (x: 0.0, y: 4.0)],
                polygon![(x: 3.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 3.0, y: 4.0)],
            ]),
        ),
    ]
}

proptest! {
    #[test]
    fn holes_and_multi_part_units_are_located_exactly(
        points in prop::collection::vec((-0.5f64..4.5, -0.5f64..4.5), 100),
        on_lines in prop::collection::vec((prop::sample::select(vec![0.0, 1.0, 1.5, 2.5, 3.0, 4.0]), -0.5f64..4.5), 30),
    ) {
        let units = holes_and_parts();
        let index = Index::new(units.clone());
        let swapped = on_lines.iter().map(|(a, b)| (*b, *a));
        for (x, y) in points.iter().copied().chain(on_lines.iter().copied()).chain(swapped) {
            let point = Point::new(x, y);
            let expected = brute_force(&units, point);
            prop_assert_eq!(index.locate(point), expected.clone(), "at {:?}", point);
            prop_assert_eq!(index.locate_by_tree(point), expected, "by tree at {:?}", point);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Vertices and points on a grid of 1/32 (the cells of this lattice are 1/8 wide, and
    /// their reference points lie on that grid): points fall exactly on reference points, on
    /// lines through a reference point and a vertex, on edges and on vertices, the degenerate
    /// cases of the cell-local test.
    #[test]
    fn cell_local_tests_agree_with_a_brute_force_scan_on_degenerate_points(
        jitter in prop::collection::vec(-9i32..=9, 16..64),
        points in prop::collection::vec((-8i32..=200, -8i32..=168), 80),
    ) {
        let jitter: Vec<f64> = jitter.iter().map(|&j| f64::from(j) / 32.0).collect();
        let units = jittered_lattice(6, 5, &jitter);
        let index = Index::new(units.clone());
        for (x, y) in points {
            let point = Point::new(f64::from(x) / 32.0, f64::from(y) / 32.0);
            prop_assert_eq!(index.locate(point), brute_force(&units, point), "at {:?}", point);
        }
    }
}

#[test]
fn every_cell_of_a_lattice_answers_its_reference_points_and_corners() {
    // Sample every 1/64: each reference point and corner of every cell, and the points between.
    let units = jittered_lattice(4, 3, &[0.125, -0.25, 0.0625, 0.1875, -0.125]);
    let index = Index::new(units.clone());
    for i in -4..=4 * 64 + 4 {
        for j in -4..=3 * 64 + 4 {
            let point = Point::new(f64::from(i) / 64.0, f64::from(j) / 64.0);
            assert_eq!(
                index.locate(point),
                brute_force(&units, point),
                "at {point:?}"
            );
        }
    }
}
