/*
 * evalreport: the model-mix lab's self-contained HTML report (issue #13), pure.
 *
 * Owns: turning computed evalstats results into one HTML page with an inline
 * SVG cost-against-accuracy curve, the category confusion matrix and the
 * accuracy per category. No external asset, no script.
 *
 * Must never: compute statistics (evalstats does), read files or the clock.
 */
#ifndef TRIAGED_EVALREPORT_H
#define TRIAGED_EVALREPORT_H

#include <stddef.h>

#include "buf.h"
#include "evalstats.h"

/*
 * Append the report to out. confusion is evalstats_confusion()'s matrix
 * (ncat * (ncat + 1)) of the configuration shown; names has ncat entries;
 * title is escaped. h (may be NULL) adds the held-out check: the figures
 * fitted on one part, scored on the held-out part. Returns 0, or -1 when
 * out's cap is reached.
 */
int evalreport_html(const struct evalstats_calibration *c, const struct evalstats_holdout *h,
		    const unsigned *confusion, const char *const *names, size_t ncat, const char *title,
		    struct buf *out) __attribute__((warn_unused_result));

#endif
