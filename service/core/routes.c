/*
 * routes: see routes.h. The table is the whole map of the admin port.
 */
#include "routes.h"

#include <string.h>
#include <strings.h>

#include "xmem.h"

static const struct route {
	const char *path;
	int auth;
	enum route_id id;
} routes[] = {
    {"/healthz", 0, ROUTE_HEALTHZ},
    {"/readyz", 0, ROUTE_READYZ},
    {"/metrics", 1, ROUTE_METRICS},
    {"/dashboard", 1, ROUTE_DASHBOARD},
    {"/dashboard/data.json", 1, ROUTE_DASH_DATA},
    {"/dashboard/dashboard.js", 0, ROUTE_DASH_ASSET},
    {"/dashboard/dashboard.css", 0, ROUTE_DASH_ASSET},
};

int routes_token_eq(const char *given, const char *want)
{
	size_t n = strlen(given), m = strlen(want);
	volatile unsigned char d = (unsigned char)(n != m);
	for (size_t i = 0; i < m; i++)
		d |=
		    (unsigned char)((unsigned char)want[i] ^ (unsigned char)(i < n ? given[i] : 0));
	return d == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The query's token= parameter, percent- and plus-decoded, into out; 0 found. */
static int query_token(const char *q, char *out, size_t outlen)
{
	while (q && *q) {
		const char *end = strchr(q, '&');
		size_t len = end ? (size_t)(end - q) : strlen(q);
		if (len >= 6 && strncmp(q, "token=", 6) == 0) {
			size_t o = 0;
			for (size_t i = 6; i < len; i++) {
				char c = q[i];
				if (c == '+')
					c = ' ';
				else if (c == '%' && i + 2 < len && hexval(q[i + 1]) >= 0 &&
					 hexval(q[i + 2]) >= 0) {
					c = (char)(hexval(q[i + 1]) * 16 + hexval(q[i + 2]));
					i += 2;
				}
				if (o + 1 >= outlen || c == '\0')
					return -1;
				out[o++] = c;
			}
			out[o] = '\0';
			return 0;
		}
		q = end ? end + 1 : NULL;
	}
	return -1;
}

static int authorized(const char *authz, const char *query, const char *token)
{
	char t[512];
	if (authz && strncasecmp(authz, "Bearer", 6) == 0 && (authz[6] == ' ' || authz[6] == '\t')) {
		const char *a = authz + 6;
		while (*a == ' ' || *a == '\t')
			a++;
		if (routes_token_eq(a, token))
			return 1;
	}
	return query_token(query, t, sizeof(t)) == 0 && routes_token_eq(t, token);
}

struct route_decision routes_decide(const char *path, int is_read, const char *authz,
				    const char *query, const char *token)
{
	struct route_decision d = {404, ROUTE_NONE, NULL};
	const struct route *r = NULL;

	for (size_t i = 0; path && i < ARRAY_SIZE(routes); i++)
		if (strcmp(routes[i].path, path) == 0)
			r = &routes[i];
	if (r == NULL)
		return d;
	d.route = r->id;
	if (r->id == ROUTE_DASH_ASSET)
		d.asset = r->path + strlen("/dashboard/");
	if (!is_read) {
		d.status = 405;
		return d;
	}
	if (r->auth && token && *token && !authorized(authz, query, token)) {
		d.status = 401;
		return d;
	}
	d.status = 0;
	return d;
}
