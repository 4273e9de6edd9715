-- Model latency (wall time of the call's last attempt), all outcomes; the
-- percentiles in milliseconds, rounded to 0.1 ms.
CREATE OR REPLACE VIEW metrics_model_latency AS
SELECT date_trunc('day', finished_at) AS day, tier, model,
       count(*) AS calls,
       count(*) FILTER (WHERE outcome <> 'ok') AS failed,
       round((percentile_cont(0.5)  WITHIN GROUP (ORDER BY latency_ms))::numeric, 1) AS p50_ms,
       round((percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::numeric, 1) AS p95_ms
  FROM model_calls
 GROUP BY 1, 2, 3;

-- The same figures from the counters (migration 058), for the dashboard: a
-- histogram of latency_ms per UTC hour, tier and model in bins 2^(1/32) wide
-- (2.2%), so a refresh reads a few hundred rows instead of every call. calls
-- and failed are exact; p50_ms and p95_ms are interpolated inside their bin,
-- within 2.2% of percentile_cont's (test_review's counters case checks 3%).
CREATE OR REPLACE VIEW metrics_model_latency_fast AS
WITH h AS (
    SELECT date_trunc('day', x.bucket) AS day, x.a AS tier, x.b AS model, x.c::integer AS bin,
           sum(x.n1) AS n, sum(x.n2) AS failed
      FROM (SELECT bucket, a, b, c, n1, n2 FROM stats_counts WHERE kind = 'latency'
            UNION ALL
            SELECT bucket, a, b, c, n1, n2 FROM stats_delta WHERE kind = 'latency') x
     GROUP BY 1, 2, 3, 4
    HAVING sum(x.n1) > 0),
c AS (
    SELECT h.*, sum(n) OVER (PARTITION BY day, tier, model ORDER BY bin) - n AS below,
           sum(n) OVER (PARTITION BY day, tier, model) AS total
      FROM h),
r AS (
    -- percentile_cont's rank p * (N - 1), as a position inside the bins (+ 0.5)
    SELECT c.*, 0.5 * (total - 1) + 0.5 AS t50, 0.95 * (total - 1) + 0.5 AS t95 FROM c)
SELECT day, tier, model, max(total)::bigint AS calls, sum(failed)::bigint AS failed,
       round(min(2 ^ ((bin + (t50 - below) / n) / 32.0))
                 FILTER (WHERE below <= t50 AND t50 < below + n)::numeric, 1) AS p50_ms,
       round(min(2 ^ ((bin + (t95 - below) / n) / 32.0))
                 FILTER (WHERE below <= t95 AND t95 < below + n)::numeric, 1) AS p95_ms
  FROM r
 GROUP BY 1, 2, 3;
