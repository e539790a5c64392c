//! Areas on the ellipsoid, in square metres: polygons are stored in degrees, but planners and
//! quality reports speak in m².

use geo::{GeodesicArea, MultiPolygon};

/// The geodesic area of a lon/lat polygon on the WGS84 ellipsoid, in m².
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// // 0.01° × 0.01° at 30.6° N, in Chengdu: about 1.11 km × 0.96 km.
/// let square = MultiPolygon::new(vec![polygon![
///     (x: 104.0, y: 30.6), (x: 104.01, y: 30.6), (x: 104.01, y: 30.61), (x: 104.0, y: 30.61),
/// ]]);
/// let area = geodata::measure::area_m2(&square);
/// assert!((area - 1_067_000.0).abs() < 10_000.0, "{area}");
/// ```
pub fn area_m2(geometry: &MultiPolygon<f64>) -> f64 {
    geometry.geodesic_area_unsigned()
}

/// Metres per degree of longitude and latitude near `lat`: a local flat approximation, good to
/// well under 1% across a city, used to turn small areas and distances into metres cheaply.
pub fn metres_per_degree(lat: f64) -> (f64, f64) {
    const METRES_PER_DEGREE_LAT: f64 = 110_940.0;
    (111_320.0 * lat.to_radians().cos(), METRES_PER_DEGREE_LAT)
}
