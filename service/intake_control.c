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

double pipeline_now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

/* ---- intake control ---------------------------------------------------- */

void pipeline_update_pause(struct pipeline *pl)
{
	if (pl->draining || pl->kin == NULL)
		return;
	/* Backpressure holds intake at max_in_flight and lets it go on below;
	 * once the hold has become a pause, intake resumes at low_water. */
	if (pl->st.in_flight >= (uint64_t)pl->cfg->max_in_flight)
		kin_hold(pl->kin, 1);
	else if (!kin_hold_paused(pl->kin) || pl->st.in_flight <= (uint64_t)pl->cfg->low_water)
		kin_hold(pl->kin, 0);
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

