/* clocale: see clocale.h. */
#include "clocale.h"

#include <locale.h>

int clocale_thread(void)
{
	/* glibc returns its static C object here: nothing to free, ever */
	locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (c == (locale_t)0)
		return -1;
	uselocale(c);
	return 0;
}
