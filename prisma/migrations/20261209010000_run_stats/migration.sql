-- Stats rows: one narrow row per succeeded run with its result's typed summary columns
-- (docs/service-design.md, "Stats at scale").
--
-- A sweep's aggregates used to join every succeeded run to its result (one probe of the
-- results index per run) before grouping; at a million runs the probes were most of the
-- time. run_stats holds, next to the run's (sweep, index) key, the contract, core version
-- and every summary column of its result, so a sweep's stats read one contiguous range
-- of one narrow table: no join, no jsonb.
--
-- The rows follow the runs through statement-level triggers with transition tables: a row
-- exists exactly while its run is succeeded and linked to a result, whichever statement
-- (worker, API, reconciler, ad-hoc SQL) moved the run, and commits or rolls back with it,
-- so retries, cancels, crashes and late finishes cannot leave it stale. A change of a
-- result row (never done by the service, but possible by hand) rewrites the rows of the
-- runs linked to it. Writers of one run hold that run's row lock, so the rows of one
-- (sweep, index) are written in the order of the runs' own changes. Contract and core
-- version are copied from the result: a group never mixes contracts (stats-sql.ts groups
-- by contract first). No foreign keys, for the reason given in the sweep_run_counts
-- migration (a key-share lock on the sweep row inside every finish).

CREATE TABLE "run_stats" (
    "sweep_id" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "run_id" BIGINT NOT NULL,
    "contract" INTEGER NOT NULL,
    "core_version" TEXT NOT NULL,
    "converged" BOOLEAN NOT NULL,
    "converged_at" INTEGER,
    "collapsed" BOOLEAN NOT NULL,
    "nash_gap" DOUBLE PRECISION,
    "basin_share0" DOUBLE PRECISION,
    "surviving_basins" INTEGER NOT NULL,
    "in_interval" BOOLEAN,
    "final_entropy" DOUBLE PRECISION NOT NULL,
    "outside_decay_rate" DOUBLE PRECISION,
    "audit_applies" BOOLEAN,
    "in_interval_b5" BOOLEAN,
    "in_interval_corrected" BOOLEAN,
    "outside_domination" DOUBLE PRECISION,
    "final_outside" DOUBLE PRECISION,

    CONSTRAINT "run_stats_pkey" PRIMARY KEY ("sweep_id", "index")
);

-- The planner knows how many rows a transition table holds: a finish of a few runs probes
-- the indexes of results and run_stats, a bulk statement hashes.
CREATE FUNCTION "public"."run_stats_insert"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO run_stats (sweep_id, index, run_id, contract, core_version, converged, converged_at, collapsed,
                           nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, outside_decay_rate,
                           audit_applies, in_interval_b5, in_interval_corrected, outside_domination, final_outside)
    SELECT n.sweep_id, n.index, n.id, res.contract, res.core_version, res.converged, res.converged_at, res.collapsed,
           res.nash_gap, res.basin_share0, res.surviving_basins, res.in_interval, res.final_entropy, res.outside_decay_rate,
           res.audit_applies, res.in_interval_b5, res.in_interval_corrected, res.outside_domination, res.final_outside
      FROM new_runs n JOIN results res ON res.id = n.result_id
     WHERE n.status = 'succeeded'
    ON CONFLICT (sweep_id, index) DO UPDATE SET
           run_id = EXCLUDED.run_id, contract = EXCLUDED.contract, core_version = EXCLUDED.core_version,
           converged = EXCLUDED.converged, converged_at = EXCLUDED.converged_at, collapsed = EXCLUDED.collapsed,
           nash_gap = EXCLUDED.nash_gap, basin_share0 = EXCLUDED.basin_share0, surviving_basins = EXCLUDED.surviving_basins,
           in_interval = EXCLUDED.in_interval, final_entropy = EXCLUDED.final_entropy,
           outside_decay_rate = EXCLUDED.outside_decay_rate, audit_applies = EXCLUDED.audit_applies,
           in_interval_b5 = EXCLUDED.in_interval_b5, in_interval_corrected = EXCLUDED.in_interval_corrected,
           outside_domination = EXCLUDED.outside_domination, final_outside = EXCLUDED.final_outside;
    RETURN NULL;
END
$$;

