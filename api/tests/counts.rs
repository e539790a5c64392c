//! Counts stay exact under single changes: after any sequence of household adds, moves and
//! removes, every unit's stored counts equal a full recount, and every household points at the
//! unit a fresh assignment gives it.

use std::collections::HashMap;

use api::service::audit::Actor;
use api::service::households::{add_household, move_household, remove_household, NewHousehold};
use api::service::import::import_units;
use api::state::AppState;
use entity::{household, unit};
use geodata::{assign_households, Household, Level};
use proptest::prelude::*;
use sea_orm::EntityTrait;
use serde_json::{json, Value};

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

fn collection(features: Vec<(Value, Value)>) -> Value {
    json!({"type": "FeatureCollection", "features": features.into_iter()
        .map(|(p, g)| json!({"type": "Feature", "properties": p, "geometry": g}))
        .collect::<Vec<_>>()})
}

/// Two communities side by side, two grids each: every border is shared by two units.
async fn hierarchy() -> (AppState, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "gridmap_counts_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("counts.db").display());
    let state = AppState::new(api::db::connect(&url).await.expect("database"));
    api::load(&state, false).await.expect("catalog");
    let communities = collection(vec![
        (json!({"name": "W", "code": "C1"}), rect(0.0, 0.0, 1.0, 1.0)),
        (json!({"name": "E", "code": "C2"}), rect(1.0, 0.0, 2.0, 1.0)),
    ]);
    import_units(&state, Level::Community, communities, None, &Actor::cli())
        .await
        .expect("communities");
    let grids = collection(
        [0.0, 0.5, 1.0, 1.5]
            .iter()
            .map(|x| (json!({"name": "g"}), rect(*x, 0.0, x + 0.5, 1.0)))
            .collect(),
    );
    import_units(&state, Level::Grid, grids, None, &Actor::cli())
        .await
        .expect("grids");
    (state, dir)
}

#[derive(Debug, Clone)]
enum Change {
    Add { lon: f64, lat: f64, persons: u32 },
    Move { which: usize, lon: f64, lat: f64 },
    Remove { which: usize },
}

/// Positions inside, outside and exactly on the shared borders (x = 0.5, 1.0, 1.5).
fn position() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        (-0.2f64..2.2, -0.2f64..1.2),
        (
            prop::sample::select(vec![0.0, 0.5, 1.0, 1.5, 2.0]),
            0.0f64..=1.0
        ),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (position(), 1u32..6).prop_map(|((lon, lat), persons)| Change::Add { lon, lat, persons }),
        2 => (0usize..50, position()).prop_map(|(which, (lon, lat))| Change::Move { which, lon, lat }),
        1 => (0usize..50).prop_map(|which| Change::Remove { which }),
    ]
}

async fn apply(state: &AppState, changes: &[Change]) -> usize {
    let mut ids: Vec<String> = Vec::new();
    for (n, change) in changes.iter().enumerate() {
        match change {
            Change::Add { lon, lat, persons } => {
                let id = format!("h{n}");
                let new = NewHousehold {
                    id: id.clone(),
                    lon: *lon,
                    lat: *lat,
                    persons: *persons,
                    building: None,
                };
                add_household(state, new, &Actor::cli()).await.expect("add");
                ids.push(id);
            }
            Change::Move { which, lon, lat } if !ids.is_empty() => {
                let id = &ids[which % ids.len()];
                move_household(state, id, *lon, *lat, &Actor::cli())
                    .await
                    .expect("move");
            }
            Change::Remove { which } if !ids.is_empty() => {
                let id = ids.remove(which % ids.len());
                remove_household(state, &id, &Actor::cli())
                    .await
                    .expect("remove");
            }
            _ => {}
        }
    }
    ids.len()
}

async fn assert_counts_match_a_recount(state: &AppState) {
    let catalog = state.catalog().expect("catalog");
    let index = catalog.index(catalog.default_system).expect("index");
    let rows = household::Entity::find()
        .all(&state.db)
        .await
        .expect("households");
    let households: Vec<Household> = rows
        .iter()
        .map(|h| Household {
            id: h.id.clone(),
            point: geo::Point::new(h.lon, h.lat),
            persons: h.persons as u32,
            building: None,
        })
        .collect();
    let recount = assign_households(index, &households);
    for (row, expected) in rows.iter().zip(&recount.unit_of) {
        assert_eq!(
            row.unit_id, *expected,
            "household {} at ({}, {})",
            row.id, row.lon, row.lat
        );
    }
    let expected: HashMap<i64, (i64, i64)> = recount
        .counts
        .iter()
        .map(|(id, c)| (*id, (c.households as i64, c.persons as i64)))
        .collect();
    for unit in unit::Entity::find().all(&state.db).await.expect("units") {
        let want = expected.get(&unit.id).copied().unwrap_or_default();
        assert_eq!(
            (unit.household_count, unit.person_count),
            want,
            "unit {}",
            unit.code
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn counts_equal_a_full_recount_after_any_changes(changes in prop::collection::vec(change(), 1..40)) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let (state, dir) = hierarchy().await;
            let living = apply(&state, &changes).await;
            let stored = household::Entity::find().all(&state.db).await.expect("households").len();
            assert_eq!(stored, living, "every add and remove reached the database");
            assert_counts_match_a_recount(&state).await;
            let _ = std::fs::remove_dir_all(dir);
        });
    }
}
