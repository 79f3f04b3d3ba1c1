//! The `clown` binary: parse the command line and dispatch.

use clap::Parser;

fn main() {
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
