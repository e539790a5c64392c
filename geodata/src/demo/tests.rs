//! Tests of the demo city: determinism, counts, exact tiling, households inside their units.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

use geo::{Area, BooleanOps, BoundingRect, Contains, Intersects, Validation};

use super::*;

/// The default city, generated once for all the tests that only read it.
fn default_city() -> &'static DemoCity {
    static CITY: OnceLock<DemoCity> = OnceLock::new();
    CITY.get_or_init(|| demo_city(DemoSize::Default, DEFAULT_SEED))
}

fn counts(city: &DemoCity) -> Vec<(Level, usize)> {
    Level::ALL
        .iter()
        .map(|&level| (level, city.count(level)))
        .collect()
}

/// Units by id and children by parent id, siblings in unit order.
struct Tree<'a> {
    by_id: HashMap<UnitId, &'a Unit>,
    children: BTreeMap<UnitId, Vec<&'a Unit>>,
}

impl<'a> Tree<'a> {
    fn new(city: &'a DemoCity) -> Self {
        let by_id = city.units.iter().map(|unit| (unit.id, unit)).collect();
        let mut children: BTreeMap<UnitId, Vec<&Unit>> = BTreeMap::new();
        for unit in &city.units {
            if let Some(parent) = unit.parent {
                children.entry(parent).or_default().push(unit);
            }
        }
        Tree { by_id, children }
    }

    fn children(&self, id: UnitId) -> &[&'a Unit] {
        self.children.get(&id).map_or(&[], Vec::as_slice)
    }
}

/// Every parent's children add up to it in area and overlap nowhere.
fn assert_children_tile_parents(city: &DemoCity) {
    let tree = Tree::new(city);
    for (parent_id, children) in &tree.children {
        let parent = tree.by_id[parent_id];
        let parent_area = parent.geometry.unsigned_area();
        let children_area: f64 = children.iter().map(|c| c.geometry.unsigned_area()).sum();
        assert!(
            (children_area - parent_area).abs() <= 1e-9 * parent_area,
            "the children of {} cover {children_area}, not {parent_area}",
            parent.code
        );
        let bounds: Vec<_> = children
            .iter()
            .map(|c| c.geometry.bounding_rect().expect("children are not empty"))
            .collect();
        for i in 0..children.len() {
            for j in i + 1..children.len() {
                if !bounds[i].intersects(&bounds[j]) {
                    continue;
                }
                let overlap = children[i]
                    .geometry
                    .intersection(&children[j].geometry)
                    .unsigned_area();
                assert!(
                    overlap < 1e-12,
                    "{} and {} overlap by {overlap}",
                    children[i].code,
                    children[j].code
                );
            }
        }
    }
}

/// Households per grid, after checking that every building lies strictly inside its community,
/// exactly one of the community's grids and exactly one of that grid's micro-grids.
fn households_per_grid(city: &DemoCity) -> HashMap<UnitId, u32> {
    let tree = Tree::new(city);
    let communities: HashMap<&str, &Unit> = city
        .units
        .iter()
        .filter(|unit| unit.level == Level::Community)
        .map(|unit| (unit.code.as_str(), unit))
        .collect();
    let mut buildings: BTreeMap<&str, (Point<f64>, u32)> = BTreeMap::new();
    for household in &city.households {
        let key = household
            .building
            .as_deref()
            .expect("every household has a building");
        let entry = buildings.entry(key).or_insert((household.point, 0));
        assert_eq!(entry.0, household.point, "building {key} has one point");
        entry.1 += 1;
    }
    let mut per_grid = HashMap::new();
    for (key, (point, households)) in buildings {
        let community_code = key[1..].split('-').next().expect("keys hold the community");
        let community = communities[community_code];
        assert!(
            community.geometry.intersects(&point),
            "{key} is outside {community_code}"
        );
        let inside = |units: &[&Unit]| -> Vec<UnitId> {
            units
                .iter()
                .filter(|unit| unit.geometry.contains(&point))
                .map(|unit| unit.id)
                .collect()
        };
        let grids = inside(tree.children(community.id));
        assert_eq!(grids.len(), 1, "{key} lies in one grid of {community_code}");
        let micro_grids = inside(tree.children(grids[0]));
        assert_eq!(micro_grids.len(), 1, "{key} lies in one micro-grid");
        *per_grid.entry(grids[0]).or_insert(0) += households;
    }
    per_grid
}

