/*
 * offload: see offload.h. Owns the worker threads, the queue to them, the
 * queue back, and the pipe that wakes the loop when the queue back stops
 * being empty. Never looks inside an item and never logs.
 */
#include "offload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clocale.h"
#include "loopslice.h"
#include "xmem.h"

/* A busy lock is tried again this much later (microseconds). */
#define OFFLOAD_RETRY_US 500

struct fifo {
	struct offload_item *head, *tail;
};

/* A batch of discards (offload_discard); allocated by the loop, reused, freed at offload_free. */
struct discard {
	struct discard *next;
	int n;
	struct {
		offload_free_fn *fn;
		void *p;
	} e[OFFLOAD_DISCARD_BATCH];
};

struct offload {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* todo has items, or stop */
	struct fifo todo;  /* submitted, for the workers */
	struct fifo done;  /* finished, for the loop */
	int stop;
	int woken; /* a byte is in the pipe and the loop has not read it */
	int threads;
	pthread_t tid[OFFLOAD_MAX_THREADS];
	int pipefd[2];
	struct event *ev_wake, *ev_next; /* the pipe; the next slice, or a retry of the lock */
	struct fifo ready;		 /* taken from done, being handed to done() (loop only) */
	struct fifo outq;		 /* submitted, not yet handed to the workers (loop only) */
	size_t pending;			 /* submitted, not yet handed (loop only) */
	int64_t slice_us;
	struct event_base *base;
	offload_fn *work, *done_fn;
	void *arg;
	/* discards: full batches for the workers and emptied ones back (under mu);
	 * the batch being filled, full ones not yet handed, empty ones (loop only) */
	struct discard *dtodo, *dempty;
	struct discard *dcur, *dout, *dspare;
	unsigned long long dfreed; /* atomic: read by the loop without the lock */
};

static void fifo_push(struct fifo *f, struct offload_item *it)
{
	it->next = NULL;
	if (f->tail)
		f->tail->next = it;
	else
		f->head = it;
	f->tail = it;
}

static struct offload_item *fifo_pop(struct fifo *f)
{
	struct offload_item *it = f->head;
	if (it) {
		f->head = it->next;
		if (f->head == NULL)
			f->tail = NULL;
		it->next = NULL;
	}
	return it;
}

/* Append all of src to dst; src becomes empty. */
static void fifo_splice(struct fifo *dst, struct fifo *src)
{
	if (src->head == NULL)
		return;
	if (dst->tail)
		dst->tail->next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	src->head = src->tail = NULL;
}

static void discard_run(struct discard *d)
{
	for (int i = 0; i < d->n; i++)
		d->e[i].fn(d->e[i].p);
}

/* Move every batch of list *src onto *dst; *src becomes empty. */
static void discard_splice(struct discard **dst, struct discard **src)
{
	while (*src) {
		struct discard *d = *src;
		*src = d->next;
		d->next = *dst;
		*dst = d;
	}
}

static void *worker(void *arg)
{
	struct offload *o = arg;
	struct sched_param sp = {0};
	int nice_now;

	/*
	 * The loop thread must win a core over the workers: it answers timers
	 * and sockets, they only chew text. Measured on 2 cores with the
	 * database beside them, the loop's waits for a core (not its own work)
	 * were the lag left once preparing moved here. So the workers run as
	 * SCHED_BATCH (no wake-up preemption) and OFFLOAD_NICE steps nicer
	 * than the thread that started them (Linux: nice is per thread).
	 * Lowering one's own priority needs no privilege; if refused, run as is.
	 */
	(void)clocale_thread(); /* json-c's parser without glibc's locale lock */
	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	errno = 0;
	nice_now = getpriority(PRIO_PROCESS, 0);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, 0, nice_now + OFFLOAD_NICE);
	pthread_mutex_lock(&o->mu);
	for (;;) {
		struct offload_item *it;
		int wake;

		while (!o->stop && o->todo.head == NULL && o->dtodo == NULL)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->stop)
			break;
		if (o->dtodo != NULL) {
			/* frees first: quick, and they give memory back */
			struct discard *d = o->dtodo;
			o->dtodo = d->next;
			pthread_mutex_unlock(&o->mu);
			discard_run(d);
			__atomic_fetch_add(&o->dfreed, (unsigned long long)d->n, __ATOMIC_RELAXED);
			pthread_mutex_lock(&o->mu);
			d->next = o->dempty;
			o->dempty = d;
			continue;
		}
		it = fifo_pop(&o->todo);
		pthread_mutex_unlock(&o->mu);
		o->work(it, o->arg);
		pthread_mutex_lock(&o->mu);
		fifo_push(&o->done, it);
		wake = !o->woken;
		o->woken = 1;
		if (wake) {
			/* one byte per wake-up (the pipe never fills), written
			 * without the lock: the loop must not wait on a worker
			 * the scheduler has put aside (a nicer thread, above) */
			ssize_t n;
			pthread_mutex_unlock(&o->mu);
			do
				n = write(o->pipefd[1], "x", 1);
			while (n < 0 && errno == EINTR);
			pthread_mutex_lock(&o->mu);
		}
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

/*
 * The loop never blocks on the lock: a worker holds it for a few pointer
 * moves, but one the scheduler put aside while holding it (the workers run
 * nicer than the loop) would stall the loop for its time slice, up to 35 ms
 * measured. So the loop only tries it; when it is busy, submissions wait in
 * the loop's own queue and everything is tried again in OFFLOAD_RETRY_US:
 * not in the next pass, which would spin the loop for as long as the
 * holder waits for a core.
 */
