//! Parsing and checking of imported GeoJSON: FeatureCollections of polygons become
//! [`ImportFeature`]s, FeatureCollections of points become [`Household`]s.
//!
//! Imports are all-or-nothing, so the whole document is checked before anything is returned,
//! and the first fault is reported with where it is (feature index, member, ring, position) and
//! why. The rules, in the order they are checked for each feature:
//!
//! 1. the document is a `FeatureCollection` whose `features` is a non-empty array;
//! 2. each feature is an object of type `Feature` with an object `properties` (or none);
//! 3. its geometry is a `Polygon` or a `MultiPolygon` (households: a `Point`);
//! 4. every position is an array of at least two finite numbers, lon in -180..180 and lat in
//!    -90..90;
//! 5. every ring has at least 4 positions and is closed (its last position repeats the first);
//! 6. the polygon is valid by the OGC rules, as checked by geo's [`Validation`]: no
//!    self-intersection, holes inside the shell, rings that do not cross, parts that do not
//!    overlap;
//! 7. `properties.name` is a non-empty string; `code`, `parentCode` and the feature `id`, when
//!    present, are strings (ids may be numbers) and are not repeated within the collection;
//!    no string holds a NUL character (U+0000), which PostgreSQL cannot store.
//!
//! Rings may come in either orientation: output is normalised by [`crate::export`].

use std::collections::HashMap;

use geo::{Coord, LineString, MultiPolygon, Point, Polygon, Validation};
use serde_json::{Map, Value};

use crate::codes::{check_code, CodeError};
use crate::{GridKind, Household};

/// One checked feature of an imported FeatureCollection of units.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportFeature {
    /// The feature's position in the collection, for error messages further on.
    pub index: usize,
    /// The GeoJSON feature `id`, when given.
    pub feature_id: Option<String>,
    pub name: String,
    /// The unit's code, when given; otherwise one is issued (see [`crate::codes`]).
    pub code: Option<String>,
    /// The parent's code, when given; otherwise the parent is found by containment.
    pub parent_code: Option<String>,
    pub kind: GridKind,
    /// WGS84 lon/lat.
    pub geometry: MultiPolygon<f64>,
}

/// The first fault found in an imported document. `feature` is the 0-based index in
/// `features`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// The document is not a FeatureCollection with an array of features.
    #[error("not a GeoJSON FeatureCollection: {reason}")]
    NotFeatureCollection { reason: String },
    /// The collection holds no features: an import of nothing is almost always a mistake.
    #[error("the FeatureCollection has no features")]
    Empty,
    /// A member has the wrong JSON type or GeoJSON type.
    #[error("feature {feature}: {field}: expected {expected}, found {found}")]
    WrongType {
        feature: usize,
        field: String,
        expected: &'static str,
        found: String,
    },
    /// A required property is missing or empty.
    #[error("feature {feature}: properties.{property} is missing or empty")]
    MissingProperty {
        feature: usize,
        property: &'static str,
    },
    /// A value that must be unique within the collection is repeated.
    #[error("feature {feature}: {field} {value:?} is already used by feature {first}")]
    Duplicate {
        feature: usize,
        first: usize,
        field: &'static str,
        value: String,
    },
    /// A property value is not acceptable.
    #[error("feature {feature}: properties.{property}: {reason}")]
    BadProperty {
        feature: usize,
        property: &'static str,
        reason: String,
    },
    /// A coordinate is NaN or infinite (or not a number at all).
    #[error("feature {feature}: {path}: coordinate is not a finite number")]
    NonFiniteCoordinate { feature: usize, path: String },
    /// A position lies outside lon -180..180, lat -90..90.
    #[error("feature {feature}: {path}: position ({lon}, {lat}) is out of range (lon -180..180, lat -90..90)")]
    OutOfRange {
        feature: usize,
        path: String,
        lon: f64,
        lat: f64,
    },
    /// A ring with fewer than 4 positions.
    #[error("feature {feature}: {path}: ring has {count} positions, a ring needs at least 4")]
    TooFewPositions {
        feature: usize,
        path: String,
        count: usize,
    },
    /// A ring whose last position differs from its first.
    #[error("feature {feature}: {path}: ring is not closed: it starts at ({first_lon}, {first_lat}) and ends at ({last_lon}, {last_lat})")]
    UnclosedRing {
        feature: usize,
        path: String,
        first_lon: f64,
        first_lat: f64,
        last_lon: f64,
        last_lat: f64,
    },
    /// The polygon breaks an OGC validity rule (self-intersection, crossing rings, ...).
    #[error("feature {feature}: geometry is invalid: {reason}")]
    InvalidPolygon { feature: usize, reason: String },
}

