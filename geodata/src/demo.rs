//! A deterministic demo city on real Chengdu data, so that GridMap can be tried, tested and
//! benchmarked without anybody's confidential grid map.
//!
//! [`demo_city`] builds the whole hierarchy of [`Level`]s, with households:
//!
//! - the city, 成都市 (`5101`), whose outline is the union of its districts';
//! - the 20 real districts and counties, with their GB/T 2260 codes, names and outlines;
//! - below the districts the [`DemoSize`] selects, the real streets and communities (the National
//!   Bureau of Statistics' 9- and 12-digit codes and names) with generated polygons, since no open
//!   polygons exist below district level;
//! - generated grids of about 400 households and micro-grids of about 45, numbered by
//!   [`issue_codes`] (`510104017001003`, "水井坊社区第3网格");
//! - generated households, clustered in buildings that keep them together.
//!
//! Every level tiles its parent exactly. Children are cut out of their parent by axis-parallel
//! lines, and both sides of a cut share the very same vertices along it, so the children's areas
//! add up to the parent's to rounding error, with neither gap nor overlap; grid and micro-grid
//! cuts pass between buildings, so every household lies strictly inside one grid and one
//! micro-grid. The grid counts are deliberately a little off, so that some grids hold over 500
//! households and some under 300: a rebalancer has work to do.
//!
//! Generation is deterministic: the same size and seed give the same units and households, in the
//! same order, bit for bit, however many threads run. Each district and community draws from its
//! own random stream, keyed by the seed and its code, so the work parallelises freely.
//!
//! District outlines: ODbL 1.0, © OpenStreetMap contributors, geoBoundaries ([`ATTRIBUTION`]);
//! anything derived from them and published as a database stays under the ODbL. Street and
//! community codes and names: NBS 统计用区划代码 2023, via the `china-division` package (WTFPL).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use geo::algorithm::orient::{Direction, Orient};
use geo::{BoundingRect, Contains, Coord, InteriorPoint, MapCoords, MultiPolygon, Point, Rect};
use rayon::prelude::*;
use rstar::RTree;

use crate::codes::{issue_codes, reading_order};
use crate::measure::metres_per_degree;
use crate::{GridKind, Household, Level, Unit, UnitId};

use cut::{Piece, Site};

mod layers;
mod tiling;
pub use layers::{department_layers, emergency_layer, DepartmentLayer, InjectedFault};
pub use tiling::irregular_tiling;

/// The attribution the district outlines' licence (ODbL 1.0) requires wherever they, or anything
/// derived from them, are shown or published.
pub const ATTRIBUTION: &str = "© OpenStreetMap contributors, geoBoundaries";

/// The seed the server uses when none is configured.
pub const DEFAULT_SEED: u64 = 2;

const DISTRICTS_GEOJSON: &str = include_str!("../data/chengdu-districts.geojson");
const STREETS_CSV: &str = include_str!("../data/chengdu-streets.csv");
const COMMUNITIES_CSV: &str = include_str!("../data/chengdu-communities.csv");

const CITY_CODE: &str = "5101";
const CITY_NAME: &str = "成都市";
/// The five central districts: 锦江, 青羊, 金牛, 武侯, 成华.
const CENTRAL_DISTRICTS: [&str; 5] = ["510104", "510105", "510106", "510107", "510108"];

/// Households a grid worker looks after (the common standard is 300-500).
const GRID_HOUSEHOLDS: f64 = 400.0;
/// Households a micro-grid volunteer looks after (the common standard is 30-50, some cities
/// go to 60+).
const MICRO_GRID_HOUSEHOLDS: f64 = 45.0;
/// The share of grids that are dedicated ones: office towers, industrial parks, campuses.
const DEDICATED_SHARE: f64 = 0.03;
/// The share of communities that are small (a courtyard compound, an estate still filling up),
/// so that some grids are far under the minimum whatever the grid count.
const SMALL_COMMUNITY_SHARE: f64 = 0.04;
/// The most children the code digits allow: 3 digits for grids, 2 for micro-grids.
const MAX_GRIDS: usize = 999;
const MAX_MICRO_GRIDS: usize = 99;

/// How much of Chengdu gets streets, communities, grids and households. The city and all 20
/// districts are there in every size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DemoSize {
    /// 锦江区 only, 50,000 households: loads in seconds at start-up.
    #[default]
    Default,
    /// The five central districts, 1,000,000 households: 2,500 grids and 20,000 micro-grids.
    Large,
    /// All 20 districts, 9,000,000 households: about 200,000 units in all.
    City,
}

impl DemoSize {
    /// Every size, from the smallest.
    pub const ALL: [DemoSize; 3] = [DemoSize::Default, DemoSize::Large, DemoSize::City];

    /// The spelling [`FromStr`] accepts: `default`, `large` or `city`.
    pub fn as_str(self) -> &'static str {
        match self {
            DemoSize::Default => "default",
            DemoSize::Large => "large",
            DemoSize::City => "city",
        }
    }

    /// The households generated in all.
    pub fn households(self) -> u64 {
        match self {
            DemoSize::Default => 50_000,
            DemoSize::Large => 1_000_000,
            DemoSize::City => 9_000_000,
        }
    }

    /// Whether the district with this 6-digit code is divided down to micro-grids and populated.
    pub fn covers(self, district_code: &str) -> bool {
        match self {
            DemoSize::Default => district_code == CENTRAL_DISTRICTS[0],
            DemoSize::Large => CENTRAL_DISTRICTS.contains(&district_code),
            DemoSize::City => true,
        }
    }
}

