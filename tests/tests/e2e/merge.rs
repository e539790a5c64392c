//! Many grids into one, over HTTP: three department layers of the demo city imported as grid
//! systems, their quality reports, a merge plan, its apply (a new default system), the
//! crosswalk (GraphQL, JSON and CSV) and `locate` on the unified grids.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::fixtures::error_code;
use crate::server::{binary, Backend, Server};

const IMPORT: &str = r#"
mutation($name: String!, $department: String, $fc: JSON!) {
  importGridSystem(name: $name, department: $department, featureCollection: $fc) {
    id name department version isDefault
  }
}"#;

const QUALITY: &str = r#"
query($system: ID!) {
  gridSystemQuality(system: $system) {
    overlaps { kind areaM2 location grid { code } other { code } }
    gaps { kind areaM2 location }
    crossings { kind areaM2 location grid { code } }
    slivers { kind areaM2 households grid { code } }
  }
}"#;

const PLAN: &str = r#"
mutation($sources: [ID!]!, $name: String!) {
  planMerge(sourceSystems: $sources, name: $name) {
    id name unifiedGrids withinBounds withinBoundsShare keptBoundaryShare atoms
    sources { name grids version }
    infeasible { unitCode code reason }
  }
}"#;

/// The demo city's files, with its department layers, written by `gridmap demo --out`.
fn demo_files(dir: &Path) {
    let status = std::process::Command::new(binary())
        .args(["demo", "--size", "default", "--out"])
        .arg(dir)
        .status()
        .expect("gridmap demo runs");
    assert!(status.success());
}

#[test]
fn department_layers_merge_into_a_unified_default_system_on_sqlite() {
    merge_scenario(&Server::start(Backend::Sqlite, true));
}

#[test]
fn department_layers_merge_into_a_unified_default_system_on_postgres() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    merge_scenario(&Server::start(backend, true));
}

