//! Fuzzing of the import parsers (`parse_units`, `parse_households`) with proptest: random
//! JSON trees, valid documents with one member replaced by something malformed, truncated and
//! byte-mutated texts, huge and non-finite-looking numbers, deep nesting. Every input must be
//! parsed whole or refused with an error naming the feature and the member at fault; nothing
//! may panic, and no case may take long.

use std::time::{Duration, Instant};

use geodata::validate::{parse_households, parse_units, ValidationError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};

/// Longest a single parse may take; the documents here are small, so anything near this is a
/// hang in the making (quadratic or worse behaviour on some shape).
const CASE_LIMIT: Duration = Duration::from_secs(2);

/// Fixed seeds: a failure reproduces on every machine.
fn runner(cases: u32, seed: u8) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}

/// A valid FeatureCollection of three units: a square with a hole, a multipolygon, and a
/// grid with every optional member given.
fn valid_units() -> Value {
    json!({
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature", "id": "a",
                "properties": { "name": "west", "code": "510104017001" },
                "geometry": { "type": "Polygon", "coordinates": [
                    [[104.0, 30.6], [104.1, 30.6], [104.1, 30.7], [104.0, 30.7], [104.0, 30.6]],
                    [[104.02, 30.62], [104.02, 30.64], [104.04, 30.64], [104.04, 30.62], [104.02, 30.62]]
                ] }
            },
            {
                "type": "Feature", "id": 7,
                "properties": { "name": "east", "parentCode": "510104017", "kind": "DEDICATED" },
                "geometry": { "type": "MultiPolygon", "coordinates": [
                    [[[104.1, 30.6], [104.2, 30.6], [104.2, 30.7], [104.1, 30.7], [104.1, 30.6]]],
                    [[[104.3, 30.6], [104.4, 30.6], [104.35, 30.7], [104.3, 30.6]]]
                ] }
            },
            {
                "type": "Feature",
                "properties": { "name": "南", "code": "510104017003", "building": null },
                "geometry": { "type": "Polygon", "coordinates": [
                    [[104.0, 30.5], [104.1, 30.5], [104.1, 30.6], [104.0, 30.6], [104.0, 30.5]]
                ] }
            }
        ]
    })
}

/// A valid FeatureCollection of three households.
fn valid_households() -> Value {
    json!({
        "type": "FeatureCollection",
        "features": [
            { "type": "Feature", "id": "h1", "properties": { "persons": 3, "building": "B7" },
              "geometry": { "type": "Point", "coordinates": [104.085, 30.655] } },
            { "type": "Feature", "properties": { "id": "h2" },
              "geometry": { "type": "Point", "coordinates": [104.09, 30.66, 512.0] } },
            { "type": "Feature", "id": 3, "properties": null,
              "geometry": { "type": "Point", "coordinates": [-180, 90] } }
        ]
    })
}

/// Numbers and strings that tend to break parsers: extremes, signed zero, values just out of
/// range, and strings that look like numbers or non-finite values.
fn nasty_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(f64::MAX)),
        Just(json!(f64::MIN)),
        Just(json!(f64::MIN_POSITIVE)),
        Just(json!(-0.0)),
        Just(json!(1e308)),
        Just(json!(180.0000000001)),
        Just(json!(-90.0000000001)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u32::MAX as u64 + 1)),
        Just(json!("NaN")),
        Just(json!("Infinity")),
        Just(json!("-inf")),
        Just(json!("1e999")),
        Just(json!("104.08")),
        Just(json!("")),
        Just(json!("   ")),
        Just(json!("\u{0}\u{fffd}")),
        Just(json!("Feature")),
        Just(json!("FeatureCollection")),
        Just(json!("Polygon")),
        Just(json!("MultiPolygon")),
        Just(json!("Point")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([[]])),
        Just(json!([[[]]])),
        Just(json!([[[[]]]])),
        Just(json!([104.0, 30.6])),
        Just(json!([
            [104.0, 30.6],
            [104.0, 30.6],
            [104.0, 30.6],
            [104.0, 30.6]
        ])),
        Just(Value::Null),
        Just(json!(true)),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|x| json!(x)),
        ".{0,12}".prop_map(Value::String),
    ]
}

/// Any JSON value: nasty leaves, arrays and objects, a few levels deep, with the member names
/// GeoJSON uses so that the parsers get past their first checks now and then.
fn json_tree() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("type".to_owned()),
        Just("features".to_owned()),
        Just("geometry".to_owned()),
        Just("coordinates".to_owned()),
        Just("properties".to_owned()),
        Just("name".to_owned()),
        Just("code".to_owned()),
        Just("id".to_owned()),
        "[a-z]{1,6}",
    ];
    nasty_leaf().prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every path in a JSON tree (as indexes into arrays and keys of objects).
fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(prefix.clone());
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    prefix.push(Step::Index(i));
                    walk(item, prefix, out);
                    prefix.pop();
                }
            }
            Value::Object(members) => {
                for (key, item) in members {
                    prefix.push(Step::Key(key.clone()));
                    walk(item, prefix, out);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

#[derive(Debug, Clone)]
enum Step {
    Index(usize),
    Key(String),
}

fn at_mut<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(value, |value, step| match step {
        Step::Index(i) => &mut value[*i],
        Step::Key(k) => &mut value[k.as_str()],
    })
}

/// How a valid document is damaged at one member.
#[derive(Debug, Clone)]
enum Damage {
    Replace(Value),
    Remove,
    /// Wraps the member in `depth` arrays.
    Nest(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => json_tree().prop_map(Damage::Replace),
        1 => Just(Damage::Remove),
        1 => (1usize..300).prop_map(Damage::Nest),
    ]
}

/// Applies `damage` at `path`; returns the index of the feature it touched, if any.
fn apply(document: &mut Value, path: &[Step], damage: &Damage) -> Option<usize> {
    let feature = match path {
        [Step::Key(k), Step::Index(i), ..] if k == "features" => Some(*i),
        _ => None,
    };
    match damage {
        Damage::Replace(value) => *at_mut(document, path) = value.clone(),
        Damage::Nest(depth) => {
            let target = at_mut(document, path);
            let mut nested = target.take();
            for _ in 0..*depth {
                nested = Value::Array(vec![nested]);
            }
            *target = nested;
        }
        Damage::Remove => {
            if let Some((last, parent)) = path.split_last() {
                match (at_mut(document, parent), last) {
                    (Value::Object(members), Step::Key(k)) => {
                        members.remove(k);
                    }
                    (Value::Array(items), Step::Index(i)) => {
                        items.remove(*i);
                    }
                    _ => {}
                }
            } else {
                *document = Value::Null;
            }
        }
    }
    feature
}

/// What the parsers must do with any input: parse every feature, or say which feature and
/// member is at fault. `damaged`: the feature an otherwise valid document was changed in.
fn check_outcome<T>(
    document: &Value,
    outcome: Result<Vec<T>, ValidationError>,
    elapsed: Duration,
    damaged: Option<usize>,
) -> Result<(), TestCaseError> {
    prop_assert!(elapsed < CASE_LIMIT, "one parse took {elapsed:?}");
    let features = document
        .get("features")
        .and_then(Value::as_array)
        .map(Vec::len);
    match outcome {
        Ok(parsed) => {
            prop_assert_eq!(Some(parsed.len()), features, "parsed whole or not at all");
        }
        Err(error) => {
            let message = error.to_string();
            prop_assert!(!message.is_empty());
            prop_assert!(!message.ends_with('.'), "messages end without a period");
            match (&error, error.feature()) {
                (ValidationError::NotFeatureCollection { .. } | ValidationError::Empty, None) => {}
                (_, Some(feature)) => {
                    prop_assert!(
                        features.is_some_and(|n| feature < n),
                        "{message}: names a feature that is not there"
                    );
                    prop_assert!(error.field().is_some_and(|f| !f.is_empty()), "{message}");
                    let prefix = format!("feature {feature}: ");
                    prop_assert!(message.starts_with(&prefix), "{message}");
                    // The other features are valid: the fault is in the damaged one (or, for a
                    // repeated id or code, in whichever of the pair comes later).
                    if let Some(damaged) = damaged {
                        match &error {
                            ValidationError::Duplicate { first, .. } => {
                                prop_assert!(*first == damaged || feature == damaged, "{message}")
                            }
                            _ => prop_assert_eq!(feature, damaged, "{}", message),
                        }
                    }
                }
                (_, None) => {
                    return Err(TestCaseError::fail(format!("{message}: no feature named")))
                }
            }
        }
    }
    Ok(())
}

fn both_parsers(document: &Value, damaged: Option<usize>) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let units = parse_units(document);
    check_outcome(document, units, started.elapsed(), damaged)?;
    let started = Instant::now();
    let households = parse_households(document);
    check_outcome(document, households, started.elapsed(), None)
}

#[test]
fn the_valid_documents_parse() {
    assert_eq!(parse_units(&valid_units()).expect("valid").len(), 3);
    assert_eq!(
        parse_households(&valid_households()).expect("valid").len(),
        3
    );
}

#[test]
fn random_json_trees_are_parsed_or_refused_cleanly() {
    runner(2000, 1)
        .run(&json_tree(), |tree| both_parsers(&tree, None))
        .expect("no failure");
    // The same trees as the features of a collection.
    let collection = prop::collection::vec(json_tree(), 1..5)
        .prop_map(|features| json!({"type": "FeatureCollection", "features": features}));
    runner(2000, 2)
        .run(&collection, |document| both_parsers(&document, None))
        .expect("no failure");
}

