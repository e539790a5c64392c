//! OGC API - Features, Part 1 (Core, GeoJSON), for integrators' GIS tools (QGIS, GDAL's OAPIF
//! driver): a landing page, the conformance classes, one collection per level per grid system
//! (`grid-1`, `community-1`, ...), and their items, paged with `limit`/`offset` and `next`
//! links, filtered by `bbox` (CRS84).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use entity::unit;
use geodata::crs::Crs;
use geodata::index::Slot;
use geodata::{Index, Level};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::service::export::unit_feature;
use crate::service::systems::list_systems;
use crate::state::AppState;

/// Items per page when the client asks for none, and the most it may ask for (OGC's default
/// and recommended limit).
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 10_000;
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const GEOJSON: &str = "application/geo+json";

/// Registers the `/ogc` routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/ogc", web::get().to(landing))
        .route("/ogc/conformance", web::get().to(conformance))
        .route("/ogc/collections", web::get().to(collections))
        .route("/ogc/collections/{id}", web::get().to(collection))
        .route("/ogc/collections/{id}/items", web::get().to(items))
        .route("/ogc/collections/{id}/items/{feature}", web::get().to(item));
}

fn base(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}/ogc", info.scheme(), info.host())
}

async fn landing(request: HttpRequest) -> HttpResponse {
    let base = base(&request);
    HttpResponse::Ok().json(json!({
        "title": "GridMap",
        "description": "Community grid governance units: city, district, street, community, grid, micro-grid.",
        "links": [
            {"href": base, "rel": "self", "type": "application/json", "title": "this document"},
            {"href": format!("{base}/conformance"), "rel": "conformance", "type": "application/json", "title": "conformance classes"},
            {"href": format!("{base}/collections"), "rel": "data", "type": "application/json", "title": "collections"},
        ],
    }))
}

async fn conformance() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "conformsTo": [
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
            "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        ]
    }))
}

/// A collection: one level of one grid system.
struct CollectionId {
    level: Level,
    system: i64,
}

impl CollectionId {
    fn parse(id: &str) -> Result<CollectionId, ApiError> {
        let not_found = || ApiError::NotFound(format!("no collection {id:?}"));
        let (level, system) = id.rsplit_once('-').ok_or_else(not_found)?;
        Ok(CollectionId {
            level: level.parse().map_err(|_| not_found())?,
            system: system.parse().map_err(|_| not_found())?,
        })
    }

    fn id(&self) -> String {
        format!(
            "{}-{}",
            self.level.as_str().to_ascii_lowercase(),
            self.system
        )
    }
}

fn collection_json(base: &str, index: &Index, id: &CollectionId, system_name: &str) -> Value {
    let bounds = geodata::measure::extent(
        index
            .units()
            .iter()
            .filter(|u| u.level == id.level)
            .filter_map(|u| geo::BoundingRect::bounding_rect(&u.geometry)),
    )
    .map(|r| vec![r.min().x, r.min().y, r.max().x, r.max().y])
    .unwrap_or_else(|| vec![-180.0, -90.0, 180.0, 90.0]);
    let href = format!("{base}/collections/{}", id.id());
    json!({
        "id": id.id(),
        "title": format!("{} units of grid system {system_name}", id.level),
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [bounds], "crs": CRS84}},
        "links": [
            {"href": href, "rel": "self", "type": "application/json"},
            {"href": format!("{href}/items"), "rel": "items", "type": GEOJSON},
        ],
    })
}

async fn collections(request: HttpRequest, state: Data<AppState>) -> HttpResponse {
    respond(async {
        let catalog = state.catalog()?;
        let base = base(&request);
        let mut all = Vec::new();
        for system in list_systems(&state.db).await? {
            let index = catalog.index(system.id)?;
            for level in Level::ALL {
                let id = CollectionId { level, system: system.id };
                all.push(collection_json(&base, index, &id, &system.name));
            }
        }
        Ok(HttpResponse::Ok().json(json!({
            "links": [{"href": format!("{base}/collections"), "rel": "self", "type": "application/json"}],
            "collections": all,
        })))
    })
    .await
}

