//! Bulk household import from CSV (`id,lon,lat,persons,building`) or a GeoJSON
//! FeatureCollection of points, streamed: rows are read, checked, assigned to their deepest
//! unit (in Hilbert order, in parallel) and inserted a chunk at a time, so memory stays flat
//! however long the file; counts are added up per unit and written once at the end. A
//! blocking thread reads and assigns the next chunk while the last one is inserted. All in one
//! transaction: a bad row anywhere leaves the database as it was.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use geo::Coord;
use geodata::assign::locate_batch;
use geodata::validate::parse_household;
use geodata::{Household, UnitId, ValidationError};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use tokio::sync::mpsc::Sender;

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
    let read_rows = move |chunker: &mut Chunker| {
        let mut record = csv::ByteRecord::new();
        while reader
            .read_byte_record(&mut record)
            .map_err(|e| Stop::Failed(csv_error(e)))?
        {
            let line = record.position().map_or(0, |p| p.line());
            let household = columns.household(&record, line).map_err(Stop::Failed)?;
            chunker.push(household, || format!("line {line}"))?;
        }
        Ok(())
    };
    import_streamed(state, read_rows, progress, actor, "CSV").await
}

/// Imports households from a GeoJSON FeatureCollection of points, read feature by feature
/// (the properties of [`geodata::validate::parse_households`]). `progress` is called with the
/// features done so far.
///
/// # Errors
/// `INVALID_INPUT` or `INVALID_GEOMETRY` naming the feature, the field and the reason, or the
/// place in the text where it is not JSON; `CONFLICT` when an id repeats or is stored already.
/// Nothing is written then.
pub async fn import_households_geojson(
    state: &AppState,
    input: impl Read + Send + 'static,
    progress: impl Fn(u64),
    actor: &Actor,
) -> ApiResult<BulkOutcome> {
    let read_features = move |chunker: &mut Chunker| {
        let mut stop = None;
        let mut json = serde_json::Deserializer::from_reader(input);
        let collection = Collection {
            chunker,
            stop: &mut stop,
        };
        let read = collection.deserialize(&mut json).and_then(|read| {
            json.end()?;
            Ok(read)
        });
        let not_collection =
            |reason: String| Stop::Failed(ValidationError::NotFeatureCollection { reason }.into());
        match (read, stop) {
            (_, Some(stop)) => Err(stop),
            (Err(error), None) => Err(not_collection(format!("cannot read it: {error}"))),
            (Ok((Some(kind), _)), None) if kind != "FeatureCollection" => {
                Err(not_collection(format!("type is {kind:?}")))
            }
            (Ok((None, _)), None) => Err(not_collection("type is missing".to_owned())),
            (Ok((Some(_), 0)), None) => Err(Stop::Failed(ValidationError::Empty.into())),
            (Ok((Some(_), _)), None) => Ok(()),
        }
    };
    import_streamed(state, read_features, progress, actor, "GeoJSON").await
}

/// The shared part of the streamed imports: `read` pushes every household into the chunker
/// on a blocking thread; chunks are inserted here as they come, in one transaction.
async fn import_streamed(
    state: &AppState,
    read: impl FnOnce(&mut Chunker) -> Result<(), Stop> + Send + 'static,
    progress: impl Fn(u64),
    actor: &Actor,
    format: &str,
) -> ApiResult<BulkOutcome> {
    let _writer = state.writer.lock().await;
    let catalog = state.catalog()?;
    // Reading and assigning the next chunk overlaps inserting this one (9M households on
    // PostgreSQL: 214 -> 191 s).
    let (sender, mut ready) = tokio::sync::mpsc::channel(1);
    let reading = {
        let catalog = catalog.clone();
        tokio::task::spawn_blocking(move || Chunker::new(&catalog, &sender).run(read))
    };
    let txn = super::begin_write(state).await?;
    let mut done = 0;
    while let Some(chunk) = ready.recv().await {
        let chunk: ReadyChunk = chunk?;
        writes::insert_households(&txn, &chunk.households, &chunk.unit_of)
            .await
            .map_err(|e| duplicate_or(e, &chunk.first))?;
        done += chunk.households.len() as u64;
        progress(done);
    }
    let (deltas, outcome) = reading
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::Internal(format!("the {format} reader stopped early")))?;
    writes::apply_count_deltas(&txn, &deltas).await?;
    let system = systems::resolve_system(&txn, Some(catalog.default_system)).await?;
    let change = Change::new(
        "importHouseholds",
        format!("{} households imported from {format}", outcome.households),
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
    /// Where the first household is in the file ("line 2", "feature 0").
    first: String,
}

/// Why reading stopped before the end.
enum Stop {
    /// A bad row, handed on to the receiver.
    Failed(ApiError),
    /// The receiver has given up (it failed first and reports its own error).
    ReceiverGone,
}

