//! The command line for scripts: `gridmap import` and `gridmap export`, and the planners'
//! `import-grid-system`, `merge` and `rebalance`, against a database file, without a server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::fixtures::{city, collection, districts, feature, rect};
use crate::server::{binary, unique_name, Server};

crate::on_every_backend!(
    a_household_file_longer_than_a_chunk_is_imported_whole_or_not_at_all,
    households_stream_from_a_geojson_file_with_errors_by_feature,
);

fn gridmap(args: &[&str], database_url: &str) -> Output {
    Command::new(binary())
        .args(args)
        .args(["--database-url", database_url])
        .env("GRIDMAP_LOG", "warn")
        .output()
        .expect("gridmap runs")
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("fixture written");
    path.display().to_string()
}

/// A scratch directory, and the test city imported into the server's database.
fn scratch_with_city(server: &Server) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let city_file = write(&dir, "city.geojson", &city());
    let imported = gridmap(
        &["import", &city_file, "--level", "city"],
        &server.database_url,
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    dir
}

/// The test city's stored household and person counts.
fn city_counts(server: &Server) -> (u64, u64) {
    let city = server.query(
        r#"{ unit(code: "9901") { householdCount personCount } }"#,
        Value::Null,
    );
    let count = |field: &str| city["unit"][field].as_u64().expect("a count");
    (count("householdCount"), count("personCount"))
}

/// `import-households` reads, assigns and inserts 50,000 rows at a time, reading the next chunk
/// while the last one is written: a bad row or a repeated id two chunks later still refuses the
/// whole file.
fn a_household_file_longer_than_a_chunk_is_imported_whole_or_not_at_all(server: &Server) {
    let dir = scratch_with_city(server);
    let url = &server.database_url;
    let file = |name: &str, last_row: &str| {
        let mut text = String::from("id,lon,lat,persons,building\n");
        for i in 0..120_000 {
            text.push_str(&format!("h{i},104.{:05},30.7,2,B{}\n", i % 40_000, i / 40));
        }
        text.push_str(last_row);
        let path = dir.join(name);
        std::fs::write(&path, text).expect("csv written");
        path.display().to_string()
    };
    let import = |path: &str| gridmap(&["import-households", path], url);

    let refused = import(&file("bad_row.csv", "late,104.1,north,1,\n"));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 120002, column lat"), "{stderr}");

    let refused = import(&file("repeat.csv", "h7,104.1,30.7,1,\n"));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("CONFLICT") && stderr.contains("line 100002"),
        "{stderr}"
    );

    // Nothing of either was kept: the whole file imports now, and the city counts it once.
    let imported = import(&file("good.csv", ""));
    assert_imported(&imported, 120000);
    assert_eq!(city_counts(server), (120_000, 240_000));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The command succeeded and says it imported `households` households.
fn assert_imported(imported: &std::process::Output, households: usize) {
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let stdout = String::from_utf8_lossy(&imported.stdout);
    assert!(
        stdout.contains(&format!("imported {households} households")),
        "{stdout}"
    );
}

