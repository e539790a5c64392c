//! Vector tiles for front-end maps: `GET /tiles/{system}/{z}/{x}/{y}.mvt` (Mapbox Vector Tile
//! 2.1, one layer per level, cut by `geodata::tiles`) and `GET /tiles/{system}.json`
//! (TileJSON 3.0.0).
//!
//! Encoded tiles are kept in memory ([`TileCache`]), bounded in bytes, for the catalog they
//! were cut from: a swapped catalog (after any committed change of units) empties the cache,
//! and so does a tile's age past [`MAX_AGE`], since household counts change without a swap.
//! Each grid system's `geodata::tiles::TileSet` (its coverages and per-zoom simplified arcs)
//! lives as long as its catalog, so the first tile of a level or a zoom pays for them once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use entity::unit;
use geodata::tiles::{self, TileError, TileId, TileLayer, TileSet};
use geodata::{Level, UnitId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{json, Map, Value};

use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};
use crate::service::off_the_runtime;
use crate::service::systems::list_systems;
use crate::state::AppState;

/// The media type of a Mapbox Vector Tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
/// The longest a tile is served from the cache: household counts change without a catalog
/// swap, so a cached tile's counts are at most this old.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// The most bytes of encoded tiles kept; the oldest go first.
const CACHE_BYTES: usize = 64 << 20;
/// Unit ids per count query.
const IDS_PER_QUERY: usize = 1000;
/// The zoom TileJSON's `center` suggests: grids show from here.
const CENTER_ZOOM: u8 = 12;

/// Registers the `/tiles` routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/tiles/{system}/{z}/{x}/{y}", web::get().to(tile))
        .route("/tiles/{document}", web::get().to(tilejson))
        .route("/tiles/{rest:.*}", web::get().to(no_such_path));
}

/// Encoded tiles of the current catalog, and each grid system's tile set.
#[derive(Debug, Default)]
pub struct TileCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    /// The catalog everything below was cut from.
    catalog: Weak<Catalog>,
    sets: HashMap<i64, Arc<TileSet>>,
    tiles: HashMap<(i64, TileId), (Bytes, Instant)>,
    /// Insertion order, for eviction.
    order: VecDeque<(i64, TileId)>,
    bytes: usize,
}

impl CacheInner {
    /// Forgets everything if `catalog` is not the one the cache was filled from.
    fn follow(&mut self, catalog: &Arc<Catalog>) {
        if !Weak::ptr_eq(&self.catalog, &Arc::downgrade(catalog)) {
            *self = CacheInner {
                catalog: Arc::downgrade(catalog),
                ..CacheInner::default()
            };
        }
    }
}

impl TileCache {
    /// Drops every tile and tile set (the catalog was swapped).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner = CacheInner::default();
        }
    }

    /// Drops the encoded tiles but keeps the tile sets (the geometry did not change; the
    /// household counts the tiles carry did).
    pub fn forget_counts(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.tiles.clear();
            inner.order.clear();
            inner.bytes = 0;
        }
    }

    fn lock(&self) -> ApiResult<std::sync::MutexGuard<'_, CacheInner>> {
        self.inner
            .lock()
            .map_err(|_| ApiError::Internal("the tile cache lock is poisoned".to_owned()))
    }

    /// A cached tile of `catalog`, if it is young enough.
    pub fn get(&self, catalog: &Arc<Catalog>, system: i64, tile: TileId) -> Option<Bytes> {
        let mut inner = self.lock().ok()?;
        inner.follow(catalog);
        inner
            .tiles
            .get(&(system, tile))
            .filter(|(_, made)| made.elapsed() < MAX_AGE)
            .map(|(bytes, _)| bytes.clone())
    }

    /// Keeps a tile cut from `catalog`, evicting the oldest past the byte budget.
    pub fn insert(&self, catalog: &Arc<Catalog>, system: i64, tile: TileId, bytes: Bytes) {
        let Ok(mut inner) = self.lock() else { return };
        inner.follow(catalog);
        let size = bytes.len();
        if let Some((old, _)) = inner.tiles.insert((system, tile), (bytes, Instant::now())) {
            inner.bytes -= old.len();
        } else {
            inner.order.push_back((system, tile));
        }
        inner.bytes += size;
        while inner.bytes > CACHE_BYTES {
            let Some(key) = inner.order.pop_front() else {
                break;
            };
            if let Some((old, _)) = inner.tiles.remove(&key) {
                inner.bytes -= old.len();
            }
        }
    }

    /// The tile set of a grid system of `catalog`, made on first use.
    ///
    /// # Errors
    /// `NOT_FOUND` for an unknown system.
    pub fn tile_set(&self, catalog: &Arc<Catalog>, system: i64) -> ApiResult<Arc<TileSet>> {
        let index = Arc::clone(catalog.index(system)?);
        let mut inner = self.lock()?;
        inner.follow(catalog);
        Ok(Arc::clone(
            inner
                .sets
                .entry(system)
                .or_insert_with(|| Arc::new(TileSet::new(index))),
        ))
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError::NotFound(format!(
        "{what}: tiles are at /tiles/{{system}}/{{z}}/{{x}}/{{y}}.mvt (z 0-{}), TileJSON at /tiles/{{system}}.json",
        tiles::MAX_ZOOM
    ))
}

