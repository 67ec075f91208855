-- Fill one workspace with :rows generated profiles and three custom fields.
-- Run by bench/profiles_table.py as the database owner (bypasses row security).
INSERT INTO workspaces (slug, name) VALUES (:'slug', 'Benchmark workspace')
    RETURNING id AS ws \gset

INSERT INTO custom_fields (workspace_id, key, label, type, position) VALUES
    (:ws, 'score', 'Score', 'number', 1),
    (:ws, 'last_order', 'Last order', 'date', 2),
    (:ws, 'plan', 'Plan', 'text', 3);

-- Scores repeat (about 200,000 distinct values), 5% of profiles have none and
-- 20% have no custom ID, so ties and missing values are exercised.
INSERT INTO profiles (workspace_id, email, email_key, custom_id, attributes,
                      created_at, updated_at)
SELECT :ws,
       'user' || n || '@example.com',
       'user' || n || '@example.com',
       CASE WHEN n % 5 <> 0 THEN 'C' || lpad(n::text, 8, '0') END,
       jsonb_strip_nulls(jsonb_build_object(
           'score', CASE WHEN n % 20 <> 0 THEN (hashint4(n) % 100000) / 100.0 END,
           'last_order', CASE WHEN n % 7 <> 0 THEN to_char(
               date '2020-01-01' + abs(hashint4(n + 1)) % 2000, 'YYYY-MM-DD') END,
           'plan', (ARRAY['free', 'pro', 'team', 'enterprise'])[1 + n % 4])),
       timestamptz '2021-01-01' + n * interval '1 minute',
       timestamptz '2023-01-01' + (abs(hashint4(n + 2)) % 60000000) * interval '1 second'
  FROM generate_series(1, :rows) AS n;

ANALYZE profiles;
SELECT :ws AS workspace_id;
