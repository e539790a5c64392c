//! The `gridmap` command line: `serve` (the default), `import`, `export`, `demo`, `token`.
//! Every subcommand takes `--database-url` (or `DATABASE_URL`). Changes made here are audited
//! with the actor `cli`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use geodata::crs::Crs;
use geodata::demo::DemoSize;
use geodata::Level;

use crate::access::{AnonymousAccess, Role};
use crate::bench::BenchData;
use crate::config::{
    Config, Limits, DEFAULT_ADDR, DEFAULT_DATABASE_URL, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_IMPORT_FEATURES,
};
use crate::error::ApiError;
use crate::service::audit::{self, Actor, Change};
use crate::service::export::{prepare_export, ExportFilter, FOOTER, HEADER};
use crate::service::rebalance::{self, RebalanceRequest};
use crate::state::AppState;

/// GridMap: community grid governance maps over GraphQL.
#[derive(Debug, Parser)]
#[command(name = "gridmap", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the GraphQL server (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Import a GeoJSON FeatureCollection of polygons as units of one level.
    Import {
        /// The GeoJSON file.
        file: PathBuf,
        /// The level of every feature: city, district, street, community, grid, micro-grid.
        #[arg(long)]
        level: Level,
        /// The grid system for grids (default: the default system).
        #[arg(long)]
        system: Option<i64>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Import households: CSV (`id,lon,lat,persons,building`, streamed, with progress) or a
    /// GeoJSON FeatureCollection of points. All or nothing.
    ImportHouseholds {
        /// The .csv or .geojson file.
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Write units as a GeoJSON FeatureCollection to standard output.
    Export {
        /// Only units of this level.
        #[arg(long)]
        level: Option<Level>,
        /// Only units inside the unit with this code.
        #[arg(long)]
        within: Option<String>,
        /// The grid system (default: the default system).
        #[arg(long)]
        system: Option<i64>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Plan a rebalance of the grids under a unit (a dry run, stored as a plan), and apply it
    /// with `--apply`.
    Rebalance {
        /// The code of the community, street, district or city to rebalance.
        #[arg(long)]
        scope: String,
        /// The grid system (default: the default system).
        #[arg(long)]
        system: Option<i64>,
        #[arg(long, default_value_t = 300)]
        grid_min: u32,
        #[arg(long, default_value_t = 500)]
        grid_max: u32,
        /// Draw micro-grids inside new and changed grids too.
        #[arg(long)]
        micro_grids: bool,
        #[arg(long, default_value_t = 30)]
        micro_min: u32,
        #[arg(long, default_value_t = 100)]
        micro_max: u32,
        /// Apply the plan at once (otherwise it is only stored, to inspect).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Import a department's grid layer (a GeoJSON FeatureCollection of polygons) as a new grid
    /// system. All or nothing.
    ImportGridSystem {
        /// The GeoJSON file.
        file: PathBuf,
        /// The new system's name.
        #[arg(long)]
        name: String,
        /// The department that drew it.
        #[arg(long)]
        department: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Plan the merge of several grid systems into a new unified one (a dry run, stored as a
    /// plan), and apply it with `--apply`.
    Merge {
        /// The source grid systems, by id or name, separated by commas.
        #[arg(long, value_delimiter = ',', required = true)]
        sources: Vec<String>,
        /// The unified system's name.
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 300)]
        grid_min: u32,
        #[arg(long, default_value_t = 500)]
        grid_max: u32,
        /// Overlay pieces under this many m² (or holding no household) are dissolved.
        #[arg(long, default_value_t = geodata::merge::MergeOptions::DEFAULT_SLIVER_M2)]
        sliver_m2: f64,
        /// Apply the plan at once (it creates the unified system and makes it the default).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Measure point lookup and batch assignment on a demo city (see BENCHMARKS.md).
    Bench {
        /// What to measure: `locate` (point lookup and batch assignment) or `rebalance`
        /// (planning every community of the city).
        #[arg(value_enum, default_value = "locate")]
        target: BenchTarget,
        /// default, large or city.
        #[arg(long, default_value = "large")]
        size: DemoSize,
        /// Random-order lookups per run.
        #[arg(long, default_value_t = 200_000)]
        lookups: usize,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also write the polygons, points and answers for bench/shapely_locate.py here.
        #[arg(long)]
        write_data: Option<PathBuf>,
        /// Measure `locate` on the peers' data set instead of a demo city: 100,000 irregular
        /// polygons tiling 104.0-104.2 E x 30.6-30.75 N and 5,000,000 clustered points.
        #[arg(long, conflicts_with = "size")]
        tiling: bool,
    },
    /// Create, list or revoke API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Load the demo city into an empty database.
    Demo {
        /// default (about 50k households), large (about 1M) or city (about 9M).
        #[arg(long, default_value = "default")]
        size: DemoSize,
        /// Write the city to files here instead (one GeoJSON per level, households.csv), for
        /// `gridmap import` and `gridmap import-households`.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// What `gridmap bench` measures.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BenchTarget {
    Locate,
    Rebalance,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, as the last word on standard output.
    Create {
        /// viewer, planner or admin.
        #[arg(long)]
        role: Role,
        /// A name for the token's holder (default: the role).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List the tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by id; it is refused from then on (within 5 s by a running server).
    Revoke {
        /// The token's id, as `token list` shows it.
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Args, Clone)]
struct DatabaseArgs {
    /// sea-orm database URL: sqlite://file.db?mode=rwc or postgres://host/db.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[derive(Debug, Args, Clone)]
struct ServeArgs {
    /// Address to listen on (port 0: any free port, announced on standard output).
    #[arg(long, env = "GRIDMAP_ADDR", default_value = DEFAULT_ADDR)]
    addr: String,
    /// Start with an empty database instead of loading the demo city into it.
    #[arg(long)]
    no_demo: bool,
    /// What clients without a token may do: loopback (viewer on loopback addresses only),
    /// none, or viewer (everyone).
    #[arg(long, env = "GRIDMAP_ANONYMOUS", default_value = "loopback")]
    anonymous_role: AnonymousAccess,
    /// Largest POST /graphql body, in bytes.
    #[arg(long, env = "GRIDMAP_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Most features one GraphQL import may hold.
    #[arg(long, env = "GRIDMAP_MAX_IMPORT_FEATURES", default_value_t = DEFAULT_MAX_IMPORT_FEATURES)]
    max_import_features: usize,
    /// Longest a GraphQL query may run, in milliseconds (mutations are not cut off).
    #[arg(long, env = "GRIDMAP_QUERY_TIMEOUT_MS", default_value_t = 30_000)]
    query_timeout_ms: u64,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Parses the command line and runs the subcommand.
pub fn run() -> ExitCode {
    let log_level = std::env::var("GRIDMAP_LOG")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(log_level)
        .init();
    let cli = Cli::parse();
    let runtime = actix_web::rt::System::new();
    let outcome = runtime.block_on(async move {
        match cli.command {
            None => serve(cli.serve).await,
            Some(Command::Serve(args)) => serve(args).await,
            Some(Command::Import {
                file,
                level,
                system,
                database,
            }) => import(file, level, system, database).await,
            Some(Command::ImportHouseholds { file, database }) => {
                import_households(file, database).await
            }
            Some(Command::Export {
                level,
                within,
                system,
                database,
            }) => export(level, within, system, database).await,
            Some(Command::Token { command }) => token(command).await,
            Some(Command::Demo {
                size,
                out: Some(dir),
                ..
            }) => crate::service::demo::write_demo_files(size, &dir)
                .map_err(|e| format!("cannot write to {}: {e}", dir.display())),
            Some(Command::Demo {
                size,
                out: None,
                database,
            }) => demo(size, database).await,
            Some(Command::Rebalance {
                scope,
                system,
                grid_min,
                grid_max,
                micro_grids,
                micro_min,
                micro_max,
                apply,
                database,
            }) => {
                let request = RebalanceRequest {
                    grid_min,
                    grid_max,
                    micro_grids,
                    micro_min,
                    micro_max,
                };
                rebalance(&scope, system, request, apply, database).await
            }
            Some(Command::ImportGridSystem {
                file,
                name,
                department,
                database,
            }) => import_grid_system(file, name, department, database).await,
            Some(Command::Merge {
                sources,
                name,
                grid_min,
                grid_max,
                sliver_m2,
                apply,
                database,
            }) => {
                merge(
                    &sources,
                    name,
                    (grid_min, grid_max, sliver_m2),
                    apply,
                    database,
                )
                .await
            }
            Some(Command::Bench {
                target: BenchTarget::Locate,
                size,
                lookups,
                runs,
                write_data,
                tiling,
            }) => {
                let data = if tiling {
                    BenchData::Tiling
                } else {
                    BenchData::Demo(size)
                };
                bench(data, lookups, runs, write_data)
            }
            Some(Command::Bench {
                target: BenchTarget::Rebalance,
                tiling: true,
                ..
            }) => Err(
                "--tiling is a data set for `bench locate`: it has no communities to rebalance"
                    .to_owned(),
            ),
            Some(Command::Bench {
                target: BenchTarget::Rebalance,
                size,
                write_data,
                ..
            }) => bench_rebalance(size, write_data),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gridmap: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    crate::serve(Config {
        addr: args.addr,
        database_url: args.database.database_url,
        demo_when_empty: !args.no_demo,
        anonymous: args.anonymous_role,
        limits: Limits {
            body_bytes: args.max_body_bytes,
            import_features: args.max_import_features,
            query_timeout: std::time::Duration::from_millis(args.query_timeout_ms.max(1)),
        },
    })
    .await
    .map_err(|e| e.to_string())
}

async fn state(database: &DatabaseArgs) -> Result<AppState, String> {
    let db = crate::db::connect(&database.database_url)
        .await
        .map_err(|e| format!("cannot open {}: {e}", database.database_url))?;
    let state = AppState::new(db);
    crate::load(&state, false).await.map_err(describe)?;
    Ok(state)
}

async fn import(
    file: PathBuf,
    level: Level,
    system: Option<i64>,
    database: DatabaseArgs,
) -> Result<(), String> {
    let collection = read_json(&file)?;
    let state = state(&database).await?;
    let outcome =
        crate::service::import::import_units(&state, level, collection, system, &Actor::cli())
            .await
            .map_err(describe)?;
    println!(
        "imported {} {level} units into grid system {} (version {}); {} households reassigned",
        outcome.unit_ids.len(),
        outcome.system.name,
        outcome.system.version,
        outcome.reassigned
    );
    Ok(())
}

async fn import_households(file: PathBuf, database: DatabaseArgs) -> Result<(), String> {
    let state = state(&database).await?;
    let open_error = |e: std::io::Error| format!("cannot read {}: {e}", file.display());
    let is_csv = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let input = std::io::BufReader::new(std::fs::File::open(&file).map_err(open_error)?);
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {human_pos} households imported ({per_sec})",
    ) {
        bar.set_style(style);
    }
    let progress = |done| bar.set_position(done);
    let actor = Actor::cli();
    let outcome = if is_csv {
        crate::service::bulk::import_households_csv(&state, input, progress, &actor).await
    } else {
        crate::service::bulk::import_households_geojson(&state, input, progress, &actor).await
    };
    bar.finish_and_clear();
    let outcome = outcome.map_err(describe)?;
    let (households, outside) = (outcome.households, outcome.outside_grids);
    println!("imported {households} households; {outside} fall in no grid");
    Ok(())
}

async fn export(
    level: Option<Level>,
    within: Option<String>,
    system: Option<i64>,
    database: DatabaseArgs,
) -> Result<(), String> {
    let state = state(&database).await?;
    let catalog = state.catalog().map_err(describe)?;
    let filter = ExportFilter {
        level,
        within,
        system,
        crs: Crs::Wgs84,
    };
    let export = prepare_export(&state.db, &catalog, &filter)
        .await
        .map_err(describe)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let write_error = |e: std::io::Error| format!("cannot write: {e}");
    out.write_all(HEADER.as_bytes()).map_err(write_error)?;
    let mut text = String::new();
    for start in (0..export.len()).step_by(256) {
        text.clear();
        export.write_features(start..(start + 256).min(export.len()), &mut text);
        out.write_all(text.as_bytes()).map_err(write_error)?;
    }
    out.write_all(FOOTER.as_bytes()).map_err(write_error)?;
    out.flush().map_err(write_error)
}

async fn rebalance(
    scope: &str,
    system: Option<i64>,
    request: RebalanceRequest,
    apply: bool,
    database: DatabaseArgs,
) -> Result<(), String> {
    let state = state(&database).await?;
    let catalog = state.catalog().map_err(describe)?;
    let scope_unit = crate::service::units::find_unit(
        &state.db,
        None,
        Some(scope),
        system.unwrap_or(catalog.default_system),
    )
    .await
    .map_err(describe)?
    .ok_or_else(|| format!("no unit has the code {scope:?}"))?;
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} communities planned ({elapsed})",
    ) {
        bar.set_style(style);
    }
    let progress = bar.clone();
    let plan = rebalance::plan_rebalance(
        &state,
        scope_unit.id,
        system,
        request,
        move |done, total| {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
        },
    )
    .await
    .map_err(describe);
    bar.finish_and_clear();
    let plan = plan?;
    let change = Change::new("planRebalance", format!("plan {} drawn", plan.row.id)).on_system(
        plan.row.system_id,
        plan.row.base_version,
        plan.row.base_version,
    );
    audit::record(&state.db, &Actor::cli(), change)
        .await
        .map_err(describe)?;
    let s = &plan.summary;
    println!(
        "plan {} for {} ({} communities, {} households) on version {}:",
        plan.row.id, scope_unit.name, s.communities, s.households, plan.row.base_version
    );
    println!(
        "  grids {} -> {} (kept {}, changed {}, new {}, removed {})",
        s.grids_before, s.grids_after, s.grids_kept, s.grids_changed, s.grids_new, s.grids_removed
    );
    println!(
        "  within {}-{}: {} -> {}; households per grid {}..{} (mean {:.0})",
        request.grid_min,
        request.grid_max,
        s.within_bounds_before,
        s.within_bounds_after,
        s.min_households,
        s.max_households,
        s.mean_households
    );
    println!(
        "  households moved {}; Polsby-Popper mean {:.3}, worst {:.3}; {} infeasible",
        s.households_moved,
        s.mean_polsby_popper,
        s.worst_polsby_popper,
        s.infeasible.len()
    );
    println!(
        "  micro-grids {} -> {} ({} retired{})",
        s.micro_grids_before,
        s.micro_grids_after,
        s.micro_grids_retired,
        if request.micro_grids {
            ""
        } else {
            "; --micro-grids redraws them"
        }
    );
    for grid in &s.infeasible {
        println!("    {} {}: {}", grid.unit_code, grid.code, grid.reason);
    }
    if apply {
        let system = rebalance::apply_rebalance_plan(
            &state,
            plan.row.id,
            plan.row.base_version,
            &Actor::cli(),
        )
        .await
        .map_err(describe)?;
        println!(
            "applied: grid system {} is at version {}",
            system.name, system.version
        );
    } else {
        println!("not applied: run again with --apply, or applyRebalancePlan(planId: {}, expectedVersion: {})", plan.row.id, plan.row.base_version);
    }
    Ok(())
}

async fn token(command: TokenCommand) -> Result<(), String> {
    use crate::service::tokens;
    let (TokenCommand::Create { database, .. }
    | TokenCommand::List { database }
    | TokenCommand::Revoke { database, .. }) = &command;
    let db = crate::db::connect(&database.database_url)
        .await
        .map_err(|e| format!("cannot open {}: {e}", database.database_url))?;
    match command {
        TokenCommand::Create { role, name, .. } => {
            let name = name.unwrap_or_else(|| role.to_string());
            let (row, token) = tokens::create_token(&db, role, &name, &Actor::cli())
                .await
                .map_err(describe)?;
            println!(
                "token {} ({}) with the {role} role; it is shown this once, keep it:",
                row.id, row.name
            );
            println!("{token}");
        }
        TokenCommand::List { .. } => {
            for row in tokens::list_tokens(&db).await.map_err(describe)? {
                println!(
                    "{}\t{}\t{}\tcreated {}{}",
                    row.id,
                    row.role,
                    row.name,
                    audit::rfc3339(row.created_at),
                    row.revoked_at
                        .map(|at| format!("\trevoked {}", audit::rfc3339(at)))
                        .unwrap_or_default()
                );
            }
        }
        TokenCommand::Revoke { id, .. } => {
            let row = tokens::revoke_token(&db, id, &Actor::cli())
                .await
                .map_err(describe)?;
            println!("token {} ({}) is revoked", row.id, row.name);
        }
    }
    Ok(())
}

async fn demo(size: DemoSize, database: DatabaseArgs) -> Result<(), String> {
    let db = crate::db::connect(&database.database_url)
        .await
        .map_err(|e| format!("cannot open {}: {e}", database.database_url))?;
    let summary = crate::service::demo::load_demo(&db, size)
        .await
        .map_err(describe)?;
    println!(
        "loaded the {size:?} demo city: {} units, {} households",
        summary.units, summary.households
    );
    Ok(())
}

fn bench(
    data: BenchData,
    lookups: usize,
    runs: usize,
    write_data: Option<PathBuf>,
) -> Result<(), String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let f = crate::bench::run(data, lookups, runs, write_data.as_deref())
        .map_err(|e| format!("cannot write the bench data: {e}"))?;
    let name = match data {
        BenchData::Demo(size) => format!("demo city {size}"),
        BenchData::Tiling => "irregular tiling".to_owned(),
    };
    println!(
        "{name}: {} units ({} micro-grids), {} households",
        f.units, f.deepest_polygons, f.households
    );
    println!("generate            {:>10.3} s", f.generate.as_secs_f64());
    println!(
        "build index         {:>10.3} s",
        f.build_index.as_secs_f64()
    );
    println!(
        "locate, random order {:>9.0} ns each   ({:.2} M/s, 1 thread)",
        f.locate_each.as_nanos(),
        1e3 / f.locate_each.as_nanos().max(1) as f64
    );
    println!(
        "  the same, R-tree only {:>6.0} ns each",
        f.locate_by_tree_each.as_nanos()
    );
    println!(
        "  the deepest unit only {:>6.0} ns each",
        f.deepest_each.as_nanos()
    );
    println!(
        "  answered by one cell-map read: {:.1}% (the rest test polygons exactly)",
        f.one_read_share * 100.0
    );
    println!(
        "assign all          {:>10.3} s          ({:.2} M households/s, {threads} threads)",
        f.assign_all.as_secs_f64(),
        f.households as f64 / f.assign_all.as_secs_f64() / 1e6
    );
    Ok(())
}

async fn import_grid_system(
    file: PathBuf,
    name: String,
    department: Option<String>,
    database: DatabaseArgs,
) -> Result<(), String> {
    let collection = read_json(&file)?;
    let state = state(&database).await?;
    let system = crate::service::merge::import_grid_system(
        &state,
        name,
        department,
        collection,
        &Actor::cli(),
    )
    .await
    .map_err(describe)?;
    println!(
        "imported grid system {} ({}); gridmap serve and gridSystemQuality(system: \"{}\") report its faults",
        system.id, system.name, system.id
    );
    Ok(())
}

async fn merge(
    sources: &[String],
    name: String,
    (grid_min, grid_max, sliver_m2): (u32, u32, f64),
    apply: bool,
    database: DatabaseArgs,
) -> Result<(), String> {
    let state = state(&database).await?;
    let systems = crate::service::systems::list_systems(&state.db)
        .await
        .map_err(describe)?;
    let source_systems = sources
        .iter()
        .map(|wanted| {
            systems
                .iter()
                .find(|s| s.name == *wanted || s.id.to_string() == *wanted)
                .map(|s| s.id)
                .ok_or_else(|| format!("no grid system is called or numbered {wanted:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let request = crate::service::merge::MergeRequest {
        source_systems,
        name,
        grid_min,
        grid_max,
        sliver_m2,
    };
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} communities merged ({elapsed})",
    ) {
        bar.set_style(style);
    }
    let progress = bar.clone();
    let plan = crate::service::merge::plan_merge(&state, request, move |done, total| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    })
    .await
    .map_err(describe);
    bar.finish_and_clear();
    let plan = plan?;
    let s = &plan.summary;
    println!(
        "merge plan {} ({} communities, {} households):",
        plan.row.id, s.communities, s.households
    );
    for source in &s.sources {
        println!(
            "  {} (version {}): {} grids",
            source.name, source.version, source.grids
        );
    }
    println!(
        "  {} atoms, {} slivers dissolved -> {} unified grids, {} within {grid_min}-{grid_max}",
        s.atoms, s.slivers_dissolved, s.unified_grids, s.within_bounds
    );
    println!(
        "  source boundaries kept {:.1}%; Polsby-Popper mean {:.3}; {} infeasible",
        100.0 * s.kept_boundary_m / s.source_boundary_m.max(f64::MIN_POSITIVE),
        s.mean_polsby_popper,
        s.infeasible.len()
    );
    if apply {
        let system = crate::service::merge::apply_merge_plan(&state, plan.row.id, &Actor::cli())
            .await
            .map_err(describe)?;
        println!(
            "applied: grid system {} ({}) is the default now",
            system.id, system.name
        );
    } else {
        println!(
            "not applied: run again with --apply, or applyMergePlan(planId: {})",
            plan.row.id
        );
    }
    Ok(())
}

fn bench_rebalance(size: DemoSize, write_data: Option<PathBuf>) -> Result<(), String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = RebalanceRequest::default().options();
    let f = crate::bench::rebalance::run(size, options, write_data.as_deref())
        .map_err(|e| format!("rebalance bench failed: {e}"))?;
    let q = &f.quality;
    println!(
        "demo city {size}: {} communities, {} households (generated in {:.1} s)",
        f.communities,
        f.households,
        f.generate.as_secs_f64()
    );
    println!(
        "plan every community {:>8.2} s on {threads} threads",
        f.plan_all.as_secs_f64()
    );
    println!(
        "grids {} -> {} ({} kept); within 300-500: {} -> {} ({:.1}% -> {:.1}%); {} infeasible",
        q.grids_before,
        q.grids_after,
        q.kept,
        q.within_before,
        q.within_after,
        100.0 * q.within_before as f64 / q.grids_before.max(1) as f64,
        100.0 * q.within_after as f64 / q.grids_after.max(1) as f64,
        q.infeasible
    );
    println!(
        "households moved {}; mean Polsby-Popper {:.3}",
        q.households_moved, q.mean_polsby_popper
    );
    Ok(())
}

/// A JSON document from a file.
fn read_json(file: &std::path::Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", file.display()))
}

fn describe(error: ApiError) -> String {
    format!("{error} ({})", error.code())
}
