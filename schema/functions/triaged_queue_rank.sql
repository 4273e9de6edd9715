-- Queue order keys (lower first). NULL urgency counts as 'high'; an unknown
-- or missing tier comes after every known one.
CREATE OR REPLACE FUNCTION triaged_urgency_rank(p_urgency text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE coalesce(p_urgency, 'high')
           WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'low' THEN 3
           ELSE 4 END
$$;

CREATE OR REPLACE FUNCTION triaged_tier_rank(p_tier text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE lower(p_tier)
           WHEN 'enterprise' THEN 0 WHEN 'premium' THEN 1 WHEN 'standard' THEN 2 WHEN 'free' THEN 3
           ELSE 4 END
$$;
