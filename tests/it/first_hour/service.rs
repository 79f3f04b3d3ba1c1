//! `clown service install|uninstall`: units for the running binary that systemd accepts
//! (`systemd-analyze --user verify`; no user manager runs here, so enabling them is
//! not tested), what happens without systemctl, and an uninstall that removes only
//! what install wrote.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::*;

#[test]
fn service_install_writes_units_systemd_accepts() {
    let env = TestEnv::new("service");
    env.write_config("listen = [\"127.0.0.1:18765\"]\n");
    let out = env
        .clown()
        .args(["service", "install", "--write-only"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("systemctl --user daemon-reload")
            && stdout.contains("systemctl --user enable --now clown.socket"),
        "{stdout}"
    );
    let units = env.home.join(".config/systemd/user");
    let bin = std::fs::canonicalize(BIN).unwrap();
    let service = std::fs::read_to_string(units.join("clown.service")).unwrap();
    assert!(
        service.contains(&format!("\nExecStart={} daemon\n", bin.display())),
        "{service}"
    );
    for line in ["Type=notify", "LimitNOFILE=65536", "WatchdogSec=30"] {
        assert!(service.contains(line), "{line}: {service}");
    }
    let socket = std::fs::read_to_string(units.join("clown.socket")).unwrap();
    assert!(
        socket.contains("\nListenStream=127.0.0.1:18765\n"),
        "{socket}"
    );
    assert!(
        socket.contains("\nListenStream=%S/clown/clown.sock\n"),
        "{socket}"
    );

    let runtime = env.root.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(units.join("clown.socket"))
        .arg(units.join("clown.service"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("HOME", &env.home)
        .output()
        .expect("systemd-analyze is installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "warnings: {stderr}");

    // Without systemctl the units are written, and the error says what to do instead.
    let out = env
        .clown()
        .env("PATH", env.root.join("nothing"))
        .args(["service", "install"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot run 'systemctl'") && err.contains("run 'clown daemon' yourself"),
        "{err}"
    );
    assert!(units.join("clown.socket").exists());

    // Uninstall removes what install wrote, and only that.
    std::fs::write(units.join("clown.socket"), "[Socket]\nListenStream=1\n").unwrap();
    let out = env
        .clown()
        .args(["service", "uninstall", "--write-only"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!units.join("clown.service").exists());
    assert!(
        units.join("clown.socket").exists(),
        "a unit clown did not write stays"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("left alone"));
}
