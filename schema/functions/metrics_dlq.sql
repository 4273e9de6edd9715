CREATE OR REPLACE VIEW metrics_dlq AS
SELECT date_trunc('day', created_at) AS day, error_code, count(*) AS count
  FROM dead_letters
 GROUP BY 1, 2;
