//! The default start: an empty database gets the demo city, built on real Chengdu data.

use serde_json::json;

use crate::server::{Backend, Server};

#[test]
fn an_empty_database_starts_with_the_demo_city() {
    let server = Server::start(Backend::Sqlite, true);
    let districts = server.query("{ units(level: DISTRICT) { totalCount } }", json!({}));
    assert_eq!(
        districts["units"]["totalCount"], 20,
        "all 20 real districts"
    );
    // Tianfu Square, in Jinjiang district (the default demo's district).
    let chain = server.query(
        "{ locate(lon: 104.0657, lat: 30.6574) { code name level householdCount } }",
        json!({}),
    );
    let chain = chain["locate"].as_array().expect("a chain");
    let levels: Vec<&str> = chain
        .iter()
        .map(|u| u["level"].as_str().expect("level"))
        .collect();
    assert_eq!(levels.last(), Some(&"CITY"));
    assert!(
        chain
            .iter()
            .any(|u| u["code"] == "510104" || u["code"] == "510105"),
        "{chain:?}"
    );
    let city = &chain[chain.len() - 1];
    assert!(
        city["householdCount"].as_i64().expect("count") > 30_000,
        "{city}"
    );
}
