//! `clown generate completions SHELL` and `clown generate man`: generated from the CLI
//! definition, used by the packages.

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
    Completions { shell: Shell },
    /// The man page (roff) on stdout.
    Man,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<i32> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout();
    match args.what {
        What::Completions { shell } => {
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut cmd, "clown", &mut out);
        }
        What::Man => clap_mangen::Man::new(cmd).render(&mut out)?,
    }
    Ok(0)
}
