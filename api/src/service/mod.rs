//! Business logic behind the resolvers and the command line: functions taking the connection
//! (or the state) first, so that a whole change runs inside one transaction.

pub mod audit;
pub mod bulk;
pub mod counts;
pub mod demo;
pub mod export;
pub mod history;
pub mod households;
pub mod import;
pub mod merge;
pub mod rebalance;
pub mod systems;
pub mod tokens;
pub mod units;
pub mod writes;

use sea_orm::{DatabaseTransaction, TransactionTrait};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Begins the transaction of a write computed from the catalog in memory (call it holding
/// the writer lock): first thing, it checks that no other process has changed a grid system
/// since the catalog was loaded, and holds them as they are until it ends
/// ([`systems::hold_shown_versions`]). So writes through several replicas are serialised, and
/// none is made from a stale catalog.
pub async fn begin_write(state: &AppState) -> ApiResult<DatabaseTransaction> {
    let txn = state.db.begin().await?;
    systems::hold_shown_versions(&txn, &state.shown_versions()?).await?;
    Ok(txn)
}

/// A lon/lat position, refused with `INVALID_INPUT` when out of range or not finite.
pub fn checked_point(lon: f64, lat: f64) -> ApiResult<geo::Point<f64>> {
    geodata::validate::check_position(0, lon, lat).map_err(|_| {
        ApiError::invalid(format!(
            "({lon}, {lat}) is not a position: lon must be in -180..180 and lat in -90..90"
        ))
    })
}

/// A `[minLon, minLat, maxLon, maxLat]` box in `crs`, as a WGS84 box (its corners
/// converted; the offsets vary too slowly across a map view to bend its edges noticeably).
pub fn checked_bbox(values: &[f64], crs: geodata::crs::Crs) -> ApiResult<geo::Rect<f64>> {
    let [min_lon, min_lat, max_lon, max_lat] = values else {
        return Err(ApiError::invalid(format!(
            "bbox: expected [minLon, minLat, maxLon, maxLat], found {} numbers",
            values.len()
        )));
    };
    let (min, max) = (
        checked_point(*min_lon, *min_lat)?,
        checked_point(*max_lon, *max_lat)?,
    );
    if min.x() > max.x() || min.y() > max.y() {
        return Err(ApiError::invalid(
            "bbox: the minimum corner must be south-west of the maximum corner",
        ));
    }
    let to_wgs84 = |c| geodata::crs::to_wgs84(crs, c);
    Ok(geo::Rect::new(to_wgs84(min.0), to_wgs84(max.0)))
}

/// Runs CPU-heavy work (validating a large document, rebuilding indexes) on a blocking thread,
/// so that the server's few async workers keep answering other requests meanwhile.
pub async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("background work failed: {e}")))
}

/// Seconds since the Unix epoch, as stored in `created_at`/`at` columns.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
