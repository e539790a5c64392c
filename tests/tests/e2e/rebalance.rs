//! Rebalancing as a planner uses it over HTTP: plan (a dry run), inspect, preview, apply; stale
//! versions and replayed applies are refused; locked grids stay.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::fixtures::{self, error_code, import_hierarchy, IMPORT_HOUSEHOLDS};
use crate::on_every_backend;
use crate::server::{Backend, Server};

const PLAN: &str = r#"
mutation($scope: ID!, $micro: Boolean!) {
  planRebalance(scopeId: $scope, microGrids: $micro) {
    id baseVersion gridsBefore gridsAfter withinBoundsBefore withinBoundsAfter
    gridsKept gridsChanged gridsNew gridsRemoved householdsMoved
    minHouseholds maxHouseholds meanPolsbyPopper worstPolsbyPopper microGridsAfter
    system { id version }
    infeasible { unitCode code reason households }
  }
}"#;

const APPLY: &str = r#"
mutation($plan: ID!, $version: Int!) {
  applyRebalancePlan(planId: $plan, expectedVersion: $version) { id version isDefault }
}"#;

fn unit_id(server: &Server, code: &str) -> String {
    let data = server.query(
        "query($code: String!) { unit(code: $code) { id } }",
        json!({"code": code}),
    );
    data["unit"]["id"].as_str().expect("an id").to_owned()
}

fn default_version(server: &Server) -> i64 {
    let data = server.query("{ gridSystems { version isDefault } }", json!({}));
    data["gridSystems"]
        .as_array()
        .expect("systems")
        .iter()
        .find(|s| s["isDefault"] == true)
        .and_then(|s| s["version"].as_i64())
        .expect("a default system")
}

/// Every grid of the default system: code -> (id, households).
fn grids(server: &Server) -> HashMap<String, (String, i64)> {
    let mut found = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let data = server.query(
            "query($after: String) { units(level: GRID, first: 1000, after: $after) {
               edges { node { id code householdCount } } pageInfo { hasNextPage endCursor } } }",
            json!({"after": after}),
        );
        let page = &data["units"];
        for edge in page["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            found.insert(
                node["code"].as_str().expect("code").to_owned(),
                (
                    node["id"].as_str().expect("id").to_owned(),
                    node["householdCount"].as_i64().expect("count"),
                ),
            );
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return found;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

