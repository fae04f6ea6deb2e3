-- DuckDB side of bench/parse_bench.py: the same fields as Apache "combined", one regex run per
-- line (regexp_extract with a list of names returns a struct), the timestamp cast, and a
-- per-client aggregate written to Parquet. @LOG@, @OUT@ and @CSV_OPTIONS@ are filled in by
-- bench/duckdb_ingest.py.
CREATE TEMP TABLE per_client AS
WITH lines AS (
    SELECT line
    FROM read_csv(@LOG@, columns = {'line': 'VARCHAR'}, @CSV_OPTIONS@)
),
fields AS (
    SELECT regexp_extract(
        line,
        -- client ident user [time] "request" status bytes ["referrer" ["user agent"]]
        -- A request that is not METHOD TARGET [PROTOCOL] still matches (those three stay '').
        '^(\S+) (\S+) (\S+) \[([^\]]*)\] '
        || '"(?:([A-Za-z_-]+) ([^ "]+)(?: ([^ "]+))?|(?:[^"\\]|\\.)*)" '
        || '([0-9]{3}) ([0-9]+|-)'
        || '(?: "((?:[^"\\]|\\.)*)"(?: "((?:[^"\\]|\\.)*)")?)?',
        ['client', 'ident', 'auth_user', 'time', 'method', 'path', 'protocol', 'status',
         'bytes', 'referrer', 'user_agent']
    ) AS f
    FROM lines
),
typed AS (
    SELECT
        f.client,
        try_strptime(f.time, '%d/%b/%Y:%H:%M:%S %z') AS ts,
        nullif(f.path, '') AS path,
        try_cast(f.status AS INTEGER) AS status,
        try_cast(nullif(f.bytes, '-') AS BIGINT) AS bytes
    FROM fields
)
SELECT
    -- NULL groups the lines that did not parse (no match, or a time that does not cast).
    CASE WHEN client <> '' AND ts IS NOT NULL THEN client END AS client,
    count(*) AS requests,
    count(DISTINCT path) AS distinct_paths,
    sum(bytes) AS bytes,
    min(ts) AS first_seen,
    max(ts) AS last_seen
FROM typed
GROUP BY ALL;

COPY (SELECT * FROM per_client WHERE client IS NOT NULL ORDER BY client)
TO @OUT@ (FORMAT parquet);

SELECT
    coalesce(sum(requests) FILTER (WHERE client IS NOT NULL), 0) AS parsed,
    coalesce(sum(requests) FILTER (WHERE client IS NULL), 0) AS rejected,
    count(*) FILTER (WHERE client IS NOT NULL) AS clients
FROM per_client;
