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

/* A reasoning model name (gpt-5*, o1, o3, o4 and their -variants). */
bool fm_reasoning_model(const char *m);
/* --rpm / --tpm: true (and *out, a 429 body) when the request (counted as tokens) is over
 * this minute's limits. */
bool fm_rpm_take(struct fm_server *srv, struct evhttp_request *req, long tokens, struct evbuffer **out);
/* The completion a request asks for (max_completion_tokens, else max_tokens), 0 if none. */
long fm_asked_completion(struct json_object *root);
/* 0 when the request's path (and Azure's api-version) is one the dialect serves; else 404, *out. */
int fm_strict_path(struct fm_server *srv, struct evhttp_request *req, struct evbuffer **out);
/* 0 when the request is one the dialect's servers take; else the status, with *out the error body. */
int fm_strict_check(struct fm_server *srv, struct json_object *root, const char *model, struct evbuffer **out);

#endif
