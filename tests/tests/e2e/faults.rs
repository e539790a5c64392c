//! SIGKILL in the middle of a write: a large `importUnits`, and a rebalance plan's apply. The
//! server is killed the moment the database shows its write transaction open (PostgreSQL: a
//! session with a transaction id; SQLite: the write lock taken), then started again on the same
//! database. The database must hold all of the change or none of it, every stored count must
//! equal a recount from the households, and the new server's index must agree with the
//! database (each household is located in the unit its row points at).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fixtures::{self, IMPORT_HOUSEHOLDS, IMPORT_UNITS};
use crate::nodes::{sqlite_shell, Database, Node};
use crate::server::Backend;

/// Micro-grids per side of each of the fixture's 8 grids: 8 x 9 x 9 = 648 in one import (a
/// grid can hold 99), which moves every household down from its grid to a micro-grid.
const MICRO_PER_SIDE: usize = 9;
/// Households spread over the fixture city, ten to a building.
const HOUSEHOLDS: usize = 20_000;

/// Units whose stored household or person count differs from a recount of the households on
/// whose chain they lie (the default system's chains; these tests have no other system).
const RECOUNT: &str = "WITH RECURSIVE chain(unit, persons) AS (
    SELECT unit_id, persons FROM household WHERE unit_id IS NOT NULL
    UNION ALL
    SELECT u.parent_id, c.persons FROM chain c JOIN unit u ON u.id = c.unit WHERE u.parent_id IS NOT NULL
  ), recount AS (SELECT unit, count(*) AS households, sum(persons) AS persons FROM chain GROUP BY unit)
  SELECT count(*) FROM unit u LEFT JOIN recount r ON r.unit = u.id
  WHERE u.household_count <> COALESCE(r.households, 0) OR u.person_count <> COALESCE(r.persons, 0)";

fn sqlite() -> Option<Backend> {
    if sqlite_shell() {
        Some(Backend::Sqlite)
    } else {
        eprintln!("skipped: the SQLite run needs the sqlite3 shell to look into the database");
        None
    }
}

#[test]
fn sqlite_a_killed_import_leaves_all_or_nothing() {
    if let Some(backend) = sqlite() {
        killed_import(backend);
    }
}

#[test]
fn postgres_a_killed_import_leaves_all_or_nothing() {
    if let Some(backend) = Backend::postgres() {
        killed_import(backend);
    }
}

#[test]
fn sqlite_a_killed_plan_apply_leaves_all_or_nothing() {
    if let Some(backend) = sqlite() {
        killed_apply(backend);
    }
}

#[test]
fn postgres_a_killed_plan_apply_leaves_all_or_nothing() {
    if let Some(backend) = Backend::postgres() {
        killed_apply(backend);
    }
}

/// The fixture city down to its grids, and [`HOUSEHOLDS`] households in it.
fn populated(database: &Database, token: &str) -> Node {
    let node = Node::start(database, false, Some(token));
    for (level, fc) in [
        ("CITY", fixtures::city()),
        ("DISTRICT", fixtures::districts()),
        ("STREET", fixtures::streets()),
        ("COMMUNITY", fixtures::communities()),
        ("GRID", fixtures::grids()),
    ] {
        node.query(IMPORT_UNITS, json!({"level": level, "fc": fc}));
    }
    node.query(IMPORT_HOUSEHOLDS, json!({"fc": households()}));
    node
}

/// Deterministic households, ten to a building, inside the city and off every grid border.
fn households() -> Value {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut homes = Vec::with_capacity(HOUSEHOLDS);
    for building in 0..HOUSEHOLDS / 10 {
        let lon = 104.0 + 0.4 * next();
        let lat = 30.6 + 0.2 * next();
        for h in 0..10 {
            homes.push(json!({
                "type": "Feature", "id": format!("b{building}-{h}"),
                "properties": {"persons": 1 + h % 3, "building": format!("b{building}")},
                "geometry": {"type": "Point", "coordinates": [lon, lat]}
            }));
        }
    }
    fixtures::collection(homes)
}

