/*
 * rules_regex: the cost checks a rules file's regexes pass before they are
 * compiled. Must never compile or run a regex, log, or read the clock.
 */
#ifndef TRIAGED_RULES_REGEX_H
#define TRIAGED_RULES_REGEX_H

#include <stddef.h>

/*
 * regcomp() nodes (about 100 bytes each) one regex may add by repeating: a
 * maximal file (2048 regexes) then compiles to no more than its 1 MiB of
 * plain text would, about 100 MB.
 */
#define RULES_REGEX_MAX_COST 500
#define RULES_REGEX_MAX_DEPTH 16 /* nested groups in one regex */
/*
 * regexec() time, which runs on the event loop: about 10 ns per byte of text
 * for a plain regex, plus about 14 ns per byte for every copy of a character
 * class that a counted repetition makes (".{0,100}" keeps up to 100 positions
 * alive at every byte: 5.7 ms on 4 KiB, 1.1 s for ".{0,400}" on 256 KiB).
 * RULES_REGEX_MAX_WIDTH bounds those copies in one regex; RULES_SCAN_BUDGET bounds
 * the sum of (1 + copies) over a file's regexes, so the worst accepted file
 * costs a bounded time per byte of the capped text: at 128, two regexes of 63
 * copies took 11 ms per ticket at the default 4 KiB cap on a loaded 2-core
 * machine (seven of 64, allowed at 512, took 50 ms; tests/bench/bench_rules.c).
 */
#define RULES_REGEX_MAX_WIDTH 64
#define RULES_SCAN_BUDGET 128

/*
 * Refuse, before regcomp() tries, the regexes glibc cannot compile in
 * bounded time and memory; returns NULL or why. regcomp() copies the operand
 * of every repetition ("x+" is "xx*", "x{2,5}" five copies of x), so stacked
 * or nested repetitions take exponential memory ("a" and 80 '+' asks for
 * 2^80 nodes); and repeating something that can match the empty string
 * ("(a*)*", "x**") takes exponential time next to an anchor ("\b" and 22
 * "(a*)*": 8 s). POSIX leaves the second undefined anyway. Two more
 * shapes cost time in regexec(), on every ticket: a back-reference ("\\1")
 * makes matching backtrack (over a minute on 256 KiB for "(.+)\\1\\1"), and
 * the copies of a character class made by a counted repetition (".{0,400}")
 * stay alive at every byte; *width gets those copies (RULES_REGEX_MAX_WIDTH bounds
 * them). This is an estimate for those shapes, not an ERE parser: syntax
 * errors are left to regcomp().
 */
const char *rules_regex_check(const char *re, size_t *width);

#endif
