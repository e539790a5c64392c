//! Two `gridmap serve` processes on one database: a change committed through one is answered
//! by `locate` on the other within a second (each follows the grid systems' versions), and so
//! is one made by `gridmap import` on the command line.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::fixtures::{self, IMPORT_UNITS};
use crate::nodes::{Database, Node};
use crate::server::Backend;

/// How long a change may take to reach the other replica.
const WITHIN: Duration = Duration::from_secs(1);

#[test]
fn postgres_a_change_through_one_replica_is_located_on_the_other_within_a_second() {
    if let Some(backend) = Backend::postgres() {
        two_replicas(backend);
    }
}

#[test]
fn sqlite_a_change_through_one_replica_is_located_on_the_other_within_a_second() {
    two_replicas(Backend::Sqlite);
}

/// The code of the deepest unit `node` locates the point in, if any.
fn deepest(node: &Node, lon: f64, lat: f64) -> Option<String> {
    let data = node.query(
        "query($lon: Float!, $lat: Float!) { locate(lon: $lon, lat: $lat) { code } }",
        json!({"lon": lon, "lat": lat}),
    );
    data["locate"][0]["code"].as_str().map(str::to_owned)
}

/// Polls `node` until the point is located in `code`; returns how long that took.
fn seen_within(node: &Node, lon: f64, lat: f64, code: &str) -> Duration {
    let started = Instant::now();
    loop {
        if deepest(node, lon, lat).as_deref() == Some(code) {
            return started.elapsed();
        }
        let waited = started.elapsed();
        assert!(
            waited < WITHIN,
            "after {waited:?}, ({lon}, {lat}) is still not located in {code} on {}",
            node.base
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn two_replicas(backend: Backend) {
    let database = Database::create(backend);
    let token = database.token("planner");
    let a = Node::start(&database, false, Some(&token));
    let b = Node::start(&database, false, Some(&token));
    assert_eq!(deepest(&b, 104.05, 30.75), None);

    // Through A, level by level; each level is located on B within a second.
    let mut lags = Vec::new();
    for (level, fc, code) in [
        ("CITY", fixtures::city(), "9901"),
        ("DISTRICT", fixtures::districts(), "990101"),
        ("STREET", fixtures::streets(), "990101001"),
        ("COMMUNITY", fixtures::communities(), "990101001001"),
    ] {
        a.query(IMPORT_UNITS, json!({"level": level, "fc": fc}));
        assert_eq!(deepest(&a, 104.05, 30.75).as_deref(), Some(code));
        lags.push(seen_within(&b, 104.05, 30.75, code));
    }
    // The other way round: grids through B, located on A.
    b.query(
        IMPORT_UNITS,
        json!({"level": "GRID", "fc": fixtures::grids()}),
    );
    lags.push(seen_within(&a, 104.05, 30.75, "990101001001001"));
    // And from the command line, which is a third process.
    let scratch = std::env::temp_dir().join(crate::server::unique_name());
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let file = scratch.join("micro.geojson");
    let micro = fixtures::collection(vec![fixtures::feature(
        json!({"name": "corner", "code": "990101001001001001"}),
        fixtures::rect(104.0, 30.7, 104.1, 30.8),
    )]);
    std::fs::write(&file, micro.to_string()).expect("written");
    let output = database.gridmap(&[
        "import",
        &file.display().to_string(),
        "--level",
        "micro_grid",
    ]);
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(output.status.success(), "gridmap import failed");
    lags.push(seen_within(&a, 104.05, 30.75, "990101001001001001"));
    lags.push(seen_within(&b, 104.05, 30.75, "990101001001001001"));
    eprintln!("changes reached the other process after {lags:?}");
}
