/*
 * routes: the admin server's route table and its authentication, pure.
 * Given a path, a method and the credentials a request carries, decide the
 * handler or the refusal (404, 405, 401). The token is compared in constant
 * time. No I/O: the server (io/http.c) extracts the fields and acts.
 */
#ifndef TRIAGED_ROUTES_H
#define TRIAGED_ROUTES_H

#include <stddef.h>

enum route_id {
	ROUTE_NONE,
	ROUTE_HEALTHZ,
	ROUTE_READYZ,
	ROUTE_METRICS,
	ROUTE_DASHBOARD,    /* the page */
	ROUTE_DASH_ASSET,   /* a static file of the page (script, style): no data, no token */
	ROUTE_DASH_DATA,    /* data.json */
};

struct route_decision {
	int status;	    /* 0: serve with route; else 401, 404 or 405 */
	enum route_id route;
	const char *asset;  /* ROUTE_DASH_ASSET: the file name under /dashboard/ */
};

/*
 * Decide for one request. is_read: GET or HEAD. authz: the Authorization
 * header or NULL; query: the raw query string or NULL (a "token=" parameter,
 * percent-decoded, is accepted too). token: NULL or "" means no
 * authentication.
 */
struct route_decision routes_decide(const char *path, int is_read, const char *authz,
				    const char *query, const char *token);

/* Constant time in the content of want. */
int routes_token_eq(const char *given, const char *want);

#endif
