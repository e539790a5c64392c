//! Mapbox Vector Tiles (MVT 2.1) of the hierarchy, one layer per level, for front-end maps
//! (MapLibre, OpenLayers, Leaflet plugins) that draw grids by the tens of thousands.
//!
//! A tile `z/x/y` is the usual XYZ (Google/OSM) square of Web Mercator (EPSG:3857). Geometry
//! goes through three steps, all here:
//!
//! 1. **Simplified for the zoom** without gaps: each level is a [`Coverage`] whose shared arcs
//!    are simplified once per zoom at half a tile pixel ([`tolerance`]), in Web Mercator, and
//!    cached per zoom inside the [`TileSet`] (built lazily, on the first tile that needs it).
//! 2. **Clipped** to the tile plus a [`BUFFER`] of 64 tile units on every side (so that strokes
//!    do not show seams at tile edges), by Sutherland-Hodgman against the buffered square;
//!    an edge crossing the clip line is cut at the same point whichever way it runs, so shared
//!    edges stay shared in the buffer too.
//! 3. **Encoded** with the `mvt` crate in tile coordinates (extent [`EXTENT`] = 4096), exterior
//!    rings clockwise on screen (positive area, y down), holes the other way; rings that
//!    collapse to less than three points or no area when rounded to the tile grid are dropped.
//!
//! # Layers and zooms
//! | layer | level | zooms |
//! |---|---|---|
//! | `city` | [`Level::City`] | 0-16 |
//! | `district` | [`Level::District`] | 8-16 |
//! | `street` | [`Level::Street`] | 10-16 |
//! | `community` | [`Level::Community`] | 11-16 |
//! | `grid` | [`Level::Grid`] | 12-16 |
//! | `micro_grid` | [`Level::MicroGrid`] | 14-16 |
//!
//! A grid (~400 households) is a few hundred metres across, about 10 pixels at zoom 12;
//! a micro-grid (~45) a few tens of metres, so only from zoom 14. Past [`MAX_ZOOM`] = 16
//! (about 2.4 m per pixel at Chengdu's latitude, a tolerance of 1 m) clients over-zoom.
//!
//! Each feature's id is the unit's id; its properties are `code`, `name`, `level`
//! (`GRID`, ...), `householdCount` and, for grids and micro-grids, `load`: `under`, `ok` or
//! `over` ([`load_status`]).

use std::sync::{Arc, OnceLock};

use geo::{BoundingRect, Coord, MapCoords, MultiPolygon, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::coverage::{Coverage, SimplifiedArcs};
use crate::index::Slot;
use crate::{Index, Level, UnitId};

/// Tile units along a tile's side (MVT's usual extent).
pub const EXTENT: u32 = 4096;
/// Tile units of geometry kept beyond each edge of the tile.
pub const BUFFER: u32 = 64;
/// The deepest zoom served; clients over-zoom past it.
pub const MAX_ZOOM: u8 = 16;
/// Vertices of different rings this close (in Web Mercator units of the whole world's width,
/// about 4 mm at the equator) count as one edge's, when the coverage is noded.
const NODE_TOLERANCE: f64 = 1e-10;
/// The most a Web Mercator map shows: latitudes past ±85.05° are clamped.
const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// Why a tile cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The zoom is past [`MAX_ZOOM`].
    #[error("zoom {z} is out of range 0-{MAX_ZOOM}")]
    ZoomOutOfRange { z: u32 },
    /// `x` or `y` is not below `2^z`.
    #[error("tile {z}/{x}/{y} is out of range: x and y run from 0 to {}", (1u64 << z) - 1)]
    TileOutOfRange { z: u8, x: u32, y: u32 },
    /// The MVT encoder refused the geometry.
    #[error("cannot encode the tile: {0}")]
    Encode(String),
}

