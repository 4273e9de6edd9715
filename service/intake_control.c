/*
 * intake_control: when the coordinator takes tickets from Kafka. Backpressure
 * holds intake at intake.max_in_flight and lets it go on below (a hold turned
 * pause resumes at low_water); outages (database, breaker, misconfigured
 * tier, budget) pause it. Also the coordinator's clock. Called by the
 * dispatch (pipeline.c) and the setup (pipeline_life.c), calls neither: the
 * way from a Kafka message to its commit goes one way. Must never step a job.
 */
#include "pipeline_int.h"

#include <sys/time.h>

#include "log.h"

double pipeline_now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

/* ---- intake control ---------------------------------------------------- */

void pipeline_update_pause(struct pipeline *pl)
{
	struct fq_load load;
	struct fq_limits lim;
	enum fq_intake d;
	if (pl->draining || pl->kin == NULL)
		return;
	/* Backpressure holds intake at max_in_flight and lets it go on below;
	 * once the hold has become a pause, intake resumes at low_water.
	 * Escalations are parked outside max_in_flight, in a queue with its own
	 * limit (issue #15.2, core/flagship_queue.h). */
	load = (struct fq_load){pl->st.in_flight, pl->st.flagship_parked, flagship_queue_len(&pl->fq),
				kin_hold_paused(pl->kin)};
	lim = (struct fq_limits){pl->cfg->max_in_flight, pl->cfg->low_water,
				 pl->cfg->flagship_max_queue};
	d = flagship_queue_intake(&load, &lim);
	if (d == FQ_INTAKE_HOLD || d == FQ_INTAKE_FULL)
		kin_hold(pl->kin, 1);
	else if (d == FQ_INTAKE_GO)
		kin_hold(pl->kin, 0);
	/* a state change of the daemon: logged once each way (three quarters for hysteresis) */
	if (d == FQ_INTAKE_FULL && !pl->fq_full) {
		pl->fq_full = 1;
		log_info("flagship queue full: intake holds", "queued=%zu max_queue=%lld",
			 load.queued, (long long)lim.max_queue);
	} else if (pl->fq_full &&
		   (int64_t)load.queued <= lim.max_queue - lim.max_queue / 4) {
		pl->fq_full = 0;
		log_info("flagship queue below three quarters", "queued=%zu max_queue=%lld",
			 load.queued, (long long)lim.max_queue);
	}
	/* the rest are outages: pause */
	if (pl->pause_flags && !kin_paused(pl->kin))
		kin_pause(pl->kin, (pl->pause_flags & PAUSE_DATABASE)	 ? "database"
				   : (pl->pause_flags & PAUSE_MISCONFIG) ? "misconfigured"
				   : (pl->pause_flags & PAUSE_BREAKER)	 ? "breaker"
				   : (pl->pause_flags & PAUSE_BUDGET)	 ? "budget"
									 : "backpressure");
	else if (!pl->pause_flags && kin_paused(pl->kin))
		kin_resume(pl->kin);
}

void pipeline_set_pause(struct pipeline *pl, int flag, int on)
{
	if (on)
		pl->pause_flags |= flag;
	else
		pl->pause_flags &= ~flag;
	pipeline_update_pause(pl);
}

