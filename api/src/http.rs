//! HTTP routes: GraphQL (POST; subscriptions over WebSocket on GET), GraphiQL (GET), the schema
//! as SDL, health, GeoJSON downloads, and OGC API - Features (see `ogc`).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, Data};
use actix_web::{guard, HttpRequest, HttpResponse};
use async_graphql::http::GraphiQLSource;
use async_graphql::Schema;
use async_graphql_actix_web::{GraphQLRequest, GraphQLResponse, GraphQLSubscription};
use futures_util::{stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::graphql::GridMapSchema;
use crate::service::export::{
    plan_feature_collection, prepare_export, ExportFilter, FOOTER, HEADER,
};
use crate::state::AppState;

/// Features per chunk of a streamed download.
const FEATURES_PER_CHUNK: usize = 256;

/// Registers every route; used by the server and by in-process tests alike.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/graphql")
                .guard(guard::Get())
                .guard(guard::Header("upgrade", "websocket"))
                .to(graphql_subscription),
        )
        .route("/graphql", web::post().to(graphql))
        .route("/graphql", web::get().to(graphiql))
        .route("/graphql/schema.graphql", web::get().to(sdl))
        .route("/healthz", web::get().to(healthz))
        .route("/geojson/units", web::get().to(geojson_units))
        .route("/geojson/plans/{id}", web::get().to(geojson_plan))
        .configure(crate::ogc::configure)
        .configure(crate::webmap::configure)
        .configure(crate::tiles::configure);
}

async fn graphql(schema: Data<GridMapSchema>, request: GraphQLRequest) -> GraphQLResponse {
    let mut response = schema.execute(request.into_inner()).await;
    for error in &mut response.errors {
        coded(error);
    }
    response.into()
}

/// Gives errors raised by async-graphql itself (syntax, unknown fields, bad variables, the
/// depth and complexity limits) the `extensions.code` that GridMap's own errors carry.
fn coded(error: &mut async_graphql::ServerError) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        let code = if error.message.contains("too complex") || error.message.contains("too deep") {
            "LIMIT_EXCEEDED"
        } else {
            "INVALID_INPUT"
        };
        extensions.set("code", code);
    }
}

async fn graphql_subscription(
    schema: Data<GridMapSchema>,
    request: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    GraphQLSubscription::new(Schema::clone(&schema)).start(&request, payload)
}

async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql")
                .finish(),
        )
}

async fn sdl(schema: Data<GridMapSchema>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(schema.sdl())
}

async fn healthz(state: Data<AppState>) -> HttpResponse {
    match state.catalog() {
        Ok(catalog) => HttpResponse::Ok().json(json!({
            "status": "ok",
            "defaultSystem": catalog.default_system.to_string(),
        })),
        Err(_) => HttpResponse::ServiceUnavailable().json(json!({"status": "loading"})),
    }
}

#[derive(Debug, Deserialize)]
struct UnitsQuery {
    level: Option<String>,
    within: Option<String>,
    system: Option<String>,
    crs: Option<String>,
}

async fn geojson_units(state: Data<AppState>, query: web::Query<UnitsQuery>) -> HttpResponse {
    match stream_units(state.into_inner(), query.into_inner()).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn stream_units(state: Arc<AppState>, query: UnitsQuery) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog()?;
    let level = query
        .level
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: geodata::UnknownLevel| ApiError::invalid(format!("level: {e}")))?;
    let system = query
        .system
        .as_deref()
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("system: {s:?} is not an id")))
        })
        .transpose()?;
    let crs = parse_crs(query.crs.as_deref())?;
    let filter = ExportFilter {
        level,
        within: query.within,
        system,
        crs,
    };
    let export = Arc::new(prepare_export(&state.db, &catalog, &filter).await?);
    let chunks = (0..export.len()).step_by(FEATURES_PER_CHUNK);
    let body = stream::iter(std::iter::once(Bytes::from_static(HEADER.as_bytes())))
        .chain(stream::iter(chunks.map(move |start| {
            let end = (start + FEATURES_PER_CHUNK).min(export.len());
            let mut text = String::new();
            export.write_features(start..end, &mut text);
            Bytes::from(text)
        })))
        .chain(stream::iter(std::iter::once(Bytes::from_static(
            FOOTER.as_bytes(),
        ))))
        .map(Ok::<_, std::convert::Infallible>);
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .streaming(body))
}

#[derive(Debug, Deserialize)]
struct PlanQuery {
    crs: Option<String>,
}

async fn geojson_plan(
    state: Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PlanQuery>,
) -> HttpResponse {
    let answer = async {
        let catalog = state.catalog()?;
        let id: i64 = id
            .parse()
            .map_err(|_| ApiError::invalid(format!("plan id: {:?} is not an id", id.as_str())))?;
        let crs = parse_crs(query.crs.as_deref())?;
        plan_feature_collection(&state.db, &catalog, id, crs).await
    };
    match answer.await {
        Ok(collection) => HttpResponse::Ok()
            .content_type("application/geo+json")
            .body(collection.to_string()),
        Err(error) => error_response(&error),
    }
}

fn parse_crs(crs: Option<&str>) -> Result<geodata::crs::Crs, ApiError> {
    crs.map(str::parse)
        .transpose()
        .map_err(|e: String| ApiError::invalid(format!("crs: {e}")))
        .map(Option::unwrap_or_default)
}

/// The HTTP status of an error.
pub fn status_of(error: &ApiError) -> StatusCode {
    match error.code() {
        "INVALID_INPUT" | "INVALID_GEOMETRY" => StatusCode::BAD_REQUEST,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "CONFLICT" => StatusCode::CONFLICT,
        "LIMIT_EXCEEDED" => StatusCode::PAYLOAD_TOO_LARGE,
        "UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A JSON error body with the same codes as GraphQL's `extensions.code`.
fn error_response(error: &ApiError) -> HttpResponse {
    let status = status_of(error);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = ?error, "internal error");
    }
    HttpResponse::build(status).json(json!({
        "error": { "code": error.code(), "message": error.to_string() }
    }))
}