-- Only runs whose link changed (succeeded or not, which result): a statement that touches
-- succeeded runs for another reason (a refine stage number) writes no stats row.
-- Most statements (claims, failures, requeues) unlink and link no run: they skip both
-- joins (the insert's reads results).
CREATE FUNCTION "public"."run_stats_update"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_runs o WHERE o.status = 'succeeded') THEN
        DELETE FROM run_stats s USING old_runs o JOIN new_runs n ON n.id = o.id
         WHERE o.status = 'succeeded' AND s.sweep_id = o.sweep_id AND s.index = o.index
           AND (n.status <> 'succeeded' OR n.result_id IS DISTINCT FROM o.result_id
                OR n.sweep_id <> o.sweep_id OR n.index <> o.index);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM new_runs n WHERE n.status = 'succeeded') THEN
        RETURN NULL;
    END IF;
    INSERT INTO run_stats (sweep_id, index, run_id, contract, core_version, converged, converged_at, collapsed,
                           nash_gap, basin_share0, surviving_basins, in_interval, final_entropy, outside_decay_rate,
                           audit_applies, in_interval_b5, in_interval_corrected, outside_domination, final_outside)
    SELECT n.sweep_id, n.index, n.id, res.contract, res.core_version, res.converged, res.converged_at, res.collapsed,
           res.nash_gap, res.basin_share0, res.surviving_basins, res.in_interval, res.final_entropy, res.outside_decay_rate,
           res.audit_applies, res.in_interval_b5, res.in_interval_corrected, res.outside_domination, res.final_outside
      FROM new_runs n JOIN results res ON res.id = n.result_id
      JOIN old_runs o ON o.id = n.id
     WHERE n.status = 'succeeded'
       AND (o.status <> 'succeeded' OR o.result_id IS DISTINCT FROM n.result_id
            OR o.sweep_id <> n.sweep_id OR o.index <> n.index)
    ON CONFLICT (sweep_id, index) DO UPDATE SET
           run_id = EXCLUDED.run_id, contract = EXCLUDED.contract, core_version = EXCLUDED.core_version,
           converged = EXCLUDED.converged, converged_at = EXCLUDED.converged_at, collapsed = EXCLUDED.collapsed,
           nash_gap = EXCLUDED.nash_gap, basin_share0 = EXCLUDED.basin_share0, surviving_basins = EXCLUDED.surviving_basins,
           in_interval = EXCLUDED.in_interval, final_entropy = EXCLUDED.final_entropy,
           outside_decay_rate = EXCLUDED.outside_decay_rate, audit_applies = EXCLUDED.audit_applies,
           in_interval_b5 = EXCLUDED.in_interval_b5, in_interval_corrected = EXCLUDED.in_interval_corrected,
           outside_domination = EXCLUDED.outside_domination, final_outside = EXCLUDED.final_outside;
    RETURN NULL;
END
$$;

CREATE FUNCTION "public"."run_stats_delete"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    DELETE FROM run_stats s USING old_runs o
     WHERE o.status = 'succeeded' AND s.sweep_id = o.sweep_id AND s.index = o.index;
    RETURN NULL;
END
$$;

-- A result changed in place: the rows of the succeeded runs linked to it follow, and the
-- kept lines of their sweeps go (the run counters do not move).
CREATE FUNCTION "public"."run_stats_result_update"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    WITH u AS (
    UPDATE run_stats s
       SET contract = res.contract, core_version = res.core_version, converged = res.converged,
           converged_at = res.converged_at, collapsed = res.collapsed, nash_gap = res.nash_gap,
           basin_share0 = res.basin_share0, surviving_basins = res.surviving_basins, in_interval = res.in_interval,
           final_entropy = res.final_entropy, outside_decay_rate = res.outside_decay_rate,
           audit_applies = res.audit_applies, in_interval_b5 = res.in_interval_b5,
           in_interval_corrected = res.in_interval_corrected, outside_domination = res.outside_domination,
           final_outside = res.final_outside
      FROM new_results res JOIN runs r ON r.result_id = res.id AND r.status = 'succeeded'
     WHERE s.sweep_id = r.sweep_id AND s.index = r.index
    RETURNING s.sweep_id)
    DELETE FROM run_stats_lines l WHERE l.sweep_id IN (SELECT u.sweep_id FROM u);
    RETURN NULL;
END
$$;

