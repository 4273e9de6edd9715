/*
 * config_mask: what config_dump must never print. Masks the password of a
 * libpq conninfo (key=value or URI form, nested dbname= included) and of a URL,
 * and knows which librdkafka keys hold secrets. Pure: no I/O.
 */
#ifndef TRIAGED_CONFIG_MASK_H
#define TRIAGED_CONFIG_MASK_H

#include <stddef.h>

/* Returns a new string (caller frees): conninfo with any password shown as ***. */
char *config_mask_conninfo(const char *conninfo);
/* Returns a new string (caller frees): the URL s, whose scheme is skip bytes long,
 * with a password in its user-info or query shown as ***. */
char *config_mask_uri(const char *s, size_t skip);
/* 1 if the librdkafka key holds a secret (sasl.password, ssl.key.password, ...). */
int config_kafka_key_is_secret(const char *k);

#endif
