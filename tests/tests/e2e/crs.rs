//! Chinese web-map coordinates in and out: positions given in GCJ-02 or BD-09 are located as
//! their WGS84 originals, and outlines come out shifted the way those maps draw.

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::server::Server;

crate::on_every_backend!(gcj02_positions_locate_like_their_wgs84_originals);

fn first_vertex(geometry: &Value) -> (f64, f64) {
    let vertex = &geometry["coordinates"][0][0][0];
    (
        vertex[0].as_f64().expect("lon"),
        vertex[1].as_f64().expect("lat"),
    )
}

fn gcj02_positions_locate_like_their_wgs84_originals(server: &Server) {
    import_hierarchy(server, "STREET");
    let outlines = server.query(
        r#"{ unit(code: "990101") { wgs: geometry gcj: geometry(crs: GCJ02) bd: geometry(crs: BD09) } }"#,
        json!({}),
    );
    let (wgs, gcj, bd) = (
        first_vertex(&outlines["unit"]["wgs"]),
        first_vertex(&outlines["unit"]["gcj"]),
        first_vertex(&outlines["unit"]["bd"]),
    );
    // In Chengdu GCJ-02 sits about 250 m east and 250 m south of WGS84; BD-09 further on.
    let shift = (gcj.0 - wgs.0, gcj.1 - wgs.1);
    assert!(
        (0.001..0.004).contains(&shift.0) && (-0.004..-0.001).contains(&shift.1),
        "{shift:?}"
    );
    assert!(
        bd.0 - gcj.0 > 0.005 && bd.1 - gcj.1 > 0.005,
        "{bd:?} vs {gcj:?}"
    );

    // A point 100 m inside the west district, given in GCJ-02, is still in the west district.
    let (lon, lat) = (104.199, 30.75);
    let locate = |lon: f64, lat: f64, crs: &str| -> Vec<String> {
        let data = server.query(
            &format!("{{ locate(lon: {lon}, lat: {lat}, crs: {crs}) {{ code }} }}"),
            json!({}),
        );
        data["locate"]
            .as_array()
            .expect("chain")
            .iter()
            .map(|u| u["code"].as_str().expect("code").to_owned())
            .collect()
    };
    assert_eq!(locate(lon, lat, "WGS84")[1], "990101");
    assert_eq!(
        locate(lon + shift.0, lat + shift.1, "GCJ02"),
        locate(lon, lat, "WGS84")
    );
    // The same numbers read as WGS84 land 250 m east, across the border.
    assert_eq!(locate(lon + shift.0, lat + shift.1, "WGS84")[1], "990102");

    let (status, _, body) = server.get("/geojson/units?level=DISTRICT&crs=GCJ02");
    assert_eq!(status, 200, "{body}");
    let collection: Value = serde_json::from_str(&body).expect("GeoJSON");
    let vertex = first_vertex(&collection["features"][0]["geometry"]);
    assert!(
        (vertex.0 - gcj.0).abs() < 1e-6 && (vertex.1 - gcj.1).abs() < 1e-6,
        "{vertex:?}"
    );
    let (status, _, _) = server.get("/geojson/units?crs=EPSG3857");
    assert_eq!(status, 400);
}
