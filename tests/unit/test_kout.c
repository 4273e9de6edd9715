/*
 * Unit tests for the producer (io/kafka_out.c) against librdkafka's own mock
 * broker (test.mock.num.brokers: no broker process, no network).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config.h"
#include "kafka_out.h"

static int delivered;

static void on_delivered(void *arg)
{
	(void)arg;
	delivered++;
}

/* A producer on librdkafka's mock broker in the producer itself (it sets
 * bootstrap.servers); extra: more [kafka] lines. */
static struct kout *kout_on_mock(struct event_base *base, struct config *c, const char *extra)
{
	char text[256], err[256];
	struct kout *o;
	snprintf(text, sizeof(text), "[kafka]\ntest.mock.num.brokers = 1\n%s", extra);
	config_init(c);
	ck_assert_int_eq(config_load_text(c, text, "t", NULL, err, sizeof(err)), 0);
	o = kout_new(base, c, err, sizeof(err));
	ck_assert_msg(o != NULL, "kout_new: %s", err);
	return o;
}

/* Run the loop in 100 ms steps until `want` messages were delivered, at most steps times. */
static void run_until_delivered(struct event_base *base, int want, int steps)
{
	struct timeval step = {0, 100 * 1000};
	for (int i = 0; i < steps && delivered < want; i++) {
		event_base_loopexit(base, &step);
		event_base_dispatch(base);
	}
}

/*
 * A dead letter just over the producer's message.max.bytes (librdkafka's 1,000,000;
 * a broker takes 1,048,588 by default, so such a message can be on the intake
 * topic): before, it was refused and retried once a second for good, and its
 * job, and every later offset of its partition, never finished (found by a
 * review). It is now sent cut to fit, and delivered.
 */
START_TEST(test_too_large_is_cut_and_delivered)
{
	struct event_base *base = event_base_new();
	struct config c;
	/* a dead letter names its source; the whole message stays there */
	struct kout_header h[2] = {{"triaged.error.code", "too_large"},
				   {"triaged.original.offset", "7"}};
	struct kout *o;
	char *p;
	size_t len = 1010000;

	o = kout_on_mock(base, &c, "");
	p = malloc(len);
	memset(p, 'x', len);
	kout_produce(o, "tickets.dlq", "k", 1, p, len, h, 2, on_delivered, NULL);
	run_until_delivered(base, 1, 100);
	ck_assert_int_eq(delivered, 1);
	ck_assert_uint_eq(kout_cut(o), 1);
	ck_assert_uint_eq(kout_retries(o), 0);
	ck_assert_uint_eq(kout_pending(o), 0);
	/* a message that fits is sent whole */
	kout_produce(o, "tickets.dlq", "k", 1, "small", 5, h, 2, on_delivered, NULL);
	run_until_delivered(base, 2, 100);
	ck_assert_int_eq(delivered, 2);
	ck_assert_uint_eq(kout_cut(o), 1);
	/* anything but a dead letter (an event) is never cut: half of it would be broken JSON,
	 * and no source keeps it whole; it waits for a retry, and is freed at close */
	kout_produce(o, "tickets.triaged", "k", 1, p, len, NULL, 0, on_delivered, NULL);
	run_until_delivered(base, 3, 15); /* 1.5 s: it is not delivered */
	ck_assert_int_eq(delivered, 2);
	ck_assert_uint_eq(kout_cut(o), 1);
	ck_assert_uint_ge(kout_retries(o), 1);
	{
		/* and it says so: /readyz and /metrics name it */
		char cause[224] = "";
		double age = 0;
		size_t failing = 0;
		kout_health_add(o, &failing, &age, cause, sizeof(cause));
		ck_assert_uint_eq(failing, 1);
		ck_assert_msg(strncmp(cause, "tickets.triaged: MSG_SIZE_TOO_LARGE for ", 40) == 0,
			      "%s", cause);
		ck_assert(age >= 0.5 && age < 30);
	}
	free(p); /* kout_produce copies */
	kout_free(o, 5000);
	config_cleanup(&c);
	event_base_free(base);
}
END_TEST

/*
 * A fatal error (the idempotent producer's sequence broken, or fenced): every
 * later produce fails with _FATAL. Before, each message was retried once a
 * second for good, its job and its partition's offsets held (found by a
 * review). The producer is made again and the message delivered on it.
 */
