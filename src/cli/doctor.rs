//! `clown doctor`
use clap::Args;
use super::Cli;
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}
pub async fn run(_cli: &Cli, _args: &DoctorArgs) -> anyhow::Result<i32> { Ok(0) }
