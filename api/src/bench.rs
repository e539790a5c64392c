//! `gridmap bench`: measures point lookup and batch assignment on a demo city (rebalancing in
//! [`rebalance`]) and, on request,
//! writes the same data for the side-by-side scripts in `bench/` (shapely), so that every
//! figure in BENCHMARKS.md can be reproduced with one command each.

pub mod rebalance;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use geodata::demo::{demo_city, irregular_tiling, DemoSize, DEFAULT_SEED};
use geodata::{assign_households, Household, Index, Level};

/// What one run measured.
#[derive(Debug)]
pub struct Figures {
    pub units: usize,
    pub deepest_polygons: usize,
    pub households: usize,
    pub generate: Duration,
    pub build_index: Duration,
    /// Median over runs of one random-order `locate`, on one thread.
    pub locate_each: Duration,
    /// The same through the R-trees alone (no cell map).
    pub locate_by_tree_each: Duration,
    /// Only the deepest unit, without the walk up the chain and the answer's allocation.
    pub deepest_each: Duration,
    /// The share of the lookups the deepest level's cell map answered with one read.
    pub one_read_share: f64,
    /// Median over runs of assigning every household, on all cores.
    pub assign_all: Duration,
}

/// What to measure on.
#[derive(Debug, Clone, Copy)]
pub enum BenchData {
    /// A demo city: six levels, households clustered in buildings.
    Demo(DemoSize),
    /// The peers' data set of PERF-NOTES and issue 3: 100,000 irregular polygons (one level)
    /// and 5,000,000 clustered points, [`irregular_tiling`].
    Tiling,
}

/// Runs the measurements; `lookups` random-order lookups per run, `runs` runs.
pub fn run(
    data: BenchData,
    lookups: usize,
    runs: usize,
    data_dir: Option<&Path>,
) -> std::io::Result<Figures> {
    let started = Instant::now();
    let city = match data {
        BenchData::Demo(size) => demo_city(size, DEFAULT_SEED),
        BenchData::Tiling => irregular_tiling(400, 250, 5_000_000, DEFAULT_SEED),
    };
    let generate = started.elapsed();
    let deepest_polygons = city.count(Level::MicroGrid);
    let started = Instant::now();
    let index = Index::new(city.units.clone());
    let build_index = started.elapsed();
    let points = city.scattered_points(lookups);

    let locate_each = median(runs, || {
        let started = Instant::now();
        let found: usize = points.iter().map(|p| index.locate(*p).len()).sum();
        std::hint::black_box(found);
        started.elapsed() / lookups as u32
    });
    let locate_by_tree_each = median(runs, || {
        let started = Instant::now();
        let found: usize = points.iter().map(|p| index.locate_by_tree(*p).len()).sum();
        std::hint::black_box(found);
        started.elapsed() / lookups as u32
    });
    let deepest_each = median(runs, || {
        let started = Instant::now();
        let found = points
            .iter()
            .filter(|p| index.deepest(**p).is_some())
            .count();
        std::hint::black_box(found);
        started.elapsed() / lookups as u32
    });
    let assign_all = median(runs, || {
        let started = Instant::now();
        std::hint::black_box(assign_households(&index, &city.households).counts.len());
        started.elapsed()
    });
    if let Some(dir) = data_dir {
        write_data(dir, &index, &city.households)?;
    }
    Ok(Figures {
        units: city.units.len(),
        deepest_polygons,
        households: city.households.len(),
        generate,
        build_index,
        locate_each,
        locate_by_tree_each,
        deepest_each,
        one_read_share: index.one_read_share(&points),
        assign_all,
    })
}

fn median(runs: usize, mut measure: impl FnMut() -> Duration) -> Duration {
    let mut samples: Vec<Duration> = (0..runs.max(1)).map(|_| measure()).collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// `micro_grids.geojson` (the deepest polygons, property `code`), `households.csv`
/// (`lon,lat` in the households' order) and `gridmap.csv` (the micro-grid code GridMap gives
/// each household), for `bench/shapely_locate.py`.
fn write_data(dir: &Path, index: &Index, households: &[Household]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut polygons =
        std::io::BufWriter::new(std::fs::File::create(dir.join("micro_grids.geojson"))?);
    write!(polygons, r#"{{"type":"FeatureCollection","features":["#)?;
    let mut first = true;
    for unit in index.units().iter().filter(|u| u.level == Level::MicroGrid) {
        if !first {
            write!(polygons, ",")?;
        }
        first = false;
        // Full precision (not the 7 decimals of GeoJSON downloads): both sides must test the
        // very same polygons.
        let geometry = geojson::Geometry::from(&unit.geometry);
        write!(
            polygons,
            r#"{{"type":"Feature","properties":{{"code":"{}"}},"geometry":{}}}"#,
            unit.code,
            serde_json::to_string(&geometry).map_err(std::io::Error::other)?
        )?;
    }
    writeln!(polygons, "]}}")?;
    polygons.flush()?;
    let assignment = assign_households(index, households);
    let mut points = std::io::BufWriter::new(std::fs::File::create(dir.join("households.csv"))?);
    let mut answers = std::io::BufWriter::new(std::fs::File::create(dir.join("gridmap.csv"))?);
    writeln!(points, "lon,lat")?;
    writeln!(answers, "code")?;
    for (household, unit) in households.iter().zip(&assignment.unit_of) {
        writeln!(points, "{},{}", household.point.x(), household.point.y())?;
        let code = unit
            .and_then(|id| index.get(id))
            .map(|u| u.code.as_str())
            .unwrap_or("");
        writeln!(answers, "{code}")?;
    }
    points.flush()?;
    answers.flush()
}
