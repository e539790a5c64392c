//! Vector tile generation on the large demo city (`cargo bench -p geodata --bench tiles`):
//! the one-off costs (coverages per level, arcs simplified per zoom), then the median and 95th
//! percentile per tile at zooms 12, 14 and 16 (cut, clip and MVT-encode, with the
//! coverages and arcs ready, as a server has them after its first tile of a zoom), over the
//! tiles where households live. Plain timing loops (not criterion): the figure wanted is a
//! distribution over many different tiles, not one tile repeated.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use geodata::demo::{demo_city, DemoSize, DEFAULT_SEED};
use geodata::tiles::{TileId, TileSet};
use geodata::Index;

/// Distinct tiles measured per zoom.
const TILES: usize = 300;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let started = Instant::now();
    let city = demo_city(DemoSize::Large, DEFAULT_SEED);
    let index = Arc::new(Index::new(city.units.clone()));
    println!(
        "large demo city: {} units, made and indexed in {:.1} s",
        index.len(),
        started.elapsed().as_secs_f64()
    );
    let tiles = TileSet::new(Arc::clone(&index));
    let points = city.scattered_points(200_000);
    for z in [12u8, 14, 16] {
        let started = Instant::now();
        tiles.prepare([z]);
        let prepare = started.elapsed();
        let ids: Vec<TileId> = points
            .iter()
            .map(|p| TileId::containing(p.0, z))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // Spread the sample over the whole city rather than one corner.
        let step = (ids.len() / TILES).max(1);
        let sample: Vec<TileId> = ids.iter().step_by(step).take(TILES).copied().collect();
        let (mut times, mut bytes, mut features) = (Vec::new(), 0usize, 0usize);
        for tile in &sample {
            let started = Instant::now();
            let layers = tiles.layers(*tile);
            let encoded = tiles
                .encode(&layers, |id| id % 600)
                .expect("the tile encodes");
            times.push(started.elapsed());
            bytes += encoded.len();
            features += layers.iter().map(|l| l.features.len()).sum::<usize>();
        }
        let n = sample.len();
        println!(
            "z{z}: first tile of the zoom builds coverages/arcs in {:>7.1} ms; {n} of {} tiles with households: \
             median {:.2} ms, p95 {:.2} ms, max {:.2} ms per tile; {:.0} features, {:.1} KiB per tile",
            prepare.as_secs_f64() * 1e3,
            ids.len(),
            percentile(&mut times, 0.5).as_secs_f64() * 1e3,
            percentile(&mut times, 0.95).as_secs_f64() * 1e3,
            percentile(&mut times, 1.0).as_secs_f64() * 1e3,
            features as f64 / n as f64,
            bytes as f64 / n as f64 / 1024.0,
        );
    }
}
