#!/usr/bin/env bash
# Writes dist/clown.rb, a Homebrew formula that builds clown from its source tarball, and
# that tarball, dist/clown-<version>.tar.gz (`git archive` of REF, by default HEAD; pass the
# release tag when releasing). Upload the tarball to URL_BASE: the formula downloads it
# from URL_BASE/clown-<version>.tar.gz and checks its sha256.
#
#   packaging/homebrew/build.sh URL_BASE [REF]
#
# Homebrew installs formulae from taps only: copy dist/clown.rb to a tap's Formula/ folder
# (`brew tap-new` makes a local one), then `brew install TAP/clown`.
source "$(dirname "$0")/../common.sh"

if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 URL_BASE [REF]   (the tarball's URL is URL_BASE/clown-<version>.tar.gz)" >&2
  exit 2
fi
url_base="${1%/}"
ref="${2:-HEAD}"

VERSION="$(clown_version)"
homepage="$(sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
tarball="$DIST/clown-$VERSION.tar.gz"
mkdir -p "$DIST"
git archive --format=tar.gz --prefix="clown-$VERSION/" -o "$tarball" "$ref"
sha256="$(sha256sum "$tarball" | cut -d' ' -f1)"

cat >"$DIST/clown.rb" <<FORMULA
class Clown < Formula
  desc "Manage CLI coding agents, their providers, keys and usage"
  homepage "$homepage"
  url "$url_base/clown-$VERSION.tar.gz"
  sha256 "$sha256"
  license "MIT"

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    generate_completions_from_executable(bin/"clown", "generate", "completions",
                                         shells: [:bash, :zsh, :fish])
    system bin/"clown", "generate", "man", "--dir", man1
    (pkgshare/"grafana").install "packaging/grafana/clown-dashboard.json"
  end

  # launchd listens on 127.0.0.1:8765 and starts the daemon on the first connection. The
  # daemon takes the socket named "Listeners" from launchd (launch_activate_socket), so the
  # socket is named explicitly: the plain form \`sockets "tcp://…"\` would name it "listeners".
  service do
    run [opt_bin/"clown", "daemon"]
    sockets Listeners: "tcp://127.0.0.1:8765"
    run_at_load false
    process_type :background
    log_path var/"log/clown.log"
    error_log_path var/"log/clown.log"
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/clown --version")
    assert_match "clown", shell_output("#{bin}/clown generate completions bash")

    port = free_port
    pid = spawn bin/"clown", "daemon", "--listen", "127.0.0.1:#{port}"
    begin
      40.times do # until the daemon listens, at most 20 s
        TCPSocket.new("127.0.0.1", port).close
        break
      rescue Errno::ECONNREFUSED
        sleep 0.5
      end
      assert_match version.to_s, shell_output("#{bin}/clown status --url http://127.0.0.1:#{port}")
    ensure
      Process.kill("TERM", pid)
      Process.wait(pid)
    end
  end
end
FORMULA

log "wrote $tarball (sha256 $sha256)"
log "wrote $DIST/clown.rb"
echo "$DIST/clown.rb"
