//! Access, the audit log and the limits: who may read and change what, with which error
//! codes; what the audit log records; and that every exceeded limit answers its code while
//! the server keeps answering.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

use crate::fixtures::*;
use crate::server::{binary, create_token, Auth, Backend, Server};

crate::on_every_backend!(
    anonymous_clients_on_loopback_read_the_map_but_change_nothing,
    each_role_sees_and_does_what_the_matrix_says,
    wrong_and_revoked_tokens_are_unauthenticated,
    the_token_command_prints_the_token_as_its_last_word,
    the_audit_log_lists_every_change_with_its_versions,
);

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

fn version(server: &Server) -> Value {
    server.query("{ gridSystems { version } }", json!({}))["gridSystems"][0]["version"].clone()
}

const HOUSEHOLDS: &str = r#"query($unit: ID!) {
  households(unitId: $unit) { totalCount edges { node { id lon lat persons building } } } }"#;
const AUDIT: &str = "{ auditLog(first: 50) { totalCount edges { node { actor action } } } }";

fn city_id(server: &Server) -> String {
    server.query(r#"{ unit(code: "9901") { id } }"#, json!({}))["unit"]["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn anonymous_clients_on_loopback_read_the_map_but_change_nothing(server: &Server) {
    import_hierarchy(server, "GRID");
    server.query(IMPORT_HOUSEHOLDS, json!({"fc": households()}));
    let before = version(server);

    let (status, body) = server.graphql_as(
        Auth::Anonymous,
        "{ locate(lon: 104.05, lat: 30.75) { code householdCount } }",
        json!({}),
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["data"]["locate"][0]["code"], "990101001001001");
    for path in ["/geojson/units?level=GRID", "/ogc/collections", "/healthz"] {
        let (status, _, text) = server.get_as(Auth::Anonymous, path);
        assert_eq!(status, 200, "{path}: {text}");
    }

    let (status, body) = server.graphql_as(
        Auth::Anonymous,
        IMPORT_UNITS,
        json!({"level": "CITY", "fc": collection(vec![feature(json!({"name": "Other"}), rect(10.0, 10.0, 11.0, 11.0))])}),
    );
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body:#}");
    assert_eq!(version(server), before, "nothing was imported");

    let (status, body) = server.graphql_as(
        Auth::Anonymous,
        HOUSEHOLDS,
        json!({"unit": city_id(server)}),
    );
    assert_eq!((status, code(&body)), (200, "UNAUTHENTICATED"), "{body:#}");
    assert!(body["data"].is_null(), "no household leaks: {body:#}");
    let (_, body) = server.graphql_as(Auth::Anonymous, AUDIT, json!({}));
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body:#}");
}

fn each_role_sees_and_does_what_the_matrix_says(server: &Server) {
    import_hierarchy(server, "GRID");
    server.query(IMPORT_HOUSEHOLDS, json!({"fc": households()}));
    let (viewer, planner) = (server.token("viewer"), server.token("planner"));
    let city = city_id(server);
    let counts = unit_counts(server, "9901");

    // Viewer: map data and counts, nothing more.
    let (status, body) = server.graphql_as(
        Auth::Bearer(&viewer),
        r#"{ unit(code: "9901") { householdCount personCount children { totalCount } } }"#,
        json!({}),
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["data"]["unit"]["householdCount"], counts.0);
    let (_, body) = server.graphql_as(Auth::Bearer(&viewer), HOUSEHOLDS, json!({"unit": city}));
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    let (status, body) = server.graphql_as(
        Auth::Bearer(&viewer),
        r#"mutation { addHousehold(id: "v1", lon: 104.05, lat: 30.75) { id } }"#,
        json!({}),
    );
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body:#}");
    assert_eq!(unit_counts(server, "9901"), counts, "nothing was added");
    let (status, _, _) = server.get_as(Auth::Bearer(&viewer), "/geojson/units?level=DISTRICT");
    assert_eq!(status, 200);

    // Planner: changes, but no household details, audit log or tokens.
    let (status, body) = server.graphql_as(
        Auth::Bearer(&planner),
        r#"mutation { addHousehold(id: "p1", lon: 104.05, lat: 30.75, persons: 2) { id unit { code } } }"#,
        json!({}),
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        body["data"]["addHousehold"]["unit"]["code"],
        "990101001001001"
    );
    assert_eq!(unit_counts(server, "9901"), (counts.0 + 1, counts.1 + 2));
    let (_, body) = server.graphql_as(
        Auth::Bearer(&planner),
        r#"mutation { moveHousehold(id: "p1", lon: 104.35, lat: 30.65) { id lon } }"#,
        json!({}),
    );
    assert_eq!(
        code(&body),
        "FORBIDDEN",
        "the position is admins' only: {body:#}"
    );
    let (_, body) = server.graphql_as(Auth::Bearer(&planner), HOUSEHOLDS, json!({"unit": city}));
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    let (_, body) = server.graphql_as(Auth::Bearer(&planner), AUDIT, json!({}));
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    let (_, body) = server.graphql_as(
        Auth::Bearer(&planner),
        r#"mutation { createToken(role: ADMIN, name: "me") { token } }"#,
        json!({}),
    );
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");

    // Admin: household details.
    let data = server.query(HOUSEHOLDS, json!({"unit": city}));
    let node = &data["households"]["edges"][0]["node"];
    assert!(
        node["lon"].is_number() && node["persons"].is_number(),
        "{data:#}"
    );
    assert_eq!(data["households"]["totalCount"], counts.0 + 1);
}

fn wrong_and_revoked_tokens_are_unauthenticated(server: &Server) {
    let wrong = "gm_0000000000000000000000000000000000000000000000000000000000000000";
    let (status, body) =
        server.graphql_as(Auth::Bearer(wrong), "{ gridSystems { id } }", json!({}));
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body:#}");
    let (status, _, text) = server.get_as(Auth::Bearer(wrong), "/geojson/units");
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("UNAUTHENTICATED"), "{text}");

    let planner = server.token("planner");
    let (status, _) =
        server.graphql_as(Auth::Bearer(&planner), "{ gridSystems { id } }", json!({}));
    assert_eq!(status, 200);
    let tokens = server.query("{ apiTokens { id name role revoked } }", json!({}));
    let id = tokens["apiTokens"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["role"] == "PLANNER"))
        .map(|t| t["id"].clone())
        .expect("the planner's token is listed");
    let revoked = server.query(
        "mutation($id: ID!) { revokeToken(id: $id) { revoked } }",
        json!({"id": id}),
    );
    assert_eq!(revoked["revokeToken"]["revoked"], true);
    let (status, body) =
        server.graphql_as(Auth::Bearer(&planner), "{ gridSystems { id } }", json!({}));
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body:#}");

    // Revoked from the command line: refused within the server's 5 s cache.
    let viewer = create_token(&server.database_url, "viewer");
    let (status, _) = server.graphql_as(Auth::Bearer(&viewer), "{ gridSystems { id } }", json!({}));
    assert_eq!(status, 200);
    let listed = gridmap(server, &["token", "list"]);
    let id = listed
        .lines()
        .filter(|line| line.contains("\tviewer\t"))
        .filter_map(|line| line.split('\t').next())
        .next_back()
        .expect("the viewer's token is listed")
        .to_owned();
    gridmap(server, &["token", "revoke", &id]);
    let started = Instant::now();
    loop {
        let (status, _) =
            server.graphql_as(Auth::Bearer(&viewer), "{ gridSystems { id } }", json!({}));
        if status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still accepted"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn gridmap(server: &Server, args: &[&str]) -> String {
    let output = Command::new(binary())
        .args(args)
        .args(["--database-url", &server.database_url])
        .env("GRIDMAP_LOG", "warn")
        .output()
        .expect("gridmap runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn the_token_command_prints_the_token_as_its_last_word(server: &Server) {
    let printed = gridmap(
        server,
        &["token", "create", "--role", "planner", "--name", "alice"],
    );
    let token = printed.split_whitespace().last().expect("a last word");
    assert!(token.starts_with("gm_") && token.len() == 67, "{printed}");
    let listed = gridmap(server, &["token", "list"]);
    assert!(listed.contains("\tplanner\talice\t"), "{listed}");
    assert!(
        !listed.contains(token),
        "the token itself is never shown again"
    );
    let (status, body) = server.graphql_as(
        Auth::Bearer(token),
        IMPORT_UNITS,
        json!({"level": "CITY", "fc": city()}),
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["data"]["importUnits"]["imported"], 1, "{body:#}");
}

fn the_audit_log_lists_every_change_with_its_versions(server: &Server) {
    server.query(IMPORT_UNITS, json!({"level": "CITY", "fc": city()}));
    server.query(
        IMPORT_UNITS,
        json!({"level": "DISTRICT", "fc": districts()}),
    );
    let planner = server.token("planner");
    let (status, body) = server.graphql_as(
        Auth::Bearer(&planner),
        r#"mutation { addHousehold(id: "a1", lon: 104.05, lat: 30.75) { id } }"#,
        json!({}),
    );
    assert_eq!(status, 200, "{body:#}");
    let now = version(server);

    let data = server.query(
        "{ auditLog(first: 10) { totalCount pageInfo { hasNextPage endCursor }
             edges { cursor node { at actor action system versionBefore versionAfter details } } } }",
        json!({}),
    );
    let log = &data["auditLog"];
    let nodes: Vec<&Value> = log["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"])
        .collect();
    let actions: Vec<&str> = nodes.iter().filter_map(|n| n["action"].as_str()).collect();
    // Newest first; the harness's admin token was made with the command line.
    assert_eq!(
        actions,
        [
            "addHousehold",
            "createToken",
            "importUnits",
            "importUnits",
            "createToken"
        ],
        "{log:#}"
    );
    assert_eq!(log["totalCount"], 5);
    assert_eq!(nodes[4]["actor"], "cli");
    assert!(
        nodes[0]["actor"]
            .as_str()
            .is_some_and(|a| a.contains("(test)")),
        "{log:#}"
    );
    assert!(
        nodes[2]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("token ")),
        "{log:#}"
    );
    assert_eq!(nodes[2]["versionAfter"], now, "{log:#}");
    assert_eq!(
        nodes[2]["versionBefore"],
        json!(now.as_i64().map(|v| v - 1)),
        "{log:#}"
    );
    assert_eq!(nodes[0]["versionBefore"], nodes[0]["versionAfter"]);
    assert!(nodes[4]["system"].is_null());
    let at = nodes[0]["at"].as_str().expect("a time");
    assert!(
        at.len() == 24 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "{at}"
    );

    let first = server.query(
        "{ auditLog(first: 2) { pageInfo { hasNextPage endCursor } edges { node { action } } } }",
        json!({}),
    );
    assert_eq!(first["auditLog"]["pageInfo"]["hasNextPage"], true);
    let next = server.query(
        "query($after: String!) { auditLog(first: 2, after: $after) { edges { node { action } } } }",
        json!({"after": first["auditLog"]["pageInfo"]["endCursor"]}),
    );
    assert_eq!(
        next["auditLog"]["edges"][0]["node"]["action"],
        "importUnits"
    );
}

