//! Business logic behind the resolvers and the command line: functions taking the connection
//! (or the state) first, so that a whole change runs inside one transaction.

pub mod bulk;
pub mod counts;
pub mod demo;
pub mod export;
pub mod households;
pub mod import;
pub mod systems;
pub mod units;
pub mod writes;

use crate::error::{ApiError, ApiResult};

/// A lon/lat position, refused with `INVALID_INPUT` when out of range or not finite.
pub fn checked_point(lon: f64, lat: f64) -> ApiResult<geo::Point<f64>> {
    geodata::validate::check_position(0, lon, lat).map_err(|_| {
        ApiError::invalid(format!(
            "({lon}, {lat}) is not a position: lon must be in -180..180 and lat in -90..90"
        ))
    })
}
