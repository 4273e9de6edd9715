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
