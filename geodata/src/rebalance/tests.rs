//! Tests of the rebalance engine: the invariants of a plan on random communities (proptest),
//! the special cases one by one, and the demo city.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};

use geo::algorithm::orient::{Direction, Orient};
use geo::{
    coord, polygon, Area, BooleanOps, BoundingRect, Contains, LineString, Point, Polygon,
    Validation,
};
use proptest::prelude::*;

use super::*;
use crate::demo::{demo_city, DemoSize, DEFAULT_SEED};

/// Square degrees: the tolerance of the area checks.
const AREA_TOLERANCE: f64 = 1e-9;

fn fixed(grid: &PlannedGrid) -> bool {
    grid.kind == GridKind::Dedicated || grid.infeasible.is_some()
}

/// Checks that `units` (with their households) exactly partition `whole` and hold every one
/// of `members` once, strictly inside; answers an error message.
fn check_partition(
    what: &str,
    whole: &MultiPolygon<f64>,
    units: &[(&MultiPolygon<f64>, &[usize])],
    members: &[usize],
    households: &[Household],
) -> Result<(), String> {
    let whole_area = whole.unsigned_area();
    let sum: f64 = units.iter().map(|(g, _)| g.unsigned_area()).sum();
    if (sum - whole_area).abs() > AREA_TOLERANCE {
        return Err(format!("{what}: areas add up to {sum}, not {whole_area}"));
    }
    for i in 0..units.len() {
        for j in i + 1..units.len() {
            let (a, b) = (units[i].0, units[j].0);
            let meet = match (a.bounding_rect(), b.bounding_rect()) {
                (Some(x), Some(y)) => geo::Intersects::intersects(&x, &y),
                _ => false,
            };
            if meet {
                let overlap = a.intersection(b).unsigned_area();
                if overlap > AREA_TOLERANCE {
                    return Err(format!("{what}: units {i} and {j} overlap by {overlap}"));
                }
            }
        }
    }
    // geo's unary_union reads the winding of the first ring for all: orient them alike.
    let oriented: Vec<MultiPolygon<f64>> = units
        .iter()
        .map(|(g, _)| g.orient(Direction::Default))
        .collect();
    let union = geo::unary_union(&oriented);
    let missing = whole.difference(&union).unsigned_area();
    let extra = union.difference(whole).unsigned_area();
    if missing > AREA_TOLERANCE || extra > AREA_TOLERANCE {
        return Err(format!(
            "{what}: union misses {missing} and exceeds by {extra}"
        ));
    }
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for (u, (geometry, held)) in units.iter().enumerate() {
        for &h in *held {
            if seen.insert(h, u).is_some() {
                return Err(format!("{what}: household {h} in two units"));
            }
            if !geometry.contains(&households[h].point) {
                return Err(format!(
                    "{what}: household {h} at {:?} not strictly inside unit {u}",
                    households[h].point
                ));
            }
        }
    }
    if seen.len() != members.len() || members.iter().any(|h| !seen.contains_key(h)) {
        return Err(format!(
            "{what}: {} of {} households placed",
            seen.len(),
            members.len()
        ));
    }
    Ok(())
}

