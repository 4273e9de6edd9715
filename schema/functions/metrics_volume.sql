-- Ticket volume by arrival time of the triaged revision and current labels,
-- from the counters (stats_counts + stats_delta, kept by triggers). Hours
-- are UTC hours; days are cut in the reader's TimeZone from those hours
-- (exact for zones whose offset is whole hours).
CREATE OR REPLACE VIEW metrics_volume_hourly AS
SELECT x.bucket AS hour, x.a AS category, x.b AS urgency, x.c AS sentiment,
       sum(x.n1)::bigint AS count
  FROM (SELECT bucket, a, b, c, n1 FROM stats_counts WHERE kind = 'volume'
        UNION ALL
        SELECT bucket, a, b, c, n1 FROM stats_delta WHERE kind = 'volume') x
 GROUP BY 1, 2, 3, 4
HAVING sum(x.n1) <> 0;

CREATE OR REPLACE VIEW metrics_volume_daily AS
SELECT date_trunc('day', hour) AS day, category, urgency, sentiment, sum(count)::bigint AS count
  FROM metrics_volume_hourly
 GROUP BY 1, 2, 3, 4;
