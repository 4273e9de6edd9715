-- 058: the dashboard's cost and latency figures from counters (issue #19 part 4).
--
-- metrics_cost_daily and the dashboard's latency card read every model call
-- of their window (a sequential scan of model_calls at each data.json refresh:
-- 0.2 s and 0.3 s with 100,000 calls, growing with the traffic). From now on
-- triaged_record_calls appends to stats_delta, one row per figure and bucket
-- of each batch (as the triggers on triage_results do), and
-- triaged_recompute_costs appends the differences it makes:
--   'cost'     bucket = UTC hour of started_at, a = tier, b = model:
--              n1 = calls, n2 = calls without a price, n3 = cost in 1e-8 USD
--              (cost_usd is numeric(14,8): the sum is exact)
--   'tokens'   the same bucket and keys: n1 prompt, n2 cached, n3 completion
--   'latency'  bucket = UTC hour of finished_at, a = tier, b = model,
--              c = bin, floor(32 * log2(latency_ms)): n1 = calls, n2 = failed
-- Here: what the calls stored so far count, as of now.
INSERT INTO stats_counts (kind, bucket, a, b, c, n1, n2, n3)
SELECT 'cost', date_trunc('hour', started_at, 'UTC'), tier, model, NULL, count(*),
       count(*) FILTER (WHERE cost_usd IS NULL),
       coalesce(sum(cost_usd * 100000000), 0)::bigint
  FROM model_calls GROUP BY 2, 3, 4
UNION ALL
SELECT 'tokens', date_trunc('hour', started_at, 'UTC'), tier, model, NULL,
       sum(prompt_tokens), sum(cached_tokens), sum(completion_tokens)
  FROM model_calls GROUP BY 2, 3, 4
UNION ALL
SELECT 'latency', date_trunc('hour', finished_at, 'UTC'), tier, model,
       floor(32 * ln(greatest(latency_ms, 0.001)) / ln(2.0))::integer::text, count(*),
       count(*) FILTER (WHERE outcome <> 'ok'), 0
  FROM model_calls GROUP BY 2, 3, 4, 5;
