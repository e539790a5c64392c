//! `gridmap bench rebalance`: plans a whole demo city (every community, as `planRebalance` on
//! the city would, minus the database) and reports time and quality; on request, writes a
//! sample of communities for `bench/spopt_maxp.py`, with GridMap's figures on the same sample
//! drawn from scratch, so both tools solve the same problem.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use geodata::demo::{demo_city, DemoSize, DEFAULT_SEED};
use geodata::rebalance::{plan_communities, CommunityInput, CommunityPlan, GridStatus, Options};
use geodata::{assign_households, Index, Level};

use crate::service::rebalance::community_inputs;

/// Communities sampled for the side-by-side with spopt.
const SAMPLE: usize = 8;

/// What a run measured.
#[derive(Debug)]
pub struct RebalanceFigures {
    pub communities: usize,
    pub households: usize,
    pub generate: Duration,
    /// Planning every community on all cores.
    pub plan_all: Duration,
    pub quality: Quality,
}

/// How good a set of plans is.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quality {
    pub grids_before: usize,
    pub within_before: usize,
    pub grids_after: usize,
    pub within_after: usize,
    pub kept: usize,
    pub households_moved: usize,
    pub mean_polsby_popper: f64,
    pub infeasible: usize,
}

/// Plans the whole demo city of `size` with `options`.
///
/// # Errors
/// Writing the sample to `data_dir` failed.
pub fn run(
    size: DemoSize,
    options: Options,
    data_dir: Option<&Path>,
) -> std::io::Result<RebalanceFigures> {
    let started = Instant::now();
    let city = demo_city(size, DEFAULT_SEED);
    let generate = started.elapsed();
    let households = city.households.len();
    let index = Index::new(city.units.clone());
    let Some(scope) = city.units.iter().find(|u| u.level == Level::City).cloned() else {
        return Err(std::io::Error::other("the demo city has no city unit"));
    };
    let inputs = community_inputs(&index, &scope, &HashSet::new(), city.households.clone());
    let started = Instant::now();
    let plans = plan_communities(&inputs, &options, &|_| {}).map_err(std::io::Error::other)?;
    let plan_all = started.elapsed();
    let quality = quality(&inputs, &plans, &options);
    if let Some(dir) = data_dir {
        write_sample(dir, &index, &city.households, &inputs, &options)?;
    }
    Ok(RebalanceFigures {
        communities: inputs.len(),
        households,
        generate,
        plan_all,
        quality,
    })
}

fn quality(inputs: &[CommunityInput], plans: &[CommunityPlan], options: &Options) -> Quality {
    let mut q = Quality::default();
    let mut polsby_popper_sum = 0.0;
    for (input, plan) in inputs.iter().zip(plans) {
        let mut before: HashMap<i64, u32> = input.grids.iter().map(|g| (g.id, 0)).collect();
        for grid in input.current_grid.iter().flatten() {
            *before.entry(*grid).or_default() += 1;
        }
        q.grids_before += before.len();
        q.within_before += before.values().filter(|&&n| options.grid.holds(n)).count();
        for grid in &plan.grids {
            q.grids_after += 1;
            q.within_after += usize::from(options.grid.holds(grid.households.len() as u32));
            q.kept += usize::from(matches!(grid.status, GridStatus::Kept(_)));
            q.infeasible += usize::from(grid.infeasible.is_some());
            polsby_popper_sum += grid.polsby_popper;
        }
        q.households_moved += plan.households_moved;
    }
    q.mean_polsby_popper = polsby_popper_sum / q.grids_after.max(1) as f64;
    q
}

/// Writes `sample_units.geojson` (the micro-grids of a few communities, with their households:
/// the areas spopt's max-p groups) and `gridmap_sample.json` (GridMap planning the same
/// communities from scratch, with no grids to keep).
fn write_sample(
    dir: &Path,
    index: &Index,
    households: &[geodata::Household],
    inputs: &[CommunityInput],
    options: &Options,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let eligible: Vec<&CommunityInput> = inputs
        .iter()
        .filter(|c| c.households.len() >= 1_000)
        .collect();
    let step = (eligible.len() / SAMPLE).max(1);
    let sample: Vec<CommunityInput> = eligible
        .iter()
        .step_by(step)
        .take(SAMPLE)
        .map(|c| CommunityInput {
            grids: Vec::new(),
            current_grid: vec![None; c.households.len()],
            ..(*c).clone()
        })
        .collect();
    let started = Instant::now();
    let plans = plan_communities(&sample, options, &|_| {}).map_err(std::io::Error::other)?;
    let seconds = started.elapsed().as_secs_f64();
    let q = quality(&sample, &plans, options);
    let ours = serde_json::json!({
        "communities": sample.len(),
        "seconds": seconds,
        "grids": q.grids_after,
        "within": q.within_after,
        "meanPolsbyPopper": q.mean_polsby_popper,
    });
    std::fs::write(dir.join("gridmap_sample.json"), ours.to_string())?;

    let counts: HashMap<i64, u64> = assign_households(index, households)
        .counts
        .into_iter()
        .map(|(id, c)| (id, c.households))
        .collect();
    let sampled: HashSet<i64> = sample.iter().map(|c| c.community_id).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("sample_units.geojson"))?);
    write!(out, r#"{{"type":"FeatureCollection","features":["#)?;
    let mut first = true;
    for (slot, unit) in index.units().iter().enumerate() {
        if unit.level != Level::MicroGrid {
            continue;
        }
        let chain = index.chain_of_slot(slot as u32).map(|s| index.unit(s));
        let Some(community) = chain
            .filter(|u| u.level == Level::Community)
            .find(|u| sampled.contains(&u.id))
        else {
            continue;
        };
        let feature = geodata::export::feature_json(
            None,
            serde_json::json!({
                "community": community.code,
                "households": counts.get(&unit.id).copied().unwrap_or(0),
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
            &unit.geometry,
        );
        write!(out, "{}{feature}", if first { "" } else { "," })?;
        first = false;
    }
    writeln!(out, "]}}")?;
    out.flush()
}
