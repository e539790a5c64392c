//! Bulk household import from CSV (`id,lon,lat,persons,building`), streamed: rows are read,
//! checked, assigned to their deepest unit (in Hilbert order, in parallel) and inserted a
//! chunk at a time, so memory stays flat however long the file; counts are added up per unit
//! and written once at the end. All in one transaction: a bad row anywhere leaves the database
//! as it was.

use std::collections::HashSet;
use std::io::Read;

use geo::Coord;
use geodata::assign::locate_batch;
use geodata::{Household, UnitId};
use sea_orm::TransactionTrait;

use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{self, Actor, Change};
use crate::service::counts::add_along_chain;
use crate::service::writes::{self, CountDeltas};
use crate::service::{checked_point, systems};
use crate::state::AppState;

/// Rows read, checked and written at a time.
const CHUNK_ROWS: usize = 50_000;

/// What a bulk import did.
#[derive(Debug, Clone, Copy)]
pub struct BulkOutcome {
    pub households: u64,
    /// Households that fall in no grid of the default system.
    pub outside_grids: u64,
}

/// Imports households from CSV text with a header naming `id`, `lon`, `lat` and optionally
/// `persons` (default 1) and `building`. `progress` is called with the rows done so far.
///
/// # Errors
/// `INVALID_INPUT` naming the line, the column and the reason; `CONFLICT` when an id repeats
/// or is stored already. Nothing is written then.
pub async fn import_households_csv(
    state: &AppState,
    input: impl Read + Send + 'static,
    progress: impl Fn(u64),
    actor: &Actor,
) -> ApiResult<BulkOutcome> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let columns = Columns::find(reader.byte_headers().map_err(csv_error)?)?;
    let _writer = state.writer.lock().await;
    let catalog = state.catalog()?;
    // Reading and assigning the next chunk overlaps inserting this one: on PostgreSQL each
    // side is about half of the work.
    let (sender, mut ready) = tokio::sync::mpsc::channel(1);
    let reading = {
        let catalog = catalog.clone();
        tokio::task::spawn_blocking(move || read_chunks(reader, &columns, &catalog, &sender))
    };
    let txn = state.db.begin().await?;
    let mut done = 0;
    while let Some(chunk) = ready.recv().await {
        let chunk: ReadyChunk = chunk?;
        writes::insert_households(&txn, &chunk.households, &chunk.unit_of)
            .await
            .map_err(|e| duplicate_or(e, chunk.first_line))?;
        done += chunk.households.len() as u64;
        progress(done);
    }
    let (deltas, outcome) = reading
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::Internal("the CSV reader stopped early".to_owned()))?;
    writes::apply_count_deltas(&txn, &deltas).await?;
    let system = systems::resolve_system(&txn, Some(catalog.default_system)).await?;
    let change = Change::new(
        "importHouseholds",
        format!("{} households imported from CSV", outcome.households),
    )
    .on_system(system.id, system.version, system.version);
    audit::record(&txn, actor, change).await?;
    txn.commit().await?;
    state.tiles.forget_counts();
    crate::db::checkpoint(&state.db).await;
    Ok(outcome)
}

/// Households read, checked and assigned, ready to insert.
struct ReadyChunk {
    households: Vec<Household>,
    /// The default system's deepest unit of each household.
    unit_of: Vec<Option<UnitId>>,
    /// The file's line of the first household.
    first_line: u64,
}

/// Reads the rows a chunk at a time, assigns and counts each chunk and hands it on; returns
/// the count changes and totals once the whole file is read. A bad row is handed on as the
/// error and ends the reading (`None`); so does a receiver that has given up.
fn read_chunks(
    mut reader: csv::Reader<impl Read>,
    columns: &Columns,
    catalog: &Catalog,
    ready: &tokio::sync::mpsc::Sender<ApiResult<ReadyChunk>>,
) -> Option<(CountDeltas, BulkOutcome)> {
    let mut deltas = CountDeltas::new();
    let mut outcome = BulkOutcome {
        households: 0,
        outside_grids: 0,
    };
    let mut record = csv::ByteRecord::new();
    let mut first_line = 2;
    let mut next_chunk = || -> ApiResult<Option<ReadyChunk>> {
        let mut households = Vec::with_capacity(CHUNK_ROWS);
        while households.len() < CHUNK_ROWS
            && reader.read_byte_record(&mut record).map_err(csv_error)?
        {
            let line = record.position().map_or(0, |p| p.line());
            households.push(columns.household(&record, line)?);
        }
        if households.is_empty() {
            return Ok(None);
        }
        let unit_of = count_chunk(catalog, &households, &mut deltas, &mut outcome)?;
        let chunk = ReadyChunk {
            first_line,
            households,
            unit_of,
        };
        first_line += chunk.households.len() as u64;
        Ok(Some(chunk))
    };
    loop {
        match next_chunk() {
            Ok(None) => break,
            Ok(Some(chunk)) => ready.blocking_send(Ok(chunk)).ok()?,
            Err(error) => {
                // If the receiver has gone, it failed first and reports its own error.
                let _ = ready.blocking_send(Err(error));
                return None;
            }
        }
    }
    drop(next_chunk);
    Some((deltas, outcome))
}