START_TEST(test_fatal_error_remakes_producer)
{
	struct event_base *base = event_base_new();
	struct config c;
	struct kout *o;

	delivered = 0;
	o = kout_on_mock(base, &c, "");
	kout_produce(o, "tickets.triaged", "k", 1, "{\"a\":1}", 7, NULL, 0, on_delivered, NULL);
	run_until_delivered(base, 1, 100);
	ck_assert_int_eq(delivered, 1);
	/* librdkafka's own test hook: the handle is fatally failed from now on */
	ck_assert_int_eq(rd_kafka_test_fatal_error(kout_handle(o), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
						   "test"),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	kout_produce(o, "tickets.triaged", "k", 1, "{\"a\":2}", 7, NULL, 0, on_delivered, NULL);
	kout_produce(o, "tickets.dlq", "k", 1, "x", 1, NULL, 0, on_delivered, NULL);
	run_until_delivered(base, 3, 100);
	ck_assert_int_eq(delivered, 3);
	ck_assert_uint_eq(kout_remade(o), 1);
	ck_assert_uint_eq(kout_pending(o), 0);
	kout_free(o, 5000);
	config_cleanup(&c);
	event_base_free(base);
}
END_TEST

/*
 * The same with the message still held by the handle when the error comes (a
 * long linger): it comes back from the dropped handle (its report, or the
 * list of what the handle held) and is delivered by the new one.
 */
START_TEST(test_fatal_error_with_message_held)
{
	struct event_base *base = event_base_new();
	struct config c;
	struct kout *o;

	delivered = 0;
	o = kout_on_mock(base, &c, "linger.ms = 1500\n");
	kout_produce(o, "tickets.triaged", "k", 1, "{\"a\":1}", 7, NULL, 0, on_delivered, NULL);
	ck_assert_int_eq(rd_kafka_test_fatal_error(kout_handle(o),
						   RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test"),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	run_until_delivered(base, 1, 150);
	ck_assert_int_eq(delivered, 1);
	ck_assert_uint_eq(kout_remade(o), 1);
	ck_assert_uint_eq(kout_pending(o), 0);
	kout_free(o, 5000);
	config_cleanup(&c);
	event_base_free(base);
}
END_TEST

/*
 * A topic the broker refuses (an ACL missing on the events topic: a first
 * deploy's classic). The message is retried until it is delivered, as before;
 * now the producer says what fails and for how long (kout_health_add:
 * /readyz's events_flowing, /metrics' produce_failing), and stops saying it
 * once the message is delivered. Before, only a log line a second told.
 */
START_TEST(test_refused_topic_is_named)
{
	struct event_base *base = event_base_new();
	struct config c;
	struct kout *o;
	rd_kafka_mock_cluster_t *mc;
	char cause[224] = "";
	double age = 0;
	size_t failing = 0;

	delivered = 0;
	o = kout_on_mock(base, &c, "");
	mc = rd_kafka_handle_mock_cluster(kout_handle(o));
	ck_assert_ptr_nonnull(mc);
	kout_health_add(o, &failing, &age, cause, sizeof(cause));
	ck_assert_uint_eq(failing, 0);
	ck_assert_str_eq(cause, "");
	ck_assert(age == 0);
	/* the next five produce requests are refused */
	rd_kafka_mock_push_request_errors(
	    mc, 0 /* ApiKey Produce */, 5, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
	    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
	    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	kout_produce(o, "tickets.triaged", "k", 1, "{\"a\":1}", 7, NULL, 0, on_delivered, NULL);
	run_until_delivered(base, 1, 15);
	ck_assert_int_eq(delivered, 0);
	kout_health_add(o, &failing, &age, cause, sizeof(cause));
	ck_assert_uint_eq(failing, 1);
	ck_assert_msg(strstr(cause, "tickets.triaged: TOPIC_AUTHORIZATION_FAILED for ") == cause, "%s",
		      cause);
	ck_assert(age >= 1.0);
	/* the refusals end: delivered, nothing failing or waiting any more */
	run_until_delivered(base, 1, 100);
	ck_assert_int_eq(delivered, 1);
	failing = 0;
	age = 0;
	cause[0] = '\0';
	kout_health_add(o, &failing, &age, cause, sizeof(cause));
	ck_assert_uint_eq(failing, 0);
	ck_assert(age == 0);
	ck_assert_str_eq(cause, "");
	kout_free(o, 5000);
	config_cleanup(&c);
	event_base_free(base);
}
END_TEST

/*
 * A broker gone: librdkafka takes the message and says nothing until
 * message.timeout.ms (300 s by default). The age of the oldest message not
 * acknowledged says it at once: "not acknowledged for N s".
 */
START_TEST(test_broker_gone_is_named)
{
	struct event_base *base = event_base_new();
	struct config c;
	struct kout *o;
	rd_kafka_mock_cluster_t *mc;
	char cause[224] = "";
	double age = 0;
	size_t failing = 0;

	delivered = 0;
	o = kout_on_mock(base, &c, "");
	mc = rd_kafka_handle_mock_cluster(kout_handle(o));
	/* delivered once, so the topic's metadata is known */
	kout_produce(o, "tickets.triaged", "k", 1, "{\"a\":1}", 7, NULL, 0, on_delivered, NULL);
	run_until_delivered(base, 1, 100);
	ck_assert_int_eq(delivered, 1);
	ck_assert_int_eq(rd_kafka_mock_broker_set_down(mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	kout_produce(o, "tickets.triaged", "k", 1, "{\"a\":2}", 7, NULL, 0, on_delivered, NULL);
	run_until_delivered(base, 2, 15);
	ck_assert_int_eq(delivered, 1);
	kout_health_add(o, &failing, &age, cause, sizeof(cause));
	ck_assert_uint_eq(failing, 0); /* no error came back */
	ck_assert(age >= 1.0);
	ck_assert_msg(strstr(cause, "tickets.triaged: not acknowledged for ") == cause, "%s", cause);
	ck_assert_int_eq(rd_kafka_mock_broker_set_up(mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	run_until_delivered(base, 2, 150);
	ck_assert_int_eq(delivered, 2);
	kout_free(o, 5000);
	config_cleanup(&c);
	event_base_free(base);
}
END_TEST

/*
 * The final flush (kout_quiesce, at the end of a shutdown): a message waiting for
 * its retry, and one produced after, are dropped without their callback (never
 * sent: their jobs are redelivered); a message already in a request to the broker
 * is still served, and its acknowledgement still calls back on the loop.
 */
START_TEST(test_quiesce_serves_what_was_sent)
{
	struct event_base *base = event_base_new();
	struct config c;
	struct kout *o;
	rd_kafka_mock_cluster_t *mc;
	char *big;

	delivered = 0;
	o = kout_on_mock(base, &c, "");
	mc = rd_kafka_handle_mock_cluster(kout_handle(o));
	kout_produce(o, "tickets.dlq", "k", 1, "warm", 4, NULL, 0, on_delivered, NULL);
	run_until_delivered(base, 1, 100);
	ck_assert_int_eq(delivered, 1);
	/* B: too large for the producer (an event is not cut), waiting for its retry */
	big = calloc(1, 1010000);
	kout_produce(o, "tickets.triaged", "k", 1, big, 1010000, NULL, 0, on_delivered, NULL);
	free(big);
	ck_assert_uint_eq(kout_retries(o), 1);
	ck_assert_uint_eq(kout_in_flight(o), 0);
	/* A: sent, its answer 1.5 s away */
	ck_assert_int_eq(rd_kafka_mock_broker_set_rtt(mc, 1, 1500), RD_KAFKA_RESP_ERR_NO_ERROR);
	kout_produce(o, "tickets.dlq", "k", 1, "A", 1, NULL, 0, on_delivered, NULL);
	run_until_delivered(base, 2, 3);
	ck_assert_int_eq(delivered, 1);
	ck_assert_uint_eq(kout_in_flight(o), 1);
	ck_assert_uint_eq(kout_pending(o), 2);
	kout_quiesce(o);
	ck_assert_uint_eq(kout_unsent(o), 1); /* B */
	ck_assert_uint_eq(kout_in_flight(o), 1);
	/* C: after the quiesce, never sent */
	kout_produce(o, "tickets.dlq", "k", 1, "C", 1, NULL, 0, on_delivered, NULL);
	ck_assert_uint_eq(kout_unsent(o), 2);
	ck_assert_uint_eq(kout_pending(o), 1);
	run_until_delivered(base, 2, 40);
	ck_assert_int_eq(delivered, 2); /* A */
	ck_assert_uint_eq(kout_in_flight(o), 0);
	ck_assert_uint_eq(kout_pending(o), 0);
	run_until_delivered(base, 3, 15); /* B's retry time passes: it is not sent */
	ck_assert_int_eq(delivered, 2);
	ck_assert_uint_eq(kout_retries(o), 1);
	kout_free(o, 5000);
	config_cleanup(&c);
	event_base_free(base);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kout");
	TCase *tc = tcase_create("producer");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_too_large_is_cut_and_delivered);
	tcase_add_test(tc, test_fatal_error_remakes_producer);
	tcase_add_test(tc, test_fatal_error_with_message_held);
	tcase_add_test(tc, test_refused_topic_is_named);
	tcase_add_test(tc, test_broker_gone_is_named);
	tcase_add_test(tc, test_quiesce_serves_what_was_sent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