/// Every fixture grid cut into [`MICRO_PER_SIDE`]² micro-grids (parents found by
/// containment, codes issued).
fn micro_grids() -> Value {
    let grids = fixtures::grids();
    let mut features = Vec::new();
    for (g, grid) in grids["features"]
        .as_array()
        .expect("features")
        .iter()
        .enumerate()
    {
        let ring = &grid["geometry"]["coordinates"][0];
        let corner = |i: usize, axis: usize| ring[i][axis].as_f64().expect("a number");
        let (x0, y0, x1, y1) = (corner(0, 0), corner(0, 1), corner(2, 0), corner(2, 1));
        let n = MICRO_PER_SIDE as f64;
        let (dx, dy) = ((x1 - x0) / n, (y1 - y0) / n);
        for i in 0..MICRO_PER_SIDE {
            for j in 0..MICRO_PER_SIDE {
                let (a, b) = (x0 + dx * i as f64, y0 + dy * j as f64);
                // The last row and column end exactly on the grid's edge.
                let c = if i + 1 == MICRO_PER_SIDE { x1 } else { a + dx };
                let d = if j + 1 == MICRO_PER_SIDE { y1 } else { b + dy };
                features.push(fixtures::feature(
                    json!({"name": format!("m{g}-{i}-{j}")}),
                    fixtures::rect(a, b, c, d),
                ));
            }
        }
    }
    fixtures::collection(features)
}

fn default_version(node: &Node) -> i64 {
    let data = node.query("{ gridSystems { version isDefault } }", json!({}));
    data["gridSystems"]
        .as_array()
        .expect("systems")
        .iter()
        .find(|s| s["isDefault"] == true)
        .and_then(|s| s["version"].as_i64())
        .expect("a default system")
}

fn total(node: &Node, level: &str) -> i64 {
    let data = node.query(
        "query($level: Level!) { units(level: $level) { totalCount } }",
        json!({"level": level}),
    );
    data["units"]["totalCount"].as_i64().expect("a count")
}

/// What [`kill_mid_write`] saw.
struct Kill {
    /// From sending the request to the kill.
    after: Duration,
    /// Whether the write transaction was still open just before the kill.
    still_open: bool,
}