/// A tile's address: zoom, column (from the antimeridian, eastward), row (from the north).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// A checked tile address.
    ///
    /// ```
    /// use geodata::tiles::{TileError, TileId};
    /// assert!(TileId::new(12, 3234, 1707).is_ok());
    /// assert_eq!(TileId::new(1, 2, 0), Err(TileError::TileOutOfRange { z: 1, x: 2, y: 0 }));
    /// assert_eq!(TileId::new(17, 0, 0), Err(TileError::ZoomOutOfRange { z: 17 }));
    /// ```
    ///
    /// # Errors
    /// [`TileError::ZoomOutOfRange`] past [`MAX_ZOOM`], [`TileError::TileOutOfRange`] when `x`
    /// or `y` is `2^z` or more.
    pub fn new(z: u32, x: u32, y: u32) -> Result<TileId, TileError> {
        let z = u8::try_from(z)
            .ok()
            .filter(|z| *z <= MAX_ZOOM)
            .ok_or(TileError::ZoomOutOfRange { z })?;
        let side = 1u64 << z;
        if u64::from(x) >= side || u64::from(y) >= side {
            return Err(TileError::TileOutOfRange { z, x, y });
        }
        Ok(TileId { z, x, y })
    }

    /// The tile holding a WGS84 point at zoom `z` (at most [`MAX_ZOOM`]).
    ///
    /// ```
    /// use geo::Coord;
    /// use geodata::tiles::TileId;
    /// // 春熙路, Chengdu.
    /// let tile = TileId::containing(Coord { x: 104.08, y: 30.655 }, 12);
    /// assert_eq!((tile.x, tile.y), (3232, 1681));
    /// ```
    pub fn containing(point: Coord<f64>, z: u8) -> TileId {
        let z = z.min(MAX_ZOOM);
        let world = to_world(point);
        let side = f64::from(1u32 << z);
        let cell = |v: f64| ((v * side).floor().max(0.0) as u32).min((1u32 << z) - 1);
        TileId {
            z,
            x: cell(world.x),
            y: cell(world.y),
        }
    }

    /// The tile's square in world units (see [`to_world`]).
    pub fn world_bounds(self) -> Rect<f64> {
        let side = f64::from(1u32 << self.z);
        Rect::new(
            Coord {
                x: f64::from(self.x) / side,
                y: f64::from(self.y) / side,
            },
            Coord {
                x: f64::from(self.x + 1) / side,
                y: f64::from(self.y + 1) / side,
            },
        )
    }

    /// The tile's square in WGS84 lon/lat.
    pub fn wgs84_bounds(self) -> Rect<f64> {
        let world = self.world_bounds();
        Rect::new(from_world(world.min()), from_world(world.max()))
    }
}

/// WGS84 lon/lat to Web Mercator in world units: `x` from 0 (180° W) to 1 (180° E), `y` from
/// 0 (85.05° N) to 1 (85.05° S), y down as in tiles.
///
/// ```
/// use geo::Coord;
/// use geodata::tiles::{from_world, to_world};
/// assert_eq!(to_world(Coord { x: 0.0, y: 0.0 }), Coord { x: 0.5, y: 0.5 });
/// let back = from_world(to_world(Coord { x: 104.06, y: 30.67 }));
/// assert!((back.x - 104.06).abs() < 1e-9 && (back.y - 30.67).abs() < 1e-9);
/// ```
pub fn to_world(c: Coord<f64>) -> Coord<f64> {
    let lat = c.y.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    Coord {
        x: (c.x + 180.0) / 360.0,
        y: 0.5 - (lat.tan() + 1.0 / lat.cos()).ln() / (2.0 * std::f64::consts::PI),
    }
}

/// Web Mercator world units back to WGS84 lon/lat (see [`to_world`]).
pub fn from_world(c: Coord<f64>) -> Coord<f64> {
    let n = std::f64::consts::PI * (1.0 - 2.0 * c.y);
    Coord {
        x: c.x * 360.0 - 180.0,
        y: n.sinh().atan().to_degrees(),
    }
}

/// The simplification tolerance at zoom `z`, in world units: half a tile unit.
pub fn tolerance(z: u8) -> f64 {
    0.5 / (f64::from(EXTENT) * f64::from(1u32 << z.min(MAX_ZOOM)))
}

/// The layer name of a level: `city`, `district`, `street`, `community`, `grid`,
/// `micro_grid`.
pub fn layer_name(level: Level) -> &'static str {
    match level {
        Level::City => "city",
        Level::District => "district",
        Level::Street => "street",
        Level::Community => "community",
        Level::Grid => "grid",
        Level::MicroGrid => "micro_grid",
    }
}

/// The first zoom a level's layer is in (see the module doc); every layer runs to
/// [`MAX_ZOOM`].
pub fn min_zoom(level: Level) -> u8 {
    match level {
        Level::City => 0,
        Level::District => 8,
        Level::Street => 10,
        Level::Community => 11,
        Level::Grid => 12,
        Level::MicroGrid => 14,
    }
}

/// A layer's feature properties and their TileJSON types (`String`, `Number`).
pub fn fields(level: Level) -> Vec<(&'static str, &'static str)> {
    let mut fields = vec![
        ("code", "String"),
        ("name", "String"),
        ("level", "String"),
        ("householdCount", "Number"),
    ];
    if level.is_grid() {
        fields.push(("load", "String"));
    }
    fields
}

