//! Tests of validation: the turf fixtures and one test per rule.

use serde_json::{json, Value};

use super::*;

fn square_collection() -> Value {
    json!({
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature", "id": "a",
                "properties": { "name": "west", "code": "W1" },
                "geometry": { "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]] }
            },
            {
                "type": "Feature", "id": "b",
                "properties": { "name": "east", "parentCode": "P", "kind": "DEDICATED" },
                "geometry": { "type": "MultiPolygon", "coordinates": [[[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]]] }
            }
        ]
    })
}

fn fixture(path: &str) -> Value {
    let full = format!(
        "{}/tests/fixtures/turf-boolean-valid/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&full).expect("fixture is readable");
    let mut value: Value = serde_json::from_str(&text).expect("fixture is JSON");
    for feature in value["features"].as_array_mut().expect("features") {
        feature["properties"] = json!({ "name": "fixture" });
    }
    value
}

#[test]
fn a_good_collection_parses_with_its_properties() {
    let units = parse_units(&square_collection()).expect("valid");
    assert_eq!(units.len(), 2);
    assert_eq!(units[0].feature_id.as_deref(), Some("a"));
    assert_eq!(units[0].code.as_deref(), Some("W1"));
    assert_eq!(units[1].parent_code.as_deref(), Some("P"));
    assert_eq!(units[1].kind, GridKind::Dedicated);
    assert_eq!(units[1].geometry.0.len(), 1);
}

#[test]
fn turf_valid_fixtures_are_accepted() {
    for name in [
        "true/polygon.geojson",
        "true/polygon-internal-hole.geojson",
        "true/polygon-with-hole-1-vertice-touching.geojson",
        "true/multipolygon.geojson",
        "true/multipolygon-touch.geojson",
        "true/multipolygon-with-hole.geojson",
    ] {
        if let Err(error) = parse_units(&fixture(name)) {
            panic!("{name} was refused: {error}");
        }
    }
}

#[test]
fn turf_invalid_fixtures_are_refused_with_the_feature_index() {
    for name in [
        "false/not-closing-ring.geojson",
        "false/not-enough-coords.geojson",
        "false/polygon-with-hole-2-vertices-touching.geojson",
        "false/polygon-with-puncture.geojson",
        "false/polygon-with-spike.geojson",
        "false/multipoly-with-2-vertices-touching.geojson",
        "false/multipolygons-overlap.geojson",
    ] {
        match parse_units(&fixture(name)) {
            Ok(_) => panic!("{name} was accepted"),
            Err(error) => {
                assert_eq!(error.feature(), Some(0), "{name}: {error}");
                assert!(error.is_geometry(), "{name}: {error}");
            }
        }
    }
}

fn refused(mutate: impl FnOnce(&mut Value)) -> ValidationError {
    let mut collection = square_collection();
    mutate(&mut collection);
    parse_units(&collection).expect_err("should be refused")
}

#[test]
fn each_rule_names_the_feature_and_the_member() {
    let e = refused(|c| c["type"] = json!("Feature"));
    assert!(
        matches!(e, ValidationError::NotFeatureCollection { .. }),
        "{e}"
    );

    let e = refused(|c| c["features"] = json!([]));
    assert_eq!(e, ValidationError::Empty);

    let e =
        refused(|c| c["features"][1]["geometry"] = json!({"type": "Point", "coordinates": [0, 0]}));
    assert_eq!(
        (e.feature(), e.field().as_deref()),
        (Some(1), Some("geometry.type"))
    );

    let e = refused(|c| c["features"][0]["properties"]["name"] = json!(""));
    assert_eq!(
        e.to_string(),
        "feature 0: properties.name is missing or empty"
    );

    let e = refused(|c| c["features"][1]["properties"]["code"] = json!("W1"));
    assert_eq!(
        e.to_string(),
        "feature 1: properties.code \"W1\" is already used by feature 0"
    );

    let e = refused(|c| c["features"][1]["id"] = json!("a"));
    assert_eq!((e.feature(), e.field().as_deref()), (Some(1), Some("id")));

    let e = refused(|c| c["features"][0]["geometry"]["coordinates"][0][2] = json!(["NaN", 1]));
    assert_eq!(
        e.to_string(),
        "feature 0: geometry.coordinates[0][2]: coordinate is not a finite number"
    );

    let e = refused(|c| c["features"][1]["geometry"]["coordinates"][0][0][1] = json!([200, 0]));
    assert_eq!(e.field().as_deref(), Some("geometry.coordinates[0][0][1]"));
    assert!(e.to_string().contains("out of range"), "{e}");

    let e = refused(|c| {
        c["features"][0]["geometry"]["coordinates"][0] = json!([[0, 0], [1, 0], [0, 0]])
    });
    assert!(
        matches!(e, ValidationError::TooFewPositions { count: 3, .. }),
        "{e}"
    );

    let e = refused(|c| c["features"][0]["geometry"]["coordinates"][0][4] = json!([0, 0.5]));
    assert!(
        matches!(e, ValidationError::UnclosedRing { feature: 0, .. }),
        "{e}"
    );

    // A bow-tie: the ring crosses itself.
    let e = refused(|c| {
        c["features"][1]["geometry"] = json!({"type": "Polygon",
            "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]})
    });
    assert!(
        matches!(e, ValidationError::InvalidPolygon { feature: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("self-intersection"), "{e}");

    let e = refused(|c| c["features"][0]["properties"]["kind"] = json!("SPECIAL"));
    assert_eq!(e.field().as_deref(), Some("properties.kind"));
}

#[test]
fn households_need_unique_ids_and_whole_persons() {
    let collection = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "h1", "persons": 2},
         "geometry": {"type": "Point", "coordinates": [104.0, 30.6]}},
        {"type": "Feature", "properties": {"id": "h1"},
         "geometry": {"type": "Point", "coordinates": [104.0, 30.6]}}
    ]});
    let e = parse_households(&collection).expect_err("duplicate id");
    assert_eq!(e.feature(), Some(1));

    let mut collection = collection;
    collection["features"][1]["properties"] = json!({"id": "h2", "persons": -1});
    let e = parse_households(&collection).expect_err("negative persons");
    assert_eq!(e.field().as_deref(), Some("properties.persons"));

    collection["features"][1]["properties"] = json!({"id": "h2"});
    let households = parse_households(&collection).expect("valid");
    assert_eq!(households[1].persons, 1);
}

#[test]
fn text_with_a_nul_character_is_refused_where_it_is() {
    let mut collection = square_collection();
    collection["features"][1]["properties"]["name"] = json!("east\u{0}");
    let e = parse_units(&collection).expect_err("NUL in a name");
    assert_eq!(e.feature(), Some(1));
    assert_eq!(e.field().as_deref(), Some("properties.name"));
    assert!(e.to_string().contains("NUL"), "{e}");

    let mut collection = square_collection();
    collection["features"][0]["id"] = json!("a\u{0}");
    let e = parse_units(&collection).expect_err("NUL in an id");
    assert_eq!((e.feature(), e.field().as_deref()), (Some(0), Some("id")));
}
