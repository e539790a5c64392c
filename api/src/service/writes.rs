//! Batched writes shared by the imports and the demo loader: units, households, counts, code
//! counters. Batches stay under SQLite's limit of bound parameters per statement.

use std::collections::{BTreeMap, HashMap};

use entity::{code_counter, crosswalk, household, plan_grid, unit, unit_history};
use geo::BoundingRect;
use geodata::assign::UnitCounts;
use geodata::{Household, Level, Unit, UnitId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set, Statement,
};

use crate::error::ApiResult;

/// Rows per multi-row insert of units (17 columns) and households (6 columns).
const UNIT_BATCH: usize = 500;
const HOUSEHOLD_BATCH: usize = 2000;
/// Households per JSON document on PostgreSQL (~100 bytes a row).
const HOUSEHOLD_JSON_BATCH: usize = 25_000;
/// Ids per `IN (...)` list.
const ID_BATCH: usize = 500;

/// The next free unit id. Ids are assigned by GridMap, not the database, so that a whole
/// import can be inserted in batches with its parent links already known; the writer lock
/// makes this safe. Ids of units that are gone but on record in the history are not reused,
/// so that a rollback can bring them back.
pub async fn next_unit_id(db: &impl ConnectionTrait) -> ApiResult<UnitId> {
    let live: Option<Option<i64>> = unit::Entity::find()
        .select_only()
        .column_as(Expr::expr(Func::max(Expr::col(unit::Column::Id))), "max_id")
        .into_tuple()
        .one(db)
        .await?;
    let recorded: Option<Option<i64>> = unit_history::Entity::find()
        .select_only()
        .column_as(
            Expr::expr(Func::max(Expr::col(unit_history::Column::UnitId))),
            "max_id",
        )
        .into_tuple()
        .one(db)
        .await?;
    Ok(Ord::max(live.flatten(), recorded.flatten()).unwrap_or(0) + 1)
}

/// Inserts units with their ids, envelopes, areas, WKB and initial counts.
pub async fn insert_units(
    db: &impl ConnectionTrait,
    units: &[(i64, &Unit, UnitCounts)],
) -> ApiResult<()> {
    for batch in units.chunks(UNIT_BATCH) {
        let models = batch.iter().map(|(system_id, unit, counts)| {
            let envelope = unit.geometry.bounding_rect();
            let (min, max) = envelope.map(|r| (r.min(), r.max())).unwrap_or_default();
            unit::ActiveModel {
                id: Set(unit.id),
                system_id: Set(*system_id),
                code: Set(unit.code.clone()),
                name: Set(unit.name.clone()),
                level: Set(unit.level.as_str().to_owned()),
                kind: Set(unit.kind.as_str().to_owned()),
                parent_id: Set(unit.parent),
                geometry: Set(geodata::encoding::to_wkb(&unit.geometry)),
                min_lon: Set(min.x),
                min_lat: Set(min.y),
                max_lon: Set(max.x),
                max_lat: Set(max.y),
                area_m2: Set(geodata::measure::area_m2(&unit.geometry)),
                household_count: Set(counts.households as i64),
                person_count: Set(counts.persons as i64),
                locked: Set(false),
            }
        });
        unit::Entity::insert_many(models).exec(db).await?;
    }
    Ok(())
}