/// The invariants of a plan: partition, one polygon per redrawn unit, buildings whole, bounds
/// or a reason, micro-grids partitioning their grids.
fn check_plan(
    input: &CommunityInput,
    options: &Options,
    plan: &CommunityPlan,
) -> Result<(), String> {
    let all: Vec<usize> = (0..input.households.len()).collect();
    let units: Vec<(&MultiPolygon<f64>, &[usize])> = plan
        .grids
        .iter()
        .map(|g| (&g.geometry, g.households.as_slice()))
        .collect();
    check_partition("grids", &input.geometry, &units, &all, &input.households)?;
    let mut building_grid: HashMap<String, usize> = HashMap::new();
    for (i, grid) in plan.grids.iter().enumerate() {
        let redrawn = !matches!(grid.status, GridStatus::Kept(_));
        if redrawn && grid.geometry.0.len() != 1 {
            return Err(format!("grid {i} has {} polygons", grid.geometry.0.len()));
        }
        if redrawn && !grid.geometry.is_valid() {
            return Err(format!(
                "grid {i} is not valid: {:?}",
                grid.geometry.validation_errors()
            ));
        }
        let kept_fixed = matches!(grid.status, GridStatus::Kept(id) if input.grids.iter().any(|g| g.id == id && (g.locked || g.kind == GridKind::Dedicated)));
        if !kept_fixed
            && !options.grid.holds(grid.households.len() as u32)
            && grid.infeasible.is_none()
        {
            return Err(format!(
                "grid {i} holds {} and is not flagged",
                grid.households.len()
            ));
        }
        if grid.persons
            != grid
                .households
                .iter()
                .map(|&h| input.households[h].persons)
                .sum::<u32>()
        {
            return Err(format!("grid {i}: persons do not add up"));
        }
        if !(0.0..=1.0).contains(&grid.polsby_popper) {
            return Err(format!("grid {i}: Polsby-Popper {}", grid.polsby_popper));
        }
        for &h in &grid.households {
            let key = input.households[h]
                .building
                .clone()
                .unwrap_or_else(|| format!("{:?}", input.households[h].point));
            if let Some(other) = building_grid.insert(key.clone(), i) {
                if other != i {
                    return Err(format!(
                        "building {key} split between grids {other} and {i}"
                    ));
                }
            }
        }
        match (&grid.micro_grids, options.micro_grid) {
            (None, None) => {}
            (Some(micro), Some(bounds)) => {
                let units: Vec<(&MultiPolygon<f64>, &[usize])> = micro
                    .iter()
                    .map(|m| (&m.geometry, m.households.as_slice()))
                    .collect();
                check_partition(
                    &format!("micro-grids of grid {i}"),
                    &grid.geometry,
                    &units,
                    &grid.households,
                    &input.households,
                )?;
                for (j, m) in micro.iter().enumerate() {
                    if m.kept.is_none() && m.geometry.0.len() != 1 {
                        return Err(format!(
                            "micro-grid {j} of grid {i} has {} polygons",
                            m.geometry.0.len()
                        ));
                    }
                    if m.kept.is_none() && !m.geometry.is_valid() {
                        return Err(format!(
                            "micro-grid {j} of grid {i} is not valid: {:?}",
                            m.geometry.validation_errors()
                        ));
                    }
                    if !bounds.holds(m.households.len() as u32) && m.infeasible.is_none() {
                        return Err(format!(
                            "micro-grid {j} of grid {i} out of bounds, unflagged"
                        ));
                    }
                }
            }
            _ => return Err(format!("grid {i}: micro-grids planned against the options")),
        }
    }
    // What the api will do after applying the plan: locate every household.
    let mut planned_units = vec![Unit {
        id: 0,
        code: "C".into(),
        name: "C".into(),
        level: Level::Community,
        kind: GridKind::General,
        parent: None,
        geometry: input.geometry.clone(),
    }];
    let mut unit_of_household = vec![0; input.households.len()];
    for (i, grid) in plan.grids.iter().enumerate() {
        let id = i as UnitId + 1;
        planned_units.push(Unit {
            id,
            code: format!("C{i:03}"),
            name: String::new(),
            level: Level::Grid,
            kind: grid.kind,
            parent: Some(0),
            geometry: grid.geometry.clone(),
        });
        for &h in &grid.households {
            unit_of_household[h] = id;
        }
    }
    let index = Index::new(planned_units);
    for (h, household) in input.households.iter().enumerate() {
        let chain = index.locate(household.point);
        if chain.first() != Some(&unit_of_household[h]) {
            return Err(format!(
                "household {h} locates to {chain:?}, planned {}",
                unit_of_household[h]
            ));
        }
    }
    let moved = plan
        .grids
        .iter()
        .flat_map(|g| g.households.iter().map(move |&h| (h, g.status)))
        .filter(|&(h, status)| match status {
            GridStatus::Kept(id) | GridStatus::Changed(id) => input.current_grid[h] != Some(id),
            GridStatus::New => true,
        })
        .count();
    if moved != plan.households_moved {
        return Err(format!(
            "households_moved {} but {moved} moved",
            plan.households_moved
        ));
    }
    Ok(())
}

