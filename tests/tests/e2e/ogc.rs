//! OGC API - Features (Core, GeoJSON) as a GIS client walks it: landing page, conformance,
//! collections, pages of items by `next` links, a bbox, single items, errors.

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::server::Server;

crate::on_every_backend!(a_gis_client_can_walk_every_grid_through_ogc_api_features);

fn get_json(server: &Server, path: &str) -> (u16, String, Value) {
    let (status, content_type, body) = server.get(path);
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (status, content_type, value)
}

fn link<'a>(document: &'a Value, rel: &str) -> Option<&'a str> {
    document["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)?["href"]
        .as_str()
}

fn a_gis_client_can_walk_every_grid_through_ogc_api_features(server: &Server) {
    import_hierarchy(server, "GRID");
    let system = server.query("{ gridSystems { id } }", json!({}))["gridSystems"][0]["id"]
        .as_str()
        .expect("system id")
        .to_owned();

    let (status, _, landing) = get_json(server, "/ogc");
    assert_eq!(status, 200);
    assert!(link(&landing, "conformance").is_some() && link(&landing, "data").is_some());
    let (_, _, conformance) = get_json(server, "/ogc/conformance");
    let classes = conformance["conformsTo"].to_string();
    assert!(
        classes.contains("ogcapi-features-1/1.0/conf/core") && classes.contains("conf/geojson")
    );

    let (_, _, collections) = get_json(server, "/ogc/collections");
    let grid_id = format!("grid-{system}");
    let grids = collections["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["id"] == grid_id.as_str())
        .expect("a grid collection");
    assert_eq!(
        grids["extent"]["spatial"]["bbox"][0],
        json!([104.0, 30.6, 104.4, 30.8])
    );

    // Three at a time, following `next` links until there are none.
    let mut next = Some(server.url(&format!("/ogc/collections/{grid_id}/items?limit=3")));
    let mut codes = Vec::new();
    while let Some(url) = next {
        let path = url
            .strip_prefix(&server.base)
            .expect("links point at this server");
        let (status, content_type, page) = get_json(server, path);
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/geo+json");
        assert_eq!(page["numberMatched"], 8);
        for feature in page["features"].as_array().expect("features") {
            codes.push(
                feature["properties"]["code"]
                    .as_str()
                    .expect("code")
                    .to_owned(),
            );
        }
        next = link(&page, "next").map(str::to_owned);
    }
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 8);

    let (_, _, boxed) = get_json(
        server,
        &format!("/ogc/collections/{grid_id}/items?bbox=104.01,30.71,104.09,30.79"),
    );
    assert_eq!(boxed["numberMatched"], 1);
    let feature_id = boxed["features"][0]["id"]
        .as_str()
        .expect("feature id")
        .to_owned();
    let (status, _, item) = get_json(
        server,
        &format!("/ogc/collections/{grid_id}/items/{feature_id}"),
    );
    assert_eq!(status, 200);
    assert_eq!(item["properties"]["code"], "990101001001001");

    let (status, _, _) = get_json(server, &format!("/ogc/collections/{grid_id}/items/999999"));
    assert_eq!(status, 404);
    let (status, _, _) = get_json(server, "/ogc/collections/nothing-9/items");
    assert_eq!(status, 404);
    let (status, _, error) = get_json(
        server,
        &format!("/ogc/collections/{grid_id}/items?limit=many"),
    );
    assert_eq!(status, 400);
    assert_eq!(error["code"], "INVALID_INPUT");
}

/// GDAL's OAPIF driver, a real client, lists the collections and reads every grid. Runs when
/// `ogrinfo` is installed (`.ci/run` installs Debian's gdal-bin); says it skipped otherwise.
#[test]
fn gdal_reads_every_grid_through_ogc_api_features() {
    let Ok(version) = std::process::Command::new("ogrinfo")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: ogrinfo is not installed (apt-get install gdal-bin)");
        return;
    };
    assert!(version.status.success());
    let server = Server::start(crate::server::Backend::Sqlite, false);
    import_hierarchy(&server, "GRID");
    let source = format!("OAPIF:{}/ogc", server.base);
    let ogrinfo = |args: &[&str]| -> String {
        let output = std::process::Command::new("ogrinfo")
            .args(["-ro", "-q"])
            .args(args)
            .output()
            .expect("ogrinfo runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let layers = ogrinfo(&[&source]);
    for level in [
        "city",
        "district",
        "street",
        "community",
        "grid",
        "micro_grid",
    ] {
        assert!(layers.contains(&format!("{level}-1")), "{layers}");
    }
    let grids = ogrinfo(&["-al", &source, "grid-1"]);
    assert_eq!(grids.matches("OGRFeature(grid-1)").count(), 8, "{grids}");
    assert!(grids.contains("code (String) = 990102001002002"), "{grids}");
    assert!(grids.contains("MULTIPOLYGON"), "{grids}");
}
