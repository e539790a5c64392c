//! Tests of tile cutting: projection, clipping with the buffer, orientation, shared edges in
//! tile units, and the encoded tile read back by an independent decoder (`mvt-reader`).

use std::collections::HashMap;

use geo::{polygon, Coord, MultiPolygon};
use mvt_reader::feature::Value;

use super::*;
use crate::demo::{demo_city, DemoSize, DEFAULT_SEED};
use crate::{GridKind, Unit};

fn unit(id: UnitId, level: Level, geometry: MultiPolygon<f64>) -> Unit {
    Unit {
        id,
        code: format!("U{id:03}"),
        name: format!("unit {id}"),
        level,
        kind: GridKind::General,
        parent: None,
        geometry,
    }
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![polygon![
        (x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1),
    ]])
}

fn area(ring: &[[i32; 2]]) -> i64 {
    (0..ring.len())
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
        })
        .sum()
}

#[test]
fn tiles_cover_the_world_in_web_mercator() {
    let whole = TileId::new(0, 0, 0).expect("tile 0/0/0");
    let bounds = whole.wgs84_bounds();
    assert!((bounds.min().x + 180.0).abs() < 1e-9 && (bounds.max().x - 180.0).abs() < 1e-9);
    assert!((bounds.max().y - MAX_LATITUDE).abs() < 1e-9);
    let tile = TileId::containing(
        Coord {
            x: 104.06,
            y: 30.67,
        },
        16,
    );
    let b = tile.wgs84_bounds();
    assert!(b.min().x <= 104.06 && 104.06 < b.max().x);
    assert!(b.min().y <= 30.67 && 30.67 < b.max().y);
    let below = TileId {
        y: tile.y + 1,
        ..tile
    };
    assert!(
        below.wgs84_bounds().max().y <= b.min().y + 1e-12,
        "rows run southward"
    );
    assert_eq!(tolerance(0), 0.5 / 4096.0);
}

#[test]
fn a_ring_is_clipped_to_the_tile_and_its_buffer() {
    let ring = vec![
        Coord {
            x: -500.0,
            y: 100.0,
        },
        Coord {
            x: 5000.0,
            y: 100.0,
        },
        Coord {
            x: 5000.0,
            y: 200.0,
        },
        Coord {
            x: -500.0,
            y: 200.0,
        },
    ];
    let clipped = clip_ring(&ring, -64.0, 4160.0);
    let xs: Vec<f64> = clipped.iter().map(|c| c.x).collect();
    assert!(xs.iter().all(|x| (-64.0..=4160.0).contains(x)));
    assert!(xs.contains(&-64.0) && xs.contains(&4160.0));
    let inside = vec![
        Coord { x: 1.0, y: 1.0 },
        Coord { x: 2.0, y: 1.0 },
        Coord { x: 2.0, y: 2.0 },
    ];
    assert_eq!(clip_ring(&inside, -64.0, 4160.0), inside);
    let outside: Vec<Coord<f64>> = inside
        .iter()
        .map(|c| Coord {
            x: c.x + 9000.0,
            y: c.y,
        })
        .collect();
    assert!(clip_ring(&outside, -64.0, 4160.0).is_empty());
}

#[test]
fn neighbours_share_their_edge_in_tile_units_and_rings_are_oriented_for_mvt() {
    // Two grids side by side with a hole in the first; a community holding both.
    let mut left = rect(104.07, 30.65, 104.08, 30.66);
    left.0[0].interiors_push(vec![
        (104.072, 30.652),
        (104.074, 30.652),
        (104.074, 30.654),
        (104.072, 30.654),
    ]);
    let index = Index::new(vec![
        unit(1, Level::Community, rect(104.07, 30.65, 104.09, 30.66)),
        unit(2, Level::Grid, left),
        unit(3, Level::Grid, rect(104.08, 30.65, 104.09, 30.66)),
    ]);
    let tiles = TileSet::new(Arc::new(index));
    let tile = TileId::containing(
        Coord {
            x: 104.08,
            y: 30.655,
        },
        15,
    );
    let layers = tiles.layers(tile);
    let names: Vec<&str> = layers.iter().map(|l| layer_name(l.level)).collect();
    assert_eq!(names, ["community", "grid"]);
    let grids = &layers[1].features;
    assert_eq!(grids.iter().map(|f| f.id).collect::<Vec<_>>(), [2, 3]);
    let left = &grids[0].polygons[0];
    assert_eq!(left.len(), 2, "exterior and hole");
    assert!(area(&left[0]) > 0 && area(&left[1]) < 0);
    assert!(area(&grids[1].polygons[0][0]) > 0);
    for feature in grids {
        for [x, y] in feature.polygons.iter().flatten().flatten() {
            assert!((-64..=4160).contains(x) && (-64..=4160).contains(y));
        }
    }
    // The edge x = 104.08: the same tile-unit points on both sides.
    let edge_x = |f: &TileFeature| -> Vec<[i32; 2]> {
        let xs: Vec<i32> = f.polygons[0][0].iter().map(|p| p[0]).collect();
        let shared = if f.id == 2 {
            *xs.iter().max().expect("x")
        } else {
            *xs.iter().min().expect("x")
        };
        let mut points: Vec<[i32; 2]> = f.polygons[0][0]
            .iter()
            .copied()
            .filter(|p| p[0] == shared)
            .collect();
        points.sort();
        points
    };
    assert_eq!(edge_x(&grids[0]), edge_x(&grids[1]));
}