-- Per-sweep lines of GET /v1/stats?tag= (one per contract): the rates and means a tag's
-- history shows, and count, mean, sample sd and mean square of every summary column. A
-- line is computed from run_stats in one statement and kept only for a settled sweep
-- (finished or cancelled, no run queued to run or running), with the version of the
-- sweep's run counters it saw (the newest sweep_run_counts row, which every statement
-- that changes the sweep's runs appends): a reader uses a line only while the sweep is
-- still settled at that same version, so a retry or a late change makes it stale, never
-- wrong. The worker's finish of a sweep fills its lines (trigger below), the API the
-- lines of a sweep that settled otherwise (a cancel) on first use.
CREATE TABLE "run_stats_lines" (
    "sweep_id" UUID NOT NULL,
    "contract" INTEGER NOT NULL,
    "version" BIGINT NOT NULL,
    "n" INTEGER NOT NULL,
    "core_versions" TEXT[],
    "collapsed_rate" DOUBLE PRECISION,
    "converged_rate" DOUBLE PRECISION,
    "in_interval_rate" DOUBLE PRECISION,
    "mean_nash_gap" DOUBLE PRECISION,
    "mean_converged_at" DOUBLE PRECISION,
    "metrics" JSONB NOT NULL,

    CONSTRAINT "run_stats_lines_pkey" PRIMARY KEY ("sweep_id", "contract")
);

-- The lines of `ids` as they are now (nothing kept): what a running sweep's line is.
-- Booleans count as 0/1, as a stats metric reads them (stats-sql.ts, metricSql); a value
-- whose square would underflow (Postgres raises an error) squares to 0, as in squareSql. No SET
-- clause (tables named with their schema instead), so that Postgres inlines the function
-- into the calling statement and plans it for the ids given: a generic plan reads all
-- of run_stats.
CREATE FUNCTION "public"."run_stats_line_rows"(ids UUID[])
RETURNS TABLE (sweep_id UUID, contract INTEGER, n INTEGER, core_versions TEXT[], collapsed_rate DOUBLE PRECISION,
               converged_rate DOUBLE PRECISION, in_interval_rate DOUBLE PRECISION, mean_nash_gap DOUBLE PRECISION,
               mean_converged_at DOUBLE PRECISION, metrics JSONB)
