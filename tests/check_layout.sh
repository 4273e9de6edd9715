#!/usr/bin/env bash
# check_layout.sh: the pure core stays pure. Fails when a file in service/core/
# includes an I/O library header (libevent, libcurl, libpq, librdkafka), a header
# of the I/O shell (service/io/) or the coordinator, or reads the clock; or when a
# source file in service/ is over 1,000 lines.
# Run by ctest as unit.layout; prints every offending line.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$ROOT/service" || exit 2
shell_headers=$(cd io && ls ./*.h | sed 's|^\./||'; echo pipeline.h)
rc=0
bad=$(grep -nE '#include <(event2/|curl/|libpq-fe\.h|libpq/|librdkafka/)' core/*.c core/*.h)
if [[ -n "$bad" ]]; then
	echo "core/ includes an I/O library header:"; echo "$bad"; rc=1
fi
for h in $shell_headers; do
	bad=$(grep -nF "#include \"$h\"" core/*.c core/*.h)
	if [[ -n "$bad" ]]; then
		echo "core/ includes the shell's $h:"; echo "$bad"; rc=1
	fi
done
bad=$(grep -nE '\b(gettimeofday|clock_gettime|time)\s*\(' core/*.c | grep -vE '^[^:]+:[0-9]+:\s*(\*|//|/\*)')
if [[ -n "$bad" ]]; then
	echo "core/ reads the clock (pass now in instead):"; echo "$bad"; rc=1
fi
# No source file in service/ over 1,000 lines (issue #14): split a module by concern
# into prefixed parts instead.
size_exempt=""
while read -r lines f; do
	[[ "$f" == total ]] && continue
	[[ " $size_exempt " == *" $f "* ]] && continue
	if ((lines > 1000)); then
		echo "$f: $lines lines (over 1,000: split it by concern)"; rc=1
	fi
done < <(find . -name '*.[ch]' -printf '%P\n' | sort | xargs wc -l)
n=$(ls core/*.c | wc -l)
((rc == 0)) && echo "layout: ${n} core modules include no I/O header and read no clock; no file over 1,000 lines"
exit "$rc"
