/*
 * shadow_pick: see shadow_pick.h.
 */
#include "shadow_pick.h"

uint64_t shadow_hash(const char *source, const char *ticket_id)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)source; p && *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)ticket_id; p && *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

int shadow_pick(const char *source, const char *ticket_id, double fraction)
{
	uint64_t cut;
	if (!(fraction > 0))
		return 0;
	if (fraction >= 1)
		return 1;
	cut = (uint64_t)(fraction * 10000.0 + 0.5);
	return shadow_hash(source, ticket_id) % 10000 < cut;
}
