//! The `gridmap` binary: see `api::cli`.

// The index build and the imports allocate and free many mid-sized blocks from several
// threads; glibc's allocator spent ~10% of a city start-up consolidating its free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::run()
}
