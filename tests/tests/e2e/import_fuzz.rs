//! The import mutations under malformed input, over HTTP: valid collections with one member
//! replaced, removed or buried in arrays (chosen by a fixed-seed generator), and request
//! bodies cut short or with bytes changed. Every answer is a whole import or a refusal with a
//! code (and, for a fault in a feature, its index); the server stays up, and what was refused
//! left nothing behind.

use serde_json::{json, Value};

use crate::fixtures::{self, IMPORT_HOUSEHOLDS, IMPORT_UNITS};
use crate::on_every_backend;
use crate::server::{Auth, Server};

on_every_backend!(malformed_imports_are_refused_whole_with_a_code_and_the_server_stays_up);

/// Damaged documents sent per mutation.
const CASES: usize = 60;

/// A fixed-seed generator (64-bit LCG), so that a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }
}

/// Values that tend to break parsers.
fn nasty(i: usize) -> Value {
    let values = [
        json!(null),
        json!(true),
        json!(""),
        json!("NaN"),
        json!("Infinity"),
        json!(1e308),
        json!(-1e308),
        json!(f64::MIN_POSITIVE),
        json!(180.000_000_1),
        json!(u64::MAX),
        json!(i64::MIN),
        json!([]),
        json!({}),
        json!([[]]),
        json!([[[104.1, 30.7]]]),
        json!("Polygon"),
        json!("Feature"),
        json!({"type": "Point", "coordinates": [104.1, 30.7]}),
        json!([104.1, 30.7, 0, 0, 0]),
        json!("\u{0}"),
    ];
    values[i % values.len()].clone()
}

