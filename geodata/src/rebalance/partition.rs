//! Dividing a connected set of cells into `k` connected parts of bounded weight.
//!
//! Recursive bisection on spanning trees: cutting one edge of a spanning tree leaves two
//! subtrees, each connected, so both sides of every cut are contiguous by construction. Several
//! random spanning trees are drawn (minimum spanning trees under jittered centroid distances,
//! which follow the land, and under random weights, which vary more); of all their edges the cut
//! chosen first keeps both sides' weights within reach of the bounds, then is short (compact
//! parts) and even. Afterwards single cells on the borders move to the neighbouring part when that
//! mends a bound or shortens the borders without disconnecting their part.

use std::collections::HashMap;

use super::cells::Graph;
use super::Bounds;

/// Spanning trees tried for each bisection.
const TREES: usize = 12;
/// Passes of border moves after the bisection.
const REFINE_PASSES: usize = 12;

/// A small deterministic generator (SplitMix64): the same community always gets the same plan.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_F42D_4C95_7F2D)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How far `weight` split into `k` parts must move to fit the bounds: 0 when some split fits.
pub(crate) fn shortfall(weight: u64, k: usize, bounds: Bounds) -> u64 {
    let k = k as u64;
    (k * u64::from(bounds.min)).saturating_sub(weight)
        + weight.saturating_sub(k * u64::from(bounds.max))
}

/// How far one part's weight lies outside the bounds.
fn excess(weight: u64, bounds: Bounds) -> u64 {
    shortfall(weight, 1, bounds)
}

/// The number of parts for a total weight: within bounds if any count allows it (the one
/// nearest the middle of the bounds), else the count that misses them least.
pub(crate) fn part_count(weight: u64, bounds: Bounds) -> usize {
    let (min, max) = (u64::from(bounds.min), u64::from(bounds.max));
    if weight < min {
        return 1;
    }
    let low = weight.div_ceil(max);
    let high = weight / min;
    if low <= high {
        let ideal = (weight as f64 / ((min + max) as f64 / 2.0)).round() as u64;
        return ideal.clamp(low, high) as usize;
    }
    // No count fits: `high` parts run over the maximum, `low` ones under the minimum.
    let (over, under) = (high.max(1), low);
    if shortfall(weight, over as usize, bounds) <= shortfall(weight, under as usize, bounds) {
        over as usize
    } else {
        under as usize
    }
}

/// Divides the connected `nodes` into `k` connected parts (fewer if there are fewer nodes).
pub(crate) fn partition(
    graph: &Graph,
    nodes: Vec<usize>,
    k: usize,
    bounds: Bounds,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    let mut parts = Vec::new();
    bisect(graph, nodes, k.max(1), bounds, rng, &mut parts);
    refine(graph, &mut parts, bounds);
    parts
}