#[test]
fn sizes_parse_and_print() {
    for size in DemoSize::ALL {
        assert_eq!(size.to_string().parse::<DemoSize>(), Ok(size));
    }
    assert_eq!("LARGE".parse::<DemoSize>(), Ok(DemoSize::Large));
    let error = "huge".parse::<DemoSize>().expect_err("huge is no size");
    assert_eq!(
        error.to_string(),
        "unknown demo size \"huge\": expected default, large or city"
    );
    assert_eq!(DemoSize::default(), DemoSize::Default);
}

#[test]
fn the_same_seed_gives_the_same_city() {
    let again = demo_city(DemoSize::Default, DEFAULT_SEED);
    assert!(again == *default_city());
    let other = demo_city(DemoSize::Default, DEFAULT_SEED + 1);
    assert_eq!(
        other.units[..21],
        default_city().units[..21],
        "real districts do not change"
    );
    assert!(other.units != default_city().units);
}

#[test]
fn one_thread_or_many_give_the_same_city() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let single = pool.install(|| demo_city(DemoSize::Default, DEFAULT_SEED));
    assert!(single == *default_city());
}

#[test]
fn the_default_city_is_jinjiang() {
    let city = default_city();
    let counts = counts(city);
    println!(
        "default city: {counts:?}, {} households",
        city.households.len()
    );
    assert_eq!(city.households.len(), 50_000);
    assert_eq!(city.count(Level::City), 1);
    assert_eq!(city.count(Level::District), 20);
    assert_eq!(city.count(Level::Street), 11);
    assert_eq!(city.count(Level::Community), 76);
    assert!((100..=200).contains(&city.count(Level::Grid)), "{counts:?}");
    assert!(
        (700..=1_300).contains(&city.count(Level::MicroGrid)),
        "{counts:?}"
    );
    let jinjiang = &city.units[1];
    assert_eq!(
        (jinjiang.code.as_str(), jinjiang.name.as_str()),
        ("510104", "锦江区")
    );
    let first_street = &city.units[21];
    assert_eq!(
        (first_street.code.as_str(), first_street.name.as_str()),
        ("510104017", "锦官驿街道")
    );
}

#[test]
fn parents_come_first_and_codes_nest() {
    let city = default_city();
    let mut seen: HashMap<UnitId, &Unit> = HashMap::new();
    let mut codes = HashSet::new();
    for (index, unit) in city.units.iter().enumerate() {
        assert_eq!(unit.id, index as UnitId + 1);
        assert!(
            codes.insert(unit.code.as_str()),
            "{} is issued twice",
            unit.code
        );
        match unit.parent {
            None => assert_eq!(unit.level, Level::City),
            Some(parent_id) => {
                let parent = seen.get(&parent_id).expect("the parent comes first");
                assert_eq!(Some(parent.level), unit.level.parent());
                assert!(
                    unit.code.starts_with(&parent.code),
                    "{} under {}",
                    unit.code,
                    parent.code
                );
                let digits = unit.code.len() - parent.code.len();
                assert_eq!(digits, unit.level.code_digits(), "{}", unit.code);
            }
        }
        if !unit.level.is_grid() {
            assert_eq!(unit.kind, GridKind::General);
        }
        if unit.level == Level::MicroGrid {
            assert_eq!(unit.kind, seen[&unit.parent.unwrap_or_default()].kind);
        }
        seen.insert(unit.id, unit);
    }
    let grid = city
        .units
        .iter()
        .find(|u| u.level == Level::Grid)
        .expect("grids");
    assert_eq!(
        (grid.code.as_str(), grid.name.as_str()),
        ("510104017001001", "水井坊社区第1网格")
    );
    let micro_grid = city
        .units
        .iter()
        .find(|u| u.level == Level::MicroGrid)
        .expect("micro-grids");
    assert_eq!(micro_grid.name, "水井坊社区第1网格第1微网格");
}

#[test]
fn every_polygon_is_valid_and_not_empty() {
    for unit in &default_city().units {
        if let Err(error) = unit.geometry.check_validation() {
            panic!("{} {} is invalid: {error}", unit.level, unit.code);
        }
        assert!(
            unit.geometry.unsigned_area() > 0.0,
            "{} is empty",
            unit.code
        );
    }
}

#[test]
fn children_tile_their_parents_exactly() {
    assert_children_tile_parents(default_city());
}

