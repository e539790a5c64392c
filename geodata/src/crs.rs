//! The coordinate systems of Chinese web maps. Storage is always WGS84; maps in China draw on
//! GCJ-02 (AMap, Tencent) or BD-09 (Baidu), which are WGS84 shifted by a published, nonlinear
//! offset of a few hundred metres inside China; outside China both leave points as they are. Tianditu's CGCS2000 is treated
//! as WGS84: the two differ by centimetres.
//!
//! The forward transforms follow the published algorithms (as in googollee/eviltransform and
//! wandergis/coordtransform); the inverse of GCJ-02 is solved by fixed-point iteration to
//! 1e-9 degrees, so a round trip agrees to well under 0.5 m.

use std::f64::consts::PI;

use geo::{Coord, MapCoords, MultiPolygon};

/// A coordinate system clients may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Crs {
    /// WGS84 lon/lat (also CGCS2000, Tianditu): what GridMap stores.
    #[default]
    Wgs84,
    /// GCJ-02, "Mars coordinates": AMap, Tencent, Google in China.
    Gcj02,
    /// BD-09: Baidu, an offset of GCJ-02.
    Bd09,
}

impl std::str::FromStr for Crs {
    type Err = String;

    /// `WGS84`, `GCJ02` or `BD09`, in any case (`CGCS2000` is taken as WGS84).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().replace(['-', '_'], "").as_str() {
            "WGS84" | "CGCS2000" => Ok(Crs::Wgs84),
            "GCJ02" => Ok(Crs::Gcj02),
            "BD09" => Ok(Crs::Bd09),
            _ => Err(format!("unknown crs {s:?}: expected WGS84, GCJ02 or BD09")),
        }
    }
}

/// Semi-major axis and eccentricity² of the Krasovsky 1940 ellipsoid the GCJ-02 offset uses.
const KRASOVSKY_A: f64 = 6_378_245.0;
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
const BAIDU_X_PI: f64 = PI * 3000.0 / 180.0;

/// Converts a WGS84 lon/lat to `to`.
///
/// ```
/// use geo::coord;
/// use geodata::crs::{from_wgs84, Crs};
/// let tianfu_square = coord! { x: 104.0657, y: 30.6574 };
/// let amap = from_wgs84(Crs::Gcj02, tianfu_square);
/// assert!((amap.x - tianfu_square.x - 0.0025).abs() < 0.0005, "{amap:?}");
/// assert_eq!(from_wgs84(Crs::Gcj02, coord! { x: 2.35, y: 48.85 }), coord! { x: 2.35, y: 48.85 });
/// ```
pub fn from_wgs84(to: Crs, c: Coord<f64>) -> Coord<f64> {
    match to {
        Crs::Wgs84 => c,
        _ if outside_china(c) => c,
        Crs::Gcj02 => wgs84_to_gcj02(c),
        Crs::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(c)),
    }
}

/// Converts a lon/lat in `from` to WGS84 (points outside China are returned as they are).
pub fn to_wgs84(from: Crs, c: Coord<f64>) -> Coord<f64> {
    match from {
        Crs::Wgs84 => c,
        _ if outside_china(c) => c,
        Crs::Gcj02 => gcj02_to_wgs84(c),
        Crs::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(c)),
    }
}

/// A stored (WGS84) outline in `to`.
pub fn geometry_from_wgs84(to: Crs, geometry: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    match to {
        Crs::Wgs84 => geometry.clone(),
        _ => geometry.map_coords(|c| from_wgs84(to, c)),
    }
}

/// Whether the GCJ-02 offset applies: the published rough box around China.
fn outside_china(c: Coord<f64>) -> bool {
    !(72.004..=137.8347).contains(&c.x) || !(0.8293..=55.8271).contains(&c.y)
}

fn wgs84_to_gcj02(c: Coord<f64>) -> Coord<f64> {
    if outside_china(c) {
        return c;
    }
    c + gcj02_offset(c)
}

/// Solves `wgs84_to_gcj02(w) = c` for `w` by fixed-point iteration.
fn gcj02_to_wgs84(c: Coord<f64>) -> Coord<f64> {
    if outside_china(c) {
        return c;
    }
    let mut w = c - gcj02_offset(c);
    for _ in 0..30 {
        let error = wgs84_to_gcj02(w) - c;
        if error.x.abs() < 1e-10 && error.y.abs() < 1e-10 {
            break;
        }
        w = w - error;
    }
    w
}