fn bisect(
    graph: &Graph,
    nodes: Vec<usize>,
    k: usize,
    bounds: Bounds,
    rng: &mut Rng,
    out: &mut Vec<Vec<usize>>,
) {
    if k <= 1 || nodes.len() <= 1 {
        out.push(nodes);
        return;
    }
    let local: HashMap<usize, usize> = nodes.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let weights: Vec<u64> = nodes
        .iter()
        .map(|&n| u64::from(graph.nodes[n].weight))
        .collect();
    let total: u64 = weights.iter().sum();
    let mut edges: Vec<(usize, usize, f64, f64)> = Vec::new();
    let mut area_scale = 0.0f64;
    for (i, &n) in nodes.iter().enumerate() {
        for &(m, length) in &graph.adjacency[n] {
            if let Some(&j) = local.get(&m) {
                if i < j {
                    let (a, b) = (graph.nodes[n].centroid, graph.nodes[m].centroid);
                    edges.push((i, j, length, (a.0 - b.0).hypot(a.1 - b.1)));
                    area_scale += length;
                }
            }
        }
    }
    // Normalises cut lengths: about the length of a cut across the whole set.
    let scale = (area_scale / (nodes.len() as f64).sqrt()).max(1.0);

    let mut best: Option<(u64, f64, Vec<bool>, usize)> = None;
    for trial in 0..TREES {
        let Some(tree) = spanning_tree(nodes.len(), &edges, trial % 3 != 2, rng) else {
            break;
        };
        // Preorder from node 0, then subtree weights.
        let mut order = Vec::with_capacity(nodes.len());
        let mut parent = vec![usize::MAX; nodes.len()];
        let mut stack = vec![0usize];
        parent[0] = 0;
        while let Some(v) = stack.pop() {
            order.push(v);
            for &w in &tree[v] {
                if parent[w] == usize::MAX {
                    parent[w] = v;
                    stack.push(w);
                }
            }
        }
        let mut subtree = weights.clone();
        let mut size = vec![1usize; nodes.len()];
        let mut pre = vec![0usize; nodes.len()];
        for (i, &v) in order.iter().enumerate() {
            pre[v] = i;
        }
        for &v in order.iter().rev().take(order.len().saturating_sub(1)) {
            subtree[parent[v]] += subtree[v];
            size[parent[v]] += size[v];
        }
        // The least shortfall any cut of this tree reaches, and its cuts.
        let split = |s: u64| -> (u64, usize) {
            (1..k)
                .map(|k1| {
                    (
                        shortfall(s, k1, bounds) + shortfall(total - s, k - k1, bounds),
                        k1,
                    )
                })
                .min_by(|a, b| {
                    a.0.cmp(&b.0).then_with(|| {
                        let ideal = k as f64 * s as f64 / total.max(1) as f64;
                        (a.1 as f64 - ideal)
                            .abs()
                            .total_cmp(&(b.1 as f64 - ideal).abs())
                    })
                })
                .unwrap_or((0, 1))
        };
        let floor = order[1..]
            .iter()
            .map(|&v| split(subtree[v]).0)
            .min()
            .unwrap_or(u64::MAX);
        if best.as_ref().is_some_and(|b| b.0 < floor) {
            continue;
        }
        for &v in &order[1..] {
            let s = subtree[v];
            let (miss, k1) = split(s);
            if miss != floor {
                continue;
            }
            let (start, end) = (pre[v], pre[v] + size[v]);
            let mut cut = 0.0;
            for &u in &order[start..end] {
                for &(m, length) in &graph.adjacency[nodes[u]] {
                    if let Some(&j) = local.get(&m) {
                        if !(start..end).contains(&pre[j]) {
                            cut += length;
                        }
                    }
                }
            }
            let per_part = total as f64 / k as f64;
            let uneven = if per_part > 0.0 {
                (s as f64 - k1 as f64 * per_part).abs() / per_part
            } else {
                0.0
            };
            let score = cut / scale + uneven;
            if best.as_ref().is_none_or(|b| (miss, score) < (b.0, b.1)) {
                let mut side = vec![false; nodes.len()];
                for &u in &order[start..end] {
                    side[u] = true;
                }
                best = Some((miss, score, side, k1));
            }
        }
    }
    let Some((_, _, side, k1)) = best else {
        out.push(nodes);
        return;
    };
    let (a, b): (Vec<usize>, Vec<usize>) = (
        (0..nodes.len())
            .filter(|&i| side[i])
            .map(|i| nodes[i])
            .collect(),
        (0..nodes.len())
            .filter(|&i| !side[i])
            .map(|i| nodes[i])
            .collect(),
    );
    bisect(graph, a, k1, bounds, rng, out);
    bisect(graph, b, k - k1, bounds, rng, out);
}

