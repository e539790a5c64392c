//! Point lookup and batch assignment on the demo cities.
//!
//! `cargo bench -p geodata --bench locate`: single `locate` calls in random order (the cost a
//! map click or an address lookup pays), on the default demo (1,289 units), the large one
//! (23,626) and the full city (209,790 units, 183,795 micro-grids); then `assign_households`
//! of the large demo's 1,000,000 households, on all cores.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use geodata::demo::{demo_city, DemoSize, DEFAULT_SEED};
use geodata::{assign_households, Index};

/// Lookups per measured iteration.
const LOOKUPS: usize = 10_000;

fn locate(c: &mut Criterion) {
    let mut group = c.benchmark_group("locate");
    group.throughput(Throughput::Elements(LOOKUPS as u64));
    for size in [DemoSize::Default, DemoSize::Large, DemoSize::City] {
        let city = demo_city(size, DEFAULT_SEED);
        let points = city.scattered_points(LOOKUPS);
        let index = Index::new(city.units);
        group.bench_with_input(BenchmarkId::from_parameter(size), &points, |b, points| {
            b.iter(|| points.iter().map(|p| index.locate(*p).len()).sum::<usize>())
        });
    }
    group.finish();
}

fn assign(c: &mut Criterion) {
    let city = demo_city(DemoSize::Large, DEFAULT_SEED);
    let index = Index::new(city.units.clone());
    let mut group = c.benchmark_group("assign");
    group.sample_size(10);
    group.throughput(Throughput::Elements(city.households.len() as u64));
    group.bench_function("large", |b| {
        b.iter(|| assign_households(&index, &city.households).counts.len())
    });
    group.finish();
}

criterion_group!(benches, locate, assign);
criterion_main!(benches);
