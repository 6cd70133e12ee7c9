-- Per-sweep run counts kept with the status changes (docs/analyst-sql.md, "Scale").
--
-- The progress poll and the sweep listing used to count a sweep's run rows at every
-- request, which grows with the sweep. Instead every statement that inserts, updates or
-- deletes runs appends, through statement-level triggers with transition tables, one
-- row per (sweep, status) it changed: the change in the number of runs and in the
-- number of reused succeeded runs. A read sums a sweep's rows; compaction replaces them
-- by their sum (sweeps.ts, compactRunCounts). The deltas commit or roll back with the
-- statement that changed the runs, whichever code path (API, worker, reconciler,
-- ad-hoc SQL) wrote it, so the counts stay exact under retries, cancels and crashes.
-- Rows are only ever inserted (never updated) by the triggers, so two workers never
-- wait on each other's counter row, and there is no foreign key to sweeps: its check
-- would take a key-share lock on the sweep row inside every claim, which waits behind
-- a cancel or retry holding that row FOR UPDATE while they wait on the claim's runs.

CREATE TABLE "sweep_run_counts" (
    "id" BIGSERIAL NOT NULL,
    "sweep_id" UUID NOT NULL,
    "status" TEXT NOT NULL,
    "n" BIGINT NOT NULL,
    "reused" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "sweep_run_counts_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "sweep_run_counts_sweep_id_status_idx" ON "sweep_run_counts"("sweep_id", "status");

CREATE FUNCTION "public"."runs_count_insert"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO sweep_run_counts (sweep_id, status, n, reused)
    SELECT sweep_id, status, count(*), count(*) FILTER (WHERE reused AND status = 'succeeded')
      FROM new_runs GROUP BY sweep_id, status;
    RETURN NULL;
END
$$;

CREATE FUNCTION "public"."runs_count_update"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO sweep_run_counts (sweep_id, status, n, reused)
    SELECT sweep_id, status, sum(n), sum(reused)
      FROM (SELECT sweep_id, status, 1 AS n, (reused AND status = 'succeeded')::int AS reused FROM new_runs
            UNION ALL
            SELECT sweep_id, status, -1, -(reused AND status = 'succeeded')::int FROM old_runs) d
     GROUP BY sweep_id, status
    HAVING sum(n) <> 0 OR sum(reused) <> 0;
    RETURN NULL;
END
$$;

-- A sweep deleted with its runs (ON DELETE CASCADE) keeps no counts: its rows go with
-- the sweep (sweeps_count_delete), and the runs' own delete adds none for it.
CREATE FUNCTION "public"."runs_count_delete"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO sweep_run_counts (sweep_id, status, n, reused)
    SELECT o.sweep_id, o.status, -count(*), -count(*) FILTER (WHERE o.reused AND o.status = 'succeeded')
      FROM old_runs o
     WHERE EXISTS (SELECT 1 FROM sweeps s WHERE s.id = o.sweep_id)
     GROUP BY o.sweep_id, o.status;
    RETURN NULL;
END
$$;

CREATE FUNCTION "public"."sweeps_count_delete"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    DELETE FROM sweep_run_counts c USING old_sweeps o WHERE c.sweep_id = o.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER "runs_count_insert" AFTER INSERT ON "runs"
    REFERENCING NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION "public"."runs_count_insert"();
CREATE TRIGGER "runs_count_update" AFTER UPDATE ON "runs"
    REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION "public"."runs_count_update"();
CREATE TRIGGER "runs_count_delete" AFTER DELETE ON "runs"
    REFERENCING OLD TABLE AS old_runs FOR EACH STATEMENT EXECUTE FUNCTION "public"."runs_count_delete"();
CREATE TRIGGER "sweeps_count_delete" AFTER DELETE ON "sweeps"
    REFERENCING OLD TABLE AS old_sweeps FOR EACH STATEMENT EXECUTE FUNCTION "public"."sweeps_count_delete"();

-- The runs there are now, counted once (CREATE TRIGGER above locked runs against writes
-- until this migration commits, so nothing is counted twice or missed).
INSERT INTO "sweep_run_counts" ("sweep_id", "status", "n", "reused")
SELECT "sweep_id", "status", count(*), count(*) FILTER (WHERE "reused" AND "status" = 'succeeded')
  FROM "runs" GROUP BY "sweep_id", "status";

-- Cancel answers at once: the sweep row says cancelled, and its queued runs read as
-- cancelled (finished when the sweep was) until a background pass writes them so
-- (sweeps.ts, cancelQueuedRunsChunk). The analyst view shows them as they read.
CREATE OR REPLACE VIEW "analyst"."runs_v1" WITH (security_invoker = true) AS
SELECT r."id"                       AS run_id,
       r."sweep_id"                 AS sweep_id,
       s."name"                     AS sweep_name,
       s."tags"                     AS sweep_tags,
       s."team_id"                  AS team_id,
       t."name"                     AS team_name,
       r."index"                    AS run_index,
       r."params"                   AS params,
       res."config"                 AS config,
       r."stage"                    AS refine_stage,
       r."cell"                     AS refine_cell,
       CASE WHEN r."status" = 'queued' AND s."status" = 'cancelled' THEN 'cancelled' ELSE r."status" END AS status,
       r."attempts"                 AS attempts,
       r."error"                    AS error,
       r."reused"                   AS reused,
       r."started_at"               AS started_at,
       CASE WHEN r."status" = 'queued' AND s."status" = 'cancelled' THEN s."finished_at" ELSE r."finished_at" END AS finished_at,
       r."duration_ms"              AS duration_ms,
       r."cost_seconds"             AS cost_seconds,
       r."config_hash"              AS config_hash,
       res."id"                     AS result_id,
       res."contract"               AS contract,
       res."core_version"           AS core_version,
       res."git_revision"           AS git_revision,
       res."converged"              AS converged,
       res."converged_at"           AS converged_at,
       res."collapsed"              AS collapsed,
       res."surviving_basins"       AS surviving_basins,
       res."nash_gap"               AS nash_gap,
       res."basin_share0"           AS basin_share0,
       res."final_entropy"          AS final_entropy,
       res."final_outside"          AS final_outside,
       res."outside_decay_rate"     AS outside_decay_rate,
       res."outside_domination"     AS outside_domination,
       res."audit_applies"          AS audit_applies,
       res."in_interval"            AS in_interval,
       res."in_interval_b5"         AS in_interval_b5,
       res."in_interval_corrected"  AS in_interval_corrected,
       res."summary"                AS summary
  FROM "public"."runs" r
  LEFT JOIN "public"."sweeps" s ON s."id" = r."sweep_id"
  LEFT JOIN "public"."teams" t ON t."id" = s."team_id"
  LEFT JOIN "public"."results" res ON res."id" = r."result_id" AND r."status" = 'succeeded';

-- The view now reads sweeps.status and sweeps.finished_at: existing readers get them.
SELECT "public"."grant_analyst_reader"("role_name") FROM "public"."team_readers";