#[test]
fn levels_appear_from_their_minimum_zoom() {
    let index = Index::new(vec![
        unit(1, Level::City, rect(104.0, 30.5, 104.2, 30.8)),
        unit(2, Level::Grid, rect(104.07, 30.65, 104.08, 30.66)),
        unit(3, Level::MicroGrid, rect(104.07, 30.65, 104.075, 30.655)),
    ]);
    let tiles = TileSet::new(Arc::new(index));
    let at = |z: u8| -> Vec<Level> {
        tiles
            .layers(TileId::containing(
                Coord {
                    x: 104.072,
                    y: 30.652,
                },
                z,
            ))
            .iter()
            .map(|l| l.level)
            .collect()
    };
    assert_eq!(at(5), [Level::City]);
    assert_eq!(at(12), [Level::City, Level::Grid]);
    assert_eq!(at(14), [Level::City, Level::Grid, Level::MicroGrid]);
    assert!(tiles
        .layers(TileId::new(12, 0, 0).expect("tile"))
        .is_empty());
}

#[test]
fn a_demo_tile_decodes_with_its_layers_properties_and_ids() {
    let city = demo_city(DemoSize::Default, DEFAULT_SEED);
    let tiles = TileSet::new(Arc::new(Index::new(city.units.clone())));
    // 锦江区's centre, at zoom 14: every level down to micro-grids.
    let tile = TileId::containing(
        Coord {
            x: 104.095,
            y: 30.63,
        },
        14,
    );
    let layers = tiles.layers(tile);
    let counts: HashMap<UnitId, i64> = layers
        .iter()
        .flat_map(|l| &l.features)
        .map(|f| (f.id, (f.id % 7) * 90))
        .collect();
    let bytes = tiles
        .encode(&layers, |id| counts.get(&id).copied().unwrap_or_default())
        .expect("encodes");
    let reader = mvt_reader::Reader::new(bytes).expect("a valid tile");
    let names = reader.get_layer_names().expect("layer names");
    assert_eq!(
        names,
        [
            "city",
            "district",
            "street",
            "community",
            "grid",
            "micro_grid"
        ]
    );
    for (i, layer) in layers.iter().enumerate() {
        let features = reader.get_features(i).expect("features");
        assert_eq!(features.len(), layer.features.len());
        for feature in &features {
            let id = feature.id.expect("an id") as UnitId;
            let unit = tiles.index().get(id).expect("the id is a unit's");
            let properties = feature.properties.as_ref().expect("properties");
            assert_eq!(properties["code"], Value::String(unit.code.clone()));
            assert_eq!(properties["name"], Value::String(unit.name.clone()));
            assert_eq!(
                properties["level"],
                Value::String(unit.level.as_str().into())
            );
            assert_eq!(properties["householdCount"], Value::SInt(counts[&id]));
            match load_status(unit.level, counts[&id]) {
                Some(load) => assert_eq!(properties["load"], Value::String(load.into())),
                None => assert!(!properties.contains_key("load")),
            }
        }
    }
    let metadata = reader.get_layer_metadata().expect("metadata");
    assert!(metadata
        .iter()
        .all(|l| l.extent == EXTENT && l.version == 2));
}
