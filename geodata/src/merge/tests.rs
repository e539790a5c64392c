//! Tests of the merge: the demo city with its department layers, random rectangles, and
//! degenerate input.

#![allow(clippy::unwrap_used)]

use geo::{polygon, Area, BooleanOps, BoundingRect, Intersects, MultiPolygon, Point, Rect};
use proptest::prelude::*;

use super::*;
use crate::demo::{demo_city, department_layers, DemoCity, DemoSize, DEFAULT_SEED};
use crate::rebalance::partition::{part_count, shortfall};
use crate::{GridKind, Index, Level, Unit};

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![Rect::new((x0, y0), (x1, y1)).to_polygon()])
}

fn household(i: usize, x: f64, y: f64, building: Option<String>) -> Household {
    Household {
        id: format!("h{i}"),
        point: Point::new(x, y),
        persons: 1 + (i % 4) as u32,
        building,
    }
}

/// The invariants of a plan: an exact partition of the community, one polygon per grid, every
/// household in exactly one grid that holds its point, and bounds met unless flagged.
fn check_plan(input: &MergeInput, plan: &MergePlan, bounds: Bounds) {
    let community = input.geometry.unsigned_area();
    let sum: f64 = plan.grids.iter().map(|g| g.geometry.unsigned_area()).sum();
    assert!(
        (sum - community).abs() < 1e-9,
        "community {}: grids {sum} vs {community}",
        input.community_id
    );
    for (i, a) in plan.grids.iter().enumerate() {
        assert_eq!(
            a.geometry.0.len(),
            1,
            "grid {i} of {} is not one polygon",
            input.community_id
        );
        for b in &plan.grids[i + 1..] {
            let (Some(ba), Some(bb)) = (a.geometry.bounding_rect(), b.geometry.bounding_rect())
            else {
                continue;
            };
            if ba.intersects(&bb) {
                let overlap = a.geometry.intersection(&b.geometry).unsigned_area();
                assert!(
                    overlap < 1e-12,
                    "overlap {overlap} in {}",
                    input.community_id
                );
            }
        }
        // Inside the community.
        let outside = a.geometry.difference(&input.geometry).unsigned_area();
        assert!(outside < 1e-12, "grid outside its community by {outside}");
    }
    let mut seen = vec![0; input.households.len()];
    for grid in &plan.grids {
        for &h in &grid.households {
            seen[h] += 1;
            assert!(
                grid.geometry.intersects(&input.households[h].point),
                "household {h} of {} outside its grid",
                input.community_id
            );
        }
        let n = grid.households.len() as u32;
        if grid.infeasible.is_none() {
            assert!(
                bounds.holds(n),
                "{n} households in a grid said to be in bounds"
            );
        }
        let persons: u32 = grid
            .households
            .iter()
            .map(|&h| input.households[h].persons)
            .sum();
        assert_eq!(grid.persons, persons);
    }
    assert!(seen.iter().all(|&n| n == 1), "households placed {seen:?}");
    assert!(plan.kept_boundary_m <= plan.source_boundary_m + 1e-6);
}

fn city() -> &'static DemoCity {
    static CITY: std::sync::OnceLock<DemoCity> = std::sync::OnceLock::new();
    CITY.get_or_init(|| demo_city(DemoSize::Default, DEFAULT_SEED))
}

fn sources_of(layers: &[crate::demo::DepartmentLayer]) -> Vec<SourceGrid> {
    layers
        .iter()
        .enumerate()
        .flat_map(|(l, layer)| {
            layer.grids.iter().map(move |g| SourceGrid {
                system_id: l as i64 + 1,
                id: g.id,
                code: g.code.clone(),
                geometry: g.geometry.clone(),
            })
        })
        .collect()
}

