//! Rebalancing the demo city.
//!
//! `cargo bench -p geodata --bench rebalance`: every community of the default demo (锦江区,
//! 50,000 households) planned with the standard bounds, grids and micro-grids, on all cores.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use geodata::demo::{demo_city, DemoSize, DEFAULT_SEED};
use geodata::rebalance::{community_inputs, plan_communities, Bounds, Options};

fn rebalance(c: &mut Criterion) {
    let city = demo_city(DemoSize::Default, DEFAULT_SEED);
    let inputs = community_inputs(&city.units, &city.households);
    let options = Options {
        grid: Bounds::GRID,
        micro_grid: Some(Bounds::MICRO_GRID),
    };
    let mut group = c.benchmark_group("rebalance");
    group.sample_size(10);
    group.throughput(Throughput::Elements(city.households.len() as u64));
    group.bench_function("default", |b| {
        b.iter(|| {
            plan_communities(&inputs, &options, &|_| {})
                .map(|plans| plans.len())
                .unwrap_or_default()
        })
    });
    group.finish();
}

criterion_group!(benches, rebalance);
criterion_main!(benches);