impl ValidationError {
    /// The index of the feature at fault, if the fault is in one feature.
    pub fn feature(&self) -> Option<usize> {
        use ValidationError::*;
        match self {
            NotFeatureCollection { .. } | Empty => None,
            WrongType { feature, .. }
            | MissingProperty { feature, .. }
            | Duplicate { feature, .. }
            | BadProperty { feature, .. }
            | NonFiniteCoordinate { feature, .. }
            | OutOfRange { feature, .. }
            | TooFewPositions { feature, .. }
            | UnclosedRing { feature, .. }
            | InvalidPolygon { feature, .. } => Some(*feature),
        }
    }

    /// The member at fault, as a path within the feature (`properties.name`,
    /// `geometry.coordinates[0][2]`, ...).
    pub fn field(&self) -> Option<String> {
        use ValidationError::*;
        match self {
            NotFeatureCollection { .. } | Empty => None,
            WrongType { field, .. } => Some(field.clone()),
            MissingProperty { property, .. } | BadProperty { property, .. } => {
                Some(format!("properties.{property}"))
            }
            Duplicate { field, .. } => Some((*field).to_owned()),
            NonFiniteCoordinate { path, .. }
            | OutOfRange { path, .. }
            | TooFewPositions { path, .. }
            | UnclosedRing { path, .. } => Some(path.clone()),
            InvalidPolygon { .. } => Some("geometry".to_owned()),
        }
    }

    /// Whether the fault is in a geometry (as opposed to the document's structure or
    /// properties).
    pub fn is_geometry(&self) -> bool {
        use ValidationError::*;
        matches!(
            self,
            NonFiniteCoordinate { .. }
                | OutOfRange { .. }
                | TooFewPositions { .. }
                | UnclosedRing { .. }
                | InvalidPolygon { .. }
        ) || matches!(self, WrongType { field, .. } if field.starts_with("geometry"))
    }
}

/// Parses a FeatureCollection of unit polygons, checking every rule of this module.
///
/// ```
/// let collection = serde_json::json!({
///     "type": "FeatureCollection",
///     "features": [{
///         "type": "Feature",
///         "properties": { "name": "水井坊社区", "code": "510104017001" },
///         "geometry": { "type": "Polygon", "coordinates": [[
///             [104.08, 30.65], [104.09, 30.65], [104.09, 30.66], [104.08, 30.66], [104.08, 30.65]
///         ]] }
///     }]
/// });
/// let features = geodata::parse_units(&collection).unwrap();
/// assert_eq!(features[0].code.as_deref(), Some("510104017001"));
///
/// let mut unclosed = collection.clone();
/// unclosed["features"][0]["geometry"]["coordinates"][0][4] = serde_json::json!([104.08, 30.651]);
/// let error = geodata::parse_units(&unclosed).unwrap_err();
/// assert_eq!(error.feature(), Some(0));
/// assert!(error.to_string().contains("not closed"), "{error}");
/// ```
///
/// # Errors
/// The first [`ValidationError`] found; nothing is returned partially.
pub fn parse_units(collection: &Value) -> Result<Vec<ImportFeature>, ValidationError> {
    let features = features_of(collection)?;
    let mut ids = Uniques::new("id");
    let mut codes = Uniques::new("properties.code");
    let mut parsed = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let (feature_id, properties, geometry) = feature_parts(index, feature)?;
        let name = required_string(index, properties, "name")?;
        let code = optional_string(index, properties, "code")?;
        if let Some(code) = &code {
            check_code(code).map_err(|e| bad_code(index, "code", e))?;
            codes.insert(index, code)?;
        }
        let parent_code = optional_string(index, properties, "parentCode")?;
        let kind = match optional_string(index, properties, "kind")? {
            Some(kind) => kind
                .parse()
                .map_err(|reason| ValidationError::BadProperty {
                    feature: index,
                    property: "kind",
                    reason,
                })?,
            None => GridKind::General,
        };
        if let Some(id) = &feature_id {
            ids.insert(index, id)?;
        }
        let geometry = parse_polygonal(index, geometry)?;
        parsed.push(ImportFeature {
            index,
            feature_id,
            name,
            code,
            parent_code,
            kind,
            geometry,
        });
    }
    Ok(parsed)
}

