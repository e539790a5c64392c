//! Turning GraphQL arguments into checked values, with `INVALID_INPUT` or `LIMIT_EXCEEDED`
//! errors that name the argument.

use async_graphql::ID;

use crate::config::{Limits, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::error::{ApiError, ApiResult};

/// A numeric id argument.
pub fn parse_id(id: &ID, argument: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| ApiError::invalid(format!("{argument}: {:?} is not an id", id.as_str())))
}

/// An optional numeric id argument.
pub fn parse_optional_id(id: Option<&ID>, argument: &str) -> ApiResult<Option<i64>> {
    id.map(|id| parse_id(id, argument)).transpose()
}

/// The page size: `DEFAULT_PAGE_SIZE` when absent, at most `MAX_PAGE_SIZE`.
pub fn page_size(first: Option<i32>) -> ApiResult<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n < 0 => Err(ApiError::invalid(format!(
            "first: {n} is negative; ask for 0 to {MAX_PAGE_SIZE} items"
        ))),
        Some(n) if n as usize > MAX_PAGE_SIZE => Err(ApiError::LimitExceeded(format!(
            "first: {n} is over the page size limit of {MAX_PAGE_SIZE}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// A cursor of a list keyed by numeric id.
pub fn id_cursor(after: Option<&str>) -> ApiResult<Option<i64>> {
    after
        .map(|cursor| {
            cursor.parse().map_err(|_| {
                ApiError::invalid(format!("after: {cursor:?} is not a cursor of this list"))
            })
        })
        .transpose()
}

/// A lon/lat pair in range.
pub fn position(lon: f64, lat: f64) -> ApiResult<geo::Point<f64>> {
    crate::service::checked_point(lon, lat)
}

/// A JSON argument that may also arrive as a string holding JSON (as some clients send
/// documents).
pub fn json_document(value: serde_json::Value, argument: &str) -> ApiResult<serde_json::Value> {
    match value {
        serde_json::Value::String(text) => serde_json::from_str(&text)
            .map_err(|e| ApiError::invalid(format!("{argument}: the string is not JSON: {e}"))),
        other => Ok(other),
    }
}

/// A `[minLon, minLat, maxLon, maxLat]` box in `crs`, as a WGS84 box.
pub fn bbox(values: &[f64], crs: geodata::crs::Crs) -> ApiResult<geo::Rect<f64>> {
    crate::service::checked_bbox(values, crs)
}

/// The server's limits (the defaults when the schema was built without them).
pub fn limits<'a>(ctx: &async_graphql::Context<'a>) -> Limits {
    ctx.data_opt::<Limits>().copied().unwrap_or_default()
}

/// `LIMIT_EXCEEDED` when a FeatureCollection holds more than `max` features.
pub fn feature_count_within(collection: &serde_json::Value, max: usize) -> ApiResult<()> {
    let count = collection
        .get("features")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    if count > max {
        return Err(ApiError::LimitExceeded(format!(
            "featureCollection: {count} features is over the import limit of {max} a request; \
             split the collection, or use the command line for bulk loads"
        )));
    }
    Ok(())
}
