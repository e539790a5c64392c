//! GeoJSON out, as RFC 7946 asks and map libraries expect: lon/lat, exterior rings
//! counter-clockwise and holes clockwise (the right-hand rule), 7 decimals (about 1 cm), and
//! always a `MultiPolygon`, so that a layer has one geometry type.

use geo::orient::{Direction, Orient};
use geo::{LineString, MultiPolygon};
use serde_json::{json, Map, Value};

/// Decimals kept in output coordinates: 1e-7 degrees is about 1 cm.
pub const DECIMALS: i32 = 7;

/// The GeoJSON geometry object of a unit, oriented by the right-hand rule and rounded to
/// [`DECIMALS`].
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// // A clockwise square comes out counter-clockwise.
/// let clockwise = MultiPolygon::new(vec![polygon![
///     (x: 0.0, y: 0.0), (x: 0.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.0, y: 0.0),
/// ]]);
/// let json = geodata::export::geometry_json(&clockwise);
/// assert_eq!(json["type"], "MultiPolygon");
/// assert_eq!(json["coordinates"][0][0][1], serde_json::json!([1.0, 0.0]));
/// ```
pub fn geometry_json(geometry: &MultiPolygon<f64>) -> Value {
    let oriented = geometry.orient(Direction::Default);
    let polygons: Vec<Value> = oriented
        .iter()
        .map(|polygon| {
            let rings: Vec<Value> = std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .map(ring_json)
                .collect();
            Value::Array(rings)
        })
        .collect();
    json!({ "type": "MultiPolygon", "coordinates": polygons })
}

/// A GeoJSON Feature with the given properties and the unit's geometry (see
/// [`geometry_json`]).
pub fn feature_json(
    id: Option<Value>,
    properties: Map<String, Value>,
    geometry: &MultiPolygon<f64>,
) -> Value {
    let mut feature = Map::new();
    feature.insert("type".into(), "Feature".into());
    if let Some(id) = id {
        feature.insert("id".into(), id);
    }
    feature.insert("properties".into(), Value::Object(properties));
    feature.insert("geometry".into(), geometry_json(geometry));
    Value::Object(feature)
}

/// Rounds a coordinate to [`DECIMALS`].
pub fn round_coordinate(value: f64) -> f64 {
    let scale = 10f64.powi(DECIMALS);
    (value * scale).round() / scale
}

fn ring_json(ring: &LineString<f64>) -> Value {
    Value::Array(
        ring.coords()
            .map(|c| json!([round_coordinate(c.x), round_coordinate(c.y)]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::parse_units;

    /// Integers and floats compare equal once both are floats.
    fn as_floats(value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(as_floats).collect()),
            Value::Number(n) => json!(n.as_f64()),
            other => other.clone(),
        }
    }

    /// mapbox/geojson-rewind's fixtures: our output winds rings as its `.output` files do.
    #[test]
    fn rings_wind_as_geojson_rewind_does() {
        let dir = format!(
            "{}/tests/fixtures/geojson-rewind",
            env!("CARGO_MANIFEST_DIR")
        );
        for name in ["multipolygon", "flip", "rev", "featuregood", "collection"] {
            let read = |suffix: &str| -> Value {
                let text = std::fs::read_to_string(format!("{dir}/{name}.{suffix}.geojson"))
                    .expect("fixture is readable");
                serde_json::from_str(&text).expect("fixture is JSON")
            };
            let (input, expected) = (read("input"), read("output"));
            let collect = |doc: Value| -> Vec<Value> {
                match doc["type"].as_str() {
                    Some("FeatureCollection") => doc["features"]
                        .as_array()
                        .expect("features")
                        .iter()
                        .map(|f| f["geometry"].clone())
                        .collect(),
                    Some("Feature") => vec![doc["geometry"].clone()],
                    _ => vec![doc],
                }
            };
            let inputs: Vec<Value> = collect(input)
                .into_iter()
                .filter(|g| matches!(g["type"].as_str(), Some("Polygon" | "MultiPolygon")))
                .collect();
            let outputs: Vec<Value> = collect(expected)
                .into_iter()
                .filter(|g| matches!(g["type"].as_str(), Some("Polygon" | "MultiPolygon")))
                .collect();
            assert_eq!(inputs.len(), outputs.len(), "{name}");
            for (input, expected) in inputs.into_iter().zip(outputs) {
                let collection = json!({"type": "FeatureCollection", "features": [
                    {"type": "Feature", "properties": {"name": "x"}, "geometry": input}
                ]});
                let units = parse_units(&collection).expect("fixture is valid");
                let ours = geometry_json(&units[0].geometry);
                let theirs = match expected["type"].as_str() {
                    Some("Polygon") => json!([expected["coordinates"].clone()]),
                    _ => expected["coordinates"].clone(),
                };
                assert_eq!(
                    as_floats(&ours["coordinates"]),
                    as_floats(&theirs),
                    "{name}"
                );
            }
        }
    }
}