fn merge_scenario(server: &Server) {
    let dir = std::env::temp_dir().join(crate::server::unique_name());
    demo_files(&dir);
    let mut layers: Vec<(String, String)> = Vec::new();
    let mut first_layer = Value::Null;
    let mut entries: Vec<_> = std::fs::read_dir(dir.join("layers"))
        .expect("layers written")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "geojson"))
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 3, "three department layers: {entries:?}");
    for path in &entries {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_owned();
        let fc: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON");
        let imported = server.query(IMPORT, json!({"name": name, "department": name, "fc": fc}));
        if first_layer.is_null() {
            first_layer = fc;
        }
        let system = &imported["importGridSystem"];
        assert_eq!(system["isDefault"], false);
        assert_eq!(system["version"], 1);
        layers.push((system["id"].as_str().expect("id").to_owned(), name));
    }
    // A name is taken once.
    let again = server.graphql(IMPORT, json!({"name": layers[0].1, "fc": first_layer}));
    assert_eq!(error_code(&again), "CONFLICT", "{again:#}");

    // Each layer has faults of its own, with areas and locations.
    let mut faults = 0;
    for (id, name) in &layers {
        let report = server.query(QUALITY, json!({"system": id}))["gridSystemQuality"].clone();
        for kind in ["overlaps", "gaps", "crossings", "slivers"] {
            for fault in report[kind].as_array().expect("list") {
                faults += 1;
                assert!(
                    fault["areaM2"].as_f64().expect("area") >= 0.0,
                    "{name}: {fault}"
                );
                if let Some(location) = fault.get("location") {
                    assert_eq!(location.as_array().map(Vec::len), Some(2), "{fault}");
                }
            }
        }
    }
    assert!(faults > 0, "the synthetic layers carry injected faults");

    // Plan: a dry run.
    let sources: Vec<&str> = layers.iter().map(|(id, _)| id.as_str()).collect();
    let plan =
        server.query(PLAN, json!({"sources": sources, "name": "unified"}))["planMerge"].clone();
    let plan_id = plan["id"].as_str().expect("id").to_owned();
    let unified = plan["unifiedGrids"].as_u64().expect("n");
    assert!(unified > 0);
    let within = plan["withinBounds"].as_u64().expect("n");
    assert!(
        within * 10 > unified * 7,
        "most unified grids in bounds: {plan:#}"
    );
    assert_eq!(
        unified - within,
        plan["infeasible"].as_array().map_or(0, |i| i.len() as u64),
        "every grid out of bounds is explained: {plan:#}"
    );
    assert_eq!(plan["sources"].as_array().map(Vec::len), Some(3));
    let read = server.query(
        "query($id: ID!) { mergePlan(id: $id) { id unifiedGrids appliedSystem { id } } }",
        json!({"id": plan_id}),
    );
    assert_eq!(read["mergePlan"]["unifiedGrids"], unified);
    assert!(read["mergePlan"]["appliedSystem"].is_null());
    let (status, _, body) = server.get(&format!("/geojson/plans/{plan_id}"));
    assert_eq!(status, 200, "{body}");
    let preview: Value = serde_json::from_str(&body).expect("GeoJSON");
    assert_eq!(
        preview["features"].as_array().map(|f| f.len() as u64),
        Some(unified)
    );
    let before = server.query("{ gridSystems { id name isDefault } }", json!({}));
    assert_eq!(
        before["gridSystems"].as_array().map(Vec::len),
        Some(4),
        "nothing created yet"
    );

    // Apply: a new default system; the sources stay.
    const APPLY: &str =
        "mutation($plan: ID!) { applyMergePlan(planId: $plan) { id name isDefault version } }";
    let applied = server.query(APPLY, json!({"plan": plan_id}))["applyMergePlan"].clone();
    assert_eq!(applied["name"], "unified");
    assert_eq!(applied["isDefault"], true);
    let system = applied["id"].as_str().expect("id").to_owned();
    let again = server.graphql(APPLY, json!({"plan": plan_id}));
    assert_eq!(error_code(&again), "CONFLICT", "{again:#}");
    let grids = server.query(
        "query($system: ID!) { units(level: GRID, system: $system, first: 1) { totalCount } }",
        json!({"system": system}),
    );
    assert_eq!(grids["units"]["totalCount"].as_u64(), Some(unified));
    let source_grids = server.query(
        "query($system: ID!) { units(level: GRID, system: $system, first: 1) { totalCount } }",
        json!({"system": layers[0].0}),
    );
    assert!(
        source_grids["units"]["totalCount"].as_u64() > Some(0),
        "sources stay queryable"
    );

    // locate answers the unified grids now (the new default), at Tianfu Square.
    let chain = server.query(
        "{ locate(lon: 104.0657, lat: 30.6574) { code level } }",
        json!({}),
    );
    let grid = chain["locate"]
        .as_array()
        .expect("chain")
        .iter()
        .find(|u| u["level"] == "GRID")
        .cloned()
        .expect("a unified grid");
    let unified_grid = server.query(
        "query($code: String!) { unit(code: $code) { id code } }",
        json!({"code": grid["code"]}),
    );
    let unified_id = unified_grid["unit"]["id"].as_str().expect("id").to_owned();

    // The crosswalk: shares of every source grid sum to 1.
    let (status, content_type, body) = server.get(&format!("/crosswalk/{system}.json"));
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("application/json"));
    let rows: Vec<Value> = serde_json::from_str(&body).expect("JSON rows");
    assert!(!rows.is_empty());
    let mut sums: HashMap<(String, String), (f64, f64)> = HashMap::new();
    for row in &rows {
        let key = (
            row["fromSystem"].as_str().expect("system").to_owned(),
            row["fromCode"].as_str().expect("code").to_owned(),
        );
        let sum = sums.entry(key).or_default();
        sum.0 += row["areaShare"].as_f64().expect("share");
        sum.1 += row["householdShare"].as_f64().expect("share");
        assert!(row["toCode"].is_string());
    }
    for (key, (area, households)) in &sums {
        assert!(
            (area - 1.0).abs() < 1e-6,
            "{key:?}: area shares sum to {area}"
        );
        assert!(
            (households - 1.0).abs() < 1e-6,
            "{key:?}: household shares sum to {households}"
        );
    }
    let (status, content_type, csv) = server.get(&format!("/crosswalk/{system}.csv"));
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"));
    assert_eq!(
        csv.lines().next(),
        Some("fromSystem,fromCode,toCode,areaShare,householdShare")
    );
    assert_eq!(csv.lines().count(), rows.len() + 1);
    let entries = server.query(
        "query($id: ID!) { crosswalk(gridId: $id) { from { code } to { code } areaShare householdShare } }",
        json!({"id": unified_id}),
    );
    let entries = entries["crosswalk"].as_array().expect("entries");
    assert!(!entries.is_empty(), "the unified grid came from somewhere");
    assert!(entries.iter().all(|e| e["to"]["code"] == grid["code"]));
    let (status, _, _) = server.get("/crosswalk/9999.json");
    assert_eq!(status, 404);
    let _ = std::fs::remove_dir_all(&dir);
}