/// Sends `query` in the background, SIGKILLs the node `then` after the database shows its
/// write transaction open, and starts a new node on the same database.
fn kill_mid_write(
    database: &Database,
    node: Node,
    token: &str,
    (query, variables): (&str, Value),
    then: Duration,
) -> (Node, Kill) {
    let request = node.request();
    let body = json!({"query": query, "variables": variables});
    let (done, finished) = mpsc::channel();
    let sender = std::thread::spawn(move || {
        let outcome = request.send_json(body);
        let _ = done.send(());
        // The connection is cut by the kill; anything else is reported by the caller.
        outcome
            .map(|r| r.into_string().unwrap_or_default())
            .map_err(|e| e.to_string())
    });
    let started = Instant::now();
    loop {
        if database.write_transaction_open() {
            break;
        }
        if finished.try_recv().is_ok() {
            let answer = sender.join().expect("the sender thread");
            panic!("the write finished before its transaction was seen open: {answer:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no write transaction opened"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(then);
    let still_open = database.write_transaction_open();
    let after = started.elapsed();
    node.kill();
    let answer = sender.join().expect("the sender thread");
    assert!(
        answer.is_err(),
        "the request was answered although its server was killed: {answer:?}"
    );
    let kill = Kill { after, still_open };
    (Node::start(database, false, Some(token)), kill)
}

/// Counts equal a recount, and every household's stored unit is where the index locates it.
fn check_database_and_index_agree(database: &Database, node: &Node) {
    assert_eq!(
        database.sql(RECOUNT).as_deref(),
        Some("0"),
        "units whose stored counts differ from a recount"
    );
    let rows = database
        .sql("SELECT lon, lat, unit_id FROM household ORDER BY id")
        .expect("households");
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), HOUSEHOLDS);
    // Every 97th household: a couple of hundred lookups over HTTP.
    for row in rows.iter().step_by(97) {
        let parts: Vec<&str> = row.split('|').collect();
        let [lon, lat, unit] = parts[..] else {
            panic!("a row of three columns: {row}")
        };
        let (lon, lat): (f64, f64) = (lon.parse().expect("lon"), lat.parse().expect("lat"));
        let chain = node.query(
            "query($lon: Float!, $lat: Float!) { locate(lon: $lon, lat: $lat) { id } }",
            json!({"lon": lon, "lat": lat}),
        );
        assert_eq!(
            chain["locate"][0]["id"].as_str(),
            Some(unit),
            "the household at ({lon}, {lat}) is stored in unit {unit} but located elsewhere: {chain}"
        );
    }
}

fn killed_import(backend: Backend) {
    let database = Database::create(backend);
    let token = database.token("planner");
    let node = populated(&database, &token);
    let version = default_version(&node);
    let expected = 8 * MICRO_PER_SIDE * MICRO_PER_SIDE;
    let fc = micro_grids();

    // Killed a little after its first write: while it moves the households down.
    let (node, kill) = kill_mid_write(
        &database,
        node,
        &token,
        (IMPORT_UNITS, json!({"level": "MICRO_GRID", "fc": fc})),
        Duration::from_millis(50),
    );
    let stored = total(&node, "MICRO_GRID");
    eprintln!(
        "importUnits of {expected} micro-grids killed {:?} after it was sent (transaction {}): {stored} stored after the restart",
        kill.after,
        if kill.still_open { "still open" } else { "closed" },
    );
    if stored == 0 {
        assert_eq!(default_version(&node), version, "nothing changed");
    } else {
        assert_eq!(
            stored as usize, expected,
            "a killed import left part of itself"
        );
        assert_eq!(default_version(&node), version + 1);
    }
    check_database_and_index_agree(&database, &node);

    // Nothing half-done stands in the way: the same import goes through now (or is refused
    // whole because it is there already).
    if stored == 0 {
        node.query(IMPORT_UNITS, json!({"level": "MICRO_GRID", "fc": fc}));
        assert_eq!(total(&node, "MICRO_GRID") as usize, expected);
        assert_eq!(default_version(&node), version + 1);
        check_database_and_index_agree(&database, &node);
    }
}

fn killed_apply(backend: Backend) {
    let database = Database::create(backend);
    let token = database.token("planner");
    let node = populated(&database, &token);
    let version = default_version(&node);
    let city = node.query("{ unit(code: \"9901\") { id } }", json!({}))["unit"]["id"].clone();
    let plan = node.query(
        "mutation($scope: ID!) { planRebalance(scopeId: $scope, microGrids: true) {
           id baseVersion gridsBefore gridsAfter microGridsAfter } }",
        json!({"scope": city}),
    )["planRebalance"]
        .clone();
    let (grids_before, grids_after) = (
        plan["gridsBefore"].as_i64().expect("n"),
        plan["gridsAfter"].as_i64().expect("n"),
    );
    assert_eq!(grids_before, 8);
    assert_ne!(
        grids_before, grids_after,
        "the plan changes the grids: {plan}"
    );
    assert_eq!(total(&node, "MICRO_GRID"), 0);

    // Killed at its first write.
    let (node, kill) = kill_mid_write(
        &database,
        node,
        &token,
        (
            "mutation($plan: ID!, $version: Int!) {
               applyRebalancePlan(planId: $plan, expectedVersion: $version) { version } }",
            json!({"plan": plan["id"], "version": version}),
        ),
        Duration::ZERO,
    );
    let grids = total(&node, "GRID");
    let micro = total(&node, "MICRO_GRID");
    eprintln!(
        "applyRebalancePlan killed {:?} after it was sent (transaction {}): {grids} grids and {micro} micro-grids after the restart",
        kill.after,
        if kill.still_open { "still open" } else { "closed" },
    );
    if grids == grids_before {
        assert_eq!(micro, 0, "grids as before, micro-grids half applied");
        assert_eq!(default_version(&node), version, "nothing changed");
    } else {
        assert_eq!(grids, grids_after, "a killed apply left part of itself");
        assert_eq!(Some(micro), plan["microGridsAfter"].as_i64());
        assert_eq!(default_version(&node), version + 1);
    }
    check_database_and_index_agree(&database, &node);
}