async fn collection(
    request: HttpRequest,
    state: Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    respond(async {
        let id = CollectionId::parse(&path)?;
        let catalog = state.catalog()?;
        let systems = list_systems(&state.db).await?;
        let system = systems
            .iter()
            .find(|s| s.id == id.system)
            .ok_or_else(|| ApiError::NotFound(format!("no collection {:?}", path.as_str())))?;
        let index = catalog.index(system.id)?;
        Ok(HttpResponse::Ok().json(collection_json(&base(&request), index, &id, &system.name)))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct ItemsQuery {
    limit: Option<String>,
    offset: Option<String>,
    bbox: Option<String>,
}

async fn items(
    request: HttpRequest,
    state: Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ItemsQuery>,
) -> HttpResponse {
    respond(async {
        let id = CollectionId::parse(&path)?;
        let catalog = state.catalog()?;
        let index = catalog.index(id.system)?;
        let limit =
            parse_number(query.limit.as_deref(), "limit", DEFAULT_LIMIT)?.clamp(1, MAX_LIMIT);
        let offset = parse_number(query.offset.as_deref(), "offset", 0)?;
        let slots: Vec<Slot> = match query.bbox.as_deref() {
            Some(bbox) => index.intersecting(id.level, parse_bbox(bbox)?),
            None => (0..index.len() as Slot)
                .filter(|&s| index.unit(s).level == id.level)
                .collect(),
        };
        let page: Vec<Slot> = slots.iter().skip(offset).take(limit).copied().collect();
        let features = features(&state, &catalog, id.system, &page).await?;
        let href = format!("{}/collections/{}/items", base(&request), id.id());
        let with = |offset: usize| {
            let bbox = query
                .bbox
                .as_deref()
                .map(|b| format!("&bbox={b}"))
                .unwrap_or_default();
            format!("{href}?limit={limit}&offset={offset}{bbox}")
        };
        let mut links = vec![json!({"href": with(offset), "rel": "self", "type": GEOJSON})];
        if offset + page.len() < slots.len() {
            links.push(json!({"href": with(offset + page.len()), "rel": "next", "type": GEOJSON}));
        }
        if offset > 0 {
            links.push(
                json!({"href": with(offset.saturating_sub(limit)), "rel": "prev", "type": GEOJSON}),
            );
        }
        Ok(HttpResponse::Ok().content_type(GEOJSON).json(json!({
            "type": "FeatureCollection",
            "numberMatched": slots.len(),
            "numberReturned": features.len(),
            "features": features,
            "links": links,
        })))
    })
    .await
}

async fn item(
    request: HttpRequest,
    state: Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    respond(async {
        let (collection, feature) = path.into_inner();
        let id = CollectionId::parse(&collection)?;
        let catalog = state.catalog()?;
        let index = catalog.index(id.system)?;
        let missing = || ApiError::NotFound(format!("no feature {feature:?} in {collection:?}"));
        let slot = feature
            .parse()
            .ok()
            .and_then(|unit_id| index.slot(unit_id))
            .filter(|&s| index.unit(s).level == id.level)
            .ok_or_else(missing)?;
        let mut found = features(&state, &catalog, id.system, &[slot]).await?;
        let mut feature_json = found.pop().ok_or_else(missing)?;
        let href = format!("{}/collections/{}", base(&request), id.id());
        feature_json["links"] = json!([
            {"href": format!("{href}/items/{feature}"), "rel": "self", "type": GEOJSON},
            {"href": href, "rel": "collection", "type": "application/json"},
        ]);
        Ok(HttpResponse::Ok().content_type(GEOJSON).json(feature_json))
    })
    .await
}

/// The features of a page of slots, with their stored counts.
async fn features(
    state: &AppState,
    catalog: &Catalog,
    system: i64,
    slots: &[Slot],
) -> Result<Vec<Value>, ApiError> {
    let index = catalog.index(system)?;
    let ids: Vec<i64> = slots.iter().map(|&s| index.unit(s).id).collect();
    let rows: Vec<(i64, i64, i64)> = unit::Entity::find()
        .select_only()
        .columns([
            unit::Column::Id,
            unit::Column::HouseholdCount,
            unit::Column::PersonCount,
        ])
        .filter(unit::Column::Id.is_in(ids))
        .into_tuple()
        .all(&state.db)
        .await?;
    let counts: HashMap<i64, (i64, i64)> =
        rows.into_iter().map(|(id, h, p)| (id, (h, p))).collect();
    Ok(slots
        .iter()
        .map(|&s| {
            let counts = counts.get(&index.unit(s).id).copied().unwrap_or_default();
            unit_feature(index, s, counts, Crs::Wgs84)
        })
        .collect())
}

fn parse_number(value: Option<&str>, name: &str, default: usize) -> Result<usize, ApiError> {
    value.map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| ApiError::invalid(format!("{name}: {v:?} is not a whole number")))
    })
}

fn parse_bbox(value: &str) -> Result<geo::Rect<f64>, ApiError> {
    let numbers: Vec<f64> = value
        .split(',')
        .map(|n| n.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::invalid(format!(
                "bbox: {value:?} is not minLon,minLat,maxLon,maxLat"
            ))
        })?;
    crate::service::checked_bbox(&numbers, Crs::Wgs84)
}

/// OGC's error body: `{code, description}` with the HTTP status of the error.
async fn respond(
    handler: impl std::future::Future<Output = Result<HttpResponse, ApiError>>,
) -> HttpResponse {
    match handler.await {
        Ok(response) => response,
        Err(error) => {
            let status = crate::http::status_of(&error);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(error = ?error, "internal error");
            }
            HttpResponse::build(status)
                .json(json!({"code": error.code(), "description": error.to_string()}))
        }
    }
}