/// Parses a FeatureCollection of household points. Each feature needs an id (the feature
/// `id` or `properties.id`, unique), and may give `persons` (a whole number, default 1) and
/// `building` (the building key households share).
///
/// ```
/// let collection = serde_json::json!({
///     "type": "FeatureCollection",
///     "features": [{
///         "type": "Feature", "id": "H1",
///         "properties": { "persons": 3, "building": "B7" },
///         "geometry": { "type": "Point", "coordinates": [104.085, 30.655] }
///     }]
/// });
/// let households = geodata::validate::parse_households(&collection).unwrap();
/// assert_eq!((households[0].id.as_str(), households[0].persons), ("H1", 3));
/// ```
///
/// # Errors
/// The first [`ValidationError`] found.
pub fn parse_households(collection: &Value) -> Result<Vec<Household>, ValidationError> {
    let features = features_of(collection)?;
    let mut ids = Uniques::new("id");
    let mut households = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let household = parse_household(index, feature)?;
        ids.insert(index, &household.id)?;
        households.push(household);
    }
    Ok(households)
}

/// One household feature of a collection, the `index`-th: what [`parse_households`] checks of
/// each, except that ids are unique, for readers that stream a collection feature by feature.
///
/// # Errors
/// The first [`ValidationError`] found, naming `index`.
pub fn parse_household(index: usize, feature: &Value) -> Result<Household, ValidationError> {
    let (feature_id, properties, geometry) = feature_parts(index, feature)?;
    let id = match feature_id {
        Some(id) => id,
        None => required_string(index, properties, "id")?,
    };
    let persons = match properties.get("persons") {
        None | Some(Value::Null) => 1,
        Some(value) => value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| ValidationError::BadProperty {
                feature: index,
                property: "persons",
                reason: format!("expected a whole number of persons, found {value}"),
            })?,
    };
    let building = optional_string(index, properties, "building")?;
    let point = parse_point(index, geometry)?;
    Ok(Household {
        id,
        point,
        persons,
        building,
    })
}

/// Checks one household position given outside GeoJSON (a CSV row, a GraphQL argument).
///
/// # Errors
/// [`ValidationError::NonFiniteCoordinate`] or [`ValidationError::OutOfRange`], with `feature`
/// set to `row`.
pub fn check_position(row: usize, lon: f64, lat: f64) -> Result<Point<f64>, ValidationError> {
    let coord = position(row, "position", &Value::from(vec![lon, lat]))?;
    Ok(Point(coord))
}

fn features_of(collection: &Value) -> Result<&Vec<Value>, ValidationError> {
    let not_fc = |reason: String| ValidationError::NotFeatureCollection { reason };
    let object = collection.as_object().ok_or_else(|| {
        not_fc(format!(
            "expected an object, found {}",
            type_name(collection)
        ))
    })?;
    match object.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {}
        Some(other) => return Err(not_fc(format!("type is {other:?}"))),
        None => return Err(not_fc("type is missing".to_owned())),
    }
    let features = object
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| not_fc("features is missing or not an array".to_owned()))?;
    if features.is_empty() {
        return Err(ValidationError::Empty);
    }
    Ok(features)
}

type FeatureParts<'a> = (Option<String>, &'a Map<String, Value>, &'a Value);

fn feature_parts(index: usize, feature: &Value) -> Result<FeatureParts<'_>, ValidationError> {
    static NO_PROPERTIES: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let object = feature
        .as_object()
        .ok_or_else(|| ValidationError::WrongType {
            feature: index,
            field: "feature".to_owned(),
            expected: "an object",
            found: type_name(feature),
        })?;
    let kind = object.get("type").and_then(Value::as_str);
    if kind != Some("Feature") {
        return Err(ValidationError::WrongType {
            feature: index,
            field: "type".to_owned(),
            expected: "\"Feature\"",
            found: object
                .get("type")
                .map_or("nothing".to_owned(), Value::to_string),
        });
    }
    let feature_id = match object.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.contains('\0') => {
            return Err(ValidationError::WrongType {
                feature: index,
                field: "id".to_owned(),
                expected: "a string without NUL characters",
                found: NUL_IN_TEXT.to_owned(),
            })
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(ValidationError::WrongType {
                feature: index,
                field: "id".to_owned(),
                expected: "a string or a number",
                found: type_name(other),
            })
        }
    };
    let properties = match object.get("properties") {
        None | Some(Value::Null) => NO_PROPERTIES.get_or_init(Map::new),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(ValidationError::WrongType {
                feature: index,
                field: "properties".to_owned(),
                expected: "an object",
                found: type_name(other),
            })
        }
    };
    let geometry = object
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or_else(|| ValidationError::WrongType {
            feature: index,
            field: "geometry".to_owned(),
            expected: "a geometry object",
            found: "nothing".to_owned(),
        })?;
    Ok((feature_id, properties, geometry))
}