#[test]
fn households_sit_in_buildings_inside_their_units() {
    let city = default_city();
    let per_grid = households_per_grid(city);
    assert_eq!(
        per_grid.len(),
        city.count(Level::Grid),
        "every grid has homes"
    );
    let over = per_grid.values().filter(|&&h| h > 500).count();
    let under = per_grid.values().filter(|&&h| h < 300).count();
    println!(
        "grids: {} over 500, {} under 300, of {}",
        over,
        under,
        per_grid.len()
    );
    assert!(over > 0 && under > 0);

    let ids: HashSet<&str> = city.households.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids.len(), city.households.len(), "household ids are unique");
    assert!(city.households.iter().all(|h| (1..=5).contains(&h.persons)));
    let persons: u32 = city.households.iter().map(|h| h.persons).sum();
    let mean = f64::from(persons) / city.households.len() as f64;
    assert!((2.3..2.7).contains(&mean), "{mean} persons per household");
}

#[test]
fn buildings_are_mostly_small_with_a_few_towers() {
    let mut sizes: BTreeMap<&str, u32> = BTreeMap::new();
    for household in &default_city().households {
        *sizes
            .entry(household.building.as_deref().unwrap_or_default())
            .or_default() += 1;
    }
    let sizes: Vec<u32> = sizes.into_values().collect();
    assert!(sizes.iter().all(|s| (1..=300).contains(s)));
    let small = sizes.iter().filter(|&&s| s <= 80).count();
    let towers = sizes.iter().filter(|&&s| s > 150).count();
    assert!(
        small * 10 > sizes.len() * 8,
        "{small} of {} small",
        sizes.len()
    );
    assert!(towers > 0);
}

#[test]
fn budgets_add_up_and_include_small_communities() {
    let mut rng = Rng::new(7, "test");
    let budgets = household_budgets(429, 1_000_000, &mut rng);
    assert_eq!(
        budgets.iter().map(|&b| u64::from(b)).sum::<u64>(),
        1_000_000
    );
    assert!(budgets.iter().filter(|&&b| b < 300).count() >= 17);
}

#[test]
fn community_names_lose_their_committee() {
    assert_eq!(short_community_name("水井坊社区居委会"), "水井坊社区");
    assert_eq!(short_community_name("白马村村民委员会"), "白马村");
    assert_eq!(short_community_name("马鞍社区居民委员会"), "马鞍社区");
    assert_eq!(
        short_community_name("天瑞社区工作站社区"),
        "天瑞社区工作站社区"
    );
}

fn report(size: DemoSize) -> DemoCity {
    let start = Instant::now();
    let city = demo_city(size, DEFAULT_SEED);
    let elapsed = start.elapsed();
    println!(
        "{size}: {:?}, {} units, {} households, generated in {elapsed:.2?}",
        counts(&city),
        city.units.len(),
        city.households.len()
    );
    city
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn default_city_counts_and_time() {
    let city = report(DemoSize::Default);
    assert!(city == *default_city());
}

#[test]
#[ignore = "a million households: run in release with --ignored"]
fn large_city_counts_and_time() {
    let city = report(DemoSize::Large);
    assert_eq!(city.households.len(), 1_000_000);
    assert!(city.count(Level::Grid) >= 2_000);
    assert!(city.count(Level::MicroGrid) >= 20_000);
    let start = Instant::now();
    assert!(city.units.iter().all(|unit| unit.geometry.is_valid()));
    assert_children_tile_parents(&city);
    let per_grid = households_per_grid(&city);
    let over = per_grid.values().filter(|&&h| h > 500).count();
    let under = per_grid.values().filter(|&&h| h < 300).count();
    let dedicated = city
        .units
        .iter()
        .filter(|u| u.level == Level::Grid && u.kind == GridKind::Dedicated)
        .count();
    println!(
        "grids: {over} over 500, {under} under 300, {dedicated} dedicated; checked in {:.2?}",
        start.elapsed()
    );
}

#[test]
#[ignore = "nine million households: run in release with --ignored"]
fn whole_city_counts_and_time() {
    let city = report(DemoSize::City);
    assert_eq!(city.households.len(), 9_000_000);
    // Every real street and community, though the data's README counts one fewer of each.
    assert_eq!(city.count(Level::Street), 261);
    assert_eq!(city.count(Level::Community), 3_047);
    let start = Instant::now();
    assert!(city.units.iter().all(|unit| unit.geometry.is_valid()));
    assert_children_tile_parents(&city);
    let per_grid = households_per_grid(&city);
    assert_eq!(per_grid.len(), city.count(Level::Grid));
    println!("checked in {:.2?}", start.elapsed());
}
