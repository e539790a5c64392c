//! Two servers on one database, each with its catalog in memory and no follower running, so
//! that one is stale on purpose: a change it computes from its catalog after the other server
//! committed one (units, or a household counted by them) is refused with `CONFLICT` and writes
//! nothing; once it has caught up (a reload), the same change goes through. And of two writes
//! computed from the same version and sent through both at once, exactly one commits. On
//! SQLite, and on PostgreSQL when `GRIDMAP_TEST_POSTGRES_URL` is set.

use api::error::ApiError;
use api::service::audit::Actor;
use api::service::households::{add_household, NewHousehold};
use api::service::import::import_units;
use api::service::systems::resolve_system;
use api::service::units::set_unit_locked;
use api::state::AppState;
use entity::{household, unit};
use geodata::Level;
use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

const POSTGRES_URL_VAR: &str = "GRIDMAP_TEST_POSTGRES_URL";

fn rect(x0: f64, x1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, 0.0], [x1, 0.0], [x1, 1.0], [x0, 1.0], [x0, 0.0]]]})
}

/// Grids (or communities) named by their spans along x.
fn layer(spans: &[(f64, f64)], code: impl Fn(usize) -> Value) -> Value {
    json!({"type": "FeatureCollection", "features": spans.iter().enumerate()
        .map(|(i, (x0, x1))| json!({"type": "Feature", "properties": {"name": format!("u{i}"), "code": code(i)}, "geometry": rect(*x0, *x1)}))
        .collect::<Vec<_>>()})
}

async fn server(url: &str) -> AppState {
    let state = AppState::new(api::db::connect(url).await.expect("database"));
    api::load(&state, false).await.expect("catalog");
    state
}

async fn unit_count(state: &AppState) -> u64 {
    unit::Entity::find().count(&state.db).await.expect("units")
}

/// A write from a catalog one version behind `version`: refused, saying so.
fn assert_stale<T: std::fmt::Debug>(outcome: Result<T, ApiError>, version: i32) {
    match outcome {
        Err(ApiError::Conflict { message, .. }) => assert!(
            message.contains("changed by another process")
                && message.contains(&format!("database has version {version}"))
                && message.contains(&format!("shows version {}", version - 1)),
            "{message}"
        ),
        other => panic!("expected CONFLICT from the stale server, got {other:?}"),
    }
}

async fn a_change_from_a_stale_catalog_is_refused(url: &str) {
    let a = server(url).await;
    let communities = layer(&[(0.0, 1.0), (1.0, 2.0)], |i| json!(format!("C{i}")));
    import_units(&a, Level::Community, communities, None, &Actor::cli())
        .await
        .expect("communities");
    let b = server(url).await;
    let west = layer(&[(0.0, 0.5), (0.5, 1.0)], |_| Value::Null);
    let east = layer(&[(1.0, 1.5), (1.5, 2.0)], |_| Value::Null);
    let home = NewHousehold {
        id: "h1".to_owned(),
        lon: 0.25,
        lat: 0.5,
        persons: 3,
        building: None,
    };

    // A commits; B, whose catalog predates that, computes an import and a household from it
    // (the household would miss the grid it lies in).
    import_units(&a, Level::Grid, west, None, &Actor::cli())
        .await
        .expect("west grids through A");
    let (units, version) = (
        unit_count(&a).await,
        resolve_system(&a.db, None).await.expect("system").version,
    );
    assert_stale(
        import_units(&b, Level::Grid, east.clone(), None, &Actor::cli()).await,
        version,
    );
    assert_stale(
        add_household(&b, home.clone(), &Actor::cli()).await,
        version,
    );
    assert_eq!(unit_count(&a).await, units, "a refused write added units");
    let households = household::Entity::find().count(&a.db).await.expect("count");
    assert_eq!(households, 0, "the refused household was written");
    let system = resolve_system(&a.db, None).await.expect("system");
    assert_eq!(system.version, version, "a refused write moved the version");

    // Caught up, B makes the same changes; now A is the stale one.
    api::load(&b, false).await.expect("reload");
    import_units(&b, Level::Grid, east, None, &Actor::cli())
        .await
        .expect("east grids through B, caught up");
    assert_eq!(unit_count(&a).await, units + 2);
    let home = add_household(&b, home, &Actor::cli())
        .await
        .expect("household through B, caught up");
    let grid = unit::Entity::find_by_id(home.unit_id.expect("in a grid"))
        .one(&a.db)
        .await
        .expect("read")
        .expect("grid");
    assert_eq!(grid.household_count, 1, "counted in A's west grid");
    assert_stale(
        set_unit_locked(&a, grid.id, true, &Actor::cli()).await,
        version + 1,
    );
    let row = unit::Entity::find_by_id(grid.id)
        .one(&a.db)
        .await
        .expect("read")
        .expect("grid");
    assert!(!row.locked, "the refused lock was written");
    api::load(&a, false).await.expect("reload");
    set_unit_locked(&a, grid.id, true, &Actor::cli())
        .await
        .expect("lock, caught up");
    assert_eq!(
        resolve_system(&a.db, None).await.expect("system").version,
        version + 2
    );
}

