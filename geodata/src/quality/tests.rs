//! Tests of the layer quality report: synthetic faults, the demo city's clean grids and the
//! department layers' injected faults.

#![allow(clippy::unwrap_used)]

use geo::{polygon, MultiPolygon};

use super::*;
use crate::demo::{demo_city, department_layers, DemoCity, DemoSize, DEFAULT_SEED};
use crate::GridKind;

fn unit(id: UnitId, level: Level, parent: Option<UnitId>, x0: f64, x1: f64) -> Unit {
    Unit {
        id,
        code: id.to_string(),
        name: id.to_string(),
        level,
        kind: GridKind::General,
        parent,
        geometry: MultiPolygon::new(vec![polygon![
            (x: x0, y: 30.60), (x: x1, y: 30.60), (x: x1, y: 30.61), (x: x0, y: 30.61),
        ]]),
    }
}

fn city() -> &'static DemoCity {
    static CITY: std::sync::OnceLock<DemoCity> = std::sync::OnceLock::new();
    CITY.get_or_init(|| demo_city(DemoSize::Default, DEFAULT_SEED))
}

fn of_level(city: &DemoCity, level: Level) -> Vec<Unit> {
    city.units
        .iter()
        .filter(|u| u.level == level)
        .cloned()
        .collect()
}

#[test]
fn a_grid_across_two_communities_is_a_crossing_and_its_empty_piece_a_sliver() {
    let communities = vec![
        unit(1, Level::Community, None, 104.00, 104.01),
        unit(2, Level::Community, None, 104.01, 104.02),
    ];
    let grids = vec![
        unit(10, Level::Grid, Some(1), 104.00, 104.0101),
        unit(11, Level::Grid, Some(2), 104.0101, 104.02),
    ];
    let households = vec![Household {
        id: "h".into(),
        point: geo::Point::new(104.005, 30.605),
        persons: 1,
        building: None,
    }];
    let report = check_layer(&communities, &grids, &households, 200.0, 1.0);
    assert!(report.overlaps.is_empty() && report.gaps.is_empty());
    assert_eq!(report.crossings.len(), 1);
    let crossing = &report.crossings[0];
    assert_eq!((crossing.grid, crossing.other), (Some(10), Some(2)));
    assert!((crossing.area_m2 - 0.0001 * 95_800.0 * 1_109.0).abs() < 200.0);
    // The empty piece is a sliver, and so is the empty grid 11.
    let slivers: Vec<(Option<UnitId>, Option<UnitId>)> =
        report.slivers.iter().map(|s| (s.grid, s.other)).collect();
    assert!(slivers.contains(&(Some(10), Some(2))), "{slivers:?}");
    assert!(slivers.contains(&(Some(11), Some(2))), "{slivers:?}");
}

#[test]
fn empty_input_has_no_fault() {
    assert!(check_layer(&[], &[], &[], 200.0, 1.0).is_empty());
    let communities = vec![unit(1, Level::Community, None, 104.00, 104.01)];
    // A layer with no grid claims no community: no gap.
    assert!(check_layer(&communities, &[], &[], 200.0, 1.0).is_empty());
}

#[test]
fn the_demo_grids_are_clean() {
    let city = city();
    let communities = of_level(city, Level::Community);
    let grids = of_level(city, Level::Grid);
    let report = check_layer(&communities, &grids, &city.households, 200.0, 1.0);
    assert!(
        report.is_empty(),
        "{:?}",
        report.all().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn quality_finds_every_injected_fault() {
    let city = city();
    let communities = of_level(city, Level::Community);
    let layers = department_layers(city, 7);
    let civil = &layers[2];
    assert_eq!(civil.injected.len(), 16, "{:?}", civil.injected);
    let report = check_layer(&communities, &civil.grids, &city.households, 200.0, 1.0);
    let near = |a: geo::Point<f64>, b: geo::Point<f64>| {
        (a.x() - b.x()).abs() < 0.002 && (a.y() - b.y()).abs() < 0.002
    };
    for fault in &civil.injected {
        let found = match fault.kind {
            LayerFaultKind::Overlap => report.overlaps.iter().any(|f| {
                let mut pair = vec![f.grid, f.other];
                pair.sort();
                let mut want: Vec<Option<UnitId>> = fault.grids.iter().map(|&g| Some(g)).collect();
                want.sort();
                pair == want && (f.area_m2 - fault.area_m2).abs() < 0.05 * fault.area_m2
            }),
            LayerFaultKind::Gap => report.gaps.iter().any(|f| {
                f.other == fault.community
                    && near(f.location, fault.location)
                    && (f.area_m2 - fault.area_m2).abs() < 0.05 * fault.area_m2
            }),
            LayerFaultKind::Crossing => report.crossings.iter().any(|f| {
                f.grid == Some(fault.grids[0])
                    && f.other == fault.community
                    && (f.area_m2 - fault.area_m2).abs() < 0.05 * fault.area_m2
            }),
            LayerFaultKind::Sliver => report
                .slivers
                .iter()
                .any(|f| f.grid == Some(fault.grids[0]) && f.area_m2 < 200.0),
        };
        assert!(found, "not found: {fault:?}");
    }
    // Nothing else is wrong with the civil-affairs layer but what a crossing implies (its
    // overlap with the neighbouring community's grid, and its piece as a sliver if empty).
    let crossings = civil
        .injected
        .iter()
        .filter(|f| f.kind == LayerFaultKind::Crossing)
        .count();
    let overlaps = civil
        .injected
        .iter()
        .filter(|f| f.kind == LayerFaultKind::Overlap)
        .count();
    assert!(
        report.overlaps.len() <= overlaps + crossings,
        "{:?}",
        report.overlaps
    );
    assert_eq!(report.gaps.len(), 4, "{:?}", report.gaps);
    assert_eq!(report.crossings.len(), crossings, "{:?}", report.crossings);
}

#[test]
fn a_shifted_layer_crosses_community_boundaries() {
    let city = city();
    let communities = of_level(city, Level::Community);
    let layers = department_layers(city, 7);
    let report = check_layer(&communities, &layers[0].grids, &city.households, 200.0, 1.0);
    assert!(report.crossings.len() > 10, "{}", report.crossings.len());
    assert!(report.gaps.len() > 3, "{}", report.gaps.len());
    // Every fault lies where it says.
    for fault in report.all() {
        assert!(fault.area_m2 >= 1.0);
        assert!(fault.location.x() > 103.0 && fault.location.x() < 105.0);
    }
}

#[test]
fn department_layers_are_valid_for_import() {
    let city = city();
    let mut layers = department_layers(city, DEFAULT_SEED);
    layers.push(crate::demo::emergency_layer(city, DEFAULT_SEED));
    for layer in &layers {
        let features: Vec<serde_json::Value> = layer
            .grids
            .iter()
            .map(|grid| {
                serde_json::json!({
                    "type": "Feature",
                    "properties": { "name": grid.name, "code": grid.code },
                    "geometry": geojson::Geometry::from(&grid.geometry),
                })
            })
            .collect();
        let collection = serde_json::json!({ "type": "FeatureCollection", "features": features });
        let parsed = crate::validate::parse_units(&collection);
        assert!(parsed.is_ok(), "{}: {:?}", layer.department, parsed.err());
    }
}
