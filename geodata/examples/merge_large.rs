//! Merges four department layers over a demo city once and prints the figures (the one-off
//! measurement behind BENCHMARKS.md); optionally writes the layers as GeoJSON for
//! `bench/shapely_overlay.py`.
//!
//! `cargo run --release -p geodata --example merge_large` (the large city: 1,000,000
//! households); `GRIDMAP_MERGE_SIZE=default` for the small one; `GRIDMAP_LAYERS_DIR=dir` to
//! write `communities.geojson` and `layer-{1..4}.geojson` there.

use std::time::Instant;

use geodata::demo::{demo_city, department_layers, emergency_layer, DemoSize, DEFAULT_SEED};
use geodata::export::feature_json;
use geodata::merge::{
    crosswalk, merge_communities, merge_inputs, overlay_atoms, MergeOptions, SourceGrid,
};
use geodata::quality::check_layer;
use geodata::{Index, Level, Unit};
use rayon::prelude::*;
use serde_json::{json, Map, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let size: DemoSize = std::env::var("GRIDMAP_MERGE_SIZE")
        .unwrap_or_else(|_| "large".into())
        .parse()?;
    let start = Instant::now();
    let city = demo_city(size, DEFAULT_SEED);
    let mut layers = department_layers(&city, 1);
    layers.push(emergency_layer(&city, 1));
    let communities: Vec<Unit> = city
        .units
        .iter()
        .filter(|u| u.level == Level::Community)
        .cloned()
        .collect();
    println!(
        "{size} city: {} communities, {} grids, {} households; layers {:?} ({:.1} s to build)",
        communities.len(),
        city.count(Level::Grid),
        city.households.len(),
        layers.iter().map(|l| l.grids.len()).collect::<Vec<_>>(),
        start.elapsed().as_secs_f64()
    );

    if let Ok(dir) = std::env::var("GRIDMAP_LAYERS_DIR") {
        std::fs::create_dir_all(&dir)?;
        write(&format!("{dir}/communities.geojson"), &communities)?;
        for (i, layer) in layers.iter().enumerate() {
            write(&format!("{dir}/layer-{}.geojson", i + 1), &layer.grids)?;
        }
        println!("layers written to {dir}");
    }

    let sources: Vec<SourceGrid> = layers
        .iter()
        .enumerate()
        .flat_map(|(l, layer)| {
            layer.grids.iter().map(move |g| SourceGrid {
                system_id: l as i64 + 1,
                id: g.id,
                code: g.code.clone(),
                geometry: g.geometry.clone(),
            })
        })
        .collect();
    let threads = rayon::current_num_threads();

    let index = Index::new(communities.clone());
    let t = Instant::now();
    let inputs = merge_inputs(&index, &sources, &city.households);
    let t_inputs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let atoms: usize = inputs.par_iter().map(overlay_atoms).sum();
    let t_overlay = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let plans = merge_communities(&inputs, &MergeOptions::default(), &|_| {})?;
    let t_merge = t.elapsed().as_secs_f64();

    let unified: Vec<_> = plans
        .iter()
        .flat_map(|p| p.grids.iter().map(|g| g.geometry.clone()))
        .collect();
    let t = Instant::now();
    let rows = crosswalk(&sources, &unified, &city.households);
    let t_crosswalk = t.elapsed().as_secs_f64();

    let grids: usize = plans.iter().map(|p| p.grids.len()).sum();
    let invalid = unified
        .iter()
        .filter(|g| !geo::algorithm::Validation::is_valid(*g))
        .count();
    let multi = unified.iter().filter(|g| g.0.len() != 1).count();
    println!("unified grids not valid (geo): {invalid}; not one polygon: {multi}");
    let in_bounds: usize = plans
        .iter()
        .flat_map(|p| &p.grids)
        .filter(|g| g.infeasible.is_none())
        .count();
    let source_m: f64 = plans.iter().map(|p| p.source_boundary_m).sum();
    let kept_m: f64 = plans.iter().map(|p| p.kept_boundary_m).sum();
    let slivers: usize = plans.iter().map(|p| p.slivers_dissolved).sum();
    println!("{threads} threads, {} source grids", sources.len());
    println!("merge inputs (sources and households per community): {t_inputs:.2} s");
    println!("overlay alone (step 1): {atoms} atoms in {t_overlay:.2} s");
    println!(
        "merge: {grids} unified grids, {:.1}% within bounds, {slivers} slivers dissolved, \
         {:.0}% of source boundary kept, in {t_merge:.2} s",
        100.0 * in_bounds as f64 / grids.max(1) as f64,
        100.0 * kept_m / source_m.max(1e-9)
    );
    println!("crosswalk: {} rows in {t_crosswalk:.2} s", rows.len());
    println!(
        "total (inputs + merge + crosswalk): {:.2} s",
        t_inputs + t_merge + t_crosswalk
    );
    for layer in &layers {
        let t = Instant::now();
        let quality = check_layer(&communities, &layer.grids, &city.households, 200.0, 1.0);
        println!(
            "quality of {} ({} grids): {} overlaps, {} gaps, {} crossings, {} slivers in {:.2} s",
            layer.department,
            layer.grids.len(),
            quality.overlaps.len(),
            quality.gaps.len(),
            quality.crossings.len(),
            quality.slivers.len(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn write(path: &str, units: &[Unit]) -> std::io::Result<()> {
    let features: Vec<Value> = units
        .iter()
        .map(|u| {
            let mut properties = Map::new();
            properties.insert("id".into(), json!(u.id));
            properties.insert("code".into(), json!(u.code));
            feature_json(None, properties, &u.geometry)
        })
        .collect();
    let collection = json!({ "type": "FeatureCollection", "features": features });
    std::fs::write(path, serde_json::to_vec(&collection)?)
}