/// The published GCJ-02 offset at a WGS84 point, in degrees.
fn gcj02_offset(c: Coord<f64>) -> Coord<f64> {
    let (x, y) = (c.x - 105.0, c.y - 35.0);
    let wave = |a: f64, b: f64| (a * (6.0 * x * PI).sin() + b * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    let mut d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    d_lat += wave(20.0, 20.0);
    d_lat += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    d_lat += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    let mut d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    d_lon += wave(20.0, 20.0);
    d_lon += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    d_lon += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    let rad_lat = c.y.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    Coord {
        x: d_lon * 180.0 / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI),
        y: d_lat * 180.0 / (KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (magic * sqrt_magic) * PI),
    }
}

fn gcj02_to_bd09(c: Coord<f64>) -> Coord<f64> {
    let z = c.x.hypot(c.y) + 0.00002 * (c.y * BAIDU_X_PI).sin();
    let theta = c.y.atan2(c.x) + 0.000003 * (c.x * BAIDU_X_PI).cos();
    Coord {
        x: z * theta.cos() + 0.0065,
        y: z * theta.sin() + 0.006,
    }
}

fn bd09_to_gcj02(c: Coord<f64>) -> Coord<f64> {
    let (x, y) = (c.x - 0.0065, c.y - 0.006);
    let z = x.hypot(y) - 0.00002 * (y * BAIDU_X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * BAIDU_X_PI).cos();
    Coord {
        x: z * theta.cos(),
        y: z * theta.sin(),
    }
}

#[cfg(test)]
mod tests {
    use geo::coord;
    use proptest::prelude::*;

    use super::*;

    fn close(a: Coord<f64>, b: Coord<f64>, degrees: f64) -> bool {
        (a.x - b.x).abs() < degrees && (a.y - b.y).abs() < degrees
    }

    /// Reference pairs from googollee/eviltransform's own tests (test.py:
    /// wgsLat, wgsLng, gcjLat, gcjLng): Shanghai, Shenzhen, Beijing.
    #[test]
    fn wgs84_to_gcj02_matches_eviltransform() {
        for (wgs_lat, wgs_lng, gcj_lat, gcj_lng) in [
            (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
            (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
            (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
        ] {
            let ours = from_wgs84(Crs::Gcj02, coord! { x: wgs_lng, y: wgs_lat });
            assert!(
                close(ours, coord! { x: gcj_lng, y: gcj_lat }, 1e-9),
                "{ours:?}"
            );
            let back = to_wgs84(Crs::Gcj02, ours);
            assert!(
                close(back, coord! { x: wgs_lng, y: wgs_lat }, 1e-8),
                "{back:?}"
            );
        }
    }

    /// Reference pairs from wandergis/coordtransform (as its Rust port coordtransform-rs tests
    /// them): (116.404, 39.915) in GCJ-02 is (116.41036949371029, 39.92133699351021) in BD-09,
    /// and in BD-09 is (116.39762729119315, 39.90865673957631) in GCJ-02.
    #[test]
    fn bd09_matches_coordtransform() {
        let gcj = coord! { x: 116.404, y: 39.915 };
        assert!(close(
            gcj02_to_bd09(gcj),
            coord! { x: 116.41036949371029, y: 39.92133699351021 },
            1e-9
        ));
        assert!(close(
            bd09_to_gcj02(gcj),
            coord! { x: 116.39762729119315, y: 39.90865673957631 },
            1e-9
        ));
    }

    proptest! {
        /// Round trips agree within 0.5 m (5e-6°) inside China; points outside stay put.
        #[test]
        fn round_trips_agree_within_half_a_metre(lon in 73.0f64..135.0, lat in 18.0f64..53.0) {
            let wgs = coord! { x: lon, y: lat };
            for crs in [Crs::Gcj02, Crs::Bd09] {
                let back = to_wgs84(crs, from_wgs84(crs, wgs));
                prop_assert!(close(back, wgs, 5e-6), "{crs:?}: {back:?}");
            }
        }

        #[test]
        fn points_outside_china_are_unchanged(lon in -180.0f64..70.0, lat in -90.0f64..90.0) {
            let c = coord! { x: lon, y: lat };
            for crs in [Crs::Gcj02, Crs::Bd09] {
                prop_assert_eq!(from_wgs84(crs, c), c);
                prop_assert_eq!(to_wgs84(crs, c), c);
            }
        }
    }
}