#[test]
fn merge_of_the_demo_city_partitions_every_community() {
    let city = city();
    let communities: Vec<Unit> = city
        .units
        .iter()
        .filter(|u| u.level == Level::Community)
        .cloned()
        .collect();
    let layers = department_layers(city, 7);
    let sources = sources_of(&layers);
    let inputs = merge_inputs(&Index::new(communities.clone()), &sources, &city.households);
    let options = MergeOptions::default();
    let plans = merge_communities(&inputs, &options, &|_| {}).unwrap();
    assert_eq!(plans.len(), inputs.len());
    let (mut grids, mut in_bounds, mut flagged_under) = (0usize, 0usize, 0usize);
    let (mut feasible_grids, mut feasible_in_bounds) = (0usize, 0usize);
    let (mut source_m, mut kept_m) = (0.0, 0.0);
    for (input, plan) in inputs.iter().zip(&plans) {
        check_plan(input, plan, options.grid);
        // Feasible: every polygon of the community holds a number of households some count of
        // grids within bounds can take.
        let feasible = input.geometry.0.iter().all(|polygon| {
            let n = input
                .households
                .iter()
                .filter(|h| polygon.intersects(&h.point))
                .count() as u64;
            n == 0 || shortfall(n, part_count(n, options.grid), options.grid) == 0
        });
        if feasible {
            feasible_grids += plan.grids.len();
            feasible_in_bounds += plan.grids.iter().filter(|g| g.infeasible.is_none()).count();
        }
        grids += plan.grids.len();
        in_bounds += plan.grids.iter().filter(|g| g.infeasible.is_none()).count();
        flagged_under += plan
            .grids
            .iter()
            .filter(|g| g.infeasible == Some(Infeasibility::UnderMinInfeasible))
            .count();
        source_m += plan.source_boundary_m;
        kept_m += plan.kept_boundary_m;
    }
    let share = in_bounds as f64 / grids as f64;
    let feasible_share = feasible_in_bounds as f64 / feasible_grids as f64;
    eprintln!(
        "{} communities, {} source grids -> {grids} unified grids, {:.1}% within bounds \
         ({flagged_under} under the minimum in small communities), {:.1}% in communities that \
         admit bounds, {:.0}% of source boundary kept",
        inputs.len(),
        sources.len(),
        100.0 * share,
        100.0 * feasible_share,
        100.0 * kept_m / source_m
    );
    assert!(share > 0.75, "{share}");
    assert!(feasible_share > 0.97, "{feasible_share}");

    // Every household in exactly one unified grid, as the point index sees it.
    let mut units: Vec<Unit> = communities.clone();
    let mut expected: HashMap<String, UnitId> = HashMap::new();
    let mut unified: Vec<MultiPolygon<f64>> = Vec::new();
    for (input, plan) in inputs.iter().zip(&plans) {
        for (g, grid) in plan.grids.iter().enumerate() {
            let id = 1_000_000 + unified.len() as UnitId;
            units.push(Unit {
                id,
                code: format!("{}{:03}", input.community_code, g + 1),
                name: String::new(),
                level: Level::Grid,
                kind: GridKind::General,
                parent: Some(input.community_id),
                geometry: grid.geometry.clone(),
            });
            for &h in &grid.households {
                expected.insert(input.households[h].id.clone(), id);
            }
            unified.push(grid.geometry.clone());
        }
    }
    assert_eq!(expected.len(), city.households.len());
    let index = Index::new(units);
    for h in &city.households {
        let chain = index.locate(h.point);
        assert_eq!(chain.first(), expected.get(&h.id), "household {}", h.id);
    }

    // The crosswalk: every source grid's shares sum to 1.
    let rows = crosswalk(&sources, &unified, &city.households);
    let mut sums: HashMap<UnitId, (f64, f64)> = HashMap::new();
    for row in &rows {
        let entry = sums.entry(row.from).or_default();
        entry.0 += row.area_share;
        entry.1 += row.household_share;
        assert!(row.area_share >= 0.0 && row.household_share >= 0.0);
    }
    for source in &sources {
        let Some(&(area, households)) = sums.get(&source.id) else {
            panic!("source grid {} has no successor", source.id);
        };
        assert!((area - 1.0).abs() < 1e-6, "{}: {area}", source.id);
        assert!(
            (households - 1.0).abs() < 1e-6,
            "{}: {households}",
            source.id
        );
    }
}

