#!/bin/sh
# Load the dashboard of a running triaged in headless Chromium and check that it
# rendered: body[data-rendered="ok"], no page errors (body[data-errors="0"]),
# nothing written to the browser console, and data points drawn in each chart
# named on the command line. Saves a screenshot and the rendered DOM.
#
#   browser_dashboard.sh URL OUTDIR [CHART ...]
#
# URL: the page, e.g. http://127.0.0.1:8081/dashboard?token=... ; OUTDIR gets
# dashboard.png, dashboard.dom.html and chromium.log. CHART: section ids that
# must show data points (default: volume escalation latency backlog outcomes
# dlq queue); the cost chart must always have rendered (data or "no cost data").
# Chromium is installed with apt-get when missing (as root, or with sudo -n);
# if it cannot be, this fails: it never skips. CHROMIUM=/path overrides the binary.
set -u

fail() {
	echo "browser_dashboard: FAIL: $*" >&2
	exit 1
}

[ $# -ge 2 ] || fail "usage: $0 URL OUTDIR [CHART ...]"
url=$1
out=$2
shift 2
charts=${*:-volume escalation latency backlog outcomes dlq queue}

find_chromium() {
	if [ -n "${CHROMIUM:-}" ]; then
		echo "$CHROMIUM"
		return 0
	fi
	for c in chromium chromium-browser google-chrome; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

install_chromium() {
	if [ "$(id -u)" = 0 ]; then
		sudo=
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo -n"
	else
		fail "chromium is not installed and this user cannot install it (apt-get install chromium)"
	fi
	echo "browser_dashboard: installing chromium with apt-get" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2 ||
		{ $sudo apt-get update >&2 &&
		  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2; } ||
		fail "apt-get install chromium failed"
}

chromium=$(find_chromium) || { install_chromium; chromium=$(find_chromium) || fail "no chromium after install"; }
mkdir -p "$out" || fail "cannot create $out"
profile=$(mktemp -d "$out/chromium-profile.XXXXXX") || fail "mktemp"
trap 'rm -rf "$profile"' EXIT

shot=$out/dashboard.png
dom=$out/dashboard.dom.html
log=$out/chromium.log
rm -f "$shot" "$dom" "$log"

# --virtual-time-budget lets the page's fetch and drawing finish before the
# DOM is dumped and the screenshot taken (network waits pause virtual time).
timeout 180 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--no-default-browser-check --disable-background-networking --disable-component-update \
	--disable-sync --disable-extensions --user-data-dir="$profile" --window-size=1400,1900 \
	--hide-scrollbars --enable-logging=stderr --v=0 --virtual-time-budget=8000 \
	--run-all-compositor-stages-before-draw --screenshot="$shot" --dump-dom "$url" \
	>"$dom" 2>"$log"
rc=$?
[ $rc = 0 ] || { tail -n 20 "$log" >&2; fail "chromium exited with status $rc"; }

[ -s "$dom" ] || fail "empty DOM dump"
grep -q 'data-rendered="ok"' "$dom" ||
	fail "the page did not render: $(grep -o '<span id="status"[^<]*' "$dom")"
grep -q 'data-errors="0"' "$dom" ||
	fail "page errors: $(grep -o '<span id="status"[^<]*' "$dom")"
# The page never writes to the console: any console line (an uncaught
# exception, a CSP violation, a failed load) is an error.
if grep -q 'CONSOLE' "$log"; then
	grep 'CONSOLE' "$log" >&2
	fail "console messages in $log"
fi

points() {
	grep -o "<section class=\"card\" id=\"$1\"[^>]*>" "$dom" | sed -n 's/.*data-points="\([0-9]*\)".*/\1/p'
}
summary=
for c in $charts; do
	n=$(points "$c")
	[ -n "$n" ] || fail "chart $c has no data-points attribute (not drawn)"
	[ "$n" -gt 0 ] || fail "chart $c drew no data points"
	summary="$summary $c=$n"
done
cost_state=$(grep -o '<section class="card" id="cost"[^>]*>' "$dom" | sed -n 's/.*data-state="\([a-z]*\)".*/\1/p')
[ -n "$cost_state" ] || fail "the cost chart was not drawn"
summary="$summary cost=$cost_state"

[ -s "$shot" ] || fail "no screenshot"
echo "browser_dashboard: ok:$summary"
echo "browser_dashboard: screenshot $shot"
