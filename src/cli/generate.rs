//! `clown generate completions SHELL` and `clown generate man [--dir DIR]`: generated
//! from the CLI definition, used by the packages. With `--dir`, the man pages are
//! `clown.1` and one per command (`clown-profiles.1`, `clown-profiles-create.1`, …): the
//! pages the main page's list of commands points to.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory, ValueEnum};

use super::Cli;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Shell completion script on stdout.
    Completions {
        /// The shell to complete for.
        shell: Shell,
    },
    /// The man page clown(1) on stdout, or with --dir every page written into DIR.
    Man {
        /// Write clown.1 and a page per command (clown-profiles-create.1, …) into this
        /// directory (created when missing).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The command tree as the man pages show it: no `help` pseudo-command, whose page
/// would not exist.
fn man_command() -> clap::Command {
    Cli::command().disable_help_subcommand(true)
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout();
    match &args.what {
        What::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut Cli::command(), "clown", &mut out);
        }
        What::Man { dir: None } => clap_mangen::Man::new(man_command()).render(&mut out)?,
        What::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(man_command(), dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            let count = std::fs::read_dir(dir)?
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
                .count();
            eprintln!("wrote {count} man pages into {}", dir.display());
        }
    }
    Ok(0)
}
