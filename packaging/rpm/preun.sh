# %preun: on the final removal (not an upgrade), disable clown.socket for every user while
# its unit file is still installed. Never fails where systemd is absent.
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --global disable clown.socket >/dev/null 2>&1 || :
fi
exit 0
