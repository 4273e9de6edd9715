-- The budget governing a call: the model's own row, else the tier's.
CREATE OR REPLACE FUNCTION triaged_budget_for(p_tier text, p_model text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM budgets WHERE tier = p_tier AND (model = p_model OR model IS NULL)
     ORDER BY model NULLS LAST LIMIT 1
$$;