/// The load of a grid or micro-grid against the common staffing standards: a grid worker
/// looks after 300-500 households, a micro-grid volunteer 30-100. `under` below the range,
/// `over` above it, `ok` within (bounds included); `None` for the other levels.
///
/// ```
/// use geodata::{tiles::load_status, Level};
/// assert_eq!(load_status(Level::Grid, 299), Some("under"));
/// assert_eq!(load_status(Level::Grid, 500), Some("ok"));
/// assert_eq!(load_status(Level::MicroGrid, 101), Some("over"));
/// assert_eq!(load_status(Level::Community, 5000), None);
/// ```
pub fn load_status(level: Level, households: i64) -> Option<&'static str> {
    let (min, max) = match level {
        Level::Grid => (300, 500),
        Level::MicroGrid => (30, 100),
        _ => return None,
    };
    Some(if households < min {
        "under"
    } else if households > max {
        "over"
    } else {
        "ok"
    })
}

/// One unit's share of a tile: polygons of open rings in tile units (the exterior first,
/// positive area with y down; holes negative).
#[derive(Debug, Clone, PartialEq)]
pub struct TileFeature {
    pub slot: Slot,
    pub id: UnitId,
    pub polygons: Vec<Vec<Vec<[i32; 2]>>>,
}

/// The features of one level in a tile.
#[derive(Debug, Clone, PartialEq)]
pub struct TileLayer {
    pub level: Level,
    pub features: Vec<TileFeature>,
}

/// One level's units as a coverage in world units, with an R-tree over their extents and
/// the simplified arcs of each zoom, made on first use.
struct LevelTiles {
    slots: Vec<Slot>,
    coverage: Coverage,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    zooms: Vec<OnceLock<SimplifiedArcs>>,
}

impl LevelTiles {
    fn new(index: &Index, level: Level) -> LevelTiles {
        let slots: Vec<Slot> = (0..index.len() as Slot)
            .filter(|&s| index.unit(s).level == level)
            .collect();
        let world: Vec<MultiPolygon<f64>> = slots
            .iter()
            .map(|&s| index.unit(s).geometry.map_coords(to_world))
            .collect();
        let tree = RTree::bulk_load(
            world
                .iter()
                .enumerate()
                .filter_map(|(owner, polygons)| {
                    let rect = polygons.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners(
                            [rect.min().x, rect.min().y],
                            [rect.max().x, rect.max().y],
                        ),
                        owner as u32,
                    ))
                })
                .collect(),
        );
        LevelTiles {
            slots,
            coverage: Coverage::new(&world, NODE_TOLERANCE),
            tree,
            zooms: (0..=MAX_ZOOM).map(|_| OnceLock::new()).collect(),
        }
    }

    fn arcs(&self, z: u8) -> &SimplifiedArcs {
        self.zooms[usize::from(z)].get_or_init(|| self.coverage.simplify(tolerance(z)))
    }
}

/// Everything needed to cut the tiles of one [`Index`] (one grid system): per level, the
/// coverage of its units and their simplified arcs per zoom, each made on first use and kept.
/// Build one per index and drop it with the index.
///
/// ```
/// use std::sync::Arc;
/// use geo::{polygon, MultiPolygon};
/// use geodata::tiles::{TileId, TileSet};
/// use geodata::{GridKind, Index, Level, Unit};
/// let square = |id, x: f64| Unit {
///     id, code: format!("G{id}"), name: format!("grid {id}"), level: Level::Grid,
///     kind: GridKind::General, parent: None,
///     geometry: MultiPolygon::new(vec![polygon![
///         (x: x, y: 30.65), (x: x + 0.01, y: 30.65), (x: x + 0.01, y: 30.66), (x: x, y: 30.66),
///     ]]),
/// };
/// let tiles = TileSet::new(Arc::new(Index::new(vec![square(1, 104.07), square(2, 104.08)])));
/// let tile = TileId::containing(geo::Coord { x: 104.08, y: 30.655 }, 14);
/// let layers = tiles.layers(tile);
/// assert_eq!(layers.len(), 1);
/// assert_eq!(layers[0].features.len(), 2);
/// let mvt = tiles.encode(&layers, |_| 420)?;
/// assert!(!mvt.is_empty());
/// # Ok::<(), geodata::tiles::TileError>(())
/// ```
pub struct TileSet {
    index: Arc<Index>,
    levels: Vec<OnceLock<LevelTiles>>,
}

