//! Every file clown writes is 0600 and every directory 0700, whatever the umask; a
//! directory that is not ours is refused; another user cannot read a key.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use serde_json::json;

use super::{as_user, other_user};
use crate::helpers::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn private_files_whatever_the_umask_and_directory_mode() {
    let env = TestEnv::new("sec-modes");
    // Directories that already exist, readable by all (as a user or an installer might
    // have made them).
    for dir in [env.data_dir(), env.state_dir()] {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let d = Daemon::start_with(&env, |cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: umask(2) only, in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
                Ok(())
            });
        }
    });
    const KEY: &str = "sk-ant-modes-0123456789abcdef0123456789";
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "m", "provider_id": "anthropic", "api_key": KEY}),
    );
    assert_eq!(mode(&env.data_dir()), 0o700);
    assert_eq!(mode(&env.state_dir()), 0o700);
    let db = env.data_dir().join("clown.db");
    for file in [
        db.clone(),
        env.data_dir().join("clown.db-wal"),
        env.data_dir().join("clown.db-shm"),
        env.data_dir().join("clown.lock"),
        env.state_dir().join("token"),
        env.state_dir().join("clown.sock"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert!(
        d.stderr().contains("now 0700"),
        "the tightening is logged: {}",
        d.stderr()
    );
    // Another user can read none of it.
    let Some(other) = other_user() else { return };
    // The temporary home's parents are world-traversable, as a real home often is.
    for file in [&db, &env.state_dir().join("token")] {
        let out = as_user(Command::new("cat").arg(file), other)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} was readable", file.display());
        assert!(!String::from_utf8_lossy(&out.stdout).contains(KEY));
    }
}

#[test]
fn a_data_directory_of_another_user_is_refused() {
    let Some((uid, gid)) = other_user() else {
        return;
    };
    let env = TestEnv::new("sec-foreign-dir");
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::os::unix::fs::chown(env.data_dir(), Some(uid), Some(gid)).unwrap();
    let mut daemon = KillOnDrop(
        env.clown()
            .args(["daemon", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let exited = wait_until(WAIT, "the daemon to refuse the directory", || {
        daemon.0.try_wait().unwrap()
    });
    let mut err = String::new();
    std::io::Read::read_to_string(daemon.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(exited.code(), Some(1), "{err}");
    assert!(
        err.contains("belongs to uid") && err.contains(&env.data_dir().display().to_string()),
        "{err}"
    );
    // Nothing was written into it.
    assert_eq!(
        std::fs::read_dir(env.data_dir()).unwrap().count(),
        0,
        "files created in a foreign directory"
    );
    assert_eq!(std::fs::metadata(env.data_dir()).unwrap().uid(), uid);
}

/// A child that does not outlive a failed assertion.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