/// Two writes computed from the same version, sent at once through two servers: exactly one
/// commits, the other is refused, whatever the timing.
async fn of_two_writes_from_one_version_one_commits(url: &str) {
    let a = server(url).await;
    let communities = layer(&[(0.0, 1.0), (1.0, 2.0)], |i| json!(format!("C{i}")));
    import_units(&a, Level::Community, communities, None, &Actor::cli())
        .await
        .expect("communities");
    let spans: Vec<(f64, f64)> = (0..8)
        .map(|i| (f64::from(i) * 0.25, f64::from(i + 1) * 0.25))
        .collect();
    import_units(
        &a,
        Level::Grid,
        layer(&spans, |_| Value::Null),
        None,
        &Actor::cli(),
    )
    .await
    .expect("grids");
    let b = server(url).await;
    let mut grids: Vec<i64> = unit::Entity::find()
        .all(&a.db)
        .await
        .expect("units")
        .into_iter()
        .filter(|u| u.level == Level::Grid.as_str())
        .map(|u| u.id)
        .collect();
    grids.sort_unstable();
    for pair in grids.chunks(2) {
        api::load(&a, false).await.expect("reload");
        api::load(&b, false).await.expect("reload");
        let before = resolve_system(&a.db, None).await.expect("system").version;
        let actor = Actor::cli();
        let (through_a, through_b) = tokio::join!(
            set_unit_locked(&a, pair[0], true, &actor),
            set_unit_locked(&b, pair[1], true, &actor),
        );
        let conflicts = [through_a.is_err(), through_b.is_err()];
        assert_eq!(
            conflicts.iter().filter(|&&refused| refused).count(),
            1,
            "A: {through_a:?}, B: {through_b:?}"
        );
        for refused in [through_a.err(), through_b.err()].into_iter().flatten() {
            assert!(matches!(refused, ApiError::Conflict { .. }), "{refused:?}");
        }
        let after = resolve_system(&a.db, None).await.expect("system").version;
        assert_eq!(after, before + 1);
    }
}

/// A fresh database for one test, dropped by [`Scratch::remove`].
struct Scratch {
    url: String,
    postgres: Option<(sea_orm::DatabaseConnection, String)>,
    dir: Option<std::path::PathBuf>,
}

impl Scratch {
    fn sqlite(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("gridmap_{test}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch {
            url: format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
            postgres: None,
            dir: Some(dir),
        }
    }

    /// `None` (and a line saying the test skipped) when `GRIDMAP_TEST_POSTGRES_URL` is unset.
    async fn postgres(test: &str) -> Option<Scratch> {
        let Some(admin_url) = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!("skipped: {POSTGRES_URL_VAR} is unset, so the PostgreSQL run of this test did not happen");
            return None;
        };
        let name = format!("gridmap_{test}_{}", std::process::id());
        let admin = Database::connect(&admin_url).await.expect("postgres");
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .execute_unprepared(&statement)
                .await
                .expect(&statement);
        }
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        Some(Scratch {
            url: format!("{base}/{name}"),
            postgres: Some((admin, name)),
            dir: None,
        })
    }

    async fn remove(self) {
        if let Some((admin, name)) = self.postgres {
            let statement = format!("DROP DATABASE {name} WITH (FORCE)");
            admin
                .execute_unprepared(&statement)
                .await
                .expect(&statement);
        }
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_a_change_from_a_stale_catalog_is_refused_and_writes_nothing() {
    let scratch = Scratch::sqlite("stale");
    a_change_from_a_stale_catalog_is_refused(&scratch.url).await;
    scratch.remove().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_change_from_a_stale_catalog_is_refused_and_writes_nothing() {
    if let Some(scratch) = Scratch::postgres("stale").await {
        a_change_from_a_stale_catalog_is_refused(&scratch.url).await;
        scratch.remove().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_of_two_writes_at_once_from_one_version_one_commits() {
    let scratch = Scratch::sqlite("concurrent");
    of_two_writes_from_one_version_one_commits(&scratch.url).await;
    scratch.remove().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_of_two_writes_at_once_from_one_version_one_commits() {
    if let Some(scratch) = Scratch::postgres("concurrent").await {
        of_two_writes_from_one_version_one_commits(&scratch.url).await;
        scratch.remove().await;
    }
}
