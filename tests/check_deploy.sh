#!/usr/bin/env bash
# check_deploy.sh BIN: the shipped systemd unit gives the daemon time to drain.
# systemd sends SIGKILL after TimeoutStopSec; the daemon stops waiting for calls in
# flight after shutdown.drain_timeout_ms and then commits offsets. If the unit's
# timeout were shorter, every deploy would SIGKILL a draining daemon and the
# answers in flight (already paid for) would be lost. Requires a 5 s margin.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BIN=${1:?usage: check_deploy.sh path/to/triaged}
unit="$ROOT/deploy/triaged.service"
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\?$/\1/p' "$unit")
drain_ms=$(env -u TRIAGED_SHUTDOWN_DRAIN_TIMEOUT_MS "$BIN" --check-config 2>/dev/null |
	sed -n 's/^drain_timeout_ms = \([0-9]*\)$/\1/p')
if [[ -z "$stop" || -z "$drain_ms" ]]; then
	echo "check_deploy: could not read TimeoutStopSec ($stop) or drain_timeout_ms ($drain_ms)"
	exit 1
fi
if ((stop * 1000 < drain_ms + 5000)); then
	echo "check_deploy: TimeoutStopSec=${stop}s is not longer than shutdown.drain_timeout_ms=${drain_ms} + 5 s"
	exit 1
fi
echo "check_deploy: TimeoutStopSec=${stop}s > shutdown.drain_timeout_ms=${drain_ms} ms + 5 s margin"
