//! The `gridmap` binary: see `api::cli`.

fn main() -> std::process::ExitCode {
    api::cli::run()
}
