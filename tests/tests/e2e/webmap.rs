//! The built-in web map at `/map`: its page and embedded assets over HTTP, then the page itself
//! in Debian's headless chromium (driven by `tests/browser/map.mjs` through playwright-core):
//! it draws the demo city's grids, a click shows the grid's chain as GraphQL `locate` tells
//! it, the layer switch works, a real rebalance plan is previewed over the old grids, a
//! missing plan is explained, and a server that refuses anonymous readers works with a token
//! in the page's address. The browser part says
//! that it skipped when chromium or node is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::server::{Backend, Server};

/// Debian's chromium package.
const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn the_map_page_and_its_assets_come_from_the_binary() {
    let server = Server::start(Backend::Sqlite, false);
    let (status, content_type, page) = server.get("/map");
    assert_eq!(status, 200, "{page}");
    assert_eq!(content_type, "text/html; charset=utf-8");
    let assets: Vec<&str> = page
        .split('"')
        .filter(|s| s.starts_with("/map/assets/"))
        .collect();
    assert_eq!(assets.len(), 5, "{assets:?}");
    for asset in assets {
        let response = ureq::get(&server.url(asset))
            .call()
            .unwrap_or_else(|e| panic!("GET {asset}: {e}"));
        let expected = match asset.split('?').next().and_then(|p| p.rsplit('.').next()) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            _ => "text/plain; charset=utf-8",
        };
        assert_eq!(response.header("content-type"), Some(expected), "{asset}");
        assert_eq!(
            response.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{asset}"
        );
    }
    let (status, _, _) = server.get("/map/assets/nothing.js");
    assert_eq!(status, 404);
}

#[test]
fn the_map_draws_the_demo_grids_and_a_click_shows_the_chain_in_chromium() {
    let Some(browser) = browser_tests() else {
        return;
    };
    // Only tokens may read: the page must send the one in its address (#token=) everywhere.
    let server = Server::start_with(Backend::Sqlite, true, &["--anonymous-role", "none"]);
    let token = server.token("viewer");
    // A rebalance plan for one street, for the preview.
    let street = server.query(
        "{ units(level: STREET, first: 1) { edges { node { id } } } }",
        json!({}),
    )["units"]["edges"][0]["node"]["id"]
        .clone();
    let plan = server.query(
        "mutation($scope: ID!) { planRebalance(scopeId: $scope) { id } }",
        json!({ "scope": street }),
    )["planRebalance"]["id"]
        .as_str()
        .expect("a plan id")
        .to_owned();
    // The page applies it with a planner's token, and must reload its tiles when told.
    let planner = server.token("planner");
    let screenshots = browser.join("screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot directory");
    let output = Command::new("node")
        .arg("map.mjs")
        .arg(&server.base)
        .arg(&screenshots)
        .arg(&plan)
        .arg(&token)
        .arg(&planner)
        .current_dir(&browser)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "map.mjs failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("map.mjs reports a JSON line: {stdout}"));
    assert!(report["gridCount"].as_u64() > Some(100), "{report}");

    // The panel shows exactly the chain GraphQL gives for the clicked point.
    let chain = server.query(
        "query($lon: Float!, $lat: Float!) { locate(lon: $lon, lat: $lat) { code name level householdCount personCount } }",
        json!({ "lon": report["lon"], "lat": report["lat"] }),
    )["locate"]
        .clone();
    let expected: Vec<Value> = chain
        .as_array()
        .expect("a chain")
        .iter()
        .map(|u| {
            json!({ "level": u["level"], "code": u["code"], "name": u["name"],
                    "households": u["householdCount"], "persons": u["personCount"] })
        })
        .collect();
    assert_eq!(report["chain"], json!(expected));
    let levels: Vec<&str> = expected
        .iter()
        .filter_map(|u| u["level"].as_str())
        .collect();
    assert!(
        levels.starts_with(&[
            "MICRO_GRID",
            "GRID",
            "COMMUNITY",
            "STREET",
            "DISTRICT",
            "CITY"
        ]) || levels.starts_with(&["GRID", "COMMUNITY", "STREET", "DISTRICT", "CITY"]),
        "{levels:?}"
    );
    assert_eq!(
        expected
            .iter()
            .find(|u| u["level"] == "GRID")
            .map(|u| &u["code"]),
        Some(&report["grid"]),
        "the clicked grid is in the chain"
    );
    println!(
        "screenshots: {} and map-plan.png",
        screenshots.join("map.png").display()
    );
}

/// `tests/browser` with its node modules installed, or `None` (saying why) when chromium, node
/// or the modules are missing.
fn browser_tests() -> Option<PathBuf> {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: {CHROMIUM} is missing (apt-get install chromium), so the web map was not tested in a browser");
        return None;
    }
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node is not installed, so the web map was not tested in a browser");
        return None;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            eprintln!(
                "skipped: `npm ci` in {} failed, so the web map was not tested in a browser",
                dir.display()
            );
            return None;
        }
    }
    Some(dir)
}
