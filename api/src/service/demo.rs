//! Loading the demo city (see `geodata::demo`) into an empty database: the same batched
//! writes as the imports, with households assigned and counted in one pass.

use std::collections::HashMap;

use geodata::demo::{demo_city, DemoSize, DEFAULT_SEED};
use geodata::{assign_households, Index, Level};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, TransactionTrait};

use crate::catalog::SHARED_LEVELS;
use crate::error::{ApiError, ApiResult};
use crate::service::off_the_runtime;
use crate::service::systems::ensure_default_system;
use crate::service::writes::{self, CounterKey};

/// What was loaded.
#[derive(Debug, Clone, Copy)]
pub struct DemoSummary {
    pub units: usize,
    pub households: usize,
}

/// Writes the demo city of `size` to `dir`: `city.geojson`, `district.geojson`, ...,
/// `micro_grid.geojson` (properties `name`, `code`, `parentCode`, `kind`; full-precision
/// coordinates, so the files tile exactly as the generated city does) and `households.csv`
/// (`id,lon,lat,persons,building`). Importing them level by level rebuilds the same city.
/// `layers/{department}.geojson` holds three synthetic department grid layers drawn over it
/// (with faults injected on purpose), for `importGridSystem` and merges.
pub fn write_demo_files(size: DemoSize, dir: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let city = demo_city(size, DEFAULT_SEED);
    std::fs::create_dir_all(dir)?;
    let codes: HashMap<i64, &str> = city.units.iter().map(|u| (u.id, u.code.as_str())).collect();
    for level in Level::ALL {
        let path = dir.join(format!("{}.geojson", level.as_str().to_ascii_lowercase()));
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        write!(out, r#"{{"type":"FeatureCollection","features":["#)?;
        let mut first = true;
        for unit in city.units.iter().filter(|u| u.level == level) {
            let properties = serde_json::json!({
                "name": unit.name,
                "code": unit.code,
                "parentCode": unit.parent.and_then(|p| codes.get(&p)),
                "kind": unit.kind.as_str(),
            });
            let geometry = geojson::Geometry::from(&unit.geometry);
            let feature = serde_json::json!({
                "type": "Feature", "properties": properties, "geometry": geometry,
            });
            write!(out, "{}{feature}", if first { "" } else { "," })?;
            first = false;
        }
        writeln!(out, "]}}")?;
        out.flush()?;
    }
    let layers_dir = dir.join("layers");
    std::fs::create_dir_all(&layers_dir)?;
    for layer in geodata::demo::department_layers(&city, DEFAULT_SEED) {
        let features: Vec<serde_json::Value> = layer
            .grids
            .iter()
            .map(|grid| {
                serde_json::json!({
                    "type": "Feature",
                    "properties": {
                        "name": grid.name,
                        "parentCode": grid.parent.and_then(|p| codes.get(&p)),
                    },
                    "geometry": geojson::Geometry::from(&grid.geometry),
                })
            })
            .collect();
        let collection = serde_json::json!({
            "type": "FeatureCollection",
            "name": layer.name,
            "features": features,
        });
        let path = layers_dir.join(format!("{}.geojson", layer.department));
        std::fs::write(path, collection.to_string())?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("households.csv"))?);
    writeln!(out, "id,lon,lat,persons,building")?;
    for h in &city.households {
        let building = h.building.as_deref().unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{building}",
            h.id,
            h.point.x(),
            h.point.y(),
            h.persons
        )?;
    }
    out.flush()
}

/// Whether the database holds no unit yet.
pub async fn is_empty(db: &impl ConnectionTrait) -> ApiResult<bool> {
    Ok(entity::unit::Entity::find().count(db).await? == 0)
}

/// Generates the demo city of `size` and writes it, in one transaction, into an empty
/// database.
///
/// # Errors
/// `CONFLICT` when the database already holds units.
pub async fn load_demo(db: &DatabaseConnection, size: DemoSize) -> ApiResult<DemoSummary> {
    if !is_empty(db).await? {
        return Err(ApiError::Conflict {
            message: "the database already holds units; the demo city loads only into an empty one"
                .to_owned(),
            feature: None,
        });
    }
    let (city, index, assignment) = off_the_runtime(move || {
        let city = demo_city(size, DEFAULT_SEED);
        let index = Index::new(city.units.clone());
        let assignment = assign_households(&index, &city.households);
        (city, index, assignment)
    })
    .await?;

    let txn = db.begin().await?;
    let system = ensure_default_system(&txn).await?;
    let counts: HashMap<_, _> = assignment.counts.iter().copied().collect();
    let rows: Vec<_> = city
        .units
        .iter()
        .map(|unit| {
            let scope = if unit.level.is_grid() {
                system.id
            } else {
                SHARED_LEVELS
            };
            (
                scope,
                unit,
                counts.get(&unit.id).copied().unwrap_or_default(),
            )
        })
        .collect();
    writes::insert_units(&txn, &rows).await?;
    writes::insert_households(&txn, &city.households, &assignment.unit_of).await?;
    let mut counters: HashMap<CounterKey, u32> = HashMap::new();
    for unit in &city.units {
        let Some(parent) = unit.parent.and_then(|p| index.get(p)) else {
            continue;
        };
        if let Some(number) = writes::code_number(&unit.code, &parent.code, unit.level) {
            let scope = if unit.level.is_grid() {
                system.id
            } else {
                SHARED_LEVELS
            };
            let counter = counters
                .entry((scope, parent.code.clone(), unit.level))
                .or_default();
            *counter = (*counter).max(number);
        }
    }
    writes::raise_code_counters(&txn, &counters).await?;
    let grids: Vec<(&geodata::Unit, bool)> = city
        .units
        .iter()
        .filter(|u| u.level.is_grid())
        .map(|u| (u, false))
        .collect();
    crate::service::history::record_units(&txn, system.id, system.version, &grids).await?;
    txn.commit().await?;
    tracing::info!(
        units = city.units.len(),
        households = city.households.len(),
        levels = ?Level::ALL.iter().map(|l| city.units.iter().filter(|u| u.level == *l).count()).collect::<Vec<_>>(),
        "demo city loaded"
    );
    Ok(DemoSummary {
        units: city.units.len(),
        households: city.households.len(),
    })
}
