#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
#
#  * An engine already answers        -> exit 0 at once.
#  * Root on Debian/Ubuntu (apt-get)  -> install docker.io from the distribution if dockerd is missing,
#                                        start dockerd in the background (overlay2 storage; without
#                                        iptables/bridge where this machine cannot do iptables: the
#                                        sandboxes run with network "none" anyway), wait until it answers.
#  * Anything else                    -> print what the user must do, exit 1.
#
# Where it may install packages (root, apt-get), it also installs Debian's docker-registry (the CNCF distribution
# registry) if missing: the tests of pulling published images push to and pull from one they start on 127.0.0.1.
# The package's own service is not started. Only those tests need it, so a failed install is a line, not a failure.
#
# Environment:
#   HARNESS_DOCKER_LOG      dockerd log file            (default /var/log/harness-dockerd.log)
#   HARNESS_DOCKER_TIMEOUT  seconds to wait for dockerd (default 60)
set -uo pipefail

LOG="${HARNESS_DOCKER_LOG:-/var/log/harness-dockerd.log}"
TIMEOUT="${HARNESS_DOCKER_TIMEOUT:-60}"

say() { echo "ensure-docker: $*" >&2; }

engine_answers() { command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; }

give_up() {
    say "no Docker engine answers, and I could not start one: $1"
    cat >&2 <<'EOF'
ensure-docker: what to do, one of:
  * start your Docker engine (e.g. `sudo systemctl start docker`, or Docker Desktop), or
  * on Debian/Ubuntu as root: `apt-get install docker.io` then run `bash sandboxes/ensure-docker.sh` again, or
  * point DOCKER_HOST at a reachable engine (e.g. DOCKER_HOST=unix:///run/user/1000/docker.sock).
Check with `docker info`. Without an engine the container tests are skipped (and fail under CI).
EOF
    exit 1
}

ensure_registry() {
    command -v docker-registry >/dev/null 2>&1 && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "docker-registry is missing: the registry pull tests skip (and fail under CI); as root on Debian:" \
            "apt-get install -y --no-install-recommends docker-registry"
        return 0
    fi
    say "installing docker-registry from the distribution (apt-get) ..."
    local reg_log policy=/usr/sbin/policy-rc.d made_policy=""
    reg_log="$(mktemp /tmp/ensure-docker-registry-apt.XXXXXX.log)"
    if [ ! -e "$policy" ]; then  # keep the package from starting its service (a registry on :5000)
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if apt-get install -y --no-install-recommends docker-registry >"$reg_log" 2>&1 \
        || { apt-get update >>"$reg_log" 2>&1 \
             && apt-get install -y --no-install-recommends docker-registry >>"$reg_log" 2>&1; }; then
        say "docker-registry installed (its service not started)"
        rm -f "$reg_log"
        if command -v systemctl >/dev/null 2>&1; then systemctl disable docker-registry >/dev/null 2>&1 || true; fi
    else
        tail -n 5 "$reg_log" >&2
        say "could not install docker-registry (the registry pull tests skip, and fail under CI), log: $reg_log"
    fi
    [ -n "$made_policy" ] && rm -f "$policy"
    return 0
}

if engine_answers; then
    ensure_registry
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
    give_up "DOCKER_HOST=$DOCKER_HOST points at a remote engine that does not answer; I only start local engines"
fi
[ "$(id -u)" = 0 ] || give_up "starting an engine needs root (you are uid $(id -u))"
command -v apt-get >/dev/null 2>&1 || give_up "this is not a Debian-like system (no apt-get)"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v containerd >/dev/null 2>&1; then
    say "installing docker.io from the distribution (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt_log="$(mktemp /tmp/ensure-docker-apt.XXXXXX.log)"
    apt-get update >"$apt_log" 2>&1 \
        || { tail -n 20 "$apt_log" >&2; give_up "apt-get update failed (no route to a Debian mirror?), log: $apt_log"; }
    # iptables is a dependency of docker.io; ca-certificates is the one recommend we want.
    apt-get install -y --no-install-recommends docker.io ca-certificates >>"$apt_log" 2>&1 \
        || { tail -n 20 "$apt_log" >&2; give_up "apt-get install docker.io failed, log: $apt_log"; }
fi
command -v docker >/dev/null 2>&1 || give_up "the docker CLI is missing after installing docker.io"

# A stale pid file from a killed dockerd stops a new one from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    net_flags=()
    if ! iptables -t nat -L >/dev/null 2>&1; then
        say "iptables does not work here: starting dockerd with --iptables=false --bridge=none (sandboxes use network none)"
        net_flags=(--iptables=false --ip6tables=false --bridge=none)
    fi
    # cgroup v1 hosts without systemd need the cgroup hierarchies mounted; they usually are.
    mkdir -p "$(dirname "$LOG")"
    say "starting dockerd (storage overlay2), log: $LOG"
    nohup dockerd --storage-driver overlay2 "${net_flags[@]}" >>"$LOG" 2>&1 </dev/null &
    disown || true
fi

deadline=$((SECONDS + TIMEOUT))
until engine_answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        say "dockerd did not answer within ${TIMEOUT}s; last lines of $LOG:"
        tail -n 20 "$LOG" >&2 2>/dev/null || true
        give_up "dockerd started but never answered"
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd exited; last lines of $LOG:"
        tail -n 20 "$LOG" >&2 2>/dev/null || true
        give_up "dockerd exited right after starting"
    fi
    sleep 1
done

driver="$(docker info --format '{{.Driver}}' 2>/dev/null)"
say "Docker engine answers (storage driver: ${driver:-unknown})"
if [ "$driver" = "vfs" ]; then
    say "warning: the vfs storage driver makes each container 10-20x slower to create than overlay2"
fi
ensure_registry
exit 0