/// The tile address of a request path, or `NOT_FOUND`.
fn parse_tile(system: &str, z: &str, x: &str, y: &str) -> ApiResult<(i64, TileId)> {
    let bad = || not_found(&format!("no tile at /tiles/{system}/{z}/{x}/{y}"));
    let system: i64 = system.parse().map_err(|_| bad())?;
    let y = y.strip_suffix(".mvt").ok_or_else(bad)?;
    let number = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let tile = TileId::new(number(z)?, number(x)?, number(y)?).map_err(|e| match e {
        TileError::ZoomOutOfRange { .. } | TileError::TileOutOfRange { .. } => {
            ApiError::NotFound(e.to_string())
        }
        TileError::Encode(message) => ApiError::Internal(message),
    })?;
    Ok((system, tile))
}

async fn tile(
    state: Data<AppState>,
    path: web::Path<(String, String, String, String)>,
) -> HttpResponse {
    respond(async {
        let (system, z, x, y) = path.into_inner();
        let (system, tile) = parse_tile(&system, &z, &x, &y)?;
        let catalog = state.catalog()?;
        let bytes = match state.tiles.get(&catalog, system, tile) {
            Some(bytes) => bytes,
            None => {
                let bytes = Bytes::from(cut(&state, &catalog, system, tile).await?);
                state.tiles.insert(&catalog, system, tile, bytes.clone());
                bytes
            }
        };
        Ok(HttpResponse::Ok().content_type(MVT).body(bytes))
    })
    .await
}

/// Cuts and encodes one tile (off the async workers), with the stored household counts.
pub async fn cut(
    state: &AppState,
    catalog: &Arc<Catalog>,
    system: i64,
    tile: TileId,
) -> ApiResult<Vec<u8>> {
    let set = state.tiles.tile_set(catalog, system)?;
    let cutter = Arc::clone(&set);
    let layers: Vec<TileLayer> = off_the_runtime(move || cutter.layers(tile)).await?;
    let ids: Vec<UnitId> = layers
        .iter()
        .flat_map(|l| l.features.iter().map(|f| f.id))
        .collect();
    let counts = household_counts(&state.db, &ids).await?;
    set.encode(&layers, |id| counts.get(&id).copied().unwrap_or_default())
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The stored household counts of some units.
async fn household_counts(
    db: &impl ConnectionTrait,
    ids: &[UnitId],
) -> ApiResult<HashMap<UnitId, i64>> {
    let mut counts = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows: Vec<(i64, i64)> = unit::Entity::find()
            .select_only()
            .columns([unit::Column::Id, unit::Column::HouseholdCount])
            .filter(unit::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        counts.extend(rows);
    }
    Ok(counts)
}

async fn tilejson(
    request: HttpRequest,
    state: Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    respond(async {
        let document = path.into_inner();
        let system: i64 = document
            .strip_suffix(".json")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| not_found(&format!("no document /tiles/{document}")))?;
        let catalog = state.catalog()?;
        let set = state.tiles.tile_set(&catalog, system)?;
        let name = list_systems(&state.db)
            .await?
            .into_iter()
            .find(|s| s.id == system)
            .map_or_else(|| system.to_string(), |s| s.name);
        let template = {
            let info = request.connection_info();
            format!(
                "{}://{}/tiles/{system}/{{z}}/{{x}}/{{y}}.mvt",
                info.scheme(),
                info.host()
            )
        };
        let bounds = off_the_runtime(move || set.bounds()).await?;
        let (bounds, center) = match bounds {
            Some(b) => (
                json!([b.min().x, b.min().y, b.max().x, b.max().y]),
                json!([b.center().x, b.center().y, CENTER_ZOOM]),
            ),
            None => (json!([-180.0, -85.051_128_779_806_59, 180.0, 85.051_128_779_806_59]), json!([0.0, 0.0, 0])),
        };
        let layers: Vec<Value> = Level::ALL
            .into_iter()
            .map(|level| {
                let fields: Map<String, Value> = tiles::fields(level)
                    .into_iter()
                    .map(|(field, kind)| (field.to_owned(), Value::from(kind)))
                    .collect();
                json!({
                    "id": tiles::layer_name(level),
                    "description": format!("{} units; feature id = unit id", level.as_str()),
                    "fields": fields,
                    "minzoom": tiles::min_zoom(level),
                    "maxzoom": tiles::MAX_ZOOM,
                })
            })
            .collect();
        Ok(HttpResponse::Ok().json(json!({
            "tilejson": "3.0.0",
            "name": format!("GridMap: {name}"),
            "description": "Grid-governance units, one layer per level; load is under/ok/over against 300-500 households per grid, 30-100 per micro-grid",
            "scheme": "xyz",
            "tiles": [template],
            "minzoom": 0,
            "maxzoom": tiles::MAX_ZOOM,
            "bounds": bounds,
            "center": center,
            "vector_layers": layers,
            "attribution": geodata::demo::ATTRIBUTION,
        })))
    })
    .await
}

async fn no_such_path(request: HttpRequest) -> HttpResponse {
    let path = request.path().to_owned();
    respond(async move { Err(not_found(&format!("no such path {path}"))) }).await
}

/// The JSON error body of the other REST routes: `{"error": {code, message}}`.
async fn respond(
    handler: impl std::future::Future<Output = ApiResult<HttpResponse>>,
) -> HttpResponse {
    match handler.await {
        Ok(response) => response,
        Err(error) => {
            let status = crate::http::status_of(&error);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(error = ?error, "internal error");
            }
            HttpResponse::build(status).json(json!({
                "error": { "code": error.code(), "message": error.to_string() }
            }))
        }
    }
}