/// A spanning tree (adjacency lists) by Kruskal under jittered centroid distances or random
/// weights; `None` if the edges do not connect all `n` nodes.
fn spanning_tree(
    n: usize,
    edges: &[(usize, usize, f64, f64)],
    geometric: bool,
    rng: &mut Rng,
) -> Option<Vec<Vec<usize>>> {
    let mut keyed: Vec<(f64, usize, usize)> = edges
        .iter()
        .map(|&(i, j, _, distance)| {
            let key = if geometric {
                distance * (0.5 + rng.unit())
            } else {
                rng.unit()
            };
            (key, i, j)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut tree = vec![Vec::new(); n];
    let mut joined = 1;
    for (_, i, j) in keyed {
        let (a, b) = (find(&mut parent, i), find(&mut parent, j));
        if a != b {
            parent[a] = b;
            tree[i].push(j);
            tree[j].push(i);
            joined += 1;
        }
    }
    (joined == n).then_some(tree)
}

/// Border moves: a node joins a neighbouring part when that brings the two parts' weights
/// closer to the bounds, or keeps them as they are and shortens the border; its old part must
/// stay connected and not empty.
fn refine(graph: &Graph, parts: &mut [Vec<usize>], bounds: Bounds) {
    if parts.len() < 2 {
        return;
    }
    let mut part_of: HashMap<usize, usize> = HashMap::new();
    for (p, nodes) in parts.iter().enumerate() {
        for &n in nodes {
            part_of.insert(n, p);
        }
    }
    let mut weight: Vec<u64> = parts
        .iter()
        .map(|nodes| {
            nodes
                .iter()
                .map(|&n| u64::from(graph.nodes[n].weight))
                .sum()
        })
        .collect();
    let mut order: Vec<usize> = part_of.keys().copied().collect();
    order.sort_unstable();
    for _ in 0..REFINE_PASSES {
        let mut moved = false;
        for &u in &order {
            let from = part_of[&u];
            let w = u64::from(graph.nodes[u].weight);
            let mut towards: Vec<(usize, f64)> = Vec::new();
            let mut inside = 0.0;
            for &(m, length) in &graph.adjacency[u] {
                match part_of.get(&m) {
                    Some(&p) if p == from => inside += length,
                    Some(&p) => match towards.iter_mut().find(|(q, _)| *q == p) {
                        Some(entry) => entry.1 += length,
                        None => towards.push((p, length)),
                    },
                    None => {}
                }
            }
            let before_from = excess(weight[from], bounds);
            let choice = towards
                .iter()
                .filter_map(|&(to, length)| {
                    let before = before_from + excess(weight[to], bounds);
                    let after = excess(weight[from] - w, bounds) + excess(weight[to] + w, bounds);
                    let gain = length - inside;
                    let better = after < before || (after == before && gain > 1e-6 * length);
                    better.then_some((after as i64 - before as i64, -gain, to))
                })
                .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let Some((_, _, to)) = choice else { continue };
            if !connected_without(graph, &parts[from], u, &part_of, from) {
                continue;
            }
            parts[from].retain(|&n| n != u);
            parts[to].push(u);
            part_of.insert(u, to);
            weight[from] -= w;
            weight[to] += w;
            moved = true;
        }
        if !moved {
            break;
        }
    }
    for nodes in parts.iter_mut() {
        nodes.sort_unstable();
    }
}

/// Whether `part` minus `removed` is non-empty and connected.
fn connected_without(
    graph: &Graph,
    part: &[usize],
    removed: usize,
    part_of: &HashMap<usize, usize>,
    index: usize,
) -> bool {
    let Some(&start) = part.iter().find(|&&n| n != removed) else {
        return false;
    };
    let mut seen: HashMap<usize, ()> = HashMap::new();
    seen.insert(start, ());
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        for &(m, _) in &graph.adjacency[n] {
            if m != removed && part_of.get(&m) == Some(&index) && !seen.contains_key(&m) {
                seen.insert(m, ());
                stack.push(m);
            }
        }
    }
    seen.len() == part.len() - 1
}