static void exchange(struct offload *o)
{
	if (pthread_mutex_trylock(&o->mu) != 0) {
		static const struct timeval retry = {0, OFFLOAD_RETRY_US};
		if (!evtimer_pending(o->ev_next, NULL))
			evtimer_add(o->ev_next, &retry);
		return;
	}
	if (o->outq.head != NULL || o->dout != NULL) {
		fifo_splice(&o->todo, &o->outq);
		discard_splice(&o->dtodo, &o->dout);
		pthread_cond_broadcast(&o->cv);
	}
	discard_splice(&o->dspare, &o->dempty);
	o->woken = 0;
	fifo_splice(&o->ready, &o->done);
	pthread_mutex_unlock(&o->mu);
}

/* Hand finished items to done() until this pass has run for its slice (loopslice.h). */
static void hand_out(struct offload *o)
{
	struct offload_item *it;

	while ((it = fifo_pop(&o->ready)) != NULL) {
		o->pending--;
		o->done_fn(it, o->arg);
		if (o->ready.head != NULL && loopslice_spent(o->base, o->slice_us)) {
			loopslice_next_pass(o->ev_next);
			return;
		}
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct offload *o = arg;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	exchange(o);
	hand_out(o);
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
	struct offload *o = arg;
	(void)fd;
	(void)what;
	exchange(o);
	hand_out(o);
}

struct offload *offload_new(struct event_base *base, int threads, int slice_ms, offload_fn *work,
			    offload_fn *done, void *arg, char *err, size_t errlen)
{
	struct offload *o;
	int rc;

	if (threads < 1 || threads > OFFLOAD_MAX_THREADS) {
		snprintf(err, errlen, "offload: %d threads (1..%d)", threads, OFFLOAD_MAX_THREADS);
		return NULL;
	}
	o = xcalloc(1, sizeof(*o));
	o->work = work;
	o->done_fn = done;
	o->arg = arg;
	o->slice_us = (int64_t)slice_ms * 1000;
	o->base = base;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	if (pipe2(o->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "offload: pipe: %s", strerror(errno));
		o->pipefd[0] = o->pipefd[1] = -1;
		goto fail;
	}
	o->ev_wake = event_new(base, o->pipefd[0], EV_READ | EV_PERSIST, on_wake, o);
	o->ev_next = evtimer_new(base, on_next, o);
	if (o->ev_wake == NULL || o->ev_next == NULL || event_add(o->ev_wake, NULL) < 0) {
		snprintf(err, errlen, "offload: cannot add the wake-up event");
		goto fail;
	}
	for (; o->threads < threads; o->threads++) {
		rc = pthread_create(&o->tid[o->threads], NULL, worker, o);
		if (rc != 0) {
			snprintf(err, errlen, "offload: pthread_create: %s", strerror(rc));
			goto fail;
		}
	}
	return o;
fail:
	offload_free(o, NULL);
	return NULL;
}

void offload_submit(struct offload *o, struct offload_item *it)
{
	o->pending++;
	fifo_push(&o->outq, it);
	/* the handover at once if the lock is free, else next pass (exchange()) */
	exchange(o);
}

void offload_discard(struct offload *o, offload_free_fn *fn, void *p)
{
	struct discard *d;
	if (p == NULL)
		return;
	if (o == NULL) {
		fn(p);
		return;
	}
	d = o->dcur;
	if (d == NULL) {
		d = o->dspare;
		if (d != NULL)
			o->dspare = d->next;
		else
			d = xcalloc(1, sizeof(*d));
		d->n = 0;
		o->dcur = d;
	}
	d->e[d->n].fn = fn;
	d->e[d->n].p = p;
	if (++d->n == OFFLOAD_DISCARD_BATCH)
		offload_discard_flush(o);
}

/* The batch being filled joins those waiting for the handover (loop only). */
static void discard_close(struct offload *o)
{
	o->dcur->next = o->dout;
	o->dout = o->dcur;
	o->dcur = NULL;
}

void offload_discard_flush(struct offload *o)
{
	if (o == NULL || o->dcur == NULL || o->dcur->n == 0)
		return;
	discard_close(o);
	exchange(o);
}

unsigned long long offload_discarded(const struct offload *o)
{
	return o ? __atomic_load_n(&o->dfreed, __ATOMIC_RELAXED) : 0;
}

size_t offload_pending(const struct offload *o)
{
	return o ? o->pending : 0;
}

void offload_free(struct offload *o, offload_fn *drop)
{
	struct offload_item *it;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	o->stop = 1;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	for (int i = 0; i < o->threads; i++)
		pthread_join(o->tid[i], NULL);
	/* what was handed back, then what never left: the order they came in */
	fifo_splice(&o->ready, &o->done);
	fifo_splice(&o->ready, &o->todo);
	fifo_splice(&o->ready, &o->outq);
	while ((it = fifo_pop(&o->ready)) != NULL)
		if (drop)
			drop(it, o->arg);
	/* discards not yet run are run here; then the batches go */
	if (o->dcur)
		discard_close(o);
	discard_splice(&o->dtodo, &o->dout);
	discard_splice(&o->dspare, &o->dempty);
	while (o->dtodo) {
		struct discard *d = o->dtodo;
		o->dtodo = d->next;
		__atomic_fetch_add(&o->dfreed, (unsigned long long)d->n, __ATOMIC_RELAXED);
		discard_run(d);
		free(d);
	}
	while (o->dspare) {
		struct discard *d = o->dspare;
		o->dspare = d->next;
		free(d);
	}
	if (o->ev_wake)
		event_free(o->ev_wake);
	if (o->ev_next)
		event_free(o->ev_next);
	if (o->pipefd[0] >= 0)
		close(o->pipefd[0]);
	if (o->pipefd[1] >= 0)
		close(o->pipefd[1]);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	free(o);
}
