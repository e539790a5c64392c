//! Areas in square metres (polygons are stored in lon/lat degrees, but planners and quality
//! reports speak in m²), and extents.
//!
//! Units are small next to the Earth, so each polygon is measured in a local projection that is
//! affine in lon/lat (an equirectangular projection about its own middle latitude, with the
//! WGS84 ellipsoid's radii of curvature there). Edges stay straight, as GridMap's geometry
//! treats them, so a sliver between two shared edges measures as the zero it is; for a city
//! district the result agrees with the exact geodesic area to about 2e-4. (geo's geodesic area
//! can answer "the rest of the globe" for degenerate rings.)

use geo::{BoundingRect, Coord, MultiPolygon, Polygon, Rect};

/// WGS84 semi-major axis, in metres.
const SEMI_MAJOR_AXIS: f64 = 6_378_137.0;
/// WGS84 first eccentricity squared.
const ECCENTRICITY_SQUARED: f64 = 0.006_694_379_990_14;

/// The area of a lon/lat multipolygon on the WGS84 ellipsoid, in m²; holes count out,
/// winding does not matter.
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// // 0.01° × 0.01° at 30.6° N, in Chengdu: about 958 m × 1109 m.
/// let square = MultiPolygon::new(vec![polygon![
///     (x: 104.0, y: 30.6), (x: 104.01, y: 30.6), (x: 104.01, y: 30.61), (x: 104.0, y: 30.61),
/// ]]);
/// let area = geodata::measure::area_m2(&square);
/// assert!((area - 1_062_800.0).abs() < 1_000.0, "{area}");
/// // Winding does not matter.
/// use geo::algorithm::orient::{Direction, Orient};
/// assert_eq!(geodata::measure::area_m2(&square.orient(Direction::Reversed)), area);
/// ```
pub fn area_m2(geometry: &MultiPolygon<f64>) -> f64 {
    geometry.iter().map(polygon_area_m2).sum()
}

/// The Polsby-Popper compactness of a shape, 4πA/P² in the same local projection as
/// [`area_m2`]: 1 for a disc, about 0.785 for a square, near 0 for a thread; 0 when empty.
/// Holes count in the perimeter, as the boundary a grid worker walks.
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// let square = MultiPolygon::new(vec![polygon![
///     (x: 104.0, y: 30.6), (x: 104.001, y: 30.6), (x: 104.001, y: 30.601), (x: 104.0, y: 30.601),
/// ]]);
/// // Not quite square in metres (a degree of longitude is shorter here), so a little under π/4.
/// let score = geodata::measure::polsby_popper(&square);
/// assert!((0.77..0.786).contains(&score), "{score}");
/// ```
pub fn polsby_popper(geometry: &MultiPolygon<f64>) -> f64 {
    let Some(bounds) = geometry.bounding_rect() else {
        return 0.0;
    };
    let (metres_x, metres_y) = metres_per_degree(bounds.center().y);
    let perimeter: f64 = geometry
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|ring| ring.lines())
        .map(|line| {
            let (dx, dy) = (line.dx() * metres_x, line.dy() * metres_y);
            dx.hypot(dy)
        })
        .sum();
    if perimeter == 0.0 {
        return 0.0;
    }
    4.0 * std::f64::consts::PI * area_m2(geometry) / (perimeter * perimeter)
}

/// The smallest box holding all the given boxes (`None` for none).
///
/// ```
/// use geo::{coord, Rect};
/// let a = Rect::new(coord! { x: 0.0, y: 0.0 }, coord! { x: 1.0, y: 1.0 });
/// let b = Rect::new(coord! { x: 2.0, y: -1.0 }, coord! { x: 3.0, y: 0.5 });
/// let both = geodata::measure::extent([a, b]).unwrap();
/// assert_eq!((both.min(), both.max()), (coord! { x: 0.0, y: -1.0 }, coord! { x: 3.0, y: 1.0 }));
/// ```
pub fn extent(rects: impl IntoIterator<Item = Rect<f64>>) -> Option<Rect<f64>> {
    rects.into_iter().reduce(|a, b| {
        Rect::new(
            Coord {
                x: a.min().x.min(b.min().x),
                y: a.min().y.min(b.min().y),
            },
            Coord {
                x: a.max().x.max(b.max().x),
                y: a.max().y.max(b.max().y),
            },
        )
    })
}

/// Metres per degree of longitude and latitude near `lat`: a local flat approximation, good to
/// well under 1% across a city, to turn small distances into metres cheaply.
pub fn metres_per_degree(lat: f64) -> (f64, f64) {
    const METRES_PER_DEGREE_LAT: f64 = 110_940.0;
    (111_320.0 * lat.to_radians().cos(), METRES_PER_DEGREE_LAT)
}

fn polygon_area_m2(polygon: &Polygon<f64>) -> f64 {
    let Some(bounds) = polygon.bounding_rect() else {
        return 0.0;
    };
    let (lon0, lat0) = (bounds.center().x, bounds.center().y);
    let sin = lat0.to_radians().sin();
    let w = 1.0 - ECCENTRICITY_SQUARED * sin * sin;
    let prime_vertical = SEMI_MAJOR_AXIS / w.sqrt();
    let meridional = SEMI_MAJOR_AXIS * (1.0 - ECCENTRICITY_SQUARED) / (w * w.sqrt());
    // Affine in lon/lat, so that straight edges stay straight and shared edges cancel exactly.
    let x_scale = prime_vertical * lat0.to_radians().cos();
    let project = |lon: f64, lat: f64| {
        (
            (lon - lon0).to_radians() * x_scale,
            (lat - lat0).to_radians() * meridional,
        )
    };
    let ring_area = |ring: &geo::LineString<f64>| {
        let points: Vec<(f64, f64)> = ring.coords().map(|c| project(c.x, c.y)).collect();
        let twice: f64 = points
            .windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum();
        (twice / 2.0).abs()
    };
    let holes: f64 = polygon.interiors().iter().map(ring_area).sum();
    (ring_area(polygon.exterior()) - holes).max(0.0)
}

#[cfg(test)]
mod tests {
    use geo::{polygon, GeodesicArea, MultiPolygon};

    use super::area_m2;

    #[test]
    fn agrees_with_the_geodesic_area_for_district_sized_polygons() {
        let district = MultiPolygon::new(vec![polygon![
            (x: 104.0, y: 30.5), (x: 104.3, y: 30.55), (x: 104.25, y: 30.8), (x: 103.95, y: 30.7),
        ]]);
        let exact = district.geodesic_area_unsigned();
        let ours = area_m2(&district);
        assert!(((ours - exact) / exact).abs() < 5e-4, "{ours} vs {exact}");
    }

    #[test]
    fn a_sliver_measures_as_a_sliver_not_as_the_rest_of_the_globe() {
        let sliver = MultiPolygon::new(vec![polygon![
            (x: 104.08416693151742, y: 30.613736953756586),
            (x: 104.08209999994654, y: 30.61799999995418),
            (x: 104.08529999998211, y: 30.611399999989942),
        ]]);
        let area = area_m2(&sliver);
        assert!(area < 0.01, "{area}");
    }
}
