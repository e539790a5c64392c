//! HTTP routes: GraphQL (POST; subscriptions over WebSocket on GET), GraphiQL (GET), the schema
//! as SDL, health, GeoJSON downloads, and OGC API - Features (see `ogc`); and [`authenticate`],
//! the middleware that finds every request's [`Caller`] and refuses REST routes it may not
//! use. GraphQL requests are refused whole when the caller has no role (or a mutation comes
//! from below planner); finer rules are the fields' guards.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, Data};
use actix_web::{guard, Either, HttpMessage, HttpRequest, HttpResponse};
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ErrorExtensions, Schema};
use async_graphql_actix_web::{GraphQLResponse, GraphQLSubscription};
use futures_util::{stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use crate::access::{bearer, check_route, AnonymousAccess, Caller, Role};
use crate::config::Limits;
use crate::error::ApiError;
use crate::graphql::GridMapSchema;
use crate::service::export::{
    plan_feature_collection, prepare_export, ExportFilter, FOOTER, HEADER,
};
use crate::service::merge::crosswalk_rows;
use crate::service::tokens;
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
        .route("/crosswalk/{file}", web::get().to(crosswalk_download))
        .configure(crate::ogc::configure)
        .configure(crate::webmap::configure)
        .configure(crate::tiles::configure);
}

/// Finds the request's [`Caller`] (a bearer token's holder, or anonymous with the role the
/// anonymous setting gives its address), puts it in the request's extensions, and refuses a
/// wrong token (`UNAUTHENTICATED`, 401) and REST routes the caller may not use (401 without a
/// token, 403 with one). `/healthz` is answered whatever the credentials.
pub async fn authenticate(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = request.path().to_owned();
    if path == "/healthz" {
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    let caller = find_caller(&request).await;
    match caller.and_then(|caller| check_route(&path, &caller).map(|()| caller)) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            Ok(next.call(request).await?.map_into_boxed_body())
        }
        Err(error) => {
            let response = if path.starts_with("/graphql") {
                graphql_error(&error)
            } else {
                error_response(&error)
            };
            Ok(request.into_response(response))
        }
    }
}

async fn find_caller(request: &ServiceRequest) -> Result<Caller, ApiError> {
    let Some(header) = request.headers().get(header::AUTHORIZATION) else {
        let anonymous = request
            .app_data::<Data<AnonymousAccess>>()
            .map(|a| *a.get_ref())
            .unwrap_or_default();
        let peer = request.peer_addr().map(|a| a.ip());
        return Ok(Caller::Anonymous(anonymous.role_for(peer)));
    };
    let state = request
        .app_data::<Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("no state".to_owned()))?;
    let token = header.to_str().ok().and_then(bearer).ok_or_else(|| {
        ApiError::Unauthenticated("the Authorization header must read Bearer <token>".to_owned())
    })?;
    Ok(Caller::Token(tokens::authenticate(state, token).await?))
}

/// The caller [`authenticate`] found (anonymous without a role when the middleware is absent).
fn caller(request: &HttpRequest) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Anonymous(None))
}

async fn graphql(
    schema: Data<GridMapSchema>,
    state: Data<AppState>,
    limits: Option<Data<Limits>>,
    http: HttpRequest,
    payload: web::Payload,
) -> Either<GraphQLResponse, HttpResponse> {
    let limits = limits.map(|l| *l.get_ref()).unwrap_or_default();
    let body = match read_body(payload, limits.body_bytes).await {
        Ok(body) => body,
        Err(error) => return Either::Right(graphql_error(&error)),
    };
    let mut request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            let error = ApiError::invalid(format!("the body is not a GraphQL request: {e}"));
            return Either::Right(graphql_error(&error));
        }
    };
    let caller = caller(&http);
    parse_cached(&mut request);
    let is_mutation = is_mutation(&mut request);
    let needed = if is_mutation {
        Role::Planner
    } else {
        Role::Viewer
    };
    if let Err(error) = caller.require(needed) {
        return Either::Right(graphql_error(&error));
    }
    let execution = schema.execute(request.data(caller));
    let mut response = if is_mutation {
        // A mutation is not cut off halfway through its writes; the unit rows `locate` keeps
        // in memory may be out of date after it.
        let response = execution.await;
        state.unit_rows.forget();
        response
    } else {
        match tokio::time::timeout(limits.query_timeout, execution).await {
            Ok(response) => response,
            Err(_) => {
                let error = ApiError::Timeout(format!(
                    "the query ran past the limit of {} ms and was cancelled; ask for less",
                    limits.query_timeout.as_millis()
                ));
                return Either::Right(graphql_error(&error));
            }
        }
    };
    for error in &mut response.errors {
        coded(error);
    }
    Either::Left(response.into())
}

