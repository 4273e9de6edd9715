-- Edit distance in words (Levenshtein over whitespace-separated words,
-- case kept) between a draft and the reply actually sent. Texts over 600
-- words each are not compared word by word (quadratic): the distance is
-- then the larger word count, unless the texts are equal (0).
CREATE OR REPLACE FUNCTION triaged_word_distance(p_a text, p_b text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
DECLARE
    a    text[] := coalesce(regexp_split_to_array(nullif(regexp_replace(coalesce(p_a, ''), '^\s+|\s+$', '', 'g'), ''), '\s+'), '{}');
    b    text[] := coalesce(regexp_split_to_array(nullif(regexp_replace(coalesce(p_b, ''), '^\s+|\s+$', '', 'g'), ''), '\s+'), '{}');
    n    integer := cardinality(a);
    m    integer := cardinality(b);
    prev integer[];
    cur  integer[];
BEGIN
    IF a = b THEN
        RETURN 0;
    END IF;
    IF n = 0 OR m = 0 OR (n > 600 AND m > 600) THEN
        RETURN greatest(n, m);
    END IF;
    prev := array_fill(0, ARRAY[m + 1], ARRAY[0]);
    FOR j IN 1 .. m LOOP
        prev[j] := j;
    END LOOP;
    FOR i IN 1 .. n LOOP
        cur := array_fill(0, ARRAY[m + 1], ARRAY[0]);
        cur[0] := i;
        FOR j IN 1 .. m LOOP
            cur[j] := least(prev[j] + 1, cur[j - 1] + 1,
                            prev[j - 1] + CASE WHEN a[i] = b[j] THEN 0 ELSE 1 END);
        END LOOP;
        prev := cur;
    END LOOP;
    RETURN prev[m];
END
$$;