fn household(i: usize, x: f64, y: f64, building: Option<String>) -> Household {
    Household {
        id: format!("h{i}"),
        point: Point::new(x, y),
        persons: 1 + (i % 4) as u32,
        building,
    }
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)],
    ])
}

fn input(
    geometry: MultiPolygon<f64>,
    grids: Vec<ExistingGrid>,
    households: Vec<Household>,
) -> CommunityInput {
    let current_grid = households
        .iter()
        .map(|h| {
            grids
                .iter()
                .find(|g| g.geometry.contains(&h.point))
                .map(|g| g.id)
        })
        .collect();
    CommunityInput {
        community_id: 1,
        community_code: "510104017001".into(),
        geometry,
        grids,
        households,
        current_grid,
    }
}

fn grid(id: UnitId, geometry: MultiPolygon<f64>) -> ExistingGrid {
    ExistingGrid {
        id,
        code: format!("G{id}"),
        kind: GridKind::General,
        locked: false,
        geometry,
        micro_grids: Vec::new(),
    }
}

/// `n` households in buildings of `size` on a row at height `y`, from `x0` to `x1`.
fn row(first: usize, n: usize, size: usize, x0: f64, x1: f64, y: f64) -> Vec<Household> {
    let buildings = n.div_ceil(size);
    (0..n)
        .map(|i| {
            let b = i / size;
            let x = x0 + (x1 - x0) * (b as f64 + 0.5) / buildings as f64;
            household(first + i, x, y, Some(format!("b{}-{b}", first)))
        })
        .collect()
}

const OPTIONS: Options = Options {
    grid: Bounds { min: 300, max: 500 },
    micro_grid: Some(Bounds { min: 30, max: 100 }),
};

#[test]
fn a_building_over_the_maximum_becomes_a_dedicated_grid() {
    let community = square(104.0, 30.6, 104.01, 30.61);
    let mut households = row(0, 600, 600, 104.002, 104.002, 30.605);
    households.extend(row(600, 800, 20, 104.004, 104.009, 30.605));
    let input = input(community, Vec::new(), households);
    let plan = plan_community(&input, &OPTIONS).unwrap();
    check_plan(&input, &OPTIONS, &plan).unwrap();
    let dedicated: Vec<&PlannedGrid> = plan
        .grids
        .iter()
        .filter(|g| g.kind == GridKind::Dedicated)
        .collect();
    assert_eq!(dedicated.len(), 1);
    assert_eq!(dedicated[0].households.len(), 600);
    assert_eq!(dedicated[0].status, GridStatus::New);
    assert_eq!(
        dedicated[0].infeasible,
        Some(Infeasibility::BuildingOverMax)
    );
    assert!(plan
        .grids
        .iter()
        .filter(|g| g.kind == GridKind::General)
        .all(|g| OPTIONS.grid.holds(g.households.len() as u32)));
}

#[test]
fn a_community_under_the_minimum_is_one_flagged_grid() {
    let community = square(104.0, 30.6, 104.01, 30.61);
    let households = row(0, 120, 10, 104.001, 104.009, 30.603);
    let input = input(
        community.clone(),
        vec![
            grid(5, square(104.0, 30.6, 104.005, 30.61)),
            grid(6, square(104.005, 30.6, 104.01, 30.61)),
        ],
        households,
    );
    let plan = plan_community(&input, &OPTIONS).unwrap();
    check_plan(&input, &OPTIONS, &plan).unwrap();
    assert_eq!(plan.grids.len(), 1);
    assert_eq!(
        plan.grids[0].infeasible,
        Some(Infeasibility::UnderMinInfeasible)
    );
    assert_eq!(
        Infeasibility::UnderMinInfeasible.as_str(),
        "UNDER_MIN_INFEASIBLE"
    );
    assert!(matches!(plan.grids[0].status, GridStatus::Changed(5 | 6)));
    assert_eq!(plan.removed.len(), 1);
}