impl fmt::Display for DemoSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a demo size that is none of [`DemoSize::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown demo size {0:?}: expected default, large or city")]
pub struct UnknownDemoSize(pub String);

impl FromStr for DemoSize {
    type Err = UnknownDemoSize;

    /// Accepts `default`, `large` or `city`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DemoSize::ALL
            .into_iter()
            .find(|size| size.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownDemoSize(s.to_owned()))
    }
}

/// A generated city: its units and households.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCity {
    /// Level by level from the city down (city, districts, streets, communities, grids,
    /// micro-grids), siblings in code order; ids run 1, 2, 3... in this order, so every parent
    /// comes before its children.
    pub units: Vec<Unit>,
    /// Community by community in unit order, building by building. Ids look like
    /// `510104017001-0042-007` (community, building, household); buildings like
    /// `B510104017001-0042`.
    pub households: Vec<Household>,
}

impl DemoCity {
    /// `n` household points in a fixed pseudo-random order, the cache-hostile order in which
    /// single lookups arrive; for benchmarks.
    pub fn scattered_points(&self, n: usize) -> Vec<Point<f64>> {
        if self.households.is_empty() {
            return Vec::new();
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                self.households[(state % self.households.len() as u64) as usize].point
            })
            .collect()
    }

    /// How many units of a level the city holds.
    pub fn count(&self, level: Level) -> usize {
        self.units.iter().filter(|unit| unit.level == level).count()
    }
}

/// Builds the demo city of the given size. The same size and seed always give the same city.
///
/// The default size takes well under a second in a release build; `City` takes seconds and a
/// couple of GB, most of it the households' strings.
pub fn demo_city(size: DemoSize, seed: u64) -> DemoCity {
    let districts = load_districts();
    let streets = group_by_parent(parse_divisions(STREETS_CSV, "areaCode"));
    let communities = group_by_parent(parse_divisions(COMMUNITIES_CSV, "streetCode"));
    let mut units = UnitList::default();

    let city_outline = city_outline(&districts);
    let city = units.push(Level::City, CITY_CODE, CITY_NAME, None, city_outline);
    let mut divided = Vec::new();
    for district in &districts {
        let (code, name) = (&district.code, &district.name);
        let id = units.push(
            Level::District,
            code,
            name,
            Some(city),
            district.geometry.clone(),
        );
        if size.covers(&district.code) {
            divided.push((id, district));
        }
    }

    // Streets and communities: every district on its own thread, then listed level by level.
    let divisions: Vec<Vec<DividedStreet>> = divided
        .par_iter()
        .map(|(_, district)| divide_district(district, &streets, &communities, seed))
        .collect();
    let mut plans = Vec::new();
    for ((district_id, _), district_streets) in divided.iter().zip(divisions) {
        for street in district_streets {
            let (code, name) = (&street.division.code, &street.division.name);
            let id = units.push(
                Level::Street,
                code,
                name,
                Some(*district_id),
                street.geometry,
            );
            plans.extend(
                street
                    .communities
                    .into_iter()
                    .map(|community| (id, community)),
            );
        }
    }
    let mut community_ids = Vec::with_capacity(plans.len());
    for (street_id, (division, geometry)) in &plans {
        let (code, name) = (&division.code, &division.name);
        let id = units.push(
            Level::Community,
            code,
            name,
            Some(*street_id),
            geometry.clone(),
        );
        community_ids.push(id);
    }

    // Households, grids and micro-grids: every community on its own.
    let mut budget_rng = Rng::new(seed, "household budgets");
    let budgets = household_budgets(plans.len(), size.households(), &mut budget_rng);
    let populated: Vec<PopulatedCommunity> = plans
        .par_iter()
        .zip(budgets)
        .map(|((_, (division, geometry)), households)| {
            populate_community(division, geometry, households, seed)
        })
        .collect();
    let mut households = Vec::with_capacity(populated.iter().map(|c| c.households.len()).sum());
    let mut micro_grids = Vec::new();
    for (community_id, community) in community_ids.into_iter().zip(populated) {
        households.extend(community.households);
        for grid in community.grids {
            let id = units.add(Level::Grid, grid.unit, grid.kind, Some(community_id));
            micro_grids.push((id, grid.kind, grid.micro_grids));
        }
    }
    for (grid_id, kind, grid_micro_grids) in micro_grids {
        for micro_grid in grid_micro_grids {
            // A dedicated grid's micro-grids are dedicated too: floors of the same office tower.
            units.add(Level::MicroGrid, micro_grid, kind, Some(grid_id));
        }
    }

    DemoCity {
        units: units.0,
        households,
    }
}

/// The units under construction; ids are handed out in push order.
#[derive(Default)]
struct UnitList(Vec<Unit>);

impl UnitList {
    /// Adds a unit of the general kind.
    fn push(
        &mut self,
        level: Level,
        code: &str,
        name: &str,
        parent: Option<UnitId>,
        geometry: MultiPolygon<f64>,
    ) -> UnitId {
        let generated = GeneratedUnit {
            code: code.to_owned(),
            name: name.to_owned(),
            geometry,
        };
        self.add(level, generated, GridKind::General, parent)
    }

    /// Adds a unit with its id.
    fn add(
        &mut self,
        level: Level,
        unit: GeneratedUnit,
        kind: GridKind,
        parent: Option<UnitId>,
    ) -> UnitId {
        let id = UnitId::try_from(self.0.len() + 1).expect("fewer than 2^63 units");
        self.0.push(Unit {
            id,
            code: unit.code,
            name: unit.name,
            level,
            kind,
            parent,
            geometry: unit.geometry,
        });
        id
    }
}

// ---------------------------------------------------------------------------------------------
// The real data

struct District {
    code: String,
    name: String,
    geometry: MultiPolygon<f64>,
}

/// A street or a community from the NBS lists.
#[derive(Debug)]
struct Division {
    code: String,
    name: String,
    parent_code: String,
}

/// The 20 districts, in code order, with exteriors counter-clockwise.
fn load_districts() -> Vec<District> {
    let collection: geojson::FeatureCollection = DISTRICTS_GEOJSON
        .parse()
        .expect("the embedded district GeoJSON parses");
    collection
        .features
        .iter()
        .map(|feature| {
            let text = |key: &str| {
                feature
                    .property(key)
                    .and_then(|value| value.as_str())
                    .expect("every embedded district has a code and a name")
                    .to_owned()
            };
            let geometry = feature
                .geometry
                .as_ref()
                .and_then(|geometry| MultiPolygon::<f64>::try_from(&geometry.value).ok())
                .expect("every embedded district is a MultiPolygon");
            District {
                code: text("code"),
                name: text("name"),
                geometry: geometry.orient(Direction::Default),
            }
        })
        .collect()
}

/// Reads one of the embedded NBS lists: `code,"name",...` with the parent's code in the column
/// named `parent_column`. The names hold no commas, so a plain split does.
fn parse_divisions(csv: &str, parent_column: &str) -> Vec<Division> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|title| title.trim() == name)
            .expect("the embedded lists have code, name and parent columns")
    };
    let (code, name, parent) = (column("code"), column("name"), column(parent_column));
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line
                .split(',')
                .map(|f| f.trim().trim_matches('"'))
                .collect();
            let field = |i: usize| fields.get(i).copied().unwrap_or_default().to_owned();
            Division {
                code: field(code),
                name: field(name),
                parent_code: field(parent),
            }
        })
        .collect()
}

/// Divisions by their parent's code, each list in code order.
fn group_by_parent(divisions: Vec<Division>) -> BTreeMap<String, Vec<Division>> {
    let mut groups: BTreeMap<String, Vec<Division>> = BTreeMap::new();
    for division in divisions {
        groups
            .entry(division.parent_code.clone())
            .or_default()
            .push(division);
    }
    for group in groups.values_mut() {
        group.sort_by(|a, b| a.code.cmp(&b.code));
    }
    groups
}

/// The union of the districts. The union rounds coordinates to its integer grid (about 2e-9°
/// here), so its vertices are put back on the districts' own, which keeps the city exactly
/// tiled by them.
fn city_outline(districts: &[District]) -> MultiPolygon<f64> {
    const SNAP_DEGREES: f64 = 1e-7;
    let union = geo::unary_union(districts.iter().map(|district| &district.geometry));
    let vertices: Vec<[f64; 2]> = districts
        .iter()
        .flat_map(|district| cut::coords(&district.geometry.0))
        .map(|c| [c.x, c.y])
        .collect();
    let tree = RTree::bulk_load(vertices);
    union
        .map_coords(|c| match tree.nearest_neighbor([c.x, c.y]) {
            Some(&[x, y]) if (x - c.x).hypot(y - c.y) < SNAP_DEGREES => Coord { x, y },
            _ => c,
        })
        .orient(Direction::Default)
}

// ---------------------------------------------------------------------------------------------
// Streets and communities

struct DividedStreet<'a> {
    division: &'a Division,
    geometry: MultiPolygon<f64>,
    communities: Vec<(&'a Division, MultiPolygon<f64>)>,
}

/// Cuts a district into its real streets, and each street into its real communities.
fn divide_district<'a>(
    district: &District,
    streets: &'a BTreeMap<String, Vec<Division>>,
    communities: &'a BTreeMap<String, Vec<Division>>,
    seed: u64,
) -> Vec<DividedStreet<'a>> {
    let district_streets = streets.get(&district.code).map_or(&[][..], Vec::as_slice);
    let street_shapes = divide_by_area(
        &district.code,
        &district.geometry,
        district_streets.len(),
        seed,
    );
    district_streets
        .iter()
        .zip(street_shapes)
        .map(|(street, geometry)| {
            let street_communities = communities.get(&street.code).map_or(&[][..], Vec::as_slice);
            let shapes = divide_by_area(&street.code, &geometry, street_communities.len(), seed);
            DividedStreet {
                division: street,
                communities: street_communities.iter().zip(shapes).collect(),
                geometry,
            }
        })
        .collect()
}

/// Cuts a parent into `count` children of unequal areas (real streets and communities differ a
/// lot), returned in reading order, so that the first code lies to the north-west.
fn divide_by_area(
    parent_code: &str,
    parent: &MultiPolygon<f64>,
    count: usize,
    seed: u64,
) -> Vec<MultiPolygon<f64>> {
    if count == 0 {
        return Vec::new();
    }
    let mut rng = Rng::new(seed, &format!("divide {parent_code}"));
    let shares: Vec<f64> = (0..count).map(|_| rng.range(0.5, 1.5)).collect();
    let pieces: Vec<MultiPolygon<f64>> = cut::partition_by_area(parent.0.clone(), &shares)
        .into_iter()
        .map(MultiPolygon::new)
        .collect();
    let order = reading_order(&pieces);
    let mut slots: Vec<Option<MultiPolygon<f64>>> = pieces.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|index| slots[index].take())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Households, grids and micro-grids

/// A generated grid or micro-grid.
struct GeneratedUnit {
    code: String,
    name: String,
    geometry: MultiPolygon<f64>,
}

struct GeneratedGrid {
    unit: GeneratedUnit,
    kind: GridKind,
    /// In code order.
    micro_grids: Vec<GeneratedUnit>,
}

struct PopulatedCommunity {
    /// In code order.
    grids: Vec<GeneratedGrid>,
    households: Vec<Household>,
}

/// A building: all its households share its point.
struct Building {
    point: Coord<f64>,
    households: u32,
}

/// Fills a community with `households` households in buildings, and draws its grids and
/// micro-grids around them.
fn populate_community(
    community: &Division,
    area: &MultiPolygon<f64>,
    households: u32,
    seed: u64,
) -> PopulatedCommunity {
    let mut rng = Rng::new(seed, &format!("community {}", community.code));
    let buildings = place_buildings(area, households, &mut rng);
    let sites = buildings
        .iter()
        .enumerate()
        .map(|(index, building)| Site {
            point: building.point,
            weight: building.households,
            index,
        })
        .collect();
    PopulatedCommunity {
        grids: draw_grids(community, area, sites, &mut rng),
        households: residents(&community.code, &buildings, &mut rng),
    }
}

/// Spreads the community's households over buildings inside it: most buildings are clustered
/// around a few centres (estates, a high street), the rest scattered.
fn place_buildings(area: &MultiPolygon<f64>, households: u32, rng: &mut Rng) -> Vec<Building> {
    let Some(mut plot) = Plot::new(area) else {
        return Vec::new();
    };
    let centre_count = 2 + (households / 1_000).min(6) as usize;
    let centres: Vec<Coord<f64>> = (0..centre_count)
        .map(|_| plot.place(rng, |plot, rng| plot.uniform(rng), false))
        .collect();
    let spread = Coord {
        x: plot.bounds.width() * 0.15,
        y: plot.bounds.height() * 0.15,
    };
    building_sizes(households, rng)
        .into_iter()
        .map(|size| {
            let point = if rng.chance(0.8) {
                let centre = centres[rng.below(centres.len() as u64) as usize];
                plot.place(
                    rng,
                    |_, rng| Coord {
                        x: centre.x + spread.x * rng.normal(),
                        y: centre.y + spread.y * rng.normal(),
                    },
                    true,
                )
            } else {
                plot.place(rng, |plot, rng| plot.uniform(rng), true)
            };
            plot.build(point);
            Building {
                point,
                households: size,
            }
        })
        .collect()
}

/// Where buildings may go in a community: strictly inside it, and not within
/// [`BUILDING_SPACING_M`] of another building, so that micro-grids drawn between buildings are
/// not a few metres wide.
struct Plot<'a> {
    area: &'a MultiPolygon<f64>,
    bounds: Rect<f64>,
    /// The spacing in degrees of longitude and latitude; also the size of the cells of `built`.
    spacing: Coord<f64>,
    built: HashMap<(i64, i64), Vec<Coord<f64>>>,
}

/// The least distance between two buildings, in metres: about a lane's width.
const BUILDING_SPACING_M: f64 = 20.0;

impl<'a> Plot<'a> {
    fn new(area: &'a MultiPolygon<f64>) -> Option<Self> {
        let bounds = area.bounding_rect()?;
        let (x_metres, y_metres) = metres_per_degree(bounds.center().y);
        Some(Plot {
            area,
            bounds,
            spacing: Coord {
                x: BUILDING_SPACING_M / x_metres,
                y: BUILDING_SPACING_M / y_metres,
            },
            built: HashMap::new(),
        })
    }

    /// A point drawn by `draw` that lies inside (and, if `spaced`, away from other buildings),
    /// or else a uniform one that does, or else any point inside.
    fn place(
        &self,
        rng: &mut Rng,
        draw: impl Fn(&Self, &mut Rng) -> Coord<f64>,
        spaced: bool,
    ) -> Coord<f64> {
        let fits = |point: Coord<f64>| {
            self.area.contains(&Point::from(point)) && (!spaced || self.is_free(point))
        };
        let inside = |point: Coord<f64>| self.area.contains(&Point::from(point));
        (0..30)
            .map(|_| draw(self, rng))
            .find(|point| fits(*point))
            .or_else(|| {
                (0..10_000)
                    .map(|_| self.uniform(rng))
                    .find(|point| fits(*point))
            })
            .or_else(|| {
                (0..10_000)
                    .map(|_| self.uniform(rng))
                    .find(|point| inside(*point))
            })
            .or_else(|| self.area.interior_point().map(|point| point.0))
            .unwrap_or_else(|| self.bounds.center())
    }

    fn uniform(&self, rng: &mut Rng) -> Coord<f64> {
        Coord {
            x: rng.range(self.bounds.min().x, self.bounds.max().x),
            y: rng.range(self.bounds.min().y, self.bounds.max().y),
        }
    }

    fn cell(&self, point: Coord<f64>) -> (i64, i64) {
        (
            (point.x / self.spacing.x).floor() as i64,
            (point.y / self.spacing.y).floor() as i64,
        )
    }

    fn is_free(&self, point: Coord<f64>) -> bool {
        let (column, row) = self.cell(point);
        let near = |other: &Coord<f64>| {
            let dx = (point.x - other.x) / self.spacing.x;
            let dy = (point.y - other.y) / self.spacing.y;
            dx * dx + dy * dy < 1.0
        };
        (column - 1..=column + 1)
            .flat_map(|c| (row - 1..=row + 1).map(move |r| (c, r)))
            .filter_map(|cell| self.built.get(&cell))
            .all(|others| !others.iter().any(near))
    }

    fn build(&mut self, point: Coord<f64>) {
        self.built.entry(self.cell(point)).or_default().push(point);
    }
}

/// Building sizes adding up to `households`: mostly walk-ups of 5-60 homes, some slabs of
/// 60-150, a few towers of 150-300.
fn building_sizes(households: u32, rng: &mut Rng) -> Vec<u32> {
    let mut sizes = Vec::new();
    let mut left = households;
    while left > 0 {
        let kind = rng.unit();
        let size = if kind < 0.03 {
            150 + rng.below(151) as u32
        } else if kind < 0.12 {
            60 + rng.below(90) as u32
        } else {
            5 + (55.0 * rng.unit().powi(2)) as u32
        };
        let size = size.min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// The households of the buildings, in building order.
fn residents(community_code: &str, buildings: &[Building], rng: &mut Rng) -> Vec<Household> {
    let mut households = Vec::new();
    for (index, building) in buildings.iter().enumerate() {
        let key = format!("B{community_code}-{:04}", index + 1);
        for flat in 0..building.households {
            households.push(Household {
                id: format!("{community_code}-{:04}-{:03}", index + 1, flat + 1),
                point: Point::from(building.point),
                persons: household_persons(rng),
                building: Some(key.clone()),
            });
        }
    }
    households
}

/// 1-5 persons, about 2.5 on average.
fn household_persons(rng: &mut Rng) -> u32 {
    const CUMULATIVE: [f64; 4] = [0.22, 0.52, 0.79, 0.92];
    let draw = rng.unit();
    1 + CUMULATIVE.iter().filter(|&&bound| draw >= bound).count() as u32
}

/// Cuts the community into grids around its buildings: about one grid per 400 households, but the
/// count and the shares are drawn loosely, as a street office drawing grids by hand would.
fn draw_grids(
    community: &Division,
    area: &MultiPolygon<f64>,
    sites: Vec<Site>,
    rng: &mut Rng,
) -> Vec<GeneratedGrid> {
    let households: u32 = sites.iter().map(|site| site.weight).sum();
    let ideal = f64::from(households) / GRID_HOUSEHOLDS;
    let drawn = (ideal * (1.0 + 0.2 * rng.normal()).clamp(0.6, 1.5)).round() as usize;
    let count = drawn.clamp(1, sites.len().clamp(1, MAX_GRIDS));
    let shares: Vec<f64> = (0..count).map(|_| rng.range(0.7, 1.3)).collect();
    let parts = cut::partition_by_sites(area.0.clone(), sites, &shares);

    let short_name = short_community_name(&community.name);
    numbered(&community.code, Level::Grid, parts)
        .into_iter()
        .map(|(number, code, piece, sites)| {
            let name = format!("{short_name}第{number}网格");
            let kind = if rng.chance(DEDICATED_SHARE) {
                GridKind::Dedicated
            } else {
                GridKind::General
            };
            let micro_grids = draw_micro_grids(&code, &name, piece.clone(), sites, rng);
            GeneratedGrid {
                unit: GeneratedUnit {
                    code,
                    name,
                    geometry: MultiPolygon::new(piece),
                },
                kind,
                micro_grids,
            }
        })
        .collect()
}

/// Cuts a grid into micro-grids of about 45 households around its buildings.
fn draw_micro_grids(
    grid_code: &str,
    grid_name: &str,
    piece: Piece,
    sites: Vec<Site>,
    rng: &mut Rng,
) -> Vec<GeneratedUnit> {
    let households: u32 = sites.iter().map(|site| site.weight).sum();
    let drawn = (f64::from(households) / MICRO_GRID_HOUSEHOLDS).round() as usize;
    let count = drawn.clamp(1, sites.len().clamp(1, MAX_MICRO_GRIDS));
    let shares: Vec<f64> = (0..count).map(|_| rng.range(0.85, 1.15)).collect();
    let parts = cut::partition_by_sites(piece, sites, &shares);
    numbered(grid_code, Level::MicroGrid, parts)
        .into_iter()
        .map(|(number, code, piece, _)| GeneratedUnit {
            code,
            name: format!("{grid_name}第{number}微网格"),
            geometry: MultiPolygon::new(piece),
        })
        .collect()
}

/// Codes new children with [`issue_codes`] and returns them in code order with their numbers.
fn numbered(
    parent_code: &str,
    level: Level,
    parts: Vec<(Piece, Vec<Site>)>,
) -> Vec<(usize, String, Piece, Vec<Site>)> {
    let shapes: Vec<MultiPolygon<f64>> = parts
        .iter()
        .map(|(piece, _)| MultiPolygon::new(piece.clone()))
        .collect();
    let (codes, _) = issue_codes(parent_code, level, 0, &shapes)
        .expect("child counts are capped by the code digits");
    let mut coded: Vec<(String, Piece, Vec<Site>)> = codes
        .into_iter()
        .zip(parts)
        .map(|(code, (piece, sites))| (code, piece, sites))
        .collect();
    coded.sort_by(|a, b| a.0.cmp(&b.0));
    // Fresh codes run 1, 2, 3... in code order.
    coded
        .into_iter()
        .enumerate()
        .map(|(index, (code, piece, sites))| (index + 1, code, piece, sites))
        .collect()
}

/// "水井坊社区居委会" → "水井坊社区", "白马村村民委员会" → "白马村": the place, not its committee.
fn short_community_name(name: &str) -> &str {
    const COMMITTEES: [&str; 4] = ["居民委员会", "村民委员会", "居委会", "村委会"];
    COMMITTEES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|short| !short.is_empty())
        .unwrap_or(name)
}

/// Spreads `total` households over `count` communities, adding up exactly: most hold about the
/// same (log-normal, ±50%), and one in 25 is small (40-280 households).
fn household_budgets(count: usize, total: u64, rng: &mut Rng) -> Vec<u32> {
    if count == 0 {
        return Vec::new();
    }
    let mut weights: Vec<f64> = (0..count).map(|_| (0.45 * rng.normal()).exp()).collect();
    let mut budgets = vec![0u64; count];
    let small_count = ((count as f64 * SMALL_COMMUNITY_SHARE).round() as usize).clamp(1, count);
    let mut order: Vec<usize> = (0..count).collect();
    for pick in 0..small_count {
        // A partial Fisher-Yates shuffle picks the small communities.
        let swap = pick + rng.below((count - pick) as u64) as usize;
        order.swap(pick, swap);
        let small = order[pick];
        budgets[small] = (40 + rng.below(241)).min(total);
        weights[small] = 0.0;
    }
    let small_total: u64 = budgets.iter().sum();
    let rest = total.saturating_sub(small_total);
    if weights.iter().all(|w| *w == 0.0) {
        weights = vec![1.0; count];
    }
    let weight_total: f64 = weights.iter().sum();
    // Largest remainders, so that the total is exact.
    let quotas: Vec<f64> = weights
        .iter()
        .map(|w| rest as f64 * w / weight_total)
        .collect();
    for (budget, quota) in budgets.iter_mut().zip(&quotas) {
        *budget += quota.floor() as u64;
    }
    let mut by_remainder: Vec<usize> = (0..count).collect();
    by_remainder.sort_by(|&a, &b| {
        let remainder = |i: usize| quotas[i] - quotas[i].floor();
        remainder(b).total_cmp(&remainder(a)).then(a.cmp(&b))
    });
    let assigned: u64 = budgets.iter().sum();
    let missing = total.saturating_sub(assigned) as usize;
    for &index in by_remainder.iter().cycle().take(missing) {
        budgets[index] += 1;
    }
    budgets
        .into_iter()
        .map(|budget| u32::try_from(budget).unwrap_or(u32::MAX))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Random numbers

/// SplitMix64 (Steele, Lea & Flood, 2014): tiny, fast, and the same on every platform, so that a
/// seed names the same city everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// The stream for one purpose (`"community 510104017001"`): independent of every other
    /// stream, so that districts and communities can be generated in any order.
    fn new(seed: u64, stream: &str) -> Self {
        let mut rng = Rng(seed ^ fnv1a(stream));
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high).
    fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Uniform in 0..n (Lemire's multiply-shift; the bias, about n / 2^64, is negligible here).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// Standard normal, by Box-Muller.
    fn normal(&mut self) -> f64 {
        let radius = (-2.0 * (1.0 - self.unit()).ln()).sqrt();
        radius * (std::f64::consts::TAU * self.unit()).cos()
    }
}

/// FNV-1a, 64 bits: a stable hash for stream names (std's hasher may change between releases).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

// ---------------------------------------------------------------------------------------------
// Exact cutting

/// Cutting polygons into pieces that tile them exactly.
///
/// A piece is cut in two along an axis-parallel line. Where an edge crosses the line, the
/// crossing is computed once and goes into both halves, so the halves share their boundary
/// bit for bit; no vertex is ever left on a cut line (the line is nudged off it), so no edge
/// runs along one. Cutting again and again yields pieces that tile the original: their union is
/// the original, they overlap nowhere, and each is a valid polygon or a set of disjoint ones.
mod cut {
    use geo::{Area, BoundingRect, Coord, LineString, Polygon, Rect};

    /// Disjoint polygons, exteriors counter-clockwise and holes clockwise.
    pub(super) type Piece = Vec<Polygon<f64>>;

    /// Something to keep whole and on one side of every cut: a building, with its households.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Site {
        pub point: Coord<f64>,
        pub weight: u32,
        /// Breaks ties, so that sorting is deterministic.
        pub index: usize,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Axis {
        X,
        Y,
    }

    impl Axis {
        fn of(self, c: Coord<f64>) -> f64 {
            match self {
                Axis::X => c.x,
                Axis::Y => c.y,
            }
        }

        fn across(self) -> Axis {
            match self {
                Axis::X => Axis::Y,
                Axis::Y => Axis::X,
            }
        }

        /// The point at `at` on this axis and `along` on the other.
        fn point(self, at: f64, along: f64) -> Coord<f64> {
            match self {
                Axis::X => Coord { x: at, y: along },
                Axis::Y => Coord { x: along, y: at },
            }
        }

        fn low_high(self, rect: Rect<f64>) -> (f64, f64) {
            (self.of(rect.min()), self.of(rect.max()))
        }
    }

    /// The line where `axis` equals `at`.
    #[derive(Debug, Clone, Copy)]
    struct Line {
        axis: Axis,
        at: f64,
    }

    impl Line {
        /// 0 below the line, 1 above (never on it: lines are nudged off vertices and sites).
        fn side(self, c: Coord<f64>) -> usize {
            usize::from(self.axis.of(c) >= self.at)
        }

        /// Where the edge a-b crosses the line, interpolated from its lower end so that the
        /// result does not depend on the edge's direction.
        fn crossing(self, a: Coord<f64>, b: Coord<f64>) -> Coord<f64> {
            let (low, high) = if self.axis.of(a) < self.axis.of(b) {
                (a, b)
            } else {
                (b, a)
            };
            let t = (self.at - self.axis.of(low)) / (self.axis.of(high) - self.axis.of(low));
            let across = self.axis.across();
            let along = across.of(low) + (across.of(high) - across.of(low)) * t;
            self.axis.point(self.at, along)
        }
    }

    /// Cuts `piece` into `shares.len()` pieces whose areas are in proportion to `shares`.
    pub(super) fn partition_by_area(piece: Piece, shares: &[f64]) -> Vec<Piece> {
        let mut pieces = Vec::with_capacity(shares.len());
        partition_by_area_into(piece, shares, &mut pieces);
        pieces
    }

    fn partition_by_area_into(piece: Piece, shares: &[f64], pieces: &mut Vec<Piece>) {
        if shares.len() <= 1 {
            pieces.push(piece);
            return;
        }
        let (low_shares, high_shares) = shares.split_at(shares.len() / 2);
        let fraction = fraction_of(low_shares, high_shares);
        let first = longer_axis(&piece);
        // The other axis's cut is only sought if the first leaves slivers.
        let other = std::iter::once(first.across()).map(|axis| area_cut(&piece, axis, fraction));
        let (_, [low, high]) = least_sliver_cut(&piece, area_cut(&piece, first, fraction), other);
        partition_by_area_into(low, low_shares, pieces);
        partition_by_area_into(high, high_shares, pieces);
    }

    /// Cuts `piece` into `shares.len()` pieces, each with at least one site strictly inside
    /// (when there are enough sites) and site weights in proportion to `shares` as nearly as
    /// whole sites allow. Returns each piece with its sites.
    pub(super) fn partition_by_sites(
        piece: Piece,
        sites: Vec<Site>,
        shares: &[f64],
    ) -> Vec<(Piece, Vec<Site>)> {
        let mut parts = Vec::with_capacity(shares.len());
        partition_by_sites_into(piece, sites, shares, &mut parts);
        parts
    }

    fn partition_by_sites_into(
        piece: Piece,
        mut sites: Vec<Site>,
        shares: &[f64],
        parts: &mut Vec<(Piece, Vec<Site>)>,
    ) {
        if shares.len() <= 1 {
            parts.push((piece, sites));
            return;
        }
        let (low_shares, high_shares) = shares.split_at(shares.len() / 2);
        let fraction = fraction_of(low_shares, high_shares);
        let needed = (low_shares.len(), high_shares.len());
        let first = longer_axis(&piece);
        let (line, [low, high]) = {
            let mut site_cuts = [first, first.across()]
                .into_iter()
                .filter_map(|axis| cut_between_sites(&piece, &mut sites, axis, needed, fraction));
            match site_cuts.next() {
                Some(line) => least_sliver_cut(&piece, line, site_cuts),
                // Too few sites, or stacked on one another: cut by area instead.
                None => {
                    let line = area_cut(&piece, first, fraction);
                    (line, split(&piece, line))
                }
            }
        };
        let (low_sites, high_sites) = sites
            .into_iter()
            .partition(|site| line.side(site.point) == 0);
        partition_by_sites_into(low, low_sites, low_shares, parts);
        partition_by_sites_into(high, high_sites, high_shares, parts);
    }

    fn fraction_of(low_shares: &[f64], high_shares: &[f64]) -> f64 {
        let low: f64 = low_shares.iter().sum();
        let high: f64 = high_shares.iter().sum();
        low / (low + high)
    }

    /// The line across `axis`, between two sites, that leaves at least `needed.0` sites below and
    /// `needed.1` above and puts the weight below nearest to `fraction` of the total.
    fn cut_between_sites(
        piece: &[Polygon<f64>],
        sites: &mut [Site],
        axis: Axis,
        needed: (usize, usize),
        fraction: f64,
    ) -> Option<Line> {
        sites.sort_by(|a, b| {
            axis.of(a.point)
                .total_cmp(&axis.of(b.point))
                .then(a.index.cmp(&b.index))
        });
        let total: u64 = sites.iter().map(|site| u64::from(site.weight)).sum();
        let target = fraction * total as f64;
        let mut best: Option<(f64, Line)> = None;
        let mut below = 0u64;
        for i in 1..sites.len() {
            below += u64::from(sites[i - 1].weight);
            if i < needed.0 || sites.len() - i < needed.1 {
                continue;
            }
            let miss = (below as f64 - target).abs();
            if best
                .as_ref()
                .is_some_and(|(best_miss, _)| *best_miss <= miss)
            {
                continue;
            }
            let (a, b) = (axis.of(sites[i - 1].point), axis.of(sites[i].point));
            let at = off_vertices(piece, axis, a + (b - a) / 2.0);
            if a < at && at < b {
                best = Some((miss, Line { axis, at }));
            }
        }
        best.map(|(_, line)| line)
    }

    /// The cut across `axis` that leaves `fraction` of the piece's area below, found by bisection.
    fn area_cut(piece: &[Polygon<f64>], axis: Axis, fraction: f64) -> Line {
        let Some(bounds) = bounds(piece) else {
            return Line { axis, at: 0.0 };
        };
        let target = fraction * area(piece);
        let (mut low, mut high) = axis.low_high(bounds);
        for _ in 0..64 {
            let middle = low + (high - low) / 2.0;
            if middle <= low || middle >= high {
                break;
            }
            let [below, _] = split(piece, Line { axis, at: middle });
            if area(&below) < target {
                low = middle;
            } else {
                high = middle;
            }
        }
        Line {
            axis,
            at: off_vertices(piece, axis, low + (high - low) / 2.0),
        }
    }

    /// Splits along `first`, unless that leaves slivers the piece did not have and one of
    /// `others` leaves fewer: a cut grazing a bend of the boundary leaves a crumb on one side.
    fn least_sliver_cut(
        piece: &[Polygon<f64>],
        first: Line,
        others: impl IntoIterator<Item = Line>,
    ) -> (Line, [Piece; 2]) {
        let piece_area = area(piece);
        let slivers_before = slivers(piece, piece_area);
        let added = |halves: &[Piece; 2]| {
            let after: usize = halves.iter().map(|half| slivers(half, piece_area)).sum();
            after.saturating_sub(slivers_before)
        };
        let halves = split(piece, first);
        let mut best = (added(&halves), first, halves);
        for line in others {
            if best.0 == 0 {
                break;
            }
            let halves = split(piece, line);
            let slivers = added(&halves);
            if slivers < best.0 {
                best = (slivers, line, halves);
            }
        }
        (best.1, best.2)
    }

    /// The parts that are crumbs (under 1% of `piece_area`) or strips (thinner than about 1:50).
    fn slivers(parts: &[Polygon<f64>], piece_area: f64) -> usize {
        parts
            .iter()
            .filter(|part| {
                let area = part.unsigned_area();
                let thin = part.bounding_rect().is_some_and(|rect| {
                    area < 0.02 * (rect.width().powi(2) + rect.height().powi(2))
                });
                area < 0.01 * piece_area || thin
            })
            .count()
    }

    /// The axis to cut across so that the halves come out squarish: the piece's longer side,
    /// measured in metres (a degree of longitude is shorter than one of latitude).
    fn longer_axis(piece: &[Polygon<f64>]) -> Axis {
        match bounds(piece) {
            Some(rect) if rect.height() > rect.width() * rect.center().y.to_radians().cos() => {
                Axis::Y
            }
            _ => Axis::X,
        }
    }

    /// `at`, or the next float up that no vertex of the piece lies on.
    fn off_vertices(piece: &[Polygon<f64>], axis: Axis, at: f64) -> f64 {
        let mut at = at;
        while coords(piece).any(|c| axis.of(c) == at) {
            at = at.next_up();
        }
        at
    }

    pub(super) fn coords(piece: &[Polygon<f64>]) -> impl Iterator<Item = Coord<f64>> + '_ {
        piece.iter().flat_map(|polygon| {
            std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .flat_map(|ring| ring.0.iter().copied())
        })
    }

    fn bounds(piece: &[Polygon<f64>]) -> Option<Rect<f64>> {
        crate::measure::extent(piece.iter().filter_map(|polygon| polygon.bounding_rect()))
    }

    fn area(piece: &[Polygon<f64>]) -> f64 {
        piece.iter().map(Area::unsigned_area).sum()
    }

    /// Cuts every polygon of the piece along the line: the parts below it and the parts above.
    fn split(piece: &[Polygon<f64>], line: Line) -> [Piece; 2] {
        let mut halves = [Vec::new(), Vec::new()];
        for polygon in piece {
            let [low, high] = split_polygon(polygon, line);
            halves[0].extend(low);
            halves[1].extend(high);
        }
        halves
    }

    /// A run of a ring's vertices on one side of the line, from the crossing where the ring
    /// enters that side to the crossing where it leaves.
    struct Chain {
        side: usize,
        entry: usize,
        exit: usize,
        points: Vec<Coord<f64>>,
    }

    /// Cuts one polygon along the line.
    ///
    /// Along the line, the polygon's inside is the stretch from the 1st crossing to the 2nd, from
    /// the 3rd to the 4th, and so on (sorted along the line). On either side, the boundary of a
    /// part leaves the side at one end of such a stretch, follows the line to the other end and
    /// goes on with the chain that enters there; rings that never cross stay whole.
    fn split_polygon(polygon: &Polygon<f64>, line: Line) -> [Piece; 2] {
        let mut crossings: Vec<Coord<f64>> = Vec::new();
        let mut chains: Vec<Chain> = Vec::new();
        let mut whole: [Vec<LineString<f64>>; 2] = [Vec::new(), Vec::new()];
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            let points = open(ring);
            let n = points.len();
            if n < 3 {
                continue;
            }
            let sides: Vec<usize> = points.iter().map(|p| line.side(*p)).collect();
            let Some(start) = (0..n).find(|&i| sides[i] != sides[(i + n - 1) % n]) else {
                whole[sides[0]].push(ring.clone());
                continue;
            };
            let first_crossing = crossings.len();
            let mut open_chain: Option<Chain> = None;
            for step in 0..n {
                let i = (start + step) % n;
                let previous = (i + n - 1) % n;
                if sides[i] != sides[previous] {
                    let id = crossings.len();
                    let point = line.crossing(points[previous], points[i]);
                    crossings.push(point);
                    if let Some(mut chain) = open_chain.take() {
                        chain.points.push(point);
                        chain.exit = id;
                        chains.push(chain);
                    }
                    open_chain = Some(Chain {
                        side: sides[i],
                        entry: id,
                        exit: id,
                        points: vec![point],
                    });
                }
                if let Some(chain) = open_chain.as_mut() {
                    chain.points.push(points[i]);
                }
            }
            if let Some(mut chain) = open_chain {
                chain.points.push(crossings[first_crossing]);
                chain.exit = first_crossing;
                chains.push(chain);
            }
        }

        let partner = stretch_partners(&crossings, line.axis.across());
        let mut halves = [Vec::new(), Vec::new()];
        for (side, half) in halves.iter_mut().enumerate() {
            let mut exteriors = join_chains(&chains, side, &partner);
            let mut holes = Vec::new();
            for ring in std::mem::take(&mut whole[side]) {
                if signed_area(open(&ring)) > 0.0 {
                    exteriors.push(ring);
                } else {
                    holes.push(ring);
                }
            }
            *half = with_holes(exteriors, holes);
        }
        halves
    }

    /// For each crossing, the crossing at the other end of its stretch of inside along the line.
    fn stretch_partners(crossings: &[Coord<f64>], along: Axis) -> Vec<usize> {
        let mut order: Vec<usize> = (0..crossings.len()).collect();
        order.sort_by(|&a, &b| {
            along
                .of(crossings[a])
                .total_cmp(&along.of(crossings[b]))
                .then(a.cmp(&b))
        });
        let mut partner: Vec<usize> = (0..crossings.len()).collect();
        for pair in order.chunks_exact(2) {
            partner[pair[0]] = pair[1];
            partner[pair[1]] = pair[0];
        }
        partner
    }

    /// The closed rings of one side: each chain, then the line to the partner of its exit, where
    /// the next chain enters.
    fn join_chains(chains: &[Chain], side: usize, partner: &[usize]) -> Vec<LineString<f64>> {
        let mut entering = vec![None; partner.len()];
        for (index, chain) in chains.iter().enumerate() {
            if chain.side == side {
                entering[chain.entry] = Some(index);
            }
        }
        let mut used = vec![false; chains.len()];
        let mut rings = Vec::new();
        for first in 0..chains.len() {
            if chains[first].side != side || used[first] {
                continue;
            }
            let mut points = Vec::new();
            let mut current = first;
            loop {
                used[current] = true;
                points.extend_from_slice(&chains[current].points);
                match entering[partner[chains[current].exit]] {
                    Some(next) if next != first && !used[next] => current = next,
                    _ => break,
                }
            }
            rings.extend(closed_ring(points));
        }
        rings
    }

    /// Polygons from exterior rings and the holes that fall inside them.
    fn with_holes(exteriors: Vec<LineString<f64>>, holes: Vec<LineString<f64>>) -> Piece {
        let mut interiors: Vec<Vec<LineString<f64>>> = vec![Vec::new(); exteriors.len()];
        for hole in holes {
            let Some(&probe) = hole.0.first() else {
                continue;
            };
            if let Some(owner) = exteriors.iter().position(|ring| ring_contains(ring, probe)) {
                interiors[owner].push(hole);
            }
        }
        exteriors
            .into_iter()
            .zip(interiors)
            .map(|(exterior, interiors)| Polygon::new(exterior, interiors))
            .collect()
    }

    /// A ring's vertices without the closing repeat of the first.
    fn open(ring: &LineString<f64>) -> &[Coord<f64>] {
        match ring.0.as_slice() {
            [first, .., last] if first == last => &ring.0[..ring.0.len() - 1],
            points => points,
        }
    }

    /// A closed ring from the points, without repeated points; `None` if nothing is left of it.
    fn closed_ring(mut points: Vec<Coord<f64>>) -> Option<LineString<f64>> {
        points.dedup();
        while points.len() > 1 && points.first() == points.last() {
            points.pop();
        }
        if points.len() < 3 || signed_area(&points) == 0.0 {
            return None;
        }
        points.push(points[0]);
        Some(LineString::new(points))
    }

    /// The shoelace area, positive for counter-clockwise rings.
    fn signed_area(points: &[Coord<f64>]) -> f64 {
        let n = points.len();
        (0..n)
            .map(|i| {
                let (a, b) = (points[i], points[(i + 1) % n]);
                a.x * b.y - b.x * a.y
            })
            .sum::<f64>()
            / 2.0
    }

    /// Even-odd point-in-ring test.
    fn ring_contains(ring: &LineString<f64>, point: Coord<f64>) -> bool {
        let mut inside = false;
        for edge in ring.lines() {
            let (a, b) = (edge.start, edge.end);
            if (a.y > point.y) != (b.y > point.y) {
                let x = a.x + (point.y - a.y) * (b.x - a.x) / (b.y - a.y);
                if point.x < x {
                    inside = !inside;
                }
            }
        }
        inside
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use geo::polygon;

        fn square() -> Polygon<f64> {
            polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 2.0), (x: 0.0, y: 2.0)]
        }

        /// A "U" open to the north: cutting it across its arms gives two parts above the cut.
        fn u_shape() -> Polygon<f64> {
            polygon![
                (x: 0.0, y: 0.0), (x: 3.0, y: 0.0), (x: 3.0, y: 3.0), (x: 2.0, y: 3.0),
                (x: 2.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.0, y: 3.0), (x: 0.0, y: 3.0),
            ]
        }

        #[test]
        fn a_square_cut_in_two_gives_two_rectangles() {
            let [low, high] = split(
                &[square()],
                Line {
                    axis: Axis::X,
                    at: 0.5,
                },
            );
            assert_eq!((low.len(), high.len()), (1, 1));
            assert_eq!(area(&low), 1.0);
            assert_eq!(area(&high), 3.0);
        }

        #[test]
        fn a_u_cut_across_its_arms_gives_two_arms_and_a_base() {
            let [low, high] = split(
                &[u_shape()],
                Line {
                    axis: Axis::Y,
                    at: 2.0,
                },
            );
            assert_eq!((low.len(), high.len()), (1, 2));
            assert_eq!(area(&low), 5.0);
            assert_eq!(area(&high), 2.0);
            assert!(high.iter().all(|p| signed_area(open(p.exterior())) > 0.0));
        }

        #[test]
        fn holes_go_with_their_side() {
            let hole = LineString::from(vec![
                (0.5, 0.5),
                (0.5, 1.5),
                (1.5, 1.5),
                (1.5, 0.5),
                (0.5, 0.5),
            ]);
            let holed = Polygon::new(square().exterior().clone(), vec![hole]);
            let [low, high] = split(
                std::slice::from_ref(&holed),
                Line {
                    axis: Axis::X,
                    at: 1.75,
                },
            );
            assert_eq!(low[0].interiors().len(), 1);
            assert_eq!(area(&low) + area(&high), 3.0);
            // Cut through the hole: no hole is left, and the area is kept.
            let [low, high] = split(
                &[holed],
                Line {
                    axis: Axis::X,
                    at: 1.0,
                },
            );
            assert_eq!(area(&low) + area(&high), 3.0);
            assert!(low.iter().chain(&high).all(|p| p.interiors().is_empty()));
        }

        #[test]
        fn area_partition_follows_the_shares() {
            let pieces = partition_by_area(vec![u_shape()], &[1.0, 2.0, 1.0]);
            let areas: Vec<f64> = pieces.iter().map(|p| area(p)).collect();
            for (area, expected) in areas.iter().zip([1.75, 3.5, 1.75]) {
                assert!((area - expected).abs() < 1e-9, "{areas:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
