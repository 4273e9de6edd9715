#!/usr/bin/env bash
# check_deploy.sh BIN: the shipped systemd unit gives the daemon time to stop.
# systemd sends SIGKILL after TimeoutStopSec. A stop takes at most
# shutdown.drain_timeout_ms (calls in flight), then shutdown.drain_grace_ms (stores,
# events and dead letters under way), then 15 s: the final flush on the loop (5 s,
# the outbox relay's last batch with it), the last heartbeat (2 s), the feedback
# consumer's flush (2 s) and the consumers' closes with their offset commits. If the unit's timeout
# were shorter, a slow deploy would SIGKILL a draining daemon and the answers in
# flight (already paid for) would be lost. Requires a 5 s margin on top.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BIN=${1:?usage: check_deploy.sh path/to/triaged}
unit="$ROOT/deploy/triaged.service"
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\?$/\1/p' "$unit")
cfg=$(env -u TRIAGED_SHUTDOWN_DRAIN_TIMEOUT_MS -u TRIAGED_SHUTDOWN_DRAIN_GRACE_MS "$BIN" \
	--check-config 2>/dev/null)
drain_ms=$(sed -n 's/^drain_timeout_ms = \([0-9]*\)$/\1/p' <<<"$cfg")
grace_ms=$(sed -n 's/^drain_grace_ms = \([0-9]*\)$/\1/p' <<<"$cfg")
if [[ -z "$stop" || -z "$drain_ms" || -z "$grace_ms" ]]; then
	echo "check_deploy: could not read TimeoutStopSec ($stop), drain_timeout_ms ($drain_ms) or drain_grace_ms ($grace_ms)"
	exit 1
fi
need_ms=$((drain_ms + grace_ms + 15000 + 5000))
if ((stop * 1000 < need_ms)); then
	echo "check_deploy: TimeoutStopSec=${stop}s is shorter than drain_timeout_ms=${drain_ms} + drain_grace_ms=${grace_ms} + 15 s + 5 s margin"
	exit 1
fi
echo "check_deploy: TimeoutStopSec=${stop}s >= drain_timeout_ms=${drain_ms} + drain_grace_ms=${grace_ms} + 15 s + 5 s margin"