/// `import-households file.geojson` reads the collection feature by feature, through the same
/// chunks: a bad feature is named by its index and field wherever it is, and nothing is kept.
fn households_stream_from_a_geojson_file_with_errors_by_feature(server: &Server) {
    let dir = scratch_with_city(server);
    let url = &server.database_url;
    let household = |i: usize| {
        serde_json::json!({
            "type": "Feature",
            "id": format!("g{i}"),
            "properties": {"persons": 3, "building": format!("B{}", i / 30)},
            "geometry": {"type": "Point", "coordinates": [104.1 + (i % 1000) as f64 * 1e-4, 30.7]},
        })
    };
    let file = |name: &str, features: Vec<Value>, extra: Value| {
        let mut document = serde_json::json!({"type": "FeatureCollection", "features": features});
        if let (Some(members), Value::Object(extra)) = (document.as_object_mut(), extra) {
            members.extend(extra);
        }
        write(&dir, name, &document)
    };
    let import = |path: &str| gridmap(&["import-households", path], url);

    let mut features: Vec<Value> = (0..60_000).map(household).collect();
    features[55_555]["geometry"]["coordinates"] = serde_json::json!([104.1, 95.0]);
    let refused = import(&file("bad_point.geojson", features, Value::Null));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("feature 55555"), "{stderr}");

    let refused = import(&file(
        "not_a_collection.geojson",
        vec![household(0)],
        serde_json::json!({"type": "Feature"}),
    ));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("type is \"Feature\""), "{stderr}");

    let refused = import(&file("empty.geojson", Vec::new(), Value::Null));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("has no features"), "{stderr}");

    // Members in any order, `type` last, a `bbox` before the features.
    let good = serde_json::json!({"bbox": [104.0, 30.6, 104.4, 30.8], "features": (0..60_000).map(household).collect::<Vec<_>>(), "type": "FeatureCollection"});
    let imported = import(&write(&dir, "good.geojson", &good));
    assert_imported(&imported, 60000);
    assert_eq!(city_counts(server), (60_000, 180_000));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_then_export_round_trips_through_the_command_line() {
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("cli.db").display());

    let imported = gridmap(
        &[
            "import",
            &write(&dir, "city.geojson", &city()),
            "--level",
            "city",
        ],
        &url,
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let imported = gridmap(
        &[
            "import",
            &write(&dir, "districts.geojson", &districts()),
            "--level",
            "district",
        ],
        &url,
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(String::from_utf8_lossy(&imported.stdout).contains("imported 2 DISTRICT units"));

    // A bad file fails with the feature at fault, and changes nothing.
    let bad = collection(vec![feature(
        serde_json::json!({"name": "x"}),
        rect(104.0, 30.6, 104.0, 30.6),
    )]);
    let refused = gridmap(
        &[
            "import",
            &write(&dir, "bad.geojson", &bad),
            "--level",
            "street",
        ],
        &url,
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("feature 0") && stderr.contains("INVALID_GEOMETRY"),
        "{stderr}"
    );

    // Households from CSV: a bad row names its line and column, and nothing is written.
    let bad_csv = dir.join("bad.csv");
    std::fs::write(
        &bad_csv,
        "id,lon,lat,persons,building\na,104.05,30.7,2,B1\nb,104.3,abc,1,\n",
    )
    .expect("csv written");
    let refused = gridmap(&["import-households", &bad_csv.display().to_string()], &url);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 3, column lat"), "{stderr}");
    let good_csv = dir.join("good.csv");
    std::fs::write(
        &good_csv,
        "id,lon,lat,persons,building\na,104.05,30.7,2,B1\nb,104.3,30.7,1,\nc,104.31,30.71,3,B2\n",
    )
    .expect("csv written");
    let imported = gridmap(
        &["import-households", &good_csv.display().to_string()],
        &url,
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(String::from_utf8_lossy(&imported.stdout).contains("imported 3 households"));

    let exported = gridmap(&["export", "--level", "district"], &url);
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let collection: Value = serde_json::from_slice(&exported.stdout).expect("GeoJSON on stdout");
    let codes: Vec<&str> = collection["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["properties"]["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["990101", "990102"]);
    assert_eq!(
        collection["features"][0]["properties"]["parentCode"],
        "9901"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_demo_city_written_to_files_imports_back_level_by_level() {
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("demo.db").display());
    let files = dir.join("files");
    let written = gridmap(
        &[
            "demo",
            "--size",
            "default",
            "--out",
            &files.display().to_string(),
        ],
        &url,
    );
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    for level in [
        "city",
        "district",
        "street",
        "community",
        "grid",
        "micro_grid",
    ] {
        let file = files.join(format!("{level}.geojson")).display().to_string();
        let imported = gridmap(&["import", &file, "--level", level], &url);
        assert!(
            imported.status.success(),
            "{level}: {}",
            String::from_utf8_lossy(&imported.stderr)
        );
    }
    let csv = files.join("households.csv").display().to_string();
    let imported = gridmap(&["import-households", &csv], &url);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(
        String::from_utf8_lossy(&imported.stdout)
            .contains("imported 50000 households; 0 fall in no grid"),
        "{}",
        String::from_utf8_lossy(&imported.stdout)
    );
    let exported = gridmap(&["export", "--level", "micro_grid"], &url);
    let collection: Value = serde_json::from_slice(&exported.stdout).expect("GeoJSON on stdout");
    let features = collection["features"].as_array().expect("features");
    assert_eq!(features.len(), 1049);
    let households: i64 = features
        .iter()
        .map(|f| f["properties"]["households"].as_i64().expect("households"))
        .sum();
    assert_eq!(
        households, 50_000,
        "every household in exactly one micro-grid"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A planner's session on the command line: the demo city and its department layers, a merge
/// applied, then a rebalance of one district applied on the unified system.
#[test]
fn planners_merge_and_rebalance_from_the_command_line() {
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("cli.db").display());
    let ok = |output: Output| {
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ok(gridmap(&["demo"], &url));
    let files = dir.join("files");
    ok(gridmap(
        &["demo", "--out", &files.display().to_string()],
        &url,
    ));
    let mut names = Vec::new();
    for department in ["civil-affairs", "public-security", "urban-management"] {
        let file = files.join("layers").join(format!("{department}.geojson"));
        let said = ok(gridmap(
            &[
                "import-grid-system",
                &file.display().to_string(),
                "--name",
                department,
                "--department",
                department,
            ],
            &url,
        ));
        assert!(said.contains(department), "{said}");
        names.push(department);
    }
    let dry = ok(gridmap(
        &["merge", "--sources", &names.join(","), "--name", "unified"],
        &url,
    ));
    assert!(
        dry.contains("unified grids") && dry.contains("not applied"),
        "{dry}"
    );
    let applied = ok(gridmap(
        &[
            "merge",
            "--sources",
            &names.join(","),
            "--name",
            "unified",
            "--apply",
        ],
        &url,
    ));
    assert!(applied.contains("is the default now"), "{applied}");

    let rebalanced = ok(gridmap(
        &["rebalance", "--scope", "510104", "--apply"],
        &url,
    ));
    assert!(
        rebalanced.contains("applied: grid system unified is at version 2"),
        "{rebalanced}"
    );
    let refused = gridmap(&["merge", "--sources", "nope", "--name", "x"], &url);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("\"nope\""));
    let _ = std::fs::remove_dir_all(&dir);
}
