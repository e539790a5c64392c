//! GridMap's geometry engine: the grid hierarchy as polygons, with no database, HTTP or async
//! runtime, so that every algorithm can be tested and benchmarked on its own.
//!
//! The hierarchy runs city → district → street → community → grid → micro-grid ([`Level`]).
//! Every polygon is a [`Unit`] in WGS84 lon/lat. The capabilities, one module each:
//!
//! - [`validate`]: GeoJSON FeatureCollections in, checked [`validate::ImportFeature`]s out;
//! - [`index`]: R-trees per level and [`index::Index::locate`], the chain of units at a point;
//! - [`assign`]: households to their deepest unit, in parallel;
//! - [`topology`]: children outside their parent, overlapping siblings, gaps;
//! - [`codes`]: the unified hierarchical "ID card" codes; [`crs`]: GCJ-02 and BD-09;
//! - [`export`]: RFC 7946 GeoJSON out; [`encoding`]: compact WKB for storage;
//! - [`measure`]: areas in m²; [`demo`]: a deterministic demo city on real Chengdu data;
//! - [`coverage`]: gap-free simplification of shared edges; [`tiles`]: Mapbox Vector Tiles.

pub mod assign;
pub mod codes;
pub mod coverage;
pub mod crs;
pub mod demo;
pub mod encoding;
pub mod export;
pub mod index;
pub mod measure;
pub mod merge;
pub mod quality;
pub mod rebalance;
pub mod tiles;
pub mod topology;
pub mod validate;

use std::fmt;
use std::str::FromStr;

pub use geo::{MultiPolygon, Point};

pub use assign::{assign_households, Assignment};
pub use index::Index;
pub use validate::{parse_units, ImportFeature, ValidationError};

/// A unit's identifier, as stored (the database's primary key).
pub type UnitId = i64;

/// A level of the grid hierarchy, from the whole city down to a volunteer's micro-grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    City,
    District,
    Street,
    Community,
    Grid,
    MicroGrid,
}

impl Level {
    /// Every level, from the top (city) down.
    pub const ALL: [Level; 6] = [
        Level::City,
        Level::District,
        Level::Street,
        Level::Community,
        Level::Grid,
        Level::MicroGrid,
    ];

    /// 0 for the city, 5 for micro-grids.
    pub fn depth(self) -> usize {
        self as usize
    }

    /// The level a unit of this level nests in (`None` for the city).
    pub fn parent(self) -> Option<Level> {
        self.depth().checked_sub(1).map(|d| Level::ALL[d])
    }

    /// The level that tiles a unit of this level (`None` for micro-grids).
    pub fn child(self) -> Option<Level> {
        Level::ALL.get(self.depth() + 1).copied()
    }

    /// Grids and micro-grids belong to a grid system; the levels above are shared by all systems.
    pub fn is_grid(self) -> bool {
        matches!(self, Level::Grid | Level::MicroGrid)
    }

    /// How many digits this level adds to its parent's code: a 4-digit city (GB/T 2260 `5101`),
    /// 2 for the district (`510107`), 3 for the street and the community (the NBS 9- and 12-digit
    /// codes), 3 for the grid (15 digits, as Beijing's DB11 unit-grid code) and 2 for the
    /// micro-grid.
    pub fn code_digits(self) -> usize {
        match self {
            Level::City => 4,
            Level::District => 2,
            Level::Street | Level::Community | Level::Grid => 3,
            Level::MicroGrid => 2,
        }
    }

    /// The GraphQL spelling: `CITY`, `DISTRICT`, ..., `MICRO_GRID`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::City => "CITY",
            Level::District => "DISTRICT",
            Level::Street => "STREET",
            Level::Community => "COMMUNITY",
            Level::Grid => "GRID",
            Level::MicroGrid => "MICRO_GRID",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a level name that is none of [`Level::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level {0:?}: expected one of CITY, DISTRICT, STREET, COMMUNITY, GRID, MICRO_GRID")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Accepts the GraphQL spelling in any case, with `-` or `_` or nothing inside `MICRO_GRID`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match folded.as_str() {
            "CITY" => Ok(Level::City),
            "DISTRICT" => Ok(Level::District),
            "STREET" => Ok(Level::Street),
            "COMMUNITY" => Ok(Level::Community),
            "GRID" => Ok(Level::Grid),
            "MICROGRID" => Ok(Level::MicroGrid),
            _ => Err(UnknownLevel(s.to_owned())),
        }
    }
}

/// Whether a grid is a general grid (a worker's patch of homes) or a dedicated one (an office
/// tower, an industrial park, a campus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GridKind {
    #[default]
    General,
    Dedicated,
}

impl GridKind {
    /// The GraphQL spelling: `GENERAL` or `DEDICATED`.
    pub fn as_str(self) -> &'static str {
        match self {
            GridKind::General => "GENERAL",
            GridKind::Dedicated => "DEDICATED",
        }
    }
}

impl FromStr for GridKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "GENERAL" => Ok(GridKind::General),
            "DEDICATED" => Ok(GridKind::Dedicated),
            _ => Err(format!(
                "unknown grid kind {s:?}: expected GENERAL or DEDICATED"
            )),
        }
    }
}

/// One polygon of the hierarchy, in WGS84 lon/lat.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: UnitId,
    /// The unified hierarchical code, the unit's "ID card" (see [`codes`]).
    pub code: String,
    pub name: String,
    pub level: Level,
    pub kind: GridKind,
    pub parent: Option<UnitId>,
    pub geometry: MultiPolygon<f64>,
}

/// A dwelling or business at a point; households sharing a building key stay together when
/// grids are redrawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    pub id: String,
    /// WGS84 lon/lat.
    pub point: Point<f64>,
    pub persons: u32,
    pub building: Option<String>,
}
