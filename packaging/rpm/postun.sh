# %postun: after the final removal (not an upgrade), have the running user managers forget
# the removed units, and say which per-user data is left (RPM has no purge; a package does
# not delete files in home directories). Never fails where systemd is absent.
if [ "$1" -eq 0 ]; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        for uid in $(systemctl --no-legend --plain --state=running list-units 'user@*.service' 2>/dev/null \
            | sed -n 's/^user@\([0-9][0-9]*\)\.service .*/\1/p'); do
            systemctl --user --machine="$uid@" daemon-reload >/dev/null 2>&1 || :
        done
    fi
    # printf is a shell builtin: the message needs nothing on PATH.
    printf '%s\n' \
        'clown: the per-user data of each user who ran clown is left in place; remove it by hand:' \
        '  ~/.config/clown/        configuration' \
        '  ~/.local/share/clown/   database: profiles, their keys, usage' \
        '  ~/.local/state/clown/   access token, logs' \
        '  ~/.cache/clown/         registry cache' \
        '  ~/.<agent>-profiles/    the profiles'\'' agent homes, e.g. ~/.claude-profiles/' \
        '  (clown/ under $XDG_CONFIG_HOME, $XDG_DATA_HOME, $XDG_STATE_HOME, $XDG_CACHE_HOME where set)'
fi
exit 0
