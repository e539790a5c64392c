//! Merging department layers over the demo city.
//!
//! `cargo bench -p geodata --bench merge`: the default demo (锦江区, 50,000 households) with the
//! four department layers (public security, urban management, civil affairs, emergency): the
//! overlay step alone, the whole merge, and the crosswalk. `GRIDMAP_BENCH_LARGE=1` adds the
//! large city (1,000,000 households, four layers of 1,700-3,000 grids); each iteration takes
//! seconds, so that run is long (`cargo run --release -p geodata --example merge_large` times it
//! once).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use geodata::demo::{demo_city, department_layers, emergency_layer, DemoSize, DEFAULT_SEED};
use geodata::merge::{
    crosswalk, merge_communities, merge_inputs, overlay_atoms, MergeInput, MergeOptions, SourceGrid,
};
use geodata::{Index, Level, Unit};
use rayon::prelude::*;

fn setup(size: DemoSize) -> (Vec<MergeInput>, Vec<SourceGrid>, Vec<geodata::Household>) {
    let city = demo_city(size, DEFAULT_SEED);
    let mut layers = department_layers(&city, 1);
    layers.push(emergency_layer(&city, 1));
    let communities: Vec<Unit> = city
        .units
        .iter()
        .filter(|u| u.level == Level::Community)
        .cloned()
        .collect();
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
    let inputs = merge_inputs(&Index::new(communities.clone()), &sources, &city.households);
    (inputs, sources, city.households)
}

fn merge(c: &mut Criterion) {
    let mut sizes = vec![DemoSize::Default];
    if std::env::var_os("GRIDMAP_BENCH_LARGE").is_some() {
        sizes.push(DemoSize::Large);
    }
    for size in sizes {
        let (inputs, sources, households) = setup(size);
        let options = MergeOptions::default();
        let unified: Vec<_> = merge_communities(&inputs, &options, &|_| {})
            .map(|plans| {
                plans
                    .into_iter()
                    .flat_map(|p| p.grids.into_iter().map(|g| g.geometry))
                    .collect()
            })
            .unwrap_or_default();
        let mut group = c.benchmark_group(format!("merge/{size}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(sources.len() as u64));
        group.bench_function("overlay", |b| {
            b.iter(|| inputs.par_iter().map(overlay_atoms).sum::<usize>())
        });
        group.bench_function("merge", |b| {
            b.iter(|| {
                merge_communities(&inputs, &options, &|_| {})
                    .map(|plans| plans.len())
                    .unwrap_or_default()
            })
        });
        group.bench_function("crosswalk", |b| {
            b.iter(|| crosswalk(&sources, &unified, &households).len())
        });
        group.finish();
    }
}

criterion_group!(benches, merge);
criterion_main!(benches);