LANGUAGE sql STABLE AS $$
    SELECT s.sweep_id, s.contract, count(*)::int,
           CASE WHEN min(s.core_version) = max(s.core_version) THEN ARRAY[min(s.core_version)]
                ELSE (SELECT array_agg(DISTINCT o.core_version ORDER BY o.core_version) FROM public.run_stats o
                       WHERE o.sweep_id = s.sweep_id AND o.contract = s.contract) END,
           avg(s.collapsed::int)::float8, avg(s.converged::int)::float8, avg(s.in_interval::int)::float8,
           avg(s.nash_gap)::float8, avg(s.converged_at)::float8,
           jsonb_build_object('converged', jsonb_build_array(count(s.converged::int::float8), avg(s.converged::int::float8), stddev_samp(s.converged::int::float8), avg(CASE WHEN abs(s.converged::int::float8) < 1.6e-162 THEN 0 ELSE s.converged::int::float8 * s.converged::int::float8 END)),
                   'converged_at', jsonb_build_array(count(s.converged_at::float8), avg(s.converged_at::float8), stddev_samp(s.converged_at::float8), avg(CASE WHEN abs(s.converged_at::float8) < 1.6e-162 THEN 0 ELSE s.converged_at::float8 * s.converged_at::float8 END)),
                   'collapsed', jsonb_build_array(count(s.collapsed::int::float8), avg(s.collapsed::int::float8), stddev_samp(s.collapsed::int::float8), avg(CASE WHEN abs(s.collapsed::int::float8) < 1.6e-162 THEN 0 ELSE s.collapsed::int::float8 * s.collapsed::int::float8 END)),
                   'nash_gap', jsonb_build_array(count(s.nash_gap::float8), avg(s.nash_gap::float8), stddev_samp(s.nash_gap::float8), avg(CASE WHEN abs(s.nash_gap::float8) < 1.6e-162 THEN 0 ELSE s.nash_gap::float8 * s.nash_gap::float8 END)),
                   'basin_share0', jsonb_build_array(count(s.basin_share0::float8), avg(s.basin_share0::float8), stddev_samp(s.basin_share0::float8), avg(CASE WHEN abs(s.basin_share0::float8) < 1.6e-162 THEN 0 ELSE s.basin_share0::float8 * s.basin_share0::float8 END)),
                   'surviving_basins', jsonb_build_array(count(s.surviving_basins::float8), avg(s.surviving_basins::float8), stddev_samp(s.surviving_basins::float8), avg(CASE WHEN abs(s.surviving_basins::float8) < 1.6e-162 THEN 0 ELSE s.surviving_basins::float8 * s.surviving_basins::float8 END)),
                   'in_interval', jsonb_build_array(count(s.in_interval::int::float8), avg(s.in_interval::int::float8), stddev_samp(s.in_interval::int::float8), avg(CASE WHEN abs(s.in_interval::int::float8) < 1.6e-162 THEN 0 ELSE s.in_interval::int::float8 * s.in_interval::int::float8 END)),
                   'final_entropy', jsonb_build_array(count(s.final_entropy::float8), avg(s.final_entropy::float8), stddev_samp(s.final_entropy::float8), avg(CASE WHEN abs(s.final_entropy::float8) < 1.6e-162 THEN 0 ELSE s.final_entropy::float8 * s.final_entropy::float8 END)),
                   'outside_decay_rate', jsonb_build_array(count(s.outside_decay_rate::float8), avg(s.outside_decay_rate::float8), stddev_samp(s.outside_decay_rate::float8), avg(CASE WHEN abs(s.outside_decay_rate::float8) < 1.6e-162 THEN 0 ELSE s.outside_decay_rate::float8 * s.outside_decay_rate::float8 END)),
                   'audit_applies', jsonb_build_array(count(s.audit_applies::int::float8), avg(s.audit_applies::int::float8), stddev_samp(s.audit_applies::int::float8), avg(CASE WHEN abs(s.audit_applies::int::float8) < 1.6e-162 THEN 0 ELSE s.audit_applies::int::float8 * s.audit_applies::int::float8 END)),
                   'in_interval_b5', jsonb_build_array(count(s.in_interval_b5::int::float8), avg(s.in_interval_b5::int::float8), stddev_samp(s.in_interval_b5::int::float8), avg(CASE WHEN abs(s.in_interval_b5::int::float8) < 1.6e-162 THEN 0 ELSE s.in_interval_b5::int::float8 * s.in_interval_b5::int::float8 END)),
                   'in_interval_corrected', jsonb_build_array(count(s.in_interval_corrected::int::float8), avg(s.in_interval_corrected::int::float8), stddev_samp(s.in_interval_corrected::int::float8), avg(CASE WHEN abs(s.in_interval_corrected::int::float8) < 1.6e-162 THEN 0 ELSE s.in_interval_corrected::int::float8 * s.in_interval_corrected::int::float8 END)),
                   'outside_domination', jsonb_build_array(count(s.outside_domination::float8), avg(s.outside_domination::float8), stddev_samp(s.outside_domination::float8), avg(CASE WHEN abs(s.outside_domination::float8) < 1.6e-162 THEN 0 ELSE s.outside_domination::float8 * s.outside_domination::float8 END)),
                   'final_outside', jsonb_build_array(count(s.final_outside::float8), avg(s.final_outside::float8), stddev_samp(s.final_outside::float8), avg(CASE WHEN abs(s.final_outside::float8) < 1.6e-162 THEN 0 ELSE s.final_outside::float8 * s.final_outside::float8 END)))
      FROM public.run_stats s
     WHERE s.sweep_id = ANY(ids)
     GROUP BY s.sweep_id, s.contract
$$;

