#!/usr/bin/env bash
# loop_futex.sh: the event loop's futex sleeps during a 256 KiB regex run
# (issue #16). Starts test_looplag's regex case of TREE's build (3,000 tickets
# of 256 KiB, loop SCHED_FIFO on CPU 0, the rest on CPU 1, the floor probe
# beside it), finds the daemon, records the loop thread's context switches
# for 20 s with perf, and prints how many were sleeps in a futex wait, how
# many of those under malloc/free (arena locks), each one's stack, and the
# run's looplag line. Needs root (SCHED_FIFO, perf) and perf; TREE must
# have a RelWithDebInfo build/ with every target built.
#
#   tests/bench/loop_futex.sh TREE LABEL      (files in /tmp/loop_futex.LABEL.*)
#
# e.g. before against after, in two worktrees:
#   tests/bench/loop_futex.sh ../before before; tests/bench/loop_futex.sh . after
set -uo pipefail
T=$(readlink -f "$1")
OUT=/tmp/loop_futex.$2
rm -f "$OUT".*
(cd "$T" && LOOPLAG_BENCH=1 LOOPLAG_TICKETS=${LOOPLAG_TICKETS:-3000} LOOPLAG_BODY_BYTES=262144 \
	LOOPLAG_RT=1 LOOPLAG_PIN=1 LOOPLAG_ONLY=regex build/test_looplag >"$OUT.log" 2>&1) &
tp=$!
pid=""
for _ in $(seq 1 600); do
	for c in $(pgrep -f "^$T/build/triaged$"); do
		sleep 3 # past start-up
		if kill -0 "$c" 2>/dev/null; then
			pid=$c
			break
		fi
	done
	[[ -n $pid ]] && break
	sleep 0.2
done
if [[ -z $pid ]]; then
	echo "loop_futex: no daemon of $T/build/triaged started (see $OUT.log)" >&2
	wait $tp
	exit 1
fi
sleep 6
perf record -q -e sched:sched_switch --call-graph dwarf,16384 -t "$pid" -o "$OUT.data" \
	-- sleep 20 >/dev/null 2>&1
wait $tp
perf script -i "$OUT.data" 2>/dev/null >"$OUT.txt"
python3 - "$OUT.txt" <<'PY'
import re, sys
events = open(sys.argv[1]).read().split('\n\n')
skip = ('schedule', '__schedule', 'futex', 'do_futex', '__x64', 'do_syscall', 'entry_SYSCALL',
        '__futex', '__GI___lll', '__lll', 'syscall')
sleeps = futex = arena = 0
stacks = []
for ev in events:
    if 'sched_switch' not in ev:
        continue
    m = re.search(r'prev_state=(\S+)', ev.split('\n')[0])
    if not m or m.group(1).startswith('R'):
        continue
    sleeps += 1
    if 'futex' not in ev:
        continue
    futex += 1
    frames = [l.strip().split(' ', 1)[1].split(' (')[0] for l in ev.split('\n')[1:]
              if len(l.strip().split(' ', 1)) > 1]
    if any(f.startswith(('_int_free', '_int_malloc', '__GI___libc_malloc', '__GI___libc_free',
                         '_int_realloc', '__GI___libc_realloc', 'arena_get')) for f in frames):
        arena += 1
    stacks.append(' < '.join([f for f in frames if not f.startswith(skip)][:7]))
print('sleeps=%d futex=%d in_malloc_or_free=%d' % (sleeps, futex, arena))
for s in stacks:
    print('  ' + s)
PY
grep "looplag ll_regex" "$OUT.log" || echo "loop_futex: no looplag line (see $OUT.log)"
