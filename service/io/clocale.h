/*
 * clocale: give the calling thread glibc's static C locale object (#16).
 *
 * json-c 0.16 switches the thread to a "C" LC_NUMERIC locale around every
 * json_tokener_parse_ex: duplocale(uselocale(0)), newlocale(...), and back.
 * With the thread on the process's global locale (the default, even when it
 * is "C"), duplocale and newlocale take glibc's global locale lock for
 * writing, on every parse, in every thread: the loop parsing answers and
 * rows waits on the worker parsing tickets, and the other way round. On the
 * static C object both return at once without the lock (glibc's fast path
 * for newlocale(LC_ALL_MASK, "C", 0)). The C locale was already the
 * process's (triaged never calls setlocale), so nothing else changes.
 * tests/bench/bench_json_locale.c measures it.
 */
#ifndef TRIAGED_CLOCALE_H
#define TRIAGED_CLOCALE_H

/* Switch this thread; 0, or -1 if the C locale object cannot be had (then nothing changed). */
int clocale_thread(void);

#endif
