# %post: on the first installation, enable clown.socket for every user (it starts in each
# user's session from the next login, or after `systemctl --user daemon-reload && systemctl
# --user start clown.socket`). Upgrades keep the administrator's choice. Never fails where
# systemd is absent.
if [ "$1" -eq 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --global enable clown.socket >/dev/null 2>&1 || :
fi
exit 0
