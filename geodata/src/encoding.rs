//! Compact binary storage of unit geometry as WKB (ISO/OGC Well-Known Binary, little-endian),
//! so that start-up reads polygons without re-parsing text; PostGIS and GDAL read the same
//! bytes.

use geo::MultiPolygon;
use geo_traits::to_geo::ToGeoGeometry;

/// Why stored bytes could not be read back as a polygon.
#[derive(Debug, thiserror::Error)]
pub enum EncodingError {
    #[error("not well-formed WKB: {0}")]
    Malformed(#[from] wkb::error::WkbError),
    #[error("WKB holds a {0}, not a polygon or multipolygon")]
    NotPolygonal(&'static str),
}

/// Encodes a multipolygon as little-endian WKB.
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// use geodata::encoding::{from_wkb, to_wkb};
/// let shape = MultiPolygon::new(vec![polygon![(x: 104.0, y: 30.6), (x: 104.1, y: 30.6), (x: 104.0, y: 30.7)]]);
/// assert_eq!(from_wkb(&to_wkb(&shape)).unwrap(), shape);
/// ```
pub fn to_wkb(geometry: &MultiPolygon<f64>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(wkb::writer::multi_polygon_wkb_size(geometry));
    // Writing to a Vec cannot fail.
    let written = wkb::writer::write_multi_polygon(
        &mut bytes,
        geometry,
        &wkb::writer::WriteOptions::default(),
    );
    debug_assert!(written.is_ok());
    bytes
}

/// Decodes WKB written by [`to_wkb`] (or by PostGIS): a polygon becomes a one-part
/// multipolygon.
///
/// # Errors
/// [`EncodingError`] when the bytes are not WKB or hold another kind of geometry.
pub fn from_wkb(bytes: &[u8]) -> Result<MultiPolygon<f64>, EncodingError> {
    match wkb::reader::read_wkb(bytes)?.to_geometry() {
        geo::Geometry::MultiPolygon(multi) => Ok(multi),
        geo::Geometry::Polygon(polygon) => Ok(MultiPolygon::new(vec![polygon])),
        other => Err(EncodingError::NotPolygonal(geometry_name(&other))),
    }
}

fn geometry_name(geometry: &geo::Geometry<f64>) -> &'static str {
    match geometry {
        geo::Geometry::Point(_) => "point",
        geo::Geometry::Line(_) | geo::Geometry::LineString(_) => "line",
        geo::Geometry::MultiPoint(_) => "multipoint",
        geo::Geometry::MultiLineString(_) => "multilinestring",
        geo::Geometry::GeometryCollection(_) => "geometry collection",
        _ => "other geometry",
    }
}