#[test]
fn a_locked_grid_is_kept_whatever_its_count() {
    let community = square(104.0, 30.6, 104.03, 30.61);
    let mut households = row(0, 50, 10, 104.001, 104.009, 30.605);
    households.extend(row(50, 1000, 25, 104.011, 104.029, 30.605));
    let mut locked = grid(1, square(104.0, 30.6, 104.01, 30.61));
    locked.locked = true;
    let input = input(
        community,
        vec![locked.clone(), grid(2, square(104.01, 30.6, 104.03, 30.61))],
        households,
    );
    let plan = plan_community(&input, &OPTIONS).unwrap();
    check_plan(&input, &OPTIONS, &plan).unwrap();
    let kept = plan
        .grids
        .iter()
        .find(|g| g.status == GridStatus::Kept(1))
        .unwrap();
    assert_eq!(kept.geometry, locked.geometry);
    assert_eq!(kept.households, (0..50).collect::<Vec<_>>());
    assert!(plan
        .grids
        .iter()
        .filter(|g| g.status != GridStatus::Kept(1))
        .all(|g| OPTIONS.grid.holds(g.households.len() as u32)));
}

#[test]
fn a_gap_between_grids_is_absorbed() {
    let community = square(104.0, 30.6, 104.03, 30.61);
    let mut households = row(0, 400, 20, 104.001, 104.009, 30.605);
    households.extend(row(400, 400, 20, 104.021, 104.029, 30.605));
    // Nobody lives in the gap between the two grids.
    let input = input(
        community,
        vec![
            grid(1, square(104.0, 30.6, 104.01, 30.61)),
            grid(2, square(104.02, 30.6, 104.03, 30.61)),
        ],
        households,
    );
    let plan = plan_community(&input, &OPTIONS).unwrap();
    check_plan(&input, &OPTIONS, &plan).unwrap();
    assert_eq!(plan.grids.len(), 2);
    assert!(plan
        .grids
        .iter()
        .all(|g| OPTIONS.grid.holds(g.households.len() as u32)));
    assert!(plan
        .grids
        .iter()
        .any(|g| matches!(g.status, GridStatus::Changed(_))));
}

#[test]
fn balanced_grids_that_tile_the_community_are_left_alone() {
    let community = square(104.0, 30.6, 104.02, 30.61);
    let mut households = row(0, 400, 20, 104.001, 104.009, 30.605);
    households.extend(row(400, 400, 20, 104.011, 104.019, 30.605));
    let input = input(
        community,
        vec![
            grid(1, square(104.0, 30.6, 104.01, 30.61)),
            grid(2, square(104.01, 30.6, 104.02, 30.61)),
        ],
        households,
    );
    let options = Options {
        micro_grid: None,
        ..OPTIONS
    };
    let plan = plan_community(&input, &options).unwrap();
    check_plan(&input, &options, &plan).unwrap();
    assert_eq!(
        plan.grids.iter().map(|g| g.status).collect::<Vec<_>>(),
        vec![GridStatus::Kept(1), GridStatus::Kept(2)]
    );
    assert!(plan.removed.is_empty());
    assert_eq!(plan.households_moved, 0);
}

#[test]
fn no_households_keeps_a_tiling_or_draws_one_grid() {
    let community = square(104.0, 30.6, 104.02, 30.61);
    let tiling = input(
        community.clone(),
        vec![
            grid(1, square(104.0, 30.6, 104.01, 30.61)),
            grid(2, square(104.01, 30.6, 104.02, 30.61)),
        ],
        Vec::new(),
    );
    let plan = plan_community(&tiling, &OPTIONS).unwrap();
    check_plan(&tiling, &OPTIONS, &plan).unwrap();
    assert!(plan
        .grids
        .iter()
        .all(|g| matches!(g.status, GridStatus::Kept(_))));
    let gappy = input(
        community,
        vec![grid(1, square(104.0, 30.6, 104.01, 30.61))],
        Vec::new(),
    );
    let plan = plan_community(&gappy, &OPTIONS).unwrap();
    check_plan(&gappy, &OPTIONS, &plan).unwrap();
    assert_eq!(plan.grids.len(), 1);
    assert_eq!(
        plan.grids[0].infeasible,
        Some(Infeasibility::UnderMinInfeasible)
    );
}

