//! Vector tiles as a map client uses them: TileJSON, then tiles decoded by an independent
//! reader (`mvt-reader`): layers per level and zoom, properties, ids, every grid found once,
//! a fresh tile after an import, and 404s for addresses that are no tiles.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use mvt_reader::feature::Value as Tag;
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::server::Server;

crate::on_every_backend!(a_map_client_reads_tilejson_and_every_grid_from_vector_tiles);

/// Status, content type and body bytes of a GET.
fn get_bytes(server: &Server, path: &str) -> (u16, String, Vec<u8>) {
    let response = match ureq::get(&server.url(path)).call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("GET {path} failed: {e}"),
    };
    let status = response.status();
    let content_type = response
        .header("content-type")
        .unwrap_or_default()
        .to_owned();
    let mut body = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut body)
        .expect("a body");
    (status, content_type, body)
}

/// The XYZ tile holding a WGS84 point (the slippy-map formula, as every client computes it).
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let lat = lat.to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x as u32, y as u32)
}

/// A decoded feature: layer, id and properties.
struct Feature {
    layer: String,
    id: u64,
    properties: BTreeMap<String, Tag>,
}

fn decode(bytes: Vec<u8>) -> Vec<Feature> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let reader = mvt_reader::Reader::new(bytes).expect("a valid vector tile");
    let names = reader.get_layer_names().expect("layer names");
    let mut features = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let metadata = &reader.get_layer_metadata().expect("metadata")[i];
        assert_eq!((metadata.version, metadata.extent), (2, 4096));
        for feature in reader.get_features(i).expect("features") {
            let geometry = format!("{:?}", feature.geometry).to_ascii_uppercase();
            assert!(
                geometry.starts_with("POLYGON") || geometry.starts_with("MULTIPOLYGON"),
                "{name}: {geometry}"
            );
            features.push(Feature {
                layer: name.clone(),
                id: feature.id.expect("a feature id"),
                properties: feature.properties.unwrap_or_default().into_iter().collect(),
            });
        }
    }
    features
}

fn tile(server: &Server, system: &str, z: u32, x: u32, y: u32) -> Vec<Feature> {
    let path = format!("/tiles/{system}/{z}/{x}/{y}.mvt");
    let (status, content_type, body) = get_bytes(server, &path);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "application/vnd.mapbox-vector-tile");
    decode(body)
}

fn layers(features: &[Feature]) -> Vec<&str> {
    let mut names: Vec<&str> = features.iter().map(|f| f.layer.as_str()).collect();
    names.dedup();
    names
}

