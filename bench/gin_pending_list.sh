#!/usr/bin/env bash
# Time inserts into a table with only the full-text search index under three
# GIN pending-list settings, alternating them over three rounds. Each timing
# includes gin_clean_pending_list(), so deferred index work is counted.
# usage: bench/gin_pending_list.sh   (needs psql and the local PostgreSQL;
# creates and drops the database gin_pending_bench)
set -euo pipefail
DB=gin_pending_bench
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
P="psql -q -X -h 127.0.0.1 -U postgres -d $DB -v ON_ERROR_STOP=1"
$P <<'SQL'
CREATE FUNCTION profile_search_vector(email_key text, custom_id text, attributes jsonb)
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN to_tsvector('simple'::regconfig, email_key || ' ' || coalesce(custom_id, ''))
    || jsonb_to_tsvector('simple'::regconfig, attributes, '["string", "numeric"]');
CREATE TABLE p (workspace_id bigint, id bigserial, email_key text, custom_id text, attributes jsonb,
  PRIMARY KEY (workspace_id, id));
CREATE FUNCTION gen(lo int, hi int, pre text) RETURNS TABLE (email_key text, custom_id text, attributes jsonb)
LANGUAGE sql AS $$
  SELECT pre || n || '@example.com', upper(pre) || '-' || lpad(n::text, 9, '0'),
    jsonb_build_object('first_name', (ARRAY['Ana','Ben','Cleo','Dov','Inês','Zoë'])[1 + n % 6],
      'last_name', 'Last' || n, 'city', (ARRAY['Lisbon','Lagos','Leeds','Graz','Malmö','Kochi'])[1 + n % 6],
      'plan', (ARRAY['free','starter','pro','enterprise'])[1 + n % 4], 'score', (n * 7) % 1000,
      'signup_date', '20' || (18 + n % 7) || '-' || lpad((1 + n % 12)::text, 2, '0') || '-' || lpad((1 + n % 28)::text, 2, '0'),
      'newsletter', n % 2 = 1, 'notes', 'note ' || n || ' v0')
  FROM generate_series(lo, hi) n $$;
INSERT INTO p (workspace_id, email_key, custom_id, attributes) SELECT 1, * FROM gen(1, 2000000, 'pre');
CREATE INDEX p_search ON p USING gin (profile_search_vector(email_key, custom_id, attributes));
VACUUM ANALYZE p;
SQL
echo "preloaded"
start=10000000
for round in 1 2 3; do
  for cfg in A B C; do
    case $cfg in
      A) S="SET gin_pending_list_limit='16MB';" ;;
      B) S="SET gin_pending_list_limit='256MB'; SET work_mem='256MB'; SET maintenance_work_mem='1GB';" ;;
      C) S="SET gin_pending_list_limit='64MB'; SET work_mem='64MB';" ;;
    esac
    lo=$start; hi=$((start + 199999)); start=$((start + 1000000))
    t0=$(date +%s.%N)
    $P -c "$S INSERT INTO p (workspace_id, email_key, custom_id, attributes) SELECT 1, * FROM gen($lo, $hi, 'x'); SELECT gin_clean_pending_list('p_search');" >/dev/null
    t1=$(date +%s.%N)
    echo "round $round cfg $cfg $(echo "$t1 - $t0" | bc) s"
  done
done
$P -c "DROP INDEX p_search"
t0=$(date +%s.%N); $P -c "INSERT INTO p (workspace_id, email_key, custom_id, attributes) SELECT 1, * FROM gen(90000000, 90199999, 'y')" >/dev/null; t1=$(date +%s.%N)
echo "without the index $(echo "$t1 - $t0" | bc) s"
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $DB"
