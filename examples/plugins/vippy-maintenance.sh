#!/bin/sh
# vippy-maintenance.sh: an example vippy plugin (docs/plugins.md).
#
#   vippy-maintenance.sh [FLAG_FILE [EVENT_LOG]]
#
# 1. Drains this node while FLAG_FILE exists (default /etc/vippy.maintenance):
#    `echo "disk swap" > /etc/vippy.maintenance` moves its VIPs away, with
#    the file's first line as the reason; removing the file brings it back.
#    Its drain has its own source ("maintenance-file"): an operator's
#    `vippyctl undrain` does not lift it, and it lifts only its own.
# 2. Follows the event stream and writes one line per address plumbed or
#    removed here (network.up / network.down) to EVENT_LOG (default stderr,
#    which vippyd's log collects). Replace `on_network` with what you need.
#
# vippyd starts it with VIPPY_SOCKET and VIPPY_NODE set, restarts it if it
# exits, and stops it (SIGTERM to its process group) when vippyd stops.
# Needs: curl. Parses JSON with sed to stay dependency-free; use jq if you
# have it.
set -u

sock=${VIPPY_SOCKET:-/var/run/vippy.socket}
flag=${1:-/etc/vippy.maintenance}
log=${2:-/dev/stderr}

api() {
    curl -sS --fail-with-body --unix-socket "$sock" "$@"
}

on_network() { # KIND GROUP IPS
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) ${VIPPY_NODE:-?} $1 group $2: $3" >> "$log"
}

watch_flag() {
    drained=
    while :; do
        if [ -e "$flag" ]; then
            if [ -z "$drained" ]; then
                # Keep the reason JSON-safe: no quotes, backslashes or controls.
                reason=$(head -n 1 "$flag" | tr -d '"\\' | tr -d '\000-\037' | cut -c1-200)
                [ -n "$reason" ] || reason="maintenance file $flag"
                api -d "{\"active\": false, \"source\": \"maintenance-file\", \"reason\": \"$reason\"}" \
                    http://localhost/active > /dev/null && drained=1
            fi
        elif [ -n "$drained" ]; then
            api -d '{"active": true, "source": "maintenance-file"}' http://localhost/active > /dev/null && drained=
        fi
        sleep 1
    done
}

follow_events() {
    while :; do
        # -N: no buffering, each event line as it comes.
        api -N http://localhost/events | while IFS= read -r line; do
            kind=$(printf '%s\n' "$line" | sed -n 's/.*"kind":"\([^"]*\)".*/\1/p')
            case $kind in
            network.up | network.down)
                group=$(printf '%s\n' "$line" | sed -n 's/.*"group":\([0-9]*\).*/\1/p')
                ips=$(printf '%s\n' "$line" | sed -n 's/.*"ips":\[\([^]]*\)\].*/\1/p' | tr -d '"' | tr ',' ' ')
                on_network "$kind" "$group" "$ips"
                ;;
            lagged)
                echo "vippy-maintenance: fell behind the event stream: $line" >&2
                ;;
            esac
        done
        # vippyd restarting: try again shortly.
        sleep 1
    done
}

watch_flag &
follow_events