#[test]
fn a_damaged_member_is_named_by_its_feature() {
    for (seed, valid, units) in [(3, valid_units(), true), (4, valid_households(), false)] {
        let count = paths(&valid).len();
        let strategy = (0..count, damage());
        runner(3000, seed)
            .run(&strategy, |(which, damage)| {
                let mut document = valid.clone();
                let path = paths(&valid)[which].clone();
                let feature = apply(&mut document, &path, &damage);
                // Removing a whole feature leaves a valid document with different indexes.
                let removed_feature = matches!(damage, Damage::Remove) && path.len() == 2;
                let damaged = feature.filter(|_| !removed_feature);
                let started = Instant::now();
                if units {
                    let outcome = parse_units(&document);
                    check_outcome(&document, outcome, started.elapsed(), damaged)
                } else {
                    let outcome = parse_households(&document);
                    check_outcome(&document, outcome, started.elapsed(), damaged)
                }
            })
            .expect("no failure");
    }
}

#[test]
fn truncated_and_mutated_texts_are_refused_by_json_or_by_the_parser() {
    for (seed, valid) in [(5, valid_units()), (6, valid_households())] {
        let text = serde_json::to_string(&valid).expect("serialisable");
        let bytes = text.into_bytes();
        let len = bytes.len();
        let strategy = (0..=len, prop::collection::vec((0..len, any::<u8>()), 0..4));
        runner(2000, seed)
            .run(&strategy, |(cut, flips)| {
                let mut mutated = bytes.clone();
                for (at, byte) in flips {
                    mutated[at] = byte;
                }
                mutated.truncate(cut);
                // Text that is no longer JSON is refused before the parsers see it (by
                // actix/async-graphql in the server, by serde_json in the command line).
                if let Ok(document) = serde_json::from_slice::<Value>(&mutated) {
                    both_parsers(&document, None)?;
                }
                Ok(())
            })
            .expect("no failure");
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    // Text nested deeper than serde_json's recursion limit never becomes a document.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(serde_json::from_str::<Value>(&deep).is_err());
    // A document built in memory may be deeper: the parsers look only as deep as GeoJSON goes.
    let mut document = valid_units();
    let mut nested = json!([104.0, 30.6]);
    for _ in 0..2_000 {
        nested = json!([nested]);
    }
    document["features"][1]["geometry"]["coordinates"] = nested;
    let error = parse_units(&document).expect_err("refused");
    assert_eq!(error.feature(), Some(1));
    assert!(
        error.field().is_some_and(|f| f.starts_with("geometry")),
        "{error}"
    );
    // Dropping deeply nested values recurses; leave it to a thread with a roomy stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || drop(document))
        .expect("a thread")
        .join()
        .expect("dropped");
}

#[test]
fn huge_collections_of_bad_features_stay_linear() {
    // 20,000 features, the last one broken: the error names it, quickly.
    let square = valid_units()["features"][2].clone();
    let mut features: Vec<Value> = (0..20_000)
        .map(|i| {
            let mut feature = square.clone();
            feature["properties"]["code"] = Value::Null;
            feature["id"] = json!(format!("f{i}"));
            feature
        })
        .collect();
    if let Some(last) = features.last_mut() {
        last["geometry"]["coordinates"][0][2] = json!(["NaN", "NaN"]);
    }
    let document = json!({"type": "FeatureCollection", "features": features});
    let started = Instant::now();
    let error = parse_units(&document).expect_err("refused");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(error.feature(), Some(19_999));
    assert_eq!(
        error.field().as_deref(),
        Some("geometry.coordinates[0][2]"),
        "{error}"
    );
}

#[test]
fn a_polygon_with_many_holes_is_checked_in_bounded_time() {
    // 400 small holes in one shell: the ring-touch check is quadratic in rings, so this is
    // the shape most likely to be slow.
    let mut rings = vec![json!([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]])];
    for i in 0..20 {
        for j in 0..20 {
            let (x, y) = (0.2 + i as f64 * 0.48, 0.2 + j as f64 * 0.48);
            rings.push(json!([
                [x, y],
                [x + 0.2, y],
                [x + 0.2, y + 0.2],
                [x, y + 0.2],
                [x, y]
            ]));
        }
    }
    let document = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "holes"},
        "geometry": {"type": "Polygon", "coordinates": rings}
    }]});
    let started = Instant::now();
    let parsed = parse_units(&document).expect("valid");
    assert_eq!(parsed[0].geometry.0[0].interiors().len(), 400);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
