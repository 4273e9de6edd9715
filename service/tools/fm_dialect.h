/*
 * fm_dialect: the per-dialect strict modes (what a provider refuses:
 * reasoning models' parameters, effort values, JSON schema shapes) and the
 * requests-per-minute limit. Must never answer a request itself: it hands
 * back the error body for the handler to send.
 */
#ifndef TRIAGED_FM_DIALECT_H
#define TRIAGED_FM_DIALECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <json-c/json.h>

#include "fm_server.h"

bool fm_reasoning_model(const char *m);
bool fm_rpm_take(struct fm_server *srv, struct evhttp_request *req, struct evbuffer **out);
int fm_strict_check(struct fm_server *srv, struct json_object *root, const char *model, struct evbuffer **out);

#endif
