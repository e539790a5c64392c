//! The vertical slice: import a hierarchy and households, locate points, page through units
//! and households, download GeoJSON.

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::server::Server;

crate::on_every_backend!(
    an_imported_hierarchy_answers_locate_pages_and_geojson,
    a_hierarchy_may_start_below_the_city,
    the_schema_is_served_as_sdl_and_graphiql
);

fn import(server: &Server, level: &str, fc: Value) -> Value {
    server.query(IMPORT_UNITS, json!({"level": level, "fc": fc}))["importUnits"].clone()
}

fn locate_codes(server: &Server, lon: f64, lat: f64) -> Vec<String> {
    let data = server.query(
        "query($lon: Float!, $lat: Float!) { locate(lon: $lon, lat: $lat) { code level } }",
        json!({"lon": lon, "lat": lat}),
    );
    data["locate"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|u| u["code"].as_str().expect("code").to_owned())
        .collect()
}

fn an_imported_hierarchy_answers_locate_pages_and_geojson(server: &Server) {
    import(server, "CITY", city());
    let districts = import(server, "DISTRICT", districts());
    assert_eq!(
        districts["units"][0]["parent"]["code"], "9901",
        "parent found by containment"
    );
    import(server, "STREET", streets());
    let communities = import(server, "COMMUNITY", communities());
    let codes: Vec<&str> = communities["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| u["code"].as_str().expect("code"))
        .collect();
    // Issued in reading order under each street: north (001) before south (002).
    assert_eq!(
        codes,
        [
            "990101001002",
            "990101001001",
            "990102001002",
            "990102001001"
        ]
    );

    let households = server.query(IMPORT_HOUSEHOLDS, json!({"fc": households()}));
    assert_eq!(households["importHouseholds"]["imported"], 6);
    assert_eq!(households["importHouseholds"]["householdsOutsideGrids"], 6);
    assert_eq!(unit_counts(server, "990101001001"), (3, 10));

    let grids = import(server, "GRID", grids());
    assert_eq!(grids["imported"], 8);
    assert_eq!(
        grids["reassignedHouseholds"], 5,
        "households in the new grids move there"
    );
    assert_eq!(
        grids["units"][1]["code"], "990101001002001",
        "west grid of the south community"
    );

    // Counts along every chain, as a full recount would give.
    assert_eq!(
        unit_counts(server, "990101001001001"),
        (2, 7),
        "h1 and h5 (on the edge)"
    );
    assert_eq!(unit_counts(server, "990101001001002"), (1, 3));
    assert_eq!(unit_counts(server, "990101001001"), (3, 10));
    assert_eq!(unit_counts(server, "990101"), (4, 11));
    assert_eq!(unit_counts(server, "9901"), (5, 15));

    // Inside: the whole chain, deepest first.
    assert_eq!(
        locate_codes(server, 104.05, 30.75),
        [
            "990101001001001",
            "990101001001",
            "990101001",
            "990101",
            "9901"
        ]
    );
    // Outside everything: empty.
    assert!(locate_codes(server, 105.0, 31.0).is_empty());
    // On the edge shared by two grids: the smaller code, and only it.
    assert_eq!(locate_codes(server, 104.1, 30.75)[0], "990101001001001");
    // On the border of two districts: one chain, consistent all the way up.
    assert_eq!(
        locate_codes(server, 104.2, 30.75),
        [
            "990101001001002",
            "990101001001",
            "990101001",
            "990101",
            "9901"
        ]
    );

    // Paging through grids three at a time sees each grid once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = server.query(
            "query($after: String) { units(level: GRID, first: 3, after: $after) {
                totalCount edges { cursor node { code parent { code } } } pageInfo { hasNextPage endCursor } } }",
            json!({"after": after}),
        )["units"]
            .clone();
        assert_eq!(page["totalCount"], 8);
        for edge in page["edges"].as_array().expect("edges") {
            seen.push(edge["node"]["code"].as_str().expect("code").to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8);

    // A box over the north-west corner meets the grids whose polygon it touches.
    let boxed = server.query(
        "{ units(level: GRID, bbox: [104.01, 30.71, 104.09, 30.79]) { totalCount edges { node { code } } } }",
        json!({}),
    );
    assert_eq!(boxed["units"]["totalCount"], 1);
    assert_eq!(
        boxed["units"]["edges"][0]["node"]["code"],
        "990101001001001"
    );

    // Households of the city, two a page.
    let city_id = server.query("{ unit(code: \"9901\") { id } }", json!({}))["unit"]["id"].clone();
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = server.query(
            "query($unit: ID!, $after: String) { households(unitId: $unit, first: 2, after: $after) {
                totalCount edges { node { id persons building unit { code } } } pageInfo { hasNextPage endCursor } } }",
            json!({"unit": city_id, "after": after}),
        )["households"]
            .clone();
        assert_eq!(page["totalCount"], 5);
        for edge in page["edges"].as_array().expect("edges") {
            ids.push(edge["node"]["id"].as_str().expect("id").to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(ids, ["h1", "h2", "h3", "h4", "h5"]);

    // GeoJSON download of the grids.
    let (status, content_type, body) = server.get("/geojson/units?level=GRID");
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/geo+json");
    let collection: Value = serde_json::from_str(&body).expect("GeoJSON");
    let features = collection["features"].as_array().expect("features");
    assert_eq!(features.len(), 8);
    let households: i64 = features
        .iter()
        .map(|f| f["properties"]["households"].as_i64().expect("households"))
        .sum();
    assert_eq!(households, 5);
    for f in features {
        for key in [
            "id",
            "code",
            "name",
            "level",
            "parentCode",
            "households",
            "persons",
        ] {
            assert!(f["properties"].get(key).is_some(), "{key} missing in {f}");
        }
        assert_eq!(f["geometry"]["type"], "MultiPolygon");
        assert!(
            signed_area(&f["geometry"]["coordinates"][0][0]) > 0.0,
            "exterior ring is counter-clockwise"
        );
    }
    let (_, _, within) = server.get("/geojson/units?level=GRID&within=990102001001");
    let within: Value = serde_json::from_str(&within).expect("GeoJSON");
    assert_eq!(within["features"].as_array().expect("features").len(), 2);
    let (status, _, body) = server.get("/geojson/units?level=GRID&within=nowhere");
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = server.get("/geojson/units?level=BLOCK");
    assert_eq!(status, 400, "{body}");
}

fn signed_area(ring: &Value) -> f64 {
    let points: Vec<(f64, f64)> = ring
        .as_array()
        .expect("ring")
        .iter()
        .map(|p| (p[0].as_f64().expect("x"), p[1].as_f64().expect("y")))
        .collect();
    points
        .windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum::<f64>()
        / 2.0
}

fn the_schema_is_served_as_sdl_and_graphiql(server: &Server) {
    let (status, _, sdl) = server.get("/graphql/schema.graphql");
    assert_eq!(status, 200);
    for needle in [
        "type Unit",
        "enum Level",
        "MICRO_GRID",
        "locate(",
        "type UnitConnection",
        "totalCount",
    ] {
        assert!(sdl.contains(needle), "SDL lacks {needle}");
    }
    let (status, content_type, _) = server.get("/graphql");
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    let systems = server.query("{ gridSystems { id name version isDefault } }", json!({}));
    assert_eq!(systems["gridSystems"][0]["isDefault"], true);

    // Errors raised by the GraphQL layer itself carry codes too.
    let code =
        |query: &str| server.graphql(query, json!({}))["errors"][0]["extensions"]["code"].clone();
    assert_eq!(code("{ nothingHere }"), "INVALID_INPUT");
    assert_eq!(code("{ units("), "INVALID_INPUT");
    let deep = format!(
        "{{ locate(lon: 104.05, lat: 30.75) {{ {} code {} }} }}",
        "parent { ".repeat(14),
        "}".repeat(14)
    );
    assert_eq!(code(&deep), "LIMIT_EXCEEDED");
}

fn a_hierarchy_may_start_below_the_city(server: &Server) {
    let community = collection(vec![feature(
        json!({"name": "Lone Community", "code": "510104017001"}),
        rect(104.0, 30.6, 104.1, 30.7),
    )]);
    let imported = import(server, "COMMUNITY", community);
    assert!(imported["units"][0]["parent"].is_null());
    let grids = collection(vec![
        feature(json!({"name": "east"}), rect(104.05, 30.6, 104.1, 30.7)),
        feature(json!({"name": "west"}), rect(104.0, 30.6, 104.05, 30.7)),
    ]);
    let grids = import(server, "GRID", grids);
    assert_eq!(grids["units"][0]["code"], "510104017001002");
    assert_eq!(grids["units"][1]["code"], "510104017001001");
    assert_eq!(
        locate_codes(server, 104.01, 30.65),
        ["510104017001001", "510104017001"]
    );
    // A grid outside every community, while communities exist, is refused.
    let stray = collection(vec![feature(
        json!({"name": "stray"}),
        rect(105.0, 30.6, 105.1, 30.7),
    )]);
    let body = server.graphql(IMPORT_UNITS, json!({"level": "GRID", "fc": stray}));
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{body:#}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "properties.parentCode"
    );
}
