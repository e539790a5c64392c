//! A small made-up hierarchy near Chengdu, every level tiling its parent exactly:
//! a city of two districts (west and east of 104.2° E), one street each, each street split
//! into a north and a south community at 30.7° N, each community into a west and an east grid.

use serde_json::{json, Value};

use crate::server::Server;

/// A rectangle as a GeoJSON Polygon, counter-clockwise.
/// The `extensions.code` of a GraphQL answer's first error (panics when there is none).
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error with a code: {body:#}"))
}

pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

pub fn feature(properties: Value, geometry: Value) -> Value {
    json!({"type": "Feature", "properties": properties, "geometry": geometry})
}

pub fn collection(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

pub fn city() -> Value {
    collection(vec![feature(
        json!({"name": "Test City", "code": "9901"}),
        rect(104.0, 30.6, 104.4, 30.8),
    )])
}

/// Districts with codes, parents found by containment.
pub fn districts() -> Value {
    collection(vec![
        feature(
            json!({"name": "West", "code": "990101"}),
            rect(104.0, 30.6, 104.2, 30.8),
        ),
        feature(
            json!({"name": "East", "code": "990102"}),
            rect(104.2, 30.6, 104.4, 30.8),
        ),
    ])
}

/// Streets with codes and parent codes.
pub fn streets() -> Value {
    collection(vec![
        feature(
            json!({"name": "West Street", "code": "990101001", "parentCode": "990101"}),
            rect(104.0, 30.6, 104.2, 30.8),
        ),
        feature(
            json!({"name": "East Street", "code": "990102001", "parentCode": "990102"}),
            rect(104.2, 30.6, 104.4, 30.8),
        ),
    ])
}

/// Communities without codes: codes are issued, north (001) before south (002).
pub fn communities() -> Value {
    let mut features = Vec::new();
    for (street, x0, x1) in [("West", 104.0, 104.2), ("East", 104.2, 104.4)] {
        features.push(feature(
            json!({"name": format!("{street} South")}),
            rect(x0, 30.6, x1, 30.7),
        ));
        features.push(feature(
            json!({"name": format!("{street} North")}),
            rect(x0, 30.7, x1, 30.8),
        ));
    }
    collection(features)
}

/// Grids without codes: west (001) before east (002) in each community.
pub fn grids() -> Value {
    let mut features = Vec::new();
    for (x0, x1) in [(104.0, 104.2), (104.2, 104.4)] {
        let mid = if x0 < 104.1 { 104.1 } else { 104.3 };
        for (y0, y1) in [(30.6, 30.7), (30.7, 30.8)] {
            features.push(feature(json!({"name": "east grid"}), rect(mid, y0, x1, y1)));
            features.push(feature(json!({"name": "west grid"}), rect(x0, y0, mid, y1)));
        }
    }
    collection(features)
}

/// Six households: five inside the city (one exactly on the edge between two grids), one
/// outside.
pub fn households() -> Value {
    let home = |id: &str, lon: f64, lat: f64, persons: u32| {
        json!({"type": "Feature", "id": id, "properties": {"persons": persons, "building": format!("B-{id}")},
               "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    };
    collection(vec![
        home("h1", 104.05, 30.75, 2),
        home("h2", 104.15, 30.75, 3),
        home("h3", 104.15, 30.65, 1),
        home("h4", 104.35, 30.65, 4),
        home("h5", 104.1, 30.75, 5),
        home("h6", 105.0, 31.0, 1),
    ])
}

pub const IMPORT_UNITS: &str = r#"
mutation($level: Level!, $fc: JSON!) {
  importUnits(level: $level, featureCollection: $fc) {
    imported reassignedHouseholds
    units { id code name level parent { code } }
    system { id version }
  }
}"#;

pub const IMPORT_HOUSEHOLDS: &str = r#"
mutation($fc: JSON!) {
  importHouseholds(featureCollection: $fc) { imported householdsOutsideGrids }
}"#;

/// A unit's stored (households, persons), by code.
pub fn unit_counts(server: &Server, code: &str) -> (i64, i64) {
    let data = server.query(
        "query($code: String!) { unit(code: $code) { householdCount personCount } }",
        json!({"code": code}),
    );
    (
        data["unit"]["householdCount"].as_i64().expect("count"),
        data["unit"]["personCount"].as_i64().expect("count"),
    )
}

/// Imports the fixture hierarchy from the city down to `deepest` (a `Level` name) through
/// GraphQL.
pub fn import_hierarchy(server: &Server, deepest: &str) {
    let levels = [
        ("CITY", city()),
        ("DISTRICT", districts()),
        ("STREET", streets()),
        ("COMMUNITY", communities()),
        ("GRID", grids()),
    ];
    for (level, fc) in levels {
        server.query(IMPORT_UNITS, json!({"level": level, "fc": fc}));
        if level == deepest {
            return;
        }
    }
}