#[test]
fn the_demo_city_is_planned_inspected_applied_and_located() {
    let server = Server::start(Backend::Sqlite, true);
    let version = default_version(&server);
    let before = grids(&server);
    let district = unit_id(&server, "510104");

    let plan =
        server.query(PLAN, json!({"scope": district, "micro": false}))["planRebalance"].clone();
    let plan_id = plan["id"].as_str().expect("plan id").to_owned();
    assert_eq!(plan["baseVersion"], version);
    assert_eq!(plan["gridsBefore"].as_u64(), Some(before.len() as u64));
    let (within_before, within_after) = (
        plan["withinBoundsBefore"].as_u64().expect("n"),
        plan["withinBoundsAfter"].as_u64().expect("n"),
    );
    assert!(
        within_before < before.len() as u64,
        "the demo has grids out of bounds"
    );
    assert!(within_after > within_before, "{plan:#}");
    let infeasible: HashSet<String> = plan["infeasible"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["unitCode"].as_str().expect("code").to_owned())
        .collect();
    let grids_after = plan["gridsAfter"].as_u64().expect("n");
    assert_eq!(
        grids_after - within_after,
        infeasible.len() as u64,
        "every grid out of bounds is explained: {plan:#}"
    );
    assert!(plan["householdsMoved"].as_u64().expect("n") > 0);
    assert!(
        plan["meanPolsbyPopper"].as_f64().expect("pp") > 0.3,
        "{plan:#}"
    );

    // A dry run: nothing live changed.
    assert_eq!(default_version(&server), version);
    assert_eq!(grids(&server), before);

    // Read back, and previewed as GeoJSON.
    let read = server.query(
        "query($id: ID!) { rebalancePlan(id: $id) { id gridsAfter householdsMoved grids(level: GRID, first: 5) { totalCount edges { node { code status households } } } } }",
        json!({"id": plan_id}),
    );
    assert_eq!(read["rebalancePlan"]["gridsAfter"], plan["gridsAfter"]);
    assert_eq!(
        read["rebalancePlan"]["grids"]["totalCount"],
        plan["gridsAfter"]
    );
    let (status, content_type, body) = server.get(&format!("/geojson/plans/{plan_id}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/geo+json");
    let preview: Value = serde_json::from_str(&body).expect("GeoJSON");
    let features = preview["features"].as_array().expect("features");
    assert_eq!(features.len() as u64, grids_after);
    let mut statuses = HashSet::new();
    for feature in features {
        let p = &feature["properties"];
        statuses.insert(p["status"].as_str().expect("status").to_owned());
        for key in [
            "code",
            "communityCode",
            "households",
            "persons",
            "polsbyPopper",
        ] {
            assert!(!p[key].is_null(), "{key} in {p}");
        }
        assert!(p.get("infeasible").is_some());
        assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    }
    assert!(
        statuses.contains("kept") && statuses.contains("new"),
        "{statuses:?}"
    );
    assert!(statuses.is_subset(&HashSet::from([
        "kept".into(),
        "new".into(),
        "changed".into()
    ])));

    // Apply: a new version, every grid within bounds or explained.
    let applied = server.query(APPLY, json!({"plan": plan_id, "version": version}));
    assert_eq!(applied["applyRebalancePlan"]["version"], version + 1);
    let after = grids(&server);
    assert_eq!(after.len() as u64, grids_after);
    for (code, (_, households)) in &after {
        assert!(
            (300..=500).contains(households) || infeasible.contains(code),
            "grid {code} holds {households} households and is not explained"
        );
    }
    let total_before: i64 = before.values().map(|g| g.1).sum();
    let total_after: i64 = after.values().map(|g| g.1).sum();
    assert_eq!(total_before, total_after, "no household lost or doubled");

    // locate answers the new grids: a household of a new grid is located in it.
    let new_code = features
        .iter()
        .map(|f| &f["properties"])
        .find(|p| p["status"] == "new" && p["households"].as_i64() > Some(0))
        .and_then(|p| p["code"].as_str())
        .expect("a new grid with households");
    let new_id = &after[new_code].0;
    let homes = server.query(
        "query($id: ID!) { households(unitId: $id, first: 3) { edges { node { lon lat } } } }",
        json!({"id": new_id}),
    );
    let homes = homes["households"]["edges"].as_array().expect("edges");
    assert!(!homes.is_empty());
    for home in homes {
        let node = &home["node"];
        let chain = server.query(
            "query($lon: Float!, $lat: Float!) { locate(lon: $lon, lat: $lat) { code level } }",
            json!({"lon": node["lon"], "lat": node["lat"]}),
        );
        let grid = chain["locate"]
            .as_array()
            .expect("chain")
            .iter()
            .find(|u| u["level"] == "GRID")
            .expect("a grid in the chain");
        assert_eq!(grid["code"], new_code);
    }

    // The same plan again: CONFLICT, whatever version is given.
    for stale in [version, version + 1] {
        let again = server.graphql(APPLY, json!({"plan": plan_id, "version": stale}));
        assert_eq!(error_code(&again), "CONFLICT", "{again:#}");
    }
    assert_eq!(default_version(&server), version + 1);
}

/// The fixture's West North community: [104.0, 104.2] × [30.7, 30.8], grids west (001) and
/// east (002) of 104.1.
const COMMUNITY: &str = "990101001001";

/// A small city: one community of 600 households in one grid (over the maximum), beside a
/// balanced one. The plan splits the big grid and keeps the other; a locked grid is kept.
fn overfull_community(server: &Server) {
    import_hierarchy(server, "GRID");
    crowd_west_north(server);
    let version = default_version(server);
    let community = unit_id(server, COMMUNITY);

    // Lock the east grid (400 households, within bounds anyway) and plan.
    let east = unit_id(server, &format!("{COMMUNITY}002"));
    let locked = server.query(
        "mutation($id: ID!) { setUnitLocked(id: $id, locked: true) { locked } }",
        json!({"id": east}),
    );
    assert_eq!(locked["setUnitLocked"]["locked"], true);
    assert_eq!(default_version(server), version + 1, "locking is a change");

    let plan =
        server.query(PLAN, json!({"scope": community, "micro": true}))["planRebalance"].clone();
    assert_eq!(plan["gridsBefore"], 2);
    assert_eq!(plan["withinBoundsBefore"], 1);
    assert_eq!(plan["gridsAfter"], 3, "{plan:#}");
    assert_eq!(plan["withinBoundsAfter"], 3, "{plan:#}");
    assert_eq!(plan["gridsKept"], 1, "the locked grid is kept: {plan:#}");
    assert!(
        plan["microGridsAfter"].as_u64().expect("n") >= 6,
        "{plan:#}"
    );

    // A stale expectedVersion: CONFLICT and nothing written.
    let plan_id = plan["id"].as_str().expect("id");
    let stale = server.graphql(APPLY, json!({"plan": plan_id, "version": version}));
    assert_eq!(error_code(&stale), "CONFLICT", "{stale:#}");
    assert_eq!(
        grids(server).len(),
        8,
        "2 grids in each of the 4 communities, as before"
    );

    let applied = server.query(APPLY, json!({"plan": plan_id, "version": version + 1}));
    assert_eq!(applied["applyRebalancePlan"]["version"], version + 2);
    let after = grids(server);
    let in_community: Vec<i64> = after
        .iter()
        .filter(|(code, _)| code.starts_with(COMMUNITY))
        .map(|(_, (_, n))| *n)
        .collect();
    assert_eq!(in_community.len(), 3);
    assert!(
        in_community.iter().all(|n| (300..=500).contains(n)),
        "{in_community:?}"
    );
    assert_eq!(in_community.iter().sum::<i64>(), 1000);
    assert_eq!(
        after[&format!("{COMMUNITY}002")].1,
        400,
        "the locked grid is as it was"
    );
    let community_counts = fixtures::unit_counts(server, COMMUNITY);
    assert_eq!(community_counts, (1000, 2000));
}

fn bad_requests_are_refused_with_codes(server: &Server) {
    import_hierarchy(server, "GRID");
    let grid = unit_id(server, "990101001001001");
    let community = unit_id(server, "990101001001");
    let cases = [
        (json!({"scope": grid, "micro": false}), "INVALID_INPUT"),
        (json!({"scope": "999999", "micro": false}), "NOT_FOUND"),
    ];
    for (variables, code) in cases {
        let body = server.graphql(PLAN, variables);
        assert_eq!(error_code(&body), code, "{body:#}");
    }
    let inverted = server.graphql(
        "mutation($scope: ID!) { planRebalance(scopeId: $scope, gridMin: 500, gridMax: 300) { id } }",
        json!({"scope": community}),
    );
    assert_eq!(error_code(&inverted), "INVALID_INPUT", "{inverted:#}");
    let missing = server.query("{ rebalancePlan(id: \"424242\") { id } }", json!({}));
    assert!(missing["rebalancePlan"].is_null());
    let body = server.graphql(APPLY, json!({"plan": "424242", "version": 1}));
    assert_eq!(error_code(&body), "NOT_FOUND", "{body:#}");
    let (status, _, body) = server.get("/geojson/plans/424242");
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = server.get("/geojson/plans/nope");
    assert_eq!(status, 400, "{body}");
}

/// 600 households in 60 buildings in the West North community's west grid, 400 in 40 in its
/// east grid.
fn crowd_west_north(server: &Server) {
    let mut homes = Vec::new();
    for b in 0..100 {
        let (x0, per_row) = if b < 60 { (104.005, 10) } else { (104.105, 8) };
        let column = f64::from(b % per_row);
        let row = f64::from(b / per_row % 8);
        let lon = x0 + 0.009 * column + 0.0001;
        let lat = 30.705 + 0.011 * row + 0.0001;
        for h in 0..10 {
            homes.push(json!({
                "type": "Feature", "id": format!("b{b}-h{h}"),
                "properties": {"persons": 2, "building": format!("b{b}")},
                "geometry": {"type": "Point", "coordinates": [lon, lat]}
            }));
        }
    }
    server.query(
        IMPORT_HOUSEHOLDS,
        json!({"fc": fixtures::collection(homes)}),
    );
}

fn rollback_restores_the_grids_before_a_plan(server: &Server) {
    import_hierarchy(server, "GRID");
    crowd_west_north(server);
    let before = grids(server);
    let version = default_version(server);
    let system = server.query("{ gridSystems { id isDefault } }", json!({}))["gridSystems"]
        .as_array()
        .expect("systems")
        .iter()
        .find(|s| s["isDefault"] == true)
        .and_then(|s| s["id"].as_str())
        .expect("a default system")
        .to_owned();
    let community = unit_id(server, COMMUNITY);
    let plan =
        server.query(PLAN, json!({"scope": community, "micro": false}))["planRebalance"].clone();
    server.query(APPLY, json!({"plan": plan["id"], "version": version}));
    assert_ne!(grids(server), before, "the plan changed the grids");

    const ROLLBACK: &str = r#"mutation($system: ID!, $to: Int!, $expected: Int) {
      rollback(system: $system, toVersion: $to, expectedVersion: $expected) { version history { version action at } } }"#;
    let stale = server.graphql(
        ROLLBACK,
        json!({"system": system, "to": version, "expected": version}),
    );
    assert_eq!(error_code(&stale), "CONFLICT", "{stale:#}");
    let never = server.graphql(ROLLBACK, json!({"system": system, "to": version + 5}));
    assert_eq!(error_code(&never), "INVALID_INPUT", "{never:#}");

    let rolled = server.query(
        ROLLBACK,
        json!({"system": system, "to": version, "expected": version + 1}),
    );
    let rolled = &rolled["rollback"];
    assert_eq!(rolled["version"], version + 2, "history moves forward");
    let history = rolled["history"].as_array().expect("history");
    let last = history.last().expect("versions");
    assert_eq!(last["action"], format!("rollback to {version}"));
    assert!(last["at"].as_str().expect("at").ends_with('Z'));
    assert!(history.iter().any(|v| v["action"]
        .as_str()
        .is_some_and(|a| a.starts_with("applyRebalancePlan"))));

    // The very grids of before: ids, codes, households; and locate answers them again.
    assert_eq!(grids(server), before);
    let chain = server.query(
        "{ locate(lon: 104.0051, lat: 30.7051) { code level } }",
        json!({}),
    );
    let grid = chain["locate"]
        .as_array()
        .expect("chain")
        .iter()
        .find(|u| u["level"] == "GRID")
        .expect("a grid")
        .clone();
    assert_eq!(grid["code"], format!("{COMMUNITY}001"));
    assert_eq!(fixtures::unit_counts(server, COMMUNITY), (1000, 2000));
}

on_every_backend!(
    overfull_community,
    bad_requests_are_refused_with_codes,
    rollback_restores_the_grids_before_a_plan
);
