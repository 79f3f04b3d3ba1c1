# %preun: on the final removal (not an upgrade), in every running user manager stop
# clown.socket and clown.service and disable them (which removes the links a user's own
# `systemctl --user enable` made under ~/.config/systemd/user/), then disable clown.socket
# for every user while its unit file is still installed. Never fails where systemd is absent.
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    if [ -d /run/systemd/system ]; then
        for uid in $(systemctl --no-legend --plain --state=running list-units 'user@*.service' 2>/dev/null \
            | sed -n 's/^user@\([0-9][0-9]*\)\.service .*/\1/p'); do
            systemctl --quiet --user --machine="$uid@" stop clown.socket clown.service >/dev/null 2>&1 || :
            systemctl --quiet --user --machine="$uid@" disable clown.socket clown.service >/dev/null 2>&1 || :
        done
    fi
    systemctl --global disable clown.socket >/dev/null 2>&1 || :
fi
exit 0