fn a_map_client_reads_tilejson_and_every_grid_from_vector_tiles(server: &Server) {
    import_hierarchy(server, "GRID");
    server.query(IMPORT_HOUSEHOLDS, json!({"fc": households()}));
    let system = server.query("{ gridSystems { id } }", json!({}))["gridSystems"][0]["id"]
        .as_str()
        .expect("system id")
        .to_owned();

    // TileJSON.
    let (status, _, body) = server.get(&format!("/tiles/{system}.json"));
    assert_eq!(status, 200, "{body}");
    let tilejson: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(tilejson["tilejson"], "3.0.0");
    assert_eq!(
        tilejson["tiles"],
        json!([server.url(&format!("/tiles/{system}/{{z}}/{{x}}/{{y}}.mvt"))])
    );
    assert_eq!(
        (tilejson["minzoom"].clone(), tilejson["maxzoom"].clone()),
        (json!(0), json!(16))
    );
    assert_eq!(tilejson["bounds"], json!([104.0, 30.6, 104.4, 30.8]));
    let center = tilejson["center"].as_array().expect("center");
    assert!((center[0].as_f64().expect("lon") - 104.2).abs() < 1e-9 && center[2] == 12);
    let vector_layers = tilejson["vector_layers"].as_array().expect("vector_layers");
    let ids: Vec<&str> = vector_layers
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "city",
            "district",
            "street",
            "community",
            "grid",
            "micro_grid"
        ]
    );
    let grid_layer = &vector_layers[4];
    assert_eq!(grid_layer["minzoom"], 12);
    assert_eq!(grid_layer["fields"]["householdCount"], "Number");
    assert_eq!(grid_layer["fields"]["load"], "String");
    assert!(tilejson["attribution"].as_str().is_some());

    // Every grid, exactly once per tile that shows it, over all zoom-12 tiles of the city.
    let (x0, y0) = tile_of(104.0, 30.8, 12);
    let (x1, y1) = tile_of(104.4, 30.6, 12);
    let mut grids: BTreeMap<u64, BTreeMap<String, Tag>> = BTreeMap::new();
    for x in x0..=x1 {
        for y in y0..=y1 {
            let features = tile(server, &system, 12, x, y);
            assert!(!layers(&features).contains(&"micro_grid"));
            let in_tile: Vec<u64> = features
                .iter()
                .filter(|f| f.layer == "grid")
                .map(|f| f.id)
                .collect();
            let distinct: BTreeSet<u64> = in_tile.iter().copied().collect();
            assert_eq!(distinct.len(), in_tile.len(), "a grid twice in one tile");
            for feature in features.into_iter().filter(|f| f.layer == "grid") {
                grids.insert(feature.id, feature.properties);
            }
        }
    }
    assert_eq!(grids.len(), 8, "every grid is in some tile");
    for (id, properties) in &grids {
        let Tag::String(code) = &properties["code"] else {
            panic!("code of {id}: {properties:?}")
        };
        let unit = server.query(
            "query($code: String!) { unit(code: $code) { id name householdCount } }",
            json!({"code": code}),
        )["unit"]
            .clone();
        assert_eq!(unit["id"], id.to_string(), "the feature id is the unit id");
        assert_eq!(
            properties["name"],
            Tag::String(unit["name"].as_str().expect("name").into())
        );
        assert_eq!(properties["level"], Tag::String("GRID".into()));
        let households = unit["householdCount"].as_i64().expect("count");
        assert_eq!(properties["householdCount"], Tag::SInt(households));
        assert_eq!(
            properties["load"],
            Tag::String("under".into()),
            "{households} < 300"
        );
    }
    assert!(
        grids.values().any(|p| p["householdCount"] != Tag::SInt(0)),
        "the counts are the stored ones"
    );

    // The layers of a zoom-12 tile inside the city: every level down to grids.
    let (x, y) = tile_of(104.15, 30.65, 12);
    let features = tile(server, &system, 12, x, y);
    assert_eq!(
        layers(&features),
        ["city", "district", "street", "community", "grid"]
    );
    let city = features
        .iter()
        .find(|f| f.layer == "city")
        .expect("the city");
    assert!(!city.properties.contains_key("load"));
    // Far from the city: an empty tile.
    assert!(tile(server, &system, 12, 0, 0).is_empty());

    // Micro-grids show from zoom 14, and a new import is in the next tile (the cache
    // follows the catalog).
    let (x, y) = tile_of(104.05, 30.75, 14);
    assert!(!layers(&tile(server, &system, 14, x, y)).contains(&"micro_grid"));
    server.query(
        IMPORT_UNITS,
        json!({"level": "MICRO_GRID", "fc": collection(vec![
            feature(json!({"name": "micro west"}), rect(104.04, 30.74, 104.05, 30.76)),
            feature(json!({"name": "micro east"}), rect(104.05, 30.74, 104.06, 30.76)),
        ])}),
    );
    let features = tile(server, &system, 14, x, y);
    let micro: Vec<&Feature> = features
        .iter()
        .filter(|f| f.layer == "micro_grid")
        .collect();
    assert_eq!(micro.len(), 2);
    assert_eq!(
        micro[0].properties["level"],
        Tag::String("MICRO_GRID".into())
    );

    // Addresses that are no tiles.
    for path in [
        format!("/tiles/{system}/17/0/0.mvt"),
        format!("/tiles/{system}/3/8/0.mvt"),
        format!("/tiles/{system}/3/0/8.mvt"),
        format!("/tiles/{system}/12/1/2.png"),
        format!("/tiles/{system}/twelve/1/2.mvt"),
        "/tiles/999/12/3233/1681.mvt".to_owned(),
        "/tiles/999.json".to_owned(),
        "/tiles/grids.json".to_owned(),
        format!("/tiles/{system}/12/1"),
    ] {
        let (status, content_type, body) = get_bytes(server, &path);
        assert_eq!(status, 404, "{path}");
        assert!(content_type.starts_with("application/json"), "{path}");
        let error: Value = serde_json::from_slice(&body).expect("a JSON error");
        assert_eq!(error["error"]["code"], "NOT_FOUND", "{path}: {error}");
        assert!(error["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}