/// Why text holding U+0000 is refused: PostgreSQL cannot store it in a text column, so it
/// would fail the whole import late, inside the transaction, instead of here.
const NUL_IN_TEXT: &str = "a string with a NUL character (U+0000), which cannot be stored";

fn required_string(
    index: usize,
    properties: &Map<String, Value>,
    property: &'static str,
) -> Result<String, ValidationError> {
    optional_string(index, properties, property)?.ok_or(ValidationError::MissingProperty {
        feature: index,
        property,
    })
}

fn optional_string(
    index: usize,
    properties: &Map<String, Value>,
    property: &'static str,
) -> Result<Option<String>, ValidationError> {
    match properties.get(property) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.contains('\0') => Err(ValidationError::BadProperty {
            feature: index,
            property,
            reason: NUL_IN_TEXT.to_owned(),
        }),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(other) => Err(ValidationError::WrongType {
            feature: index,
            field: format!("properties.{property}"),
            expected: "a string",
            found: type_name(other),
        }),
    }
}

fn bad_code(index: usize, property: &'static str, error: CodeError) -> ValidationError {
    ValidationError::BadProperty {
        feature: index,
        property,
        reason: error.to_string(),
    }
}

/// Remembers the first feature that used each value of a member that must be unique.
struct Uniques {
    field: &'static str,
    first_use: HashMap<String, usize>,
}

impl Uniques {
    fn new(field: &'static str) -> Self {
        Uniques {
            field,
            first_use: HashMap::new(),
        }
    }

    fn insert(&mut self, index: usize, value: &str) -> Result<(), ValidationError> {
        match self.first_use.insert(value.to_owned(), index) {
            Some(first) => Err(ValidationError::Duplicate {
                feature: index,
                first,
                field: self.field,
                value: value.to_owned(),
            }),
            None => Ok(()),
        }
    }
}

fn geometry_type(index: usize, geometry: &Value) -> Result<&str, ValidationError> {
    geometry
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ValidationError::WrongType {
            feature: index,
            field: "geometry.type".to_owned(),
            expected: "a GeoJSON geometry type",
            found: geometry
                .get("type")
                .map_or("nothing".to_owned(), Value::to_string),
        })
}

fn coordinates(index: usize, geometry: &Value) -> Result<&Value, ValidationError> {
    geometry
        .get("coordinates")
        .ok_or_else(|| ValidationError::WrongType {
            feature: index,
            field: "geometry.coordinates".to_owned(),
            expected: "an array",
            found: "nothing".to_owned(),
        })
}

fn parse_polygonal(index: usize, geometry: &Value) -> Result<MultiPolygon<f64>, ValidationError> {
    let kind = geometry_type(index, geometry)?;
    let coordinates = coordinates(index, geometry)?;
    let path = "geometry.coordinates".to_owned();
    let multi = match kind {
        "Polygon" => MultiPolygon::new(vec![polygon(index, &path, coordinates)?]),
        "MultiPolygon" => {
            let parts = array(index, &path, coordinates, "an array of polygons")?;
            if parts.is_empty() {
                return Err(ValidationError::WrongType {
                    feature: index,
                    field: path,
                    expected: "at least one polygon",
                    found: "an empty array".to_owned(),
                });
            }
            let polygons = parts
                .iter()
                .enumerate()
                .map(|(i, part)| polygon(index, &format!("{path}[{i}]"), part))
                .collect::<Result<Vec<_>, _>>()?;
            MultiPolygon::new(polygons)
        }
        other => {
            return Err(ValidationError::WrongType {
                feature: index,
                field: "geometry.type".to_owned(),
                expected: "\"Polygon\" or \"MultiPolygon\"",
                found: format!("{other:?}"),
            })
        }
    };
    if let Some(problem) = multi.validation_errors().into_iter().next() {
        return Err(ValidationError::InvalidPolygon {
            feature: index,
            reason: problem.to_string(),
        });
    }
    if let Some(part) = multi.iter().position(has_disconnected_interior) {
        return Err(ValidationError::InvalidPolygon {
            feature: index,
            reason: format!(
                "polygon {part}'s rings touch so that its interior falls apart (a hole touching the shell, or another hole, at more than one point)"
            ),
        });
    }
    Ok(multi)
}

