//! Security defects, each tried the way a hostile local user or a broken peer would:
//! file modes and foreign directories, a foreign listener on the daemon's port, racing
//! writers, absurd token counts, idle connections, reads during an import, deleted keys,
//! and the protocol edges.
//!
//! The cross-user cases run a second local user the tests create (they need root, as CI
//! runs them; elsewhere they say so and pass without checking).

mod cli;
mod files;
mod limits;
mod races;
mod store;

use std::process::Command;

/// A second local user for the cross-user cases: (uid, gid), created on first use; None
/// when the tests do not run as root.
pub fn other_user() -> Option<(u32, u32)> {
    const NAME: &str = "clown-it-other";
    if nix::unistd::geteuid().as_raw() != 0 {
        eprintln!("not root: skipping the part of this test that needs a second user");
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).arg(NAME).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                NAME,
            ])
            .status()
            .expect("useradd");
        // Another test may have created it at the same moment.
        assert!(
            status.success() || id("-u").is_some(),
            "useradd {NAME} failed"
        );
    }
    Some((id("-u")?, id("-g")?))
}

/// A command run as the other user.
pub fn as_user(cmd: &mut Command, (uid, gid): (u32, u32)) -> &mut Command {
    use std::os::unix::process::CommandExt;
    cmd.uid(uid).gid(gid)
}