#[test]
fn degenerate_households_do_not_panic() {
    let community = square(104.0, 30.6, 104.02, 30.61);
    let options = Options {
        grid: Bounds { min: 3, max: 5 },
        micro_grid: Some(Bounds { min: 1, max: 2 }),
    };
    let cases: Vec<Vec<Household>> = vec![
        (0..40)
            .map(|i| household(i, 104.01, 30.605, None))
            .collect(),
        (0..40)
            .map(|i| household(i, 104.001 + 0.0004 * i as f64, 30.605, None))
            .collect(),
        (0..40)
            .map(|i| {
                household(
                    i,
                    104.001 + 0.0004 * (i / 2) as f64,
                    30.605,
                    Some(format!("b{}", i % 7)),
                )
            })
            .collect(),
        (0..40)
            .map(|i| household(i, 104.0 + 0.0005 * i as f64, 30.6, None))
            .collect(),
    ];
    for households in cases {
        let input = input(community.clone(), Vec::new(), households);
        let plan = plan_community(&input, &options).unwrap();
        let placed: usize = plan.grids.iter().map(|g| g.households.len()).sum();
        assert_eq!(placed, 40);
    }
}

#[test]
fn bad_bounds_are_refused() {
    let community = square(104.0, 30.6, 104.02, 30.61);
    let input = input(community, Vec::new(), Vec::new());
    let bad = Options {
        grid: Bounds { min: 500, max: 300 },
        micro_grid: None,
    };
    assert_eq!(
        plan_community(&input, &bad),
        Err(RebalanceError::InvalidBounds {
            what: "grid",
            min: 500,
            max: 300
        })
    );
    let bad = Options {
        grid: Bounds::GRID,
        micro_grid: Some(Bounds { min: 0, max: 3 }),
    };
    assert!(plan_community(&input, &bad).is_err());
}

// ---------------------------------------------------------------------------------------------
// Random communities

/// A random star-shaped polygon around (104.0, 30.6), some with a square hole in the middle.
fn community_strategy() -> impl Strategy<Value = MultiPolygon<f64>> {
    (
        prop::collection::vec((0.0f64..1.0, 0.55f64..1.0), 5..16),
        any::<bool>(),
        0.002f64..0.01,
    )
        .prop_map(|(spokes, hole, size)| {
            let mut angles: Vec<(f64, f64)> = spokes
                .iter()
                .enumerate()
                .map(|(i, (a, r))| {
                    (
                        (i as f64 + a * 0.8) / spokes.len() as f64 * std::f64::consts::TAU,
                        *r,
                    )
                })
                .collect();
            angles.sort_by(|a, b| a.0.total_cmp(&b.0));
            let ring: Vec<_> = angles
                .iter()
                .map(
                    |(a, r)| coord! { x: 104.0 + size * r * a.cos(), y: 30.6 + size * r * a.sin() },
                )
                .collect();
            let interiors = if hole {
                let h = size * 0.15;
                vec![LineString::from(vec![
                    (104.0 - h, 30.6 - h),
                    (104.0 - h, 30.6 + h),
                    (104.0 + h, 30.6 + h),
                    (104.0 + h, 30.6 - h),
                    (104.0 - h, 30.6 - h),
                ])]
            } else {
                Vec::new()
            };
            MultiPolygon::new(vec![Polygon::new(LineString::new(ring), interiors)])
        })
}

/// Households in buildings of 1-200, clustered; a few without a building key.
fn households_in(community: &MultiPolygon<f64>, sizes: &[u32], seed: u64) -> Vec<Household> {
    let Some(bounds) = community.bounding_rect() else {
        return Vec::new();
    };
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut point = |near: Option<Point<f64>>| -> Option<Point<f64>> {
        for _ in 0..200 {
            let p = match near {
                Some(c) => Point::new(
                    c.x() + (next() - 0.5) * bounds.width() * 0.3,
                    c.y() + (next() - 0.5) * bounds.height() * 0.3,
                ),
                None => Point::new(
                    bounds.min().x + next() * bounds.width(),
                    bounds.min().y + next() * bounds.height(),
                ),
            };
            if community.contains(&p) {
                return Some(p);
            }
        }
        None
    };
    let centres: Vec<Point<f64>> = (0..3).filter_map(|_| point(None)).collect();
    let mut households = Vec::new();
    let mut previous: Option<Point<f64>> = None;
    for (b, &size) in sizes.iter().enumerate() {
        let near = centres.get(b % centres.len().max(1)).copied();
        // Now and then a second building at the very same point as the last.
        let p = if b % 9 == 8 { previous } else { point(near) };
        let Some(p) = p else { continue };
        previous = Some(p);
        for i in 0..size {
            let building = (b % 11 != 10).then(|| format!("b{b}"));
            households.push(household(
                households.len() + i as usize,
                p.x(),
                p.y(),
                building,
            ));
        }
    }
    households
}

