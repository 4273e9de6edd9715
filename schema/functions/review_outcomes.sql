-- Review outcomes per day, by (current) category, by decided_by + model, and
-- in total (dimension says which). acceptance_rate = accepted / reviewed;
-- approval_rate = (accepted + edited) / reviewed.
CREATE OR REPLACE VIEW metrics_review_outcomes AS
SELECT date_trunc('day', reviewed_at) AS day,
       CASE WHEN GROUPING(category) = 0 THEN 'category'
            WHEN GROUPING(model) = 0 THEN 'model' ELSE 'all' END AS dimension,
       category, decided_by, model,
       count(*) AS reviewed,
       count(*) FILTER (WHERE review_outcome = 'accepted') AS accepted,
       count(*) FILTER (WHERE review_outcome = 'edited')   AS edited,
       count(*) FILTER (WHERE review_outcome = 'rejected') AS rejected,
       round(count(*) FILTER (WHERE review_outcome = 'accepted')::numeric / count(*), 4)
           AS acceptance_rate,
       round(count(*) FILTER (WHERE review_outcome IN ('accepted', 'edited'))::numeric
             / count(*), 4) AS approval_rate
  FROM triage_effective
 WHERE review_outcome IS NOT NULL
 GROUP BY GROUPING SETS ((date_trunc('day', reviewed_at), category),
                         (date_trunc('day', reviewed_at), decided_by, model),
                         (date_trunc('day', reviewed_at)));

-- The same over all time.
CREATE OR REPLACE VIEW review_outcomes AS
SELECT dimension, category, decided_by, model,
       sum(reviewed)::bigint AS reviewed, sum(accepted)::bigint AS accepted,
       sum(edited)::bigint AS edited, sum(rejected)::bigint AS rejected,
       round(sum(accepted) / sum(reviewed), 4) AS acceptance_rate,
       round((sum(accepted) + sum(edited)) / sum(reviewed), 4) AS approval_rate
  FROM metrics_review_outcomes
 GROUP BY dimension, category, decided_by, model;