#[test]
fn agreed_boundaries_are_kept() {
    // Three layers agree on x = 104.01; the community holds two grids' worth of households.
    let community = rect(104.00, 30.60, 104.02, 30.61);
    let mut sources = Vec::new();
    for layer in 1..=3 {
        let cut = 104.004 + 0.002 * layer as f64;
        for (i, (x0, x1)) in [(104.00, 104.01), (104.01, 104.02)].into_iter().enumerate() {
            sources.push(SourceGrid {
                system_id: layer,
                id: layer * 10 + i as i64,
                code: String::new(),
                geometry: rect(x0, 30.60, x1, 30.61),
            });
        }
        // Each layer also cuts its western grid somewhere else.
        sources.push(SourceGrid {
            system_id: layer,
            id: layer * 10 + 5,
            code: String::new(),
            geometry: rect(cut, 30.60, cut + 0.001, 30.61),
        });
    }
    let households: Vec<Household> = (0..40)
        .map(|i| {
            let x = 104.001 + 0.0005 * (i % 40) as f64 * 0.95;
            household(i, x, 30.601 + 0.0002 * (i % 7) as f64, None)
        })
        .collect();
    let input = MergeInput {
        community_id: 1,
        community_code: "c".into(),
        geometry: community,
        sources,
        households,
    };
    let options = MergeOptions {
        grid: Bounds { min: 15, max: 25 },
        sliver_m2: 200.0,
    };
    let plan = merge_community(&input, &options).unwrap();
    check_plan(&input, &plan, options.grid);
    assert_eq!(plan.grids.len(), 2);
    // The split follows x = 104.01, drawn by all three layers.
    for grid in &plan.grids {
        let b = grid.geometry.bounding_rect().unwrap();
        assert!(
            (b.min().x - 104.01).abs() < 1e-9 || (b.max().x - 104.01).abs() < 1e-9,
            "{b:?}"
        );
    }
}

#[test]
fn degenerate_input_does_not_panic() {
    let community = rect(104.00, 30.60, 104.01, 30.61);
    let households: Vec<Household> = (0..30)
        .map(|i| household(i, 104.001 + 0.0003 * i as f64, 30.605, None))
        .collect();
    let options = MergeOptions {
        grid: Bounds { min: 8, max: 12 },
        sliver_m2: 200.0,
    };
    let cases: Vec<(Vec<SourceGrid>, Vec<Household>)> = vec![
        // No source layers.
        (Vec::new(), households.clone()),
        // No households.
        (
            vec![SourceGrid {
                system_id: 1,
                id: 1,
                code: String::new(),
                geometry: rect(104.0, 30.6, 104.005, 30.61),
            }],
            Vec::new(),
        ),
        // Everything overlapping everything, and sticking out.
        (
            (0..6)
                .map(|i| SourceGrid {
                    system_id: i % 3,
                    id: i,
                    code: String::new(),
                    geometry: rect(103.99, 30.59, 104.02, 30.62),
                })
                .collect(),
            households.clone(),
        ),
        // Empty and degenerate source geometry, and a grid far away.
        (
            vec![
                SourceGrid {
                    system_id: 1,
                    id: 1,
                    code: String::new(),
                    geometry: MultiPolygon::new(Vec::new()),
                },
                SourceGrid {
                    system_id: 1,
                    id: 2,
                    code: String::new(),
                    geometry: MultiPolygon::new(vec![polygon![
                        (x: 104.001, y: 30.601), (x: 104.002, y: 30.602), (x: 104.003, y: 30.603),
                    ]]),
                },
                SourceGrid {
                    system_id: 2,
                    id: 3,
                    code: String::new(),
                    geometry: rect(110.0, 40.0, 111.0, 41.0),
                },
            ],
            households.clone(),
        ),
        // One building over the maximum.
        (
            Vec::new(),
            (0..20)
                .map(|i| household(i, 104.005, 30.605, Some("tower".into())))
                .collect(),
        ),
    ];
    for (sources, households) in cases {
        let input = MergeInput {
            community_id: 3,
            community_code: "c".into(),
            geometry: community.clone(),
            sources,
            households,
        };
        let plan = merge_community(&input, &options).unwrap();
        check_plan(&input, &plan, options.grid);
    }
    // An empty community.
    let empty = MergeInput {
        community_id: 4,
        community_code: "c".into(),
        geometry: MultiPolygon::new(Vec::new()),
        sources: Vec::new(),
        households: Vec::new(),
    };
    assert!(merge_community(&empty, &options).unwrap().grids.is_empty());
    // Crosswalk of nothing.
    assert!(crosswalk(&[], &[], &[]).is_empty());
}