fn random_case() -> impl Strategy<Value = (MultiPolygon<f64>, Vec<u32>, u64, u32, u32, u8)> {
    (
        community_strategy(),
        prop::collection::vec(
            prop_oneof![8 => 1u32..40, 2 => 40u32..120, 1 => 120u32..200],
            0..60,
        ),
        any::<u64>(),
        20u32..150,
        0u32..200,
        0u8..4,
    )
}

/// Existing grids for a random case: none, the planner's own with other bounds, or those with
/// one locked or dedicated.
fn existing(
    community: &MultiPolygon<f64>,
    households: &[Household],
    bounds: Bounds,
    mode: u8,
) -> Vec<ExistingGrid> {
    if mode == 0 {
        return Vec::new();
    }
    let first = input(community.clone(), Vec::new(), households.to_vec());
    let other = Bounds {
        min: (bounds.min / 2).max(1),
        max: bounds.max / 2 + bounds.min / 2 + 1,
    };
    let Ok(plan) = plan_community(
        &first,
        &Options {
            grid: other,
            micro_grid: None,
        },
    ) else {
        return Vec::new();
    };
    plan.grids
        .into_iter()
        .enumerate()
        .map(|(i, g)| ExistingGrid {
            id: 100 + i as UnitId,
            code: format!("G{i}"),
            kind: if mode == 3 && i == 0 {
                GridKind::Dedicated
            } else {
                g.kind
            },
            locked: mode == 2 && i == 0,
            geometry: g.geometry,
            micro_grids: Vec::new(),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(7), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn plans_of_random_communities_keep_the_invariants((community, sizes, seed, min, spread, mode) in random_case()) {
        let households = households_in(&community, &sizes, seed);
        let bounds = Bounds { min, max: min + spread };
        let grids = existing(&community, &households, bounds, mode);
        let input = input(community, grids, households);
        let options = Options { grid: bounds, micro_grid: Some(Bounds { min: (min / 6).max(1), max: (min + spread) / 3 + 1 }) };
        let plan = plan_community(&input, &options).unwrap();
        if let Err(message) = check_plan(&input, &options, &plan) {
            prop_assert!(false, "{}", message);
        }
        // Bounds wherever feasible: no fixed grids, enough households, no building too big.
        let total = input.households.len() as u64;
        let mut buildings: HashMap<String, u32> = HashMap::new();
        for h in &input.households {
            *buildings.entry(h.building.clone().unwrap_or_else(|| format!("{:?}", h.point))).or_default() += 1;
        }
        let no_fixed = input.grids.iter().all(|g| !g.locked && g.kind == GridKind::General);
        let feasible = no_fixed && total >= u64::from(min) && buildings.values().all(|&b| b <= bounds.max);
        if feasible {
            for grid in &plan.grids {
                prop_assert!(
                    bounds.holds(grid.households.len() as u32) || grid.infeasible.is_some(),
                    "{:?} holds {} of {:?}; all: {:?}",
                    grid.status,
                    grid.households.len(),
                    bounds,
                    plan.grids.iter().map(|g| (g.status, g.households.len(), g.infeasible)).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn a_balanced_plan_fed_back_is_left_alone((community, sizes, seed, min, spread, _mode) in random_case()) {
        let households = households_in(&community, &sizes, seed);
        let bounds = Bounds { min, max: min + spread };
        let options = Options { grid: bounds, micro_grid: None };
        let first = input(community.clone(), Vec::new(), households.clone());
        let plan = plan_community(&first, &options).unwrap();
        prop_assume!(plan.grids.iter().all(|g| !fixed(g)));
        let grids: Vec<ExistingGrid> = plan.grids.iter().enumerate().map(|(i, g)| grid(100 + i as UnitId, g.geometry.clone())).collect();
        let mut again = input(community, grids, households);
        for (i, g) in plan.grids.iter().enumerate() {
            for &h in &g.households {
                again.current_grid[h] = Some(100 + i as UnitId);
            }
        }
        let replan = plan_community(&again, &options).unwrap();
        prop_assert!(replan.grids.iter().all(|g| matches!(g.status, GridStatus::Kept(_))), "{:?}", replan.grids.iter().map(|g| (g.status, g.households.len())).collect::<Vec<_>>());
        prop_assert!(replan.removed.is_empty());
        prop_assert_eq!(replan.households_moved, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// A kept grid along the community's edge

/// A community whose top edge slants, a kept grid in its left part whose top runs along that
/// edge from a vertex `C` of its own (a T-junction: not a vertex of the community) to the
/// community's corner, and buildings to the right of `C` stacked so that the borders between
/// their cells cross the grid's top edge.
fn edge_case(at: f64, rise: f64, seed: u64) -> CommunityInput {
    let (x0, x1, y0) = (104.0, 104.01, 30.6);
    let (left, right) = (30.604, 30.604 + rise);
    let top = |x: f64| left + (right - left) * (x - x0) / (x1 - x0);
    let community = MultiPolygon::new(vec![
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: right), (x: x0, y: left)],
    ]);
    let xc = x0 + (x1 - x0) * at;
    let kept = MultiPolygon::new(vec![
        polygon![(x: x0, y: y0), (x: xc, y: y0), (x: xc, y: top(xc)), (x: x0, y: left)],
    ]);
    let mut households = Vec::new();
    for b in 0..6 {
        let x = x0 + (xc - x0) * (b as f64 + 0.5) / 6.0;
        households.push(household(b, x, y0 + 0.001, Some(format!("k{b}"))));
    }
    let mut state = seed | 1;
    for b in 0..12 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let jitter = (state >> 11) as f64 / (1u64 << 53) as f64;
        let x = xc + (x1 - xc) * (0.05 + 0.3 * jitter);
        let y = y0 + (top(x) - y0) * (b as f64 + 0.5) / 12.0;
        households.push(household(6 + b, x, y, Some(format!("f{b}"))));
    }
    input(community, vec![grid(1, kept)], households)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(7), failure_persistence: None, ..ProptestConfig::default() })]

    /// The free land between the community's edge and a kept grid along it is no needle: the
    /// grids drawn there are valid polygons.
    #[test]
    fn a_grid_along_the_community_edge_leaves_no_needle(at in 0.2f64..0.8, rise in -0.003f64..0.003, seed in any::<u64>()) {
        let input = edge_case(at, rise, seed);
        let options = Options { grid: Bounds { min: 5, max: 7 }, micro_grid: Some(Bounds { min: 2, max: 4 }) };
        let plan = plan_community(&input, &options).unwrap();
        prop_assert_eq!(plan.grids[0].status, GridStatus::Kept(1));
        if let Err(message) = check_plan(&input, &options, &plan) {
            prop_assert!(false, "{}", message);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The demo city

fn within(plans: &[CommunityPlan], bounds: Bounds) -> usize {
    plans
        .iter()
        .flat_map(|p| &p.grids)
        .filter(|g| bounds.holds(g.households.len() as u32))
        .count()
}

#[test]
fn the_default_demo_city_plans_within_bounds() {
    let city = demo_city(DemoSize::Default, DEFAULT_SEED);
    let inputs = community_inputs(&city.units, &city.households);
    let before = inputs
        .iter()
        .flat_map(|input| {
            input.grids.iter().map(|g| {
                input
                    .current_grid
                    .iter()
                    .filter(|c| **c == Some(g.id))
                    .count()
            })
        })
        .filter(|&n| Bounds::GRID.holds(n as u32))
        .count();
    let grids_before: usize = inputs.iter().map(|i| i.grids.len()).sum();
    let progress = AtomicUsize::new(0);
    let plans = plan_communities(&inputs, &OPTIONS, &|n| {
        progress.fetch_max(n, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(progress.load(Ordering::Relaxed), inputs.len());
    for (input, plan) in inputs.iter().zip(&plans) {
        if let Err(message) = check_plan(input, &OPTIONS, plan) {
            panic!("community {}: {message}", input.community_code);
        }
    }
    let after = within(&plans, Bounds::GRID);
    let grids_after: usize = plans.iter().map(|p| p.grids.len()).sum();
    eprintln!("within bounds: {before}/{grids_before} before, {after}/{grids_after} after");
    assert!(after > before);
}

/// `cargo test -p geodata --release -- --ignored large_demo --nocapture`: the large demo city
/// (1,000,000 households) planned whole, with the figures of the report.
#[test]
#[ignore = "takes a release build and tens of seconds"]
fn large_demo_city_figures() {
    let city = demo_city(DemoSize::Large, DEFAULT_SEED);
    let inputs = community_inputs(&city.units, &city.households);
    let households: usize = inputs.iter().map(|i| i.households.len()).sum();
    let before = inputs
        .iter()
        .flat_map(|input| {
            input.grids.iter().map(|g| {
                input
                    .current_grid
                    .iter()
                    .filter(|c| **c == Some(g.id))
                    .count()
            })
        })
        .filter(|&n| Bounds::GRID.holds(n as u32))
        .count();
    let grids_before: usize = inputs.iter().map(|i| i.grids.len()).sum();
    let started = std::time::Instant::now();
    let plans = plan_communities(&inputs, &OPTIONS, &|_| {}).unwrap();
    let elapsed = started.elapsed();
    let grids: Vec<&PlannedGrid> = plans.iter().flat_map(|p| &p.grids).collect();
    let after = within(&plans, Bounds::GRID);
    let flagged = grids.iter().filter(|g| g.infeasible.is_some()).count();
    let mean_pp = grids.iter().map(|g| g.polsby_popper).sum::<f64>() / grids.len().max(1) as f64;
    let moved: usize = plans.iter().map(|p| p.households_moved).sum();
    let kept = grids
        .iter()
        .filter(|g| matches!(g.status, GridStatus::Kept(_)))
        .count();
    eprintln!(
        "{} communities, {households} households planned in {elapsed:?} on {} threads\n\
         grids within bounds: {before}/{grids_before} before, {after}/{} after ({flagged} flagged)\n\
         kept {kept}; mean Polsby-Popper {mean_pp:.3}; households moved {moved} ({:.1}%)",
        inputs.len(),
        rayon::current_num_threads(),
        grids.len(),
        100.0 * moved as f64 / households.max(1) as f64,
    );
    // A grid with a hole has something else inside it: another grid, or land of no grid.
    let with_holes = grids
        .iter()
        .filter(|g| g.geometry.0.iter().any(|p| !p.interiors().is_empty()))
        .count();
    eprintln!("grids with a hole (another grid or a gap inside): {with_holes}");
    let micro_grids: Vec<&PlannedMicroGrid> = grids
        .iter()
        .flat_map(|g| g.micro_grids.iter().flatten())
        .collect();
    let micro_bounds = OPTIONS.micro_grid.expect("micro-grids planned");
    let micro_within = micro_grids
        .iter()
        .filter(|m| micro_bounds.holds(m.households.len() as u32))
        .count();
    let mut micro_flagged: BTreeMap<&str, usize> = BTreeMap::new();
    for reason in micro_grids.iter().filter_map(|m| m.infeasible) {
        *micro_flagged.entry(reason.as_str()).or_default() += 1;
    }
    eprintln!(
        "micro-grids within {}-{}: {micro_within}/{} (flagged: {micro_flagged:?})",
        micro_bounds.min,
        micro_bounds.max,
        micro_grids.len()
    );
    let mut failures = 0;
    for (input, plan) in inputs.iter().zip(&plans) {
        if let Err(message) = check_plan(input, &OPTIONS, plan) {
            failures += 1;
            if failures < 10 {
                eprintln!("community {}: {message}", input.community_code);
            }
        }
    }
    assert_eq!(failures, 0);
}
