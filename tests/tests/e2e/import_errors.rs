//! Bad GeoJSON is refused whole, with a code and a message that say what and where, and
//! nothing changes in the database.

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::server::Server;

crate::on_every_backend!(every_class_of_bad_geojson_is_refused_and_nothing_is_written);

/// A valid street in the west district, to pair with a bad one.
fn good_street() -> Value {
    feature(json!({"name": "Good"}), rect(104.0, 30.6, 104.1, 30.8))
}

/// (what is wrong, the collection, the expected `extensions.code`, text the message holds)
fn bad_collections() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let polygon = |coordinates: Value| json!({"type": "Polygon", "coordinates": coordinates});
    vec![
        (
            "not a FeatureCollection",
            json!({"type": "Feature"}),
            "INVALID_INPUT",
            "FeatureCollection",
        ),
        (
            "no features",
            collection(vec![]),
            "INVALID_INPUT",
            "no features",
        ),
        (
            "a point, not a polygon",
            collection(vec![
                good_street(),
                feature(
                    json!({"name": "P"}),
                    json!({"type": "Point", "coordinates": [104.1, 30.7]}),
                ),
            ]),
            "INVALID_GEOMETRY",
            "feature 1: geometry.type",
        ),
        (
            "missing name",
            collection(vec![
                good_street(),
                feature(json!({"code": "X1"}), rect(104.1, 30.6, 104.2, 30.8)),
            ]),
            "INVALID_INPUT",
            "feature 1: properties.name",
        ),
        (
            "duplicate code",
            collection(vec![
                feature(
                    json!({"name": "A", "code": "990101001"}),
                    rect(104.0, 30.6, 104.1, 30.8),
                ),
                feature(
                    json!({"name": "B", "code": "990101001"}),
                    rect(104.1, 30.6, 104.2, 30.8),
                ),
            ]),
            "INVALID_INPUT",
            "feature 1: properties.code",
        ),
        (
            "duplicate id",
            collection(vec![
                json!({"type": "Feature", "id": 7, "properties": {"name": "A"}, "geometry": rect(104.0, 30.6, 104.1, 30.8)}),
                json!({"type": "Feature", "id": 7, "properties": {"name": "B"}, "geometry": rect(104.1, 30.6, 104.2, 30.8)}),
            ]),
            "INVALID_INPUT",
            "feature 1: id",
        ),
        (
            "code taken by a stored unit",
            collection(vec![feature(
                json!({"name": "A", "code": "990101"}),
                rect(104.0, 30.6, 104.1, 30.8),
            )]),
            "CONFLICT",
            "feature 0: properties.code",
        ),
        (
            "NaN coordinate",
            collection(vec![
                good_street(),
                feature(
                    json!({"name": "N"}),
                    polygon(json!([[
                        [104.1, 30.6],
                        ["NaN", 30.6],
                        [104.2, 30.8],
                        [104.1, 30.6]
                    ]])),
                ),
            ]),
            "INVALID_GEOMETRY",
            "feature 1: geometry.coordinates[0][1]: coordinate is not a finite number",
        ),
        (
            "latitude out of range",
            collection(vec![
                good_street(),
                feature(
                    json!({"name": "N"}),
                    polygon(json!([[
                        [104.1, 30.6],
                        [104.2, 91.0],
                        [104.2, 30.8],
                        [104.1, 30.6]
                    ]])),
                ),
            ]),
            "INVALID_GEOMETRY",
            "feature 1: geometry.coordinates[0][1]",
        ),
        (
            "unclosed ring",
            collection(vec![
                good_street(),
                feature(
                    json!({"name": "U"}),
                    polygon(json!([[
                        [104.1, 30.6],
                        [104.2, 30.6],
                        [104.2, 30.8],
                        [104.1, 30.8]
                    ]])),
                ),
            ]),
            "INVALID_GEOMETRY",
            "not closed",
        ),
        (
            "ring of three positions",
            collection(vec![
                good_street(),
                feature(
                    json!({"name": "T"}),
                    polygon(json!([[[104.1, 30.6], [104.2, 30.6], [104.1, 30.6]]])),
                ),
            ]),
            "INVALID_GEOMETRY",
            "at least 4",
        ),
        (
            "self-intersecting bow-tie",
            collection(vec![
                good_street(),
                feature(
                    json!({"name": "S"}),
                    polygon(json!([[
                        [104.1, 30.6],
                        [104.2, 30.8],
                        [104.2, 30.6],
                        [104.1, 30.8],
                        [104.1, 30.6]
                    ]])),
                ),
            ]),
            "INVALID_GEOMETRY",
            "feature 1: geometry is invalid",
        ),
        (
            "parent code that names no district",
            collection(vec![
                good_street(),
                feature(
                    json!({"name": "O", "parentCode": "123"}),
                    rect(104.1, 30.6, 104.2, 30.8),
                ),
            ]),
            "INVALID_INPUT",
            "feature 1: properties.parentCode",
        ),
        (
            "outside every district",
            collection(vec![
                good_street(),
                feature(json!({"name": "Far"}), rect(110.0, 30.6, 110.1, 30.8)),
            ]),
            "INVALID_INPUT",
            "feature 1: properties.parentCode",
        ),
    ]
}

fn snapshot(server: &Server) -> Value {
    server.query(
        "{ units(first: 1000) { totalCount edges { node { code householdCount } } } gridSystems { version } }",
        json!({}),
    )
}

fn every_class_of_bad_geojson_is_refused_and_nothing_is_written(server: &Server) {
    server.query(IMPORT_UNITS, json!({"level": "CITY", "fc": city()}));
    server.query(
        IMPORT_UNITS,
        json!({"level": "DISTRICT", "fc": districts()}),
    );
    let before = snapshot(server);
    for (what, fc, code, message) in bad_collections() {
        let body = server.graphql(IMPORT_UNITS, json!({"level": "STREET", "fc": fc}));
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], code, "{what}: {body:#}");
        let text = error["message"].as_str().unwrap_or_default();
        assert!(
            text.contains(message),
            "{what}: message {text:?} lacks {message:?}"
        );
        assert!(body["data"].is_null(), "{what}: {body:#}");
        assert_eq!(snapshot(server), before, "{what}: the database changed");
    }
    // Bad households too: a duplicate id refuses the whole collection.
    let body = server.graphql(
        IMPORT_HOUSEHOLDS,
        json!({"fc": collection(vec![
            json!({"type": "Feature", "id": "a", "properties": {}, "geometry": {"type": "Point", "coordinates": [104.1, 30.7]}}),
            json!({"type": "Feature", "id": "a", "properties": {}, "geometry": {"type": "Point", "coordinates": [104.1, 30.7]}}),
        ])}),
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{body:#}"
    );
    assert_eq!(body["errors"][0]["extensions"]["feature"], 1, "{body:#}");
    assert_eq!(snapshot(server), before);
}