/// Assigns a chunk in every grid system and adds it to the counts; returns the default
/// system's deepest unit of each household.
fn count_chunk(
    catalog: &Catalog,
    chunk: &[Household],
    deltas: &mut CountDeltas,
    outcome: &mut BulkOutcome,
) -> ApiResult<Vec<Option<UnitId>>> {
    let mut ids = HashSet::with_capacity(chunk.len());
    if let Some(repeat) = chunk.iter().find(|h| !ids.insert(h.id.as_str())) {
        return Err(ApiError::Conflict {
            message: format!("household id {:?} appears twice in the file", repeat.id),
            feature: None,
        });
    }
    let coords: Vec<Coord<f64>> = chunk.iter().map(|h| h.point.0).collect();
    let mut default_units = Vec::new();
    for system in catalog.systems() {
        let index = catalog.index(system)?;
        let is_default = system == catalog.default_system;
        let units: Vec<Option<UnitId>> = locate_batch(index, &coords)
            .into_iter()
            .map(|slot| slot.map(|s| index.unit(s).id))
            .collect();
        for (household, unit) in chunk.iter().zip(&units) {
            let counted = |u: &geodata::Unit| is_default || u.level.is_grid();
            add_along_chain(
                deltas,
                index,
                *unit,
                counted,
                1,
                i64::from(household.persons),
            );
        }
        if is_default {
            outcome.outside_grids += units
                .iter()
                .filter(|u| {
                    !u.and_then(|id| index.get(id))
                        .is_some_and(|u| u.level.is_grid())
                })
                .count() as u64;
            default_units = units;
        }
    }
    outcome.households += chunk.len() as u64;
    Ok(default_units)
}

/// Where the columns are.
struct Columns {
    id: usize,
    lon: usize,
    lat: usize,
    persons: Option<usize>,
    building: Option<usize>,
}

impl Columns {
    fn find(header: &csv::ByteRecord) -> ApiResult<Columns> {
        let position = |name: &str| {
            header
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name.as_bytes()))
        };
        let required = |name: &str| {
            position(name).ok_or_else(|| {
                ApiError::invalid(format!("line 1: the header has no column {name:?} (expected id,lon,lat,persons,building)"))
            })
        };
        Ok(Columns {
            id: required("id")?,
            lon: required("lon")?,
            lat: required("lat")?,
            persons: position("persons"),
            building: position("building"),
        })
    }

    fn household(&self, record: &csv::ByteRecord, line: u64) -> ApiResult<Household> {
        let field = |column: usize| {
            std::str::from_utf8(record.get(column).unwrap_or_default()).unwrap_or("")
        };
        let bad = |column: &str, reason: String| ApiError::InvalidInput {
            message: format!("line {line}, column {column}: {reason}"),
            feature: Some(line as usize),
            field: Some(column.to_owned()),
        };
        let id = field(self.id);
        if id.is_empty() {
            return Err(bad("id", "a household needs an id".to_owned()));
        }
        // PostgreSQL cannot store U+0000 in text; say so here rather than fail mid-import.
        for (column, name) in [(Some(self.id), "id"), (self.building, "building")] {
            if column.is_some_and(|c| field(c).contains('\0')) {
                return Err(bad(
                    name,
                    "a NUL character (U+0000) cannot be stored".to_owned(),
                ));
            }
        }
        let number = |column: usize, name: &str| {
            field(column)
                .parse::<f64>()
                .map_err(|_| bad(name, format!("{:?} is not a number", field(column))))
        };
        let (lon, lat) = (number(self.lon, "lon")?, number(self.lat, "lat")?);
        let point = checked_point(lon, lat).map_err(|e| bad("lon", e.to_string()))?;
        let persons = match self.persons.map(field).filter(|p| !p.is_empty()) {
            None => 1,
            Some(p) => p
                .parse()
                .map_err(|_| bad("persons", format!("{p:?} is not a whole number of persons")))?,
        };
        Ok(Household {
            id: id.to_owned(),
            point,
            persons,
            building: self
                .building
                .map(field)
                .filter(|b| !b.is_empty())
                .map(str::to_owned),
        })
    }
}

fn csv_error(error: csv::Error) -> ApiError {
    let line = error.position().map_or(0, |p| p.line());
    ApiError::invalid(format!("line {line}: {error}"))
}

/// A unique-key failure on insert means an id that is stored already or repeats an earlier
/// chunk's.
fn duplicate_or(error: ApiError, first_line: u64) -> ApiError {
    match &error {
        ApiError::Database(db) if matches!(db.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            ApiError::Conflict {
                message: format!(
                    "a household id in the rows from line {first_line} on is stored already or repeats an earlier row"
                ),
                feature: None,
            }
        }
        _ => error,
    }
}