/// Paths to every member of a JSON tree.
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                prefix.push(json!(i));
                paths(item, prefix, out);
                prefix.pop();
            }
        }
        Value::Object(members) => {
            for (key, item) in members {
                prefix.push(json!(key));
                paths(item, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at_mut<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |value, step| match step {
        Value::Number(i) => &mut value[i.as_u64().unwrap_or_default() as usize],
        Value::String(key) => &mut value[key.as_str()],
        _ => value,
    })
}

/// `valid` with one member replaced, removed or buried in arrays.
fn damaged(valid: &Value, random: &mut Lcg) -> Value {
    let mut all = Vec::new();
    paths(valid, &mut Vec::new(), &mut all);
    let path = &all[random.below(all.len())];
    let mut document = valid.clone();
    match random.below(4) {
        0 => {
            if let Some((last, parent)) = path.split_last() {
                match (at_mut(&mut document, parent), last) {
                    (Value::Object(members), Value::String(key)) => {
                        members.remove(key);
                    }
                    (Value::Array(items), Value::Number(i)) => {
                        items.remove(i.as_u64().unwrap_or_default() as usize);
                    }
                    _ => {}
                }
            }
        }
        1 => {
            let target = at_mut(&mut document, path);
            let mut buried = target.take();
            for _ in 0..1 + random.below(200) {
                buried = json!([buried]);
            }
            *target = buried;
        }
        _ => *at_mut(&mut document, path) = nasty(random.below(1000)),
    }
    document
}

/// Micro-grids under the fixture's west-north grid: valid unless damaged.
fn micro_grids() -> Value {
    let mut features = Vec::new();
    for i in 0..4 {
        let x = 104.0 + 0.025 * f64::from(i);
        features.push(fixtures::feature(
            json!({"name": format!("m{i}"), "parentCode": "990101001001001"}),
            fixtures::rect(x, 30.7, x + 0.025, 30.8),
        ));
    }
    fixtures::collection(features)
}

fn households() -> Value {
    let features = (0..4)
        .map(|i| {
            json!({"type": "Feature", "id": format!("f{i}"), "properties": {"persons": 2},
                   "geometry": {"type": "Point", "coordinates": [104.01 + 0.02 * f64::from(i), 30.75]}})
        })
        .collect();
    fixtures::collection(features)
}

fn count(server: &Server, query: &str, path: &str) -> i64 {
    server.query(query, json!({}))[path]["totalCount"]
        .as_i64()
        .expect("a count")
}

/// Posts an import: answered 200, or 400 for a body that is not a GraphQL request (nested
/// deeper than the JSON parser goes).
fn send(server: &Server, query: &str, variables: Value) -> Value {
    let (status, body) = server.graphql_as(Auth::Admin, query, variables);
    assert!(
        status == 200
            || (status == 400 && body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"),
        "{status}: {body}"
    );
    body
}

/// Checks one answer; returns whether it imported.
fn imported(body: &Value, what: &str) -> bool {
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        assert!(
            !body["data"].is_null(),
            "{what}: neither data nor errors: {body}"
        );
        return true;
    };
    let error = &errors[0];
    let code = error["extensions"]["code"].as_str().unwrap_or_default();
    assert!(
        ["INVALID_INPUT", "INVALID_GEOMETRY", "CONFLICT", "NOT_FOUND"].contains(&code),
        "{what}: refused without a fitting code: {body}"
    );
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: {body}");
    if let Some(feature) = message
        .strip_prefix("feature ")
        .and_then(|rest| rest.split(':').next())
    {
        assert_eq!(
            error["extensions"]["feature"].to_string(),
            feature,
            "{what}: the feature named in the message is in the extensions: {body}"
        );
    }
    assert!(
        body["data"]
            .as_object()
            .is_none_or(|data| data.values().all(Value::is_null)),
        "{what}: refused, yet with data: {body}"
    );
    false
}

fn malformed_imports_are_refused_whole_with_a_code_and_the_server_stays_up(server: &Server) {
    fixtures::import_hierarchy(server, "GRID");
    let micro = "{ units(level: MICRO_GRID) { totalCount } }";
    let mut random = Lcg(7);
    let (mut units, mut homes) = (0, 0);

    let valid = micro_grids();
    for case in 0..CASES {
        let document = damaged(&valid, &mut random);
        let body = send(
            server,
            IMPORT_UNITS,
            json!({"level": "MICRO_GRID", "fc": document}),
        );
        if imported(&body, &format!("importUnits case {case}")) {
            units += body["data"]["importUnits"]["imported"]
                .as_i64()
                .expect("imported");
        }
        // All or nothing: the count moves by whole imports only.
        assert_eq!(count(server, micro, "units"), units, "case {case}: {body}");
    }

    let valid = households();
    for case in 0..CASES {
        let document = damaged(&valid, &mut random);
        let body = send(server, IMPORT_HOUSEHOLDS, json!({"fc": document}));
        if imported(&body, &format!("importHouseholds case {case}")) {
            homes += body["data"]["importHouseholds"]["imported"]
                .as_i64()
                .expect("imported");
        }
    }
    let (households, _) = fixtures::unit_counts(server, "9901");
    let outside = homes - households;
    assert!(
        (0..=homes).contains(&outside),
        "{homes} imported, {households} counted in the city"
    );

    // Bodies cut short or with a byte changed never reach the resolvers.
    let text =
        json!({"query": IMPORT_UNITS, "variables": {"level": "MICRO_GRID", "fc": micro_grids()}})
            .to_string();
    for case in 0..40 {
        let mut bytes = text.clone().into_bytes();
        let at = random.below(bytes.len());
        if case % 2 == 0 {
            bytes.truncate(at);
        } else {
            bytes[at] = b"{}[]\",:x\\"[random.below(9)];
        }
        let response = ureq::post(&server.url("/graphql"))
            .set("Authorization", &format!("Bearer {}", server.admin_token))
            .set("Content-Type", "application/json")
            .send_bytes(&bytes);
        let (status, answer) = match response {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(status, r)) => (status, r.into_string().unwrap_or_default()),
            Err(e) => panic!("case {case}: the server did not answer: {e}"),
        };
        assert!(
            status == 200 || status == 400,
            "case {case}: {status} {answer}"
        );
    }
    assert_eq!(server.get("/healthz").0, 200);
    let total = count(server, micro, "units");
    assert!(total >= units, "{total} micro-grids, {units} imported");
}
