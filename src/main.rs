//! The `clown` binary: parse the command line and dispatch.

use clap::Parser;

fn main() {
    let cli = clown::cli::Cli::parse();
    match clown::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {}", clown::cli::error_report(&e));
            std::process::exit(1);
        }
    }
}
