#!/usr/bin/env bash
# loop_futex.sh: the event loop's futex sleeps during a 256 KiB regex run
# (issue #16). Starts test_looplag's regex case of TREE's build (3,000 tickets
# of 256 KiB, loop SCHED_FIFO on CPU 0, the rest on CPU 1, the floor probe
# beside it), finds the daemon, records the loop thread's context switches
# for 20 s with perf, and prints how many were sleeps in a futex wait, how
# many of those under malloc/free (arena locks), each one's stack and how
# long the loop was off CPU 0 for it (from its switch out to its switch back
# in: CPU 0 is recorded whole, the loop and the floor probe are alone on it),
# how many sleeps of any kind lasted 1 ms or more and 5 ms or more, and the
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
perf record -q -e sched:sched_switch --call-graph dwarf,16384 -a -C 0 -o "$OUT.data" \
	-- sleep 20 >/dev/null 2>&1
wait $tp
perf script -i "$OUT.data" 2>/dev/null >"$OUT.txt"
python3 - "$OUT.txt" "$pid" <<'PY'
import re, sys
events = open(sys.argv[1]).read().split('\n\n')
loop = sys.argv[2]
skip = ('schedule', '__schedule', 'futex', 'do_futex', '__x64', 'do_syscall', 'entry_SYSCALL',
        '__futex', '__GI___lll', '__lll', 'syscall')
sleeps = futex = arena = 0
stacks = []
out = None  # the loop's pending switch out: (time, futex stack or None)
offcpu = []  # (ms, kind) per sleep of the loop: 'futex', or 'other' (epoll_wait and the rest)
for ev in events:
    if 'sched_switch' not in ev:
        continue
    head = ev.strip().split('\n')[0]
    t = re.search(r' (\d+\.\d+): ', head)
    prev = re.search(r'prev_pid=(\d+)', head)
    nxt = re.search(r'next_pid=(\d+)', head)
    m = re.search(r'prev_state=(\S+)', head)
    if not (t and prev and nxt and m):
        continue
    ts = float(t.group(1))
    if nxt.group(1) == loop and out is not None:
        offcpu.append(((ts - out[0]) * 1000, out[1]))
        out = None
    if prev.group(1) != loop or m.group(1).startswith('R'):
        continue
    sleeps += 1
    if 'futex' not in ev:
        out = (ts, 'other')
        continue
    futex += 1
    frames = [l.strip().split(' ', 1)[1].split(' (')[0] for l in ev.split('\n')[1:]
              if len(l.strip().split(' ', 1)) > 1]
    if any(f.startswith(('_int_free', '_int_malloc', '__GI___libc_malloc', '__GI___libc_free',
                         '_int_realloc', '__GI___libc_realloc', 'arena_get')) for f in frames):
        arena += 1
    stacks.append(' < '.join([f for f in frames if not f.startswith(skip)][:7]))
    out = (ts, len(stacks) - 1)
print('sleeps=%d futex=%d in_malloc_or_free=%d' % (sleeps, futex, arena))
fut = {k: ms for ms, k in offcpu if k != 'other'}
for i, s in enumerate(stacks):
    print('  %s  %s' % ('%.2f ms' % fut[i] if i in fut else '? ms', s))
for kind in ('futex', 'other'):
    ms = [x for x, k in offcpu if (k == 'other') == (kind == 'other')]
    print('%s sleeps: n=%d >=1ms=%d >=5ms=%d max=%.2fms' % (kind, len(ms),
          sum(x >= 1 for x in ms), sum(x >= 5 for x in ms), max(ms) if ms else 0))
PY
grep "looplag ll_regex" "$OUT.log" || echo "loop_futex: no looplag line (see $OUT.log)"
