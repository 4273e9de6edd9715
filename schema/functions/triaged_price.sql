-- The price row in force for a model at a time (NULL: no price known).
CREATE OR REPLACE FUNCTION triaged_price_at(p_model text, p_at timestamptz) RETURNS model_prices
LANGUAGE sql STABLE AS $$
    SELECT * FROM model_prices
     WHERE model = p_model AND effective_from <= p_at
     ORDER BY effective_from DESC LIMIT 1
$$;

CREATE OR REPLACE FUNCTION triaged_cost(p model_prices, p_prompt integer, p_cached integer,
                             p_completion integer) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p.id IS NULL THEN NULL ELSE
        round(((greatest(p_prompt - p_cached, 0) * p.input_per_mtok
               + p_cached * p.cached_input_per_mtok
               + p_completion * p.output_per_mtok) / 1000000.0)::numeric, 8) END
$$;
