//! The `clown` binary: parse the command line and dispatch.

use std::ffi::{c_int, c_long};

use clap::Parser;

/// mimalloc rather than the system allocator: the proxy allocates and frees about 16 blocks
/// a request on each of its threads, and its reports are freed on the reporter's thread;
/// with glibc's malloc a fifth of the proxy's CPU at 32 connections was in the allocator.
/// Built without transparent huge pages (`no_thp`): with them a process's memory grows in
/// 2 MiB steps. See bench/README.md, "The plain path: the allocator".
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The options of the bundled mimalloc set at start (their numbers are `mi_option_t` in its
/// `mimalloc.h`; the test below holds them to it): the option, the variable that overrides
/// it, and the value set.
const TUNING: [(c_int, &str, c_long); 2] = [
    // `mi_option_purge_delay`, in ms.
    (15, "MIMALLOC_PURGE_DELAY", 10_000),
    // `mi_option_purge_decommits`: 0 marks memory free instead of unmapping it.
    (5, "MIMALLOC_PURGE_DECOMMITS", 0),
];

unsafe extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// Memory the allocator no longer uses goes back to the system after 10 s (not 1 s), and
/// is marked free (`MADV_FREE`: the kernel takes it when it needs it) rather than unmapped
/// at once. Giving back was a burst of system calls and page faults on whichever thread
/// freed last — a request's, or the daemon's bookkeeping — and with the default the
/// one-connection p99 through the proxy was 1.4–1.8 ms against 0.5–1.0 ms (bench/README.md).
/// A `MIMALLOC_PURGE_*` variable in the environment is left to decide.
fn tune_allocator() {
    for (option, name, value) in TUNING {
        if std::env::var_os(name).is_none() {
            // SAFETY: sets one of mimalloc's options (a number in a table); any thread may.
            unsafe { mi_option_set(option, value) };
        }
    }
}

fn main() {
    tune_allocator();
    // `clown statusline` runs on every redraw of an agent's screen: its usual forms skip
    // building the whole command line's parser.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = clown::cli::quick_cli(&args).unwrap_or_else(|| clown::cli::Cli::parse_from(args));
    match clown::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {}", clown::cli::error_report(&e));
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_numbers_are_the_bundled_mimallocs() {
        // Their defaults in this mimalloc: purging 1000 ms after, and by decommitting.
        let defaults = [1000, 1];
        // Each option the environment leaves alone: its default before, the value after.
        let untouched: Vec<_> = TUNING
            .iter()
            .zip(defaults)
            .filter(|((_, name, _), _)| std::env::var_os(name).is_none())
            .collect();
        for ((option, name, _), default) in &untouched {
            // SAFETY: reads one of mimalloc's options.
            assert_eq!(unsafe { mi_option_get(*option) }, *default, "{name}");
        }
        tune_allocator();
        for ((option, name, value), _) in &untouched {
            // SAFETY: as above.
            assert_eq!(unsafe { mi_option_get(*option) }, *value, "{name}");
        }
    }
}