/// Reads a request body of at most `limit` bytes (`LIMIT_EXCEEDED` past it, without reading
/// the rest).
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::LimitExceeded(format!(
            "the request body is over the limit of {limit} bytes"
        ))
    };
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::invalid(format!("the body did not arrive: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether the operation the request runs is a mutation (`false` for a document that does
/// not parse: execution reports that).
/// Queries up to this long are kept parsed, the last [`PARSED_QUERIES`] of them.
const PARSED_QUERY_BYTES: usize = 4096;
const PARSED_QUERIES: usize = 256;

/// Parses the request's query, or takes it parsed from the last requests with the same text:
/// clients send the same few queries over and over with other variables (a map's `locate`),
/// and parsing was ~8% of such a request. Invalid queries are not kept.
fn parse_cached(request: &mut async_graphql::Request) {
    static PARSED: OnceLock<Mutex<HashMap<String, ExecutableDocument>>> = OnceLock::new();
    if request.query.len() > PARSED_QUERY_BYTES {
        return;
    }
    let parsed = PARSED.get_or_init(Default::default);
    let known = parsed
        .lock()
        .ok()
        .and_then(|p| p.get(&request.query).cloned());
    match known {
        Some(document) => request.set_parsed_query(document),
        None => {
            let Ok(document) = request.parsed_query().cloned() else {
                return;
            };
            if let Ok(mut parsed) = parsed.lock() {
                if parsed.len() >= PARSED_QUERIES {
                    parsed.clear();
                }
                parsed.insert(request.query.clone(), document);
            }
        }
    }
}

fn is_mutation(request: &mut async_graphql::Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => operation.node.ty == OperationType::Mutation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get(name.as_str())
            .is_some_and(|o| o.node.ty == OperationType::Mutation),
        (DocumentOperations::Multiple(operations), None) => operations
            .values()
            .any(|o| o.node.ty == OperationType::Mutation),
    }
}

/// A whole GraphQL request refused before it ran: a GraphQL-shaped body with the error's
/// code, and the HTTP status of [`status_of`].
fn graphql_error(error: &ApiError) -> HttpResponse {
    let status = status_of(error);
    let mut response = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    response.json(json!({
        "data": null,
        "errors": [{ "message": error.to_string(), "extensions": { "code": error.code() } }],
    }))
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

/// Subscriptions: the token may come in the `connection_init` payload
/// (`{"Authorization": "Bearer <token>"}`) as browsers cannot set headers on a WebSocket;
/// otherwise the upgrade request's caller counts. A caller without a role is refused there.
async fn graphql_subscription(
    schema: Data<GridMapSchema>,
    state: Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let upgrade_caller = caller(&request);
    let state = state.into_inner();
    GraphQLSubscription::new(Schema::clone(&schema))
        .on_connection_init(move |init| async move {
            let header = ["Authorization", "authorization"]
                .iter()
                .find_map(|key| init.get(*key).and_then(serde_json::Value::as_str));
            let caller = match header {
                None => upgrade_caller,
                Some(header) => {
                    let token = bearer(header).ok_or_else(|| {
                        ApiError::Unauthenticated(
                            "Authorization must read Bearer <token>".to_owned(),
                        )
                        .extend()
                    })?;
                    let holder = tokens::authenticate(&state, token)
                        .await
                        .map_err(|e| e.extend())?;
                    Caller::Token(holder)
                }
            };
            caller.require(Role::Viewer).map_err(|e| e.extend())?;
            let mut data = async_graphql::Data::default();
            data.insert(caller);
            Ok(data)
        })
        .start(&request, payload)
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

/// `GET /crosswalk/{system}.json` (an array of rows) or `.csv` (the same columns).
async fn crosswalk_download(state: Data<AppState>, file: web::Path<String>) -> HttpResponse {
    let answer = async {
        let (system, csv) = match file.rsplit_once('.') {
            Some((system, "json")) => (system, false),
            Some((system, "csv")) => (system, true),
            _ => {
                return Err(ApiError::NotFound(format!(
                    "{file}: ask for /crosswalk/{{system}}.json or .csv"
                )))
            }
        };
        let system: i64 = system
            .parse()
            .map_err(|_| ApiError::invalid(format!("system: {system:?} is not an id")))?;
        let rows = crosswalk_rows(&state.db, system).await?;
        Ok((rows, csv))
    };
    match answer.await {
        Ok((rows, false)) => HttpResponse::Ok().json(rows),
        Ok((rows, true)) => {
            let mut out = csv::Writer::from_writer(Vec::new());
            let written: Result<(), csv::Error> =
                rows.iter().try_for_each(|row| out.serialize(row));
            match (written, out.into_inner()) {
                (Ok(()), Ok(bytes)) => HttpResponse::Ok()
                    .content_type("text/csv; charset=utf-8")
                    .body(bytes),
                _ => error_response(&ApiError::Internal("crosswalk CSV".to_owned())),
            }
        }
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
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "FORBIDDEN" => StatusCode::FORBIDDEN,
        "TIMEOUT" => StatusCode::GATEWAY_TIMEOUT,
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
