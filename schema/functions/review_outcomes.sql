-- Review outcomes per day, by (current) category, by decided_by + model, and
-- in total (dimension says which). acceptance_rate = accepted / reviewed;
-- approval_rate = (accepted + edited) / reviewed. From the counters
-- (stats_counts + stats_delta, kept by triggers), UTC hours summed into the
-- reader's days.
CREATE OR REPLACE VIEW metrics_review_outcomes AS
WITH o AS (
    SELECT x.bucket, x.a AS category, x.b AS decided_by, x.c AS model,
           sum(x.n1) AS accepted, sum(x.n2) AS edited, sum(x.n3) AS rejected
      FROM (SELECT bucket, a, b, c, n1, n2, n3 FROM stats_counts WHERE kind = 'outcome'
            UNION ALL
            SELECT bucket, a, b, c, n1, n2, n3 FROM stats_delta WHERE kind = 'outcome') x
     GROUP BY 1, 2, 3, 4)
SELECT date_trunc('day', bucket) AS day,
       CASE WHEN GROUPING(category) = 0 THEN 'category'
            WHEN GROUPING(model) = 0 THEN 'model' ELSE 'all' END AS dimension,
       category, decided_by, model,
       sum(accepted + edited + rejected)::bigint AS reviewed,
       sum(accepted)::bigint AS accepted,
       sum(edited)::bigint   AS edited,
       sum(rejected)::bigint AS rejected,
       round(sum(accepted) / sum(accepted + edited + rejected), 4) AS acceptance_rate,
       round(sum(accepted + edited) / sum(accepted + edited + rejected), 4) AS approval_rate
  FROM o
 GROUP BY GROUPING SETS ((date_trunc('day', bucket), category),
                         (date_trunc('day', bucket), decided_by, model),
                         (date_trunc('day', bucket)))
HAVING sum(accepted + edited + rejected) > 0;

-- The same over all time.
CREATE OR REPLACE VIEW review_outcomes AS
SELECT dimension, category, decided_by, model,
       sum(reviewed)::bigint AS reviewed, sum(accepted)::bigint AS accepted,
       sum(edited)::bigint AS edited, sum(rejected)::bigint AS rejected,
       round(sum(accepted) / sum(reviewed), 4) AS acceptance_rate,
       round((sum(accepted) + sum(edited)) / sum(reviewed), 4) AS approval_rate
  FROM metrics_review_outcomes
 GROUP BY dimension, category, decided_by, model;
