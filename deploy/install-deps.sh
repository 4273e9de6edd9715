#!/usr/bin/env bash
# install-deps.sh: install the Debian 12 packages needed to build and test
# triaged. Idempotent: installs only what is missing (and runs apt-get update
# only then). Uses sudo when not root. Exits non-zero on failure.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config
	libevent-dev librdkafka-dev libcurl4-openssl-dev libjson-c-dev libpq-dev check
	postgresql-15 postgresql-client-15 kcat
)
# --test: what only the test suite needs (the dashboard's browser test, promtool for
# /metrics, clang's libFuzzer for the fuzzing smoke run, jsonschema for the contract's
# differential test, nghttpx and openssl for the TLS and HTTP/2 front in test_providers http2_tls)
if [[ "${1:-}" == "--test" ]]; then
	PACKAGES+=(chromium prometheus clang libclang-rt-14-dev valgrind python3-jsonschema nghttp2-proxy openssl)
fi
# --bench: what only deploy/bench.sh needs: the Python baseline worker (deploy/bench/pyworker.py,
# issue #15): Kafka, an HTTP client with asyncio, PostgreSQL
if [[ "${1:-}" == "--bench" ]]; then
	PACKAGES+=(python3-confluent-kafka python3-aiohttp python3-psycopg2)
fi

log() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

command -v dpkg-query >/dev/null 2>&1 ||
	die "dpkg-query not found: this script supports Debian/Ubuntu (Debian 12) only"

missing=()
for pkg in "${PACKAGES[@]}"; do
	# "ii " = wanted install, installed; anything else (absent, rc, half-installed) is missing
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	if [[ "$status" != ii* ]]; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} == 0)); then
	log "all ${#PACKAGES[@]} packages already installed, nothing to do"
	exit 0
fi

log "missing: ${missing[*]}"

SUDO=()
if ((EUID != 0)); then
	command -v sudo >/dev/null 2>&1 ||
		die "not root and sudo not found: install as root: apt-get install ${missing[*]}"
	SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
log "running apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update ||
	die "apt-get update failed"
log "running apt-get install -y --no-install-recommends ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends "${missing[@]}" ||
	die "apt-get install failed"

# Verify, so a half-done install is reported here and not as a build error later.
still=()
for pkg in "${missing[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	[[ "$status" == ii* ]] || still+=("$pkg")
done
((${#still[@]} == 0)) || die "still not installed: ${still[*]}"

log "installed: ${missing[*]}"