#[test]
fn a_building_over_the_maximum_stands_alone() {
    let community = rect(104.00, 30.60, 104.01, 30.61);
    let mut households: Vec<Household> = (0..20)
        .map(|i| household(i, 104.002, 30.605, Some("tower".into())))
        .collect();
    households.extend((20..40).map(|i| household(i, 104.006 + 0.0001 * i as f64, 30.603, None)));
    let input = MergeInput {
        community_id: 5,
        community_code: "c".into(),
        geometry: community,
        sources: Vec::new(),
        households,
    };
    let options = MergeOptions {
        grid: Bounds { min: 8, max: 12 },
        sliver_m2: 200.0,
    };
    let plan = merge_community(&input, &options).unwrap();
    check_plan(&input, &plan, options.grid);
    assert!(plan
        .grids
        .iter()
        .any(|g| g.infeasible == Some(Infeasibility::BuildingOverMax) && g.households.len() == 20));
}

/// A random community (a rectangle, or an L), random rectangle layers over it, random
/// households in buildings.
fn random_case() -> impl Strategy<Value = (MergeInput, Bounds)> {
    let rects = prop::collection::vec(
        (
            0.0..1.0f64,
            0.0..1.0f64,
            0.05..0.8f64,
            0.05..0.8f64,
            1i64..4,
        ),
        0..14,
    );
    let points = prop::collection::vec((0.0..1.0f64, 0.0..1.0f64, 1usize..6), 0..40);
    (rects, points, any::<bool>(), 2u32..6, 0u32..6).prop_map(
        |(rects, points, l_shape, min, extra)| {
            let scale = 0.01;
            let (x0, y0) = (104.0, 30.6);
            let mut geometry = rect(x0, y0, x0 + scale, y0 + scale);
            if l_shape {
                geometry = geometry.difference(&rect(
                    x0 + scale * 0.5,
                    y0 + scale * 0.5,
                    x0 + scale,
                    y0 + scale,
                ));
            }
            let sources = rects
                .iter()
                .enumerate()
                .map(|(i, &(x, y, w, h, layer))| SourceGrid {
                    system_id: layer,
                    id: i as i64,
                    code: String::new(),
                    geometry: rect(
                        x0 + scale * (x - 0.1),
                        y0 + scale * (y - 0.1),
                        x0 + scale * (x - 0.1 + w),
                        y0 + scale * (y - 0.1 + h),
                    ),
                })
                .collect();
            let mut households = Vec::new();
            for (b, &(x, y, n)) in points.iter().enumerate() {
                let point = Point::new(
                    x0 + scale * (0.01 + 0.98 * x),
                    y0 + scale * (0.01 + 0.98 * y),
                );
                if !geometry.intersects(&point) {
                    continue;
                }
                for _ in 0..n {
                    let i = households.len();
                    households.push(household(i, point.x(), point.y(), Some(format!("b{b}"))));
                }
            }
            let input = MergeInput {
                community_id: 11,
                community_code: "c".into(),
                geometry,
                sources,
                households,
            };
            (
                input,
                Bounds {
                    min,
                    max: min + extra,
                },
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(5), ..ProptestConfig::default() })]

    #[test]
    fn merges_of_random_layers_keep_the_invariants((input, bounds) in random_case()) {
        let options = MergeOptions { grid: bounds, sliver_m2: 200.0 };
        let plan = merge_community(&input, &options).unwrap();
        check_plan(&input, &plan, bounds);
        // A building is never split.
        let mut grid_of: HashMap<&str, usize> = HashMap::new();
        for (g, grid) in plan.grids.iter().enumerate() {
            for &h in &grid.households {
                if let Some(b) = input.households[h].building.as_deref() {
                    prop_assert_eq!(*grid_of.entry(b).or_insert(g), g);
                }
            }
        }
        let unified: Vec<MultiPolygon<f64>> = plan.grids.iter().map(|g| g.geometry.clone()).collect();
        let rows = crosswalk(&input.sources, &unified, &input.households);
        let mut sums: HashMap<UnitId, f64> = HashMap::new();
        for row in rows {
            *sums.entry(row.from).or_default() += row.area_share;
        }
        for (_, sum) in sums {
            prop_assert!((sum - 1.0).abs() < 1e-6);
        }
    }
}