impl std::fmt::Debug for TileSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileSet")
            .field("units", &self.index.len())
            .finish()
    }
}

impl TileSet {
    /// A tile set over `index`; nothing is computed until a tile asks for it.
    pub fn new(index: Arc<Index>) -> TileSet {
        TileSet {
            index,
            levels: Level::ALL.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// The index the tiles are cut from.
    pub fn index(&self) -> &Arc<Index> {
        &self.index
    }

    /// The WGS84 extent of every unit, if there is any.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        crate::measure::extent(
            self.index
                .units()
                .iter()
                .filter_map(|u| u.geometry.bounding_rect()),
        )
    }

    /// Builds the coverages and the simplified arcs of `zooms` for every level shown at
    /// them, so that later tiles pay for neither.
    pub fn prepare(&self, zooms: impl IntoIterator<Item = u8>) {
        for z in zooms {
            for level in Level::ALL.into_iter().filter(|l| min_zoom(*l) <= z) {
                self.level(level).arcs(z.min(MAX_ZOOM));
            }
        }
    }

    fn level(&self, level: Level) -> &LevelTiles {
        self.levels[level.depth()].get_or_init(|| LevelTiles::new(&self.index, level))
    }

    /// The features of every level shown at the tile's zoom, simplified and clipped, in tile
    /// units; levels without a feature in the tile are left out.
    ///
    /// # Performance
    /// The first tile of a level pays for its coverage (noding and arcs, linear-logarithmic
    /// in its vertices); the first tile of a zoom for simplifying that level's arcs once. Then
    /// a tile costs an R-tree query and its features' vertices.
    pub fn layers(&self, tile: TileId) -> Vec<TileLayer> {
        let world = tile.world_bounds();
        let scale = f64::from(EXTENT) * f64::from(1u32 << tile.z);
        let margin = f64::from(BUFFER) / scale;
        let query = AABB::from_corners(
            [world.min().x - margin, world.min().y - margin],
            [world.max().x + margin, world.max().y + margin],
        );
        let (low, high) = (-f64::from(BUFFER), f64::from(EXTENT + BUFFER));
        let to_tile = |c: &Coord<f64>| Coord {
            x: (c.x - world.min().x) * scale,
            y: (c.y - world.min().y) * scale,
        };
        let mut layers = Vec::new();
        for level in Level::ALL {
            if min_zoom(level) > tile.z {
                continue;
            }
            let tiles = self.level(level);
            if tiles.slots.is_empty() {
                continue;
            }
            let arcs = tiles.arcs(tile.z);
            let mut owners: Vec<u32> = tiles
                .tree
                .locate_in_envelope_intersecting(query)
                .map(|e| e.data)
                .collect();
            owners.sort_unstable();
            let mut features = Vec::new();
            for owner in owners {
                let mut polygons = Vec::new();
                tiles
                    .coverage
                    .for_each_polygon(arcs, owner as usize, |rings| {
                        let mut out: Vec<Vec<[i32; 2]>> = Vec::with_capacity(rings.len());
                        for (i, ring) in rings.iter().enumerate() {
                            let local: Vec<Coord<f64>> = ring.iter().map(to_tile).collect();
                            let clipped = clip_ring(&local, low, high);
                            match tile_ring(&clipped, i == 0) {
                                Some(ring) => out.push(ring),
                                None if i == 0 => return,
                                None => {}
                            }
                        }
                        polygons.push(out);
                    });
                if !polygons.is_empty() {
                    let slot = tiles.slots[owner as usize];
                    features.push(TileFeature {
                        slot,
                        id: self.index.unit(slot).id,
                        polygons,
                    });
                }
            }
            if !features.is_empty() {
                layers.push(TileLayer { level, features });
            }
        }
        layers
    }

