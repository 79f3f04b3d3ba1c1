//! `clown ui [--open]`: print the login link that signs a browser in.

use clap::Args;

use super::{Cli, Client};

#[derive(Debug, Args)]
pub struct UiArgs {
    /// Also open the link in a browser, where there is one.
    #[arg(long)]
    open: bool,
}

pub async fn run(cli: &Cli, args: &UiArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    let token = client
        .token()
        .ok_or_else(|| anyhow::anyhow!("no daemon token available"))?;
    let link = format!("{}/login?token={}", client.base(), token.expose());
    println!("{link}");
    if args.open {
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        match std::process::Command::new(opener)
            .arg(&link)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
        {
            Ok(s) if s.success() => {}
            _ => eprintln!("could not open a browser ({opener}); open the link above yourself"),
        }
    }
    Ok(0)
}
