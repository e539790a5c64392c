//! The demo city is a clean hierarchy: every level tiles its parent, so the topology report
//! (children outside their parent, overlapping siblings, gaps) is empty; and every household
//! lies in exactly one grid.

use geodata::demo::{demo_city, DemoSize, DEFAULT_SEED};
use geodata::topology::{check_topology, TopologyConfig};
use geodata::{assign_households, Index, Level};

#[test]
fn the_default_demo_city_tiles_every_parent_exactly() {
    let city = demo_city(DemoSize::Default, DEFAULT_SEED);
    let report = check_topology(&city.units, &TopologyConfig::default());
    assert!(
        report.is_empty(),
        "{} faults, the first: {:?}",
        report.len(),
        report
            .faults
            .first()
            .map(|f| (&f.kind, f.unit, f.other, f.area_m2))
    );
}

#[test]
fn every_demo_household_is_in_exactly_one_grid_and_counts_add_up() {
    let city = demo_city(DemoSize::Default, DEFAULT_SEED);
    let index = Index::new(city.units.clone());
    let assignment = assign_households(&index, &city.households);
    assert!(
        assignment.outside_grids.is_empty(),
        "{} outside",
        assignment.outside_grids.len()
    );
    for unit in assignment.unit_of.iter().flatten() {
        assert_eq!(index.get(*unit).map(|u| u.level), Some(Level::MicroGrid));
    }
    // The city's count is every household; each level's counts add up to it.
    let total = city.households.len() as u64;
    for level in Level::ALL {
        let sum: u64 = assignment
            .counts
            .iter()
            .filter(|(id, _)| index.get(*id).map(|u| u.level) == Some(level))
            .map(|(_, c)| c.households)
            .sum();
        if level == Level::City || level.depth() >= Level::Street.depth() {
            assert_eq!(sum, total, "{level}");
        }
    }
}

#[test]
fn the_cell_maps_answer_as_the_r_trees_do_on_the_demo_city() {
    let city = demo_city(DemoSize::Default, DEFAULT_SEED);
    let index = Index::new(city.units.clone());
    // Households, and a lattice of points over the whole city, borders included.
    let lattice = (0..300).flat_map(|i| {
        (0..300).map(move |j| geo::Point::new(103.3 + i as f64 * 0.0055, 30.1 + j as f64 * 0.0037))
    });
    for point in city.households.iter().map(|h| h.point).chain(lattice) {
        assert_eq!(
            index.locate(point),
            index.locate_by_tree(point),
            "at {point:?}"
        );
    }
}