/// Replaces a unit's geometry, with its envelope and area.
pub async fn set_unit_geometry(
    db: &impl ConnectionTrait,
    id: UnitId,
    geometry: &geo::MultiPolygon<f64>,
) -> ApiResult<()> {
    let (min, max) = geometry
        .bounding_rect()
        .map(|r| (r.min(), r.max()))
        .unwrap_or_default();
    unit::Entity::update_many()
        .col_expr(
            unit::Column::Geometry,
            Expr::value(geodata::encoding::to_wkb(geometry)),
        )
        .col_expr(unit::Column::MinLon, Expr::value(min.x))
        .col_expr(unit::Column::MinLat, Expr::value(min.y))
        .col_expr(unit::Column::MaxLon, Expr::value(max.x))
        .col_expr(unit::Column::MaxLat, Expr::value(max.y))
        .col_expr(
            unit::Column::AreaM2,
            Expr::value(geodata::measure::area_m2(geometry)),
        )
        .filter(unit::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes units, the deepest level first: the parent link is `ON DELETE RESTRICT`, which
/// SQLite checks row by row, so a parent may not go in the same statement as its child.
pub async fn delete_units(
    db: &impl ConnectionTrait,
    units: impl IntoIterator<Item = (UnitId, Level)>,
) -> ApiResult<()> {
    let mut by_level: BTreeMap<std::cmp::Reverse<Level>, Vec<UnitId>> = BTreeMap::new();
    for (id, level) in units {
        by_level
            .entry(std::cmp::Reverse(level))
            .or_default()
            .push(id);
    }
    for ids in by_level.values() {
        for batch in ids.chunks(ID_BATCH) {
            unit::Entity::delete_many()
                .filter(unit::Column::Id.is_in(batch.iter().copied()))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// Inserts crosswalk rows.
pub async fn insert_crosswalk(
    db: &impl ConnectionTrait,
    rows: Vec<crosswalk::ActiveModel>,
) -> ApiResult<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<_> = rows.by_ref().take(HOUSEHOLD_BATCH).collect();
        crosswalk::Entity::insert_many(batch).exec(db).await?;
    }
    Ok(())
}

/// Inserts a plan's grid rows.
pub async fn insert_plan_grids(
    db: &impl ConnectionTrait,
    rows: Vec<plan_grid::ActiveModel>,
) -> ApiResult<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<_> = rows.by_ref().take(UNIT_BATCH).collect();
        plan_grid::Entity::insert_many(batch).exec(db).await?;
    }
    Ok(())
}

/// Inserts households with their deepest unit.
pub async fn insert_households(
    db: &impl ConnectionTrait,
    households: &[Household],
    unit_of: &[Option<UnitId>],
) -> ApiResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        return insert_households_from_json(db, households, unit_of).await;
    }
    let rows: Vec<(&Household, &Option<UnitId>)> = households.iter().zip(unit_of).collect();
    for batch in rows.chunks(HOUSEHOLD_BATCH) {
        let models = batch.iter().map(|(h, unit_id)| household::ActiveModel {
            id: Set(h.id.clone()),
            lon: Set(h.point.x()),
            lat: Set(h.point.y()),
            persons: Set(h.persons as i32),
            building: Set(h.building.clone()),
            unit_id: Set(**unit_id),
        });
        household::Entity::insert_many(models).exec(db).await?;
    }
    Ok(())
}