/// Each limit answers its code, and the server answers `/healthz` and queries afterwards.
fn limits_answer_their_codes_and_the_server_stays_up(backend: Backend) {
    let server = Server::start_with(
        backend,
        false,
        &["--max-body-bytes", "200000", "--max-import-features", "3"],
    );
    let still_up = |server: &Server| {
        assert_eq!(server.get("/healthz").0, 200);
        server.query("{ gridSystems { id } }", json!({}));
    };

    // The request body.
    let padding = "x".repeat(300_000);
    let (status, body) = server.graphql_as(
        Auth::Admin,
        "query($p: String) { gridSystems { id } }",
        json!({"p": padding}),
    );
    assert_eq!((status, code(&body)), (413, "LIMIT_EXCEEDED"), "{body:#}");
    still_up(&server);

    // Features per import.
    let before = version(&server);
    let four = collection(
        (0..4)
            .map(|i| {
                feature(
                    json!({"name": format!("c{i}")}),
                    rect(i as f64, 0.0, i as f64 + 1.0, 1.0),
                )
            })
            .collect(),
    );
    let body = server.graphql(IMPORT_UNITS, json!({"level": "CITY", "fc": four}));
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body:#}");
    assert_eq!(version(&server), before, "nothing was imported");
    still_up(&server);

    // Page size.
    let body = server.graphql("{ units(first: 100000) { totalCount } }", json!({}));
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body:#}");
    still_up(&server);

    // Depth.
    let deep = format!(
        "{{ locate(lon: 104.1, lat: 30.7) {{ {}code{} }} }}",
        "parent { ".repeat(20),
        " }".repeat(20)
    );
    let body = server.graphql(&deep, json!({}));
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body:#}");
    still_up(&server);
}

