/*
 * db_kinds: what each kind of item runs, one prepared statement per kind
 * (named as the kind), the kinds whose items are binary rows, and the kinds'
 * names for logs and metrics.
 */
#include "db.h"

static const char *const kind_name[DB__KINDS] = {"call",     "store", "reserve", "deadletter",
						 "feedback", "claim", "shadow",  "renew"};
static const char *const kind_sql[DB__KINDS] = {
	/* typed rows in the binary format (migration 061): no JSON to parse */
	/* triaged_call_in2: the calls with the provider's request id (migration 066) */
	"SELECT idx, call_id, cost_usd FROM triaged_record_calls_rows2($1::triaged_call_in2[])",
	("SELECT idx, result_id, inserted, triaged_at, cost_usd, event "
	 "FROM triaged_store_rows($1::triaged_store_in[])"),
	("SELECT idx, granted, budget_id, amount_usd, reservation_id, verdict "
	 "FROM triaged_reserve($1::jsonb)"),
	"SELECT idx, inserted FROM triaged_record_dead_letters($1::jsonb)",
	/* the helpdesk's feedback (issue #12, io/feedback.c) */
	"SELECT idx, outcome, ticket_pk FROM triaged_feedback($1::jsonb)",
	("SELECT idx, ticket_pk, revision, state, calls, event "
	 "FROM triaged_claim_rows($1::triaged_claim_in[])"),
	"SELECT idx, inserted FROM triaged_record_shadow($1::jsonb)",
	"SELECT idx, renewed, lost_today FROM triaged_renew_reservations($1::jsonb)",
};

/* The composite type of a kind's rows when they are binary (db_submit_bin), else NULL. */
static const char *const kind_rowtype[DB__KINDS] = {[DB_CALL] = "triaged_call_in2",
						    [DB_STORE] = "triaged_store_in",
						    [DB_CLAIM] = "triaged_claim_in"};

const char *db_kind_rowtype(enum db_kind k)
{
	return (unsigned)k < DB__KINDS ? kind_rowtype[k] : NULL;
}

const char *db_kind_name(enum db_kind k)
{
	return (unsigned)k < DB__KINDS ? kind_name[k] : "unknown";
}

const char *db_kind_sql(enum db_kind k)
{
	return (unsigned)k < DB__KINDS ? kind_sql[k] : NULL;
}
