/*
 * ticket_time: see ticket_time.h. Owns what a valid RFC 3339 date-time is
 * (created_at) and its conversions to the UTC text PostgreSQL takes. Pure
 * calendar arithmetic: must never read the clock, use the C library's time
 * zone functions, do I/O or log.
 */
#include "ticket_time.h"

#include <stdio.h>
#include <string.h>

/* Read exactly n ASCII digits; stops at the first non-digit, so never reads past a NUL. */
static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

struct rfc3339 {
	int y, mo, d, h, mi, sec, off; /* off in minutes east of UTC */
	const char *frac;	       /* digits after '.', NULL if none */
	size_t fraclen;
};

/*
 * date-time = full-date "T" full-time (RFC 3339 section 5.6; "T" and "Z" may be
 * lower case, a space is not accepted). The || chain reads left to right, so
 * each separator is read only after the digits before it were there.
 */
static int rfc3339_parse(const char *s, struct rfc3339 *r)
{
	int oh, om;
	const char *p;

	if (s == NULL)
		return 0;
	r->off = 0;
	r->frac = NULL;
	r->fraclen = 0;
	if (digits(s, 4, &r->y) < 0 || s[4] != '-' || digits(s + 5, 2, &r->mo) < 0 || s[7] != '-' ||
	    digits(s + 8, 2, &r->d) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &r->h) < 0 || s[13] != ':' || digits(s + 14, 2, &r->mi) < 0 ||
	    s[16] != ':' || digits(s + 17, 2, &r->sec) < 0)
		return 0;
	if (r->mo < 1 || r->mo > 12 || r->d < 1 || r->d > days_in_month(r->y, r->mo) || r->h > 23 ||
	    r->mi > 59 || r->sec > 60)
		return 0;
	p = s + 19;
	if (*p == '.') {
		const char *frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == frac)
			return 0;
		r->frac = frac;
		r->fraclen = (size_t)(p - frac);
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' || digits(p + 4, 2, &om) < 0 ||
		    oh > 23 || om > 59)
			return 0;
		r->off = (*p == '-' ? -1 : 1) * (oh * 60 + om);
		p += 6;
	} else {
		return 0;
	}
	if (*p != '\0')
		return 0;
	/* Section 5.7: a leap second is 23:59:60 UTC, whatever the local offset. */
	if (r->sec == 60 && ((r->h * 60 + r->mi - r->off) % 1440 + 1440) % 1440 != 23 * 60 + 59)
		return 0;
	return 1;
}

int rfc3339_valid(const char *s)
{
	struct rfc3339 r;
	return rfc3339_parse(s, &r);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int rfc3339_to_utc(const char *s, char out[static 32])
{
	struct rfc3339 r;
	int64_t mins, days, y;
	int m, d, mod;
	size_t fl;

	if (!rfc3339_parse(s, &r))
		return -1;
	/* The offset moves hours and minutes only: a leap second stays :60 (checked above). */
	mins = days_from_civil(r.y, r.mo, r.d) * 1440 + r.h * 60 + r.mi - r.off;
	days = mins >= 0 ? mins / 1440 : -((-mins + 1439) / 1440);
	mod = (int)(mins - days * 1440);
	civil_from_days(days, &y, &m, &d);
	if (y < 1 || y > 9999)
		return -2;
	fl = r.fraclen > 6 ? 6 : r.fraclen;
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d%s%.*sZ", (int)y, m, d, mod / 60, mod % 60,
		 r.sec, fl ? "." : "", (int)fl, fl ? r.frac : "");
	return 0;
}

int rfc3339_from_ms(int64_t ms, char out[static 32])
{
	int64_t secs, days, y;
	int m, d, sod;

	/* 0001-01-01 .. 9999-12-31 */
	if (ms < -62135596800000LL || ms > 253402300799999LL)
		return -1;
	secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = (int)(secs - days * 86400);
	civil_from_days(days, &y, &m, &d);
	{
		/* the values are in range (checked above), but gcc -O3 cannot prove it for
		 * out's 32 bytes (-Wformat-truncation): format into room enough, then copy */
		char tmp[128];
		int n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
				 sod / 3600, sod / 60 % 60, sod % 60, (int)(ms - secs * 1000));
		if (n < 0 || n >= 32)
			return -1;
		memcpy(out, tmp, (size_t)n + 1);
	}
	return 0;
}