/// A query past the timeout answers `TIMEOUT`; the server keeps answering.
fn a_slow_query_times_out_and_the_server_stays_up(backend: Backend) {
    let server = Server::start_with(backend, false, &["--query-timeout-ms", "1"]);
    import_hierarchy(&server, "GRID");
    let heavy = "{ units(first: 1000) { totalCount edges { node { code geometry(crs: BD09)
        ancestors { code geometry(crs: GCJ02) } children { totalCount edges { node { geometry } } } } } } }";
    let timed_out = (0..20).any(|_| {
        let (status, body) = server.graphql_as(Auth::Admin, heavy, json!({}));
        code(&body) == "TIMEOUT" && status == 504
    });
    assert!(timed_out, "no run of the heavy query timed out at 1 ms");
    assert_eq!(server.get("/healthz").0, 200);
    // Mutations are not cut off.
    server.query(IMPORT_HOUSEHOLDS, json!({"fc": households()}));
}

/// With `--anonymous-role none`, anonymous clients get nothing but health, even on loopback;
/// a subscription's token may come in `connection_init`.
fn without_anonymous_access_every_route_needs_a_token(backend: Backend) {
    let server = Server::start_with(backend, false, &["--anonymous-role", "none"]);
    for path in ["/geojson/units", "/ogc/collections"] {
        let (status, _, text) = server.get_as(Auth::Anonymous, path);
        assert_eq!(status, 401, "{path}: {text}");
    }
    assert_eq!(server.get_as(Auth::Anonymous, "/healthz").0, 200);
    let (status, body) = server.graphql_as(Auth::Anonymous, "{ gridSystems { id } }", json!({}));
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body:#}");
    assert_eq!(server.get("/ogc/collections").0, 200);

    let subscribe = |init: Value| -> Value {
        let host = server.base.trim_start_matches("http://").to_owned();
        let mut request = format!("ws://{host}/graphql")
            .into_client_request()
            .expect("a request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().expect("a header value"),
        );
        let stream = TcpStream::connect(&host).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("a timeout");
        let (mut socket, _) = tungstenite::client(request, stream).expect("a WebSocket");
        socket
            .send(Message::text(
                json!({"type": "connection_init", "payload": init}).to_string(),
            ))
            .expect("sent");
        match socket.read() {
            Ok(Message::Text(text)) => serde_json::from_str(text.as_str()).expect("JSON"),
            Ok(Message::Close(frame)) => {
                json!({"type": "closed", "reason": frame.map(|f| f.reason.to_string())})
            }
            other => json!({"type": "other", "message": format!("{other:?}")}),
        }
    };
    assert_ne!(subscribe(json!({}))["type"], "connection_ack");
    let bearer = format!("Bearer {}", server.admin_token);
    assert_eq!(
        subscribe(json!({"Authorization": bearer}))["type"],
        "connection_ack"
    );
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod started_with_flags {
            $(#[test]
            fn $scenario() {
                super::$scenario(crate::server::Backend::Sqlite);
                if let Some(backend) = crate::server::Backend::postgres() {
                    super::$scenario(backend);
                }
            })*
        }
    };
}

on_both_backends!(
    limits_answer_their_codes_and_the_server_stays_up,
    a_slow_query_times_out_and_the_server_stays_up,
    without_anonymous_access_every_route_needs_a_token,
);