/// Gathers households into chunks, assigns and counts each full chunk and hands it on.
struct Chunker<'a> {
    catalog: &'a Catalog,
    ready: &'a Sender<ApiResult<ReadyChunk>>,
    households: Vec<Household>,
    first: String,
    deltas: CountDeltas,
    outcome: BulkOutcome,
}

impl<'a> Chunker<'a> {
    fn new(catalog: &'a Catalog, ready: &'a Sender<ApiResult<ReadyChunk>>) -> Chunker<'a> {
        Chunker {
            catalog,
            ready,
            households: Vec::with_capacity(CHUNK_ROWS),
            first: String::new(),
            deltas: CountDeltas::new(),
            outcome: BulkOutcome {
                households: 0,
                outside_grids: 0,
            },
        }
    }

    /// Runs `read` to the end; returns the count changes and totals, or `None` when reading
    /// stopped early (the error, if any, has been handed on).
    fn run(
        mut self,
        read: impl FnOnce(&mut Chunker) -> Result<(), Stop>,
    ) -> Option<(CountDeltas, BulkOutcome)> {
        match read(&mut self).and_then(|()| self.hand_on()) {
            Ok(()) => Some((self.deltas, self.outcome)),
            Err(Stop::Failed(error)) => {
                let _ = self.ready.blocking_send(Err(error));
                None
            }
            Err(Stop::ReceiverGone) => None,
        }
    }

    /// Adds a household; `place` says where it is in the file, asked for only at a chunk's
    /// start.
    fn push(&mut self, household: Household, place: impl FnOnce() -> String) -> Result<(), Stop> {
        if self.households.is_empty() {
            self.first = place();
        }
        self.households.push(household);
        if self.households.len() == CHUNK_ROWS {
            self.hand_on()?;
        }
        Ok(())
    }

    /// Assigns and counts the households gathered so far and hands them on.
    fn hand_on(&mut self) -> Result<(), Stop> {
        if self.households.is_empty() {
            return Ok(());
        }
        let households = std::mem::replace(&mut self.households, Vec::with_capacity(CHUNK_ROWS));
        let unit_of = count_chunk(
            self.catalog,
            &households,
            &mut self.deltas,
            &mut self.outcome,
        )
        .map_err(Stop::Failed)?;
        let chunk = ReadyChunk {
            households,
            unit_of,
            first: std::mem::take(&mut self.first),
        };
        self.ready
            .blocking_send(Ok(chunk))
            .map_err(|_| Stop::ReceiverGone)
    }
}

/// A FeatureCollection read by serde as it streams: its features go to the chunker one by
/// one, never held all at once. Yields the collection's `type` and how many features it has.
struct Collection<'a, 'c> {
    chunker: &'a mut Chunker<'c>,
    /// Set when a feature stopped the reading (serde itself then only sees "stopped").
    stop: &'a mut Option<Stop>,
}

impl<'de> DeserializeSeed<'de> for Collection<'_, '_> {
    type Value = (Option<String>, usize);

    fn deserialize<D: serde::Deserializer<'de>>(self, json: D) -> Result<Self::Value, D::Error> {
        json.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Collection<'_, '_> {
    type Value = (Option<String>, usize);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON FeatureCollection")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut members: M) -> Result<Self::Value, M::Error> {
        let (mut kind, mut features) = (None, 0);
        while let Some(key) = members.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(members.next_value::<String>()?),
                "features" => {
                    features += members.next_value_seed(Features {
                        chunker: &mut *self.chunker,
                        stop: &mut *self.stop,
                    })?
                }
                _ => {
                    members.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((kind, features))
    }
}

/// The `features` array of a [`Collection`]; yields its length.
struct Features<'a, 'c> {
    chunker: &'a mut Chunker<'c>,
    stop: &'a mut Option<Stop>,
}

impl<'de> DeserializeSeed<'de> for Features<'_, '_> {
    type Value = usize;

    fn deserialize<D: serde::Deserializer<'de>>(self, json: D) -> Result<usize, D::Error> {
        json.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Features<'_, '_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of features")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut features: S) -> Result<usize, S::Error> {
        let mut index = 0;
        while let Some(feature) = features.next_element::<Value>()? {
            let pushed = parse_household(index, &feature)
                .map_err(|e| Stop::Failed(e.into()))
                .and_then(|household| self.chunker.push(household, || format!("feature {index}")));
            if let Err(stop) = pushed {
                *self.stop = Some(stop);
                return Err(S::Error::custom("stopped"));
            }
            index += 1;
        }
        Ok(index)
    }
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
fn duplicate_or(error: ApiError, first: &str) -> ApiError {
    match &error {
        ApiError::Database(db) if matches!(db.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
            ApiError::Conflict {
                message: format!(
                    "a household id in the rows from {first} on is stored already or repeats an earlier row"
                ),
                feature: None,
            }
        }
        _ => error,
    }
}