-- Keeps the lines of the settled sweeps among `ids` (the others are left alone). The lines
-- and the version they are kept under come from one statement, so from one snapshot; a
-- line never replaces one of a newer version.
CREATE FUNCTION "public"."run_stats_lines_fill"(ids UUID[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    WITH st AS (
        SELECT sw.id, c.version
          FROM sweeps sw
          LEFT JOIN LATERAL (SELECT max(rc.id) AS version,
                                    sum(rc.n) FILTER (WHERE rc.status = 'running') AS running,
                                    sum(rc.n) FILTER (WHERE rc.status = 'queued') AS queued
                               FROM sweep_run_counts rc WHERE rc.sweep_id = sw.id) c ON true
         WHERE sw.id = ANY(ids) AND c.version IS NOT NULL
           AND sw.status IN ('succeeded', 'failed', 'cancelled')
           AND coalesce(c.running, 0) = 0 AND (sw.status = 'cancelled' OR coalesce(c.queued, 0) = 0)
    )
    INSERT INTO run_stats_lines (sweep_id, contract, version, n, core_versions, collapsed_rate, converged_rate,
                                 in_interval_rate, mean_nash_gap, mean_converged_at, metrics)
    SELECT l.sweep_id, l.contract, st.version, l.n, l.core_versions, l.collapsed_rate, l.converged_rate,
           l.in_interval_rate, l.mean_nash_gap, l.mean_converged_at, l.metrics
      FROM st JOIN LATERAL run_stats_line_rows(ARRAY[st.id]) l ON true
    ON CONFLICT (sweep_id, contract) DO UPDATE SET
           version = EXCLUDED.version, n = EXCLUDED.n, core_versions = EXCLUDED.core_versions,
           collapsed_rate = EXCLUDED.collapsed_rate, converged_rate = EXCLUDED.converged_rate,
           in_interval_rate = EXCLUDED.in_interval_rate, mean_nash_gap = EXCLUDED.mean_nash_gap,
           mean_converged_at = EXCLUDED.mean_converged_at, metrics = EXCLUDED.metrics
     WHERE run_stats_lines.version <= EXCLUDED.version;
    -- Lines of a contract the sweep no longer has results of (readers skip them anyway).
    DELETE FROM run_stats_lines l
     WHERE l.sweep_id = ANY(ids)
       AND l.version < (SELECT max(m.version) FROM run_stats_lines m WHERE m.sweep_id = l.sweep_id);
END
$$;

-- The worker's last finish (run-lifecycle.ts, finishSweepIfDone) sets succeeded or
-- failed once no run is queued or running: the sweep's lines are computed there, once.
CREATE FUNCTION "public"."run_stats_lines_settle"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM run_stats_lines_fill(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

CREATE TRIGGER "run_stats_lines_settle" AFTER UPDATE OF "status" ON "sweeps"
    FOR EACH ROW WHEN (NEW."status" IN ('succeeded', 'failed') AND OLD."status" IS DISTINCT FROM NEW."status")
    EXECUTE FUNCTION "public"."run_stats_lines_settle"();

CREATE FUNCTION "public"."run_stats_lines_sweep_delete"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    DELETE FROM run_stats_lines l USING old_sweeps o WHERE l.sweep_id = o.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER "run_stats_lines_sweep_delete" AFTER DELETE ON "sweeps"
    REFERENCING OLD TABLE AS old_sweeps FOR EACH STATEMENT EXECUTE FUNCTION "public"."run_stats_lines_sweep_delete"();

CREATE TRIGGER "run_stats_insert" AFTER INSERT ON "runs"
    REFERENCING NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION "public"."run_stats_insert"();
CREATE TRIGGER "run_stats_update" AFTER UPDATE ON "runs"
    REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION "public"."run_stats_update"();
CREATE TRIGGER "run_stats_delete" AFTER DELETE ON "runs"
    REFERENCING OLD TABLE AS old_runs FOR EACH STATEMENT EXECUTE FUNCTION "public"."run_stats_delete"();
CREATE TRIGGER "run_stats_result_update" AFTER UPDATE ON "results"
    REFERENCING NEW TABLE AS new_results FOR EACH STATEMENT EXECUTE FUNCTION "public"."run_stats_result_update"();

-- The succeeded runs there are now, once (CREATE TRIGGER above locked runs and results
-- against writes until this migration commits: nothing is missed or written twice).
INSERT INTO "run_stats"
SELECT r."sweep_id", r."index", r."id", res."contract", res."core_version", res."converged", res."converged_at",
       res."collapsed", res."nash_gap", res."basin_share0", res."surviving_basins", res."in_interval", res."final_entropy",
       res."outside_decay_rate", res."audit_applies", res."in_interval_b5", res."in_interval_corrected",
       res."outside_domination", res."final_outside"
  FROM "runs" r JOIN "results" res ON res."id" = r."result_id"
 WHERE r."status" = 'succeeded';

-- The planner's figures for the new table (a sweep's share of it), before autovacuum comes.
ANALYZE "run_stats";