    /// Encodes layers from [`TileSet::layers`] as an MVT 2.1 tile, with `households` giving
    /// each unit's household count.
    ///
    /// # Errors
    /// [`TileError::Encode`] if the encoder refuses a geometry (it should not).
    pub fn encode(
        &self,
        layers: &[TileLayer],
        households: impl Fn(UnitId) -> i64,
    ) -> Result<Vec<u8>, TileError> {
        let failed = |e: mvt::Error| TileError::Encode(e.to_string());
        let mut tile = mvt::Tile::new(EXTENT);
        for layer in layers {
            let mut out = tile.create_layer(layer_name(layer.level));
            for feature in &layer.features {
                let mut geometry = mvt::GeomEncoder::new(mvt::GeomType::Polygon);
                let mut last: Option<[i32; 2]> = None;
                for ring in feature.polygons.iter().flatten() {
                    // The encoder drops a ring's opening MoveTo if it repeats the point
                    // before it: start such a ring one vertex later.
                    let start = usize::from(last == ring.first().copied());
                    for i in 0..ring.len() {
                        let [x, y] = ring[(start + i) % ring.len()];
                        geometry.add_point(x, y).map_err(failed)?;
                    }
                    last = ring.get((start + ring.len() - 1) % ring.len()).copied();
                    geometry.complete_geom().map_err(failed)?;
                }
                let unit = self.index.unit(feature.slot);
                let count = households(unit.id);
                let mut encoded = out.into_feature(geometry.encode().map_err(failed)?);
                encoded.set_id(u64::try_from(unit.id).unwrap_or_default());
                encoded.add_tag_string("code", &unit.code);
                encoded.add_tag_string("name", &unit.name);
                encoded.add_tag_string("level", unit.level.as_str());
                encoded.add_tag_sint("householdCount", count);
                if let Some(load) = load_status(unit.level, count) {
                    encoded.add_tag_string("load", load);
                }
                out = encoded.into_layer();
            }
            tile.add_layer(out).map_err(failed)?;
        }
        tile.to_bytes().map_err(failed)
    }
}

/// Clips an open ring to the square `[low, high]²` (Sutherland-Hodgman); the result may run
/// along the square's edges, which is what tiles want.
fn clip_ring(ring: &[Coord<f64>], low: f64, high: f64) -> Vec<Coord<f64>> {
    let (mut min, mut max) = (
        Coord {
            x: f64::MAX,
            y: f64::MAX,
        },
        Coord {
            x: f64::MIN,
            y: f64::MIN,
        },
    );
    for c in ring {
        min = Coord {
            x: min.x.min(c.x),
            y: min.y.min(c.y),
        };
        max = Coord {
            x: max.x.max(c.x),
            y: max.y.max(c.y),
        };
    }
    if min.x >= low && min.y >= low && max.x <= high && max.y <= high {
        return ring.to_vec();
    }
    if max.x < low || max.y < low || min.x > high || min.y > high {
        return Vec::new();
    }
    let mut current = ring.to_vec();
    // (axis, bound, keep the side >= bound)
    for (axis_x, bound, above) in [
        (true, low, true),
        (true, high, false),
        (false, low, true),
        (false, high, false),
    ] {
        let value = |c: &Coord<f64>| if axis_x { c.x } else { c.y };
        let inside = |c: &Coord<f64>| (value(c) >= bound) == above || value(c) == bound;
        let cut = |a: Coord<f64>, b: Coord<f64>| {
            // The same point whichever way the edge runs.
            let (p, q) = if (a.x, a.y) <= (b.x, b.y) {
                (a, b)
            } else {
                (b, a)
            };
            let t = (bound - value(&p)) / (value(&q) - value(&p));
            if axis_x {
                Coord {
                    x: bound,
                    y: p.y + (q.y - p.y) * t,
                }
            } else {
                Coord {
                    x: p.x + (q.x - p.x) * t,
                    y: bound,
                }
            }
        };
        let input = std::mem::take(&mut current);
        let Some(&last) = input.last() else {
            return Vec::new();
        };
        let mut previous = last;
        for &c in &input {
            match (inside(&previous), inside(&c)) {
                (true, true) => current.push(c),
                (true, false) => current.push(cut(previous, c)),
                (false, true) => {
                    current.push(cut(previous, c));
                    current.push(c);
                }
                (false, false) => {}
            }
            previous = c;
        }
    }
    current
}

/// A clipped ring rounded to tile units, open, without repeats, oriented for MVT (exterior
/// positive area with y down, holes negative); `None` when it collapses.
fn tile_ring(ring: &[Coord<f64>], exterior: bool) -> Option<Vec<[i32; 2]>> {
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(ring.len());
    for c in ring {
        let p = [c.x.round() as i32, c.y.round() as i32];
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    if out.len() < 3 {
        return None;
    }
    let area: i64 = (0..out.len())
        .map(|i| {
            let (a, b) = (out[i], out[(i + 1) % out.len()]);
            i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
        })
        .sum();
    if area == 0 {
        return None;
    }
    if (area > 0) != exterior {
        out.reverse();
    }
    Some(out)
}

#[cfg(test)]
mod tests;
