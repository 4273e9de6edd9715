-- Ticket volume by arrival time of the triaged revision and current labels.
CREATE OR REPLACE VIEW metrics_volume_hourly AS
SELECT date_trunc('hour', r.received_at) AS hour, e.category, e.urgency, e.sentiment,
       count(*) AS count
  FROM triage_effective e
  JOIN ticket_revisions r ON r.ticket_pk = e.ticket_pk AND r.revision = e.revision
 GROUP BY 1, 2, 3, 4;

CREATE OR REPLACE VIEW metrics_volume_daily AS
SELECT date_trunc('day', r.received_at) AS day, e.category, e.urgency, e.sentiment,
       count(*) AS count
  FROM triage_effective e
  JOIN ticket_revisions r ON r.ticket_pk = e.ticket_pk AND r.revision = e.revision
 GROUP BY 1, 2, 3, 4;