/// PostgreSQL: a statement with one parameter, a JSON array of rows, per batch, instead of
/// multi-row INSERTs binding six parameters a row (COPY is out of reach inside a sea-orm
/// transaction). It took the 9M-household import from 227 to 214 s; most of what remains is
/// the server's, the foreign key's trigger above all (see BENCHMARKS.md).
async fn insert_households_from_json(
    db: &impl ConnectionTrait,
    households: &[Household],
    unit_of: &[Option<UnitId>],
) -> ApiResult<()> {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        id: &'a str,
        lon: f64,
        lat: f64,
        persons: u32,
        building: Option<&'a str>,
        unit_id: Option<UnitId>,
    }
    for (households, unit_of) in households
        .chunks(HOUSEHOLD_JSON_BATCH)
        .zip(unit_of.chunks(HOUSEHOLD_JSON_BATCH))
    {
        let rows: Vec<Row> = households
            .iter()
            .zip(unit_of)
            .map(|(h, &unit_id)| Row {
                id: &h.id,
                lon: h.point.x(),
                lat: h.point.y(),
                persons: h.persons,
                building: h.building.as_deref(),
                unit_id,
            })
            .collect();
        let document = serde_json::to_string(&rows).expect("households serialize to JSON");
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO household (id, lon, lat, persons, building, unit_id) \
             SELECT id, lon, lat, persons, building, unit_id FROM json_to_recordset($1::json) \
             AS r(id text, lon float8, lat float8, persons int4, building text, unit_id int8)",
            [document.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Household and person count changes per unit.
pub type CountDeltas = BTreeMap<UnitId, (i64, i64)>;

/// Adds the deltas to the units' stored counts.
pub async fn apply_count_deltas(db: &impl ConnectionTrait, deltas: &CountDeltas) -> ApiResult<()> {
    for (&id, &(households, persons)) in deltas.iter().filter(|(_, d)| **d != (0, 0)) {
        unit::Entity::update_many()
            .col_expr(
                unit::Column::HouseholdCount,
                Expr::col(unit::Column::HouseholdCount).add(households),
            )
            .col_expr(
                unit::Column::PersonCount,
                Expr::col(unit::Column::PersonCount).add(persons),
            )
            .filter(unit::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Points households at new deepest units.
pub async fn set_household_units(
    db: &impl ConnectionTrait,
    changes: &[(String, Option<UnitId>)],
) -> ApiResult<()> {
    let mut by_unit: BTreeMap<Option<UnitId>, Vec<&str>> = BTreeMap::new();
    for (household, unit) in changes {
        by_unit.entry(*unit).or_default().push(household);
    }
    for (unit, households) in by_unit {
        for batch in households.chunks(ID_BATCH) {
            household::Entity::update_many()
                .col_expr(household::Column::UnitId, Expr::value(unit))
                .filter(household::Column::Id.is_in(batch.iter().copied()))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// The key of a code counter: the system (0 for the shared levels), the parent's code and the
/// level of the children.
pub type CounterKey = (i64, String, Level);

/// The highest code number issued so far under each key (absent: none).
pub async fn code_counters(
    db: &impl ConnectionTrait,
    keys: impl IntoIterator<Item = &CounterKey>,
) -> ApiResult<HashMap<CounterKey, u32>> {
    let mut found = HashMap::new();
    for (system, parent_code, level) in keys {
        let row = code_counter::Entity::find_by_id((
            *system,
            parent_code.clone(),
            level.as_str().to_owned(),
        ))
        .one(db)
        .await?;
        if let Some(row) = row {
            found.insert(
                (*system, parent_code.clone(), *level),
                Ord::max(row.last_issued, 0) as u32,
            );
        }
    }
    Ok(found)
}

/// Raises code counters to at least the given numbers.
pub async fn raise_code_counters(
    db: &impl ConnectionTrait,
    counters: &HashMap<CounterKey, u32>,
) -> ApiResult<()> {
    let existing = code_counters(db, counters.keys()).await?;
    let mut fresh = Vec::new();
    for (key, &last) in counters {
        let (system, parent_code, level) = key;
        match existing.get(key) {
            Some(&stored) if stored >= last => {}
            Some(_) => {
                code_counter::Entity::update_many()
                    .col_expr(code_counter::Column::LastIssued, Expr::value(last as i32))
                    .filter(code_counter::Column::SystemId.eq(*system))
                    .filter(code_counter::Column::ParentCode.eq(parent_code.as_str()))
                    .filter(code_counter::Column::Level.eq(level.as_str()))
                    .exec(db)
                    .await?;
            }
            None => fresh.push(code_counter::ActiveModel {
                system_id: Set(*system),
                parent_code: Set(parent_code.clone()),
                level: Set(level.as_str().to_owned()),
                last_issued: Set(last as i32),
            }),
        }
    }
    for batch in fresh.chunks(UNIT_BATCH) {
        code_counter::Entity::insert_many(batch.to_vec())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The number a code has under its parent, if it has the hierarchical shape (the parent's
/// code followed by exactly the level's digits).
pub fn code_number(code: &str, parent_code: &str, level: Level) -> Option<u32> {
    let suffix = code.strip_prefix(parent_code)?;
    (suffix.len() == level.code_digits() && suffix.bytes().all(|b| b.is_ascii_digit()))
        .then(|| suffix.parse().ok())
        .flatten()
}