/// The OGC rule geo's validation leaves out: a polygon's interior must be connected. Rings
/// may touch at single points, but a cycle of touches (a hole touching the shell twice, or
/// two holes touching each other and the shell) cuts the interior in pieces.
fn has_disconnected_interior(polygon: &Polygon<f64>) -> bool {
    if polygon.interiors().is_empty() {
        return false;
    }
    let rings: Vec<&LineString<f64>> = std::iter::once(polygon.exterior())
        .chain(polygon.interiors())
        .collect();
    // Union-find over rings: a touch between rings already connected closes a cycle.
    let mut group: Vec<usize> = (0..rings.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for a in 0..rings.len() {
        for b in a + 1..rings.len() {
            for _ in 0..touch_points(rings[a], rings[b]) {
                let (ra, rb) = (root(&mut group, a), root(&mut group, b));
                if ra == rb {
                    return true;
                }
                group[ra] = rb;
            }
        }
    }
    false
}

/// How many distinct points two rings share (they cross nowhere once geo's validation passed).
fn touch_points(a: &LineString<f64>, b: &LineString<f64>) -> usize {
    use geo::Intersects;
    let on = |ring: &LineString<f64>, c: &Coord<f64>| ring.intersects(c);
    let mut points: Vec<Coord<f64>> = a
        .coords()
        .filter(|c| on(b, c))
        .chain(b.coords().filter(|c| on(a, c)))
        .copied()
        .collect();
    points.sort_by(|p, q| p.x.total_cmp(&q.x).then(p.y.total_cmp(&q.y)));
    points.dedup();
    points.len()
}

fn parse_point(index: usize, geometry: &Value) -> Result<Point<f64>, ValidationError> {
    match geometry_type(index, geometry)? {
        "Point" => Ok(Point(position(
            index,
            "geometry.coordinates",
            coordinates(index, geometry)?,
        )?)),
        other => Err(ValidationError::WrongType {
            feature: index,
            field: "geometry.type".to_owned(),
            expected: "\"Point\"",
            found: format!("{other:?}"),
        }),
    }
}

fn polygon(index: usize, path: &str, value: &Value) -> Result<Polygon<f64>, ValidationError> {
    let rings = array(index, path, value, "an array of rings")?;
    if rings.is_empty() {
        return Err(ValidationError::WrongType {
            feature: index,
            field: path.to_owned(),
            expected: "at least one ring",
            found: "an empty array".to_owned(),
        });
    }
    let mut rings = rings
        .iter()
        .enumerate()
        .map(|(i, ring)| linear_ring(index, &format!("{path}[{i}]"), ring));
    let exterior = rings
        .next()
        .unwrap_or_else(|| Ok(LineString::new(vec![])))?;
    let interiors = rings.collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

fn linear_ring(
    index: usize,
    path: &str,
    value: &Value,
) -> Result<LineString<f64>, ValidationError> {
    let positions = array(index, path, value, "an array of positions")?;
    let coords = positions
        .iter()
        .enumerate()
        .map(|(i, p)| position(index, &format!("{path}[{i}]"), p))
        .collect::<Result<Vec<_>, _>>()?;
    if coords.len() < 4 {
        return Err(ValidationError::TooFewPositions {
            feature: index,
            path: path.to_owned(),
            count: coords.len(),
        });
    }
    let (first, last) = (coords[0], coords[coords.len() - 1]);
    if first != last {
        return Err(ValidationError::UnclosedRing {
            feature: index,
            path: path.to_owned(),
            first_lon: first.x,
            first_lat: first.y,
            last_lon: last.x,
            last_lat: last.y,
        });
    }
    Ok(LineString::new(coords))
}

fn position(index: usize, path: &str, value: &Value) -> Result<Coord<f64>, ValidationError> {
    let numbers = array(index, path, value, "a position [lon, lat]")?;
    if numbers.len() < 2 {
        return Err(ValidationError::WrongType {
            feature: index,
            field: path.to_owned(),
            expected: "a position [lon, lat]",
            found: format!("{} number(s)", numbers.len()),
        });
    }
    let number = |v: &Value| v.as_f64().filter(|x| x.is_finite());
    let (Some(lon), Some(lat)) = (number(&numbers[0]), number(&numbers[1])) else {
        return Err(ValidationError::NonFiniteCoordinate {
            feature: index,
            path: path.to_owned(),
        });
    };
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(ValidationError::OutOfRange {
            feature: index,
            path: path.to_owned(),
            lon,
            lat,
        });
    }
    Ok(Coord { x: lon, y: lat })
}

fn array<'a>(
    index: usize,
    path: &str,
    value: &'a Value,
    expected: &'static str,
) -> Result<&'a Vec<Value>, ValidationError> {
    value.as_array().ok_or_else(|| ValidationError::WrongType {
        feature: index,
        field: path.to_owned(),
        expected,
        found: type_name(value),
    })
}

fn type_name(value: &Value) -> String {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
    .to_owned()
}

#[cfg(test)]
mod tests;
