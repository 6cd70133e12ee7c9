-- Direct SQL for analysts (docs/analyst-sql.md): versioned views in the schema `analyst`,
-- read-only roles that see one team's rows through row-level security, and the indexes
-- a team database of millions of runs needs (docs/analyst-sql.md, "Indexes at scale").

-- ------------------------------------------------------------------ indexes
-- A sweep's runs of one status in index order: the run listing and the export filtered by
-- status (`WHERE sweep_id = $1 AND status = $2 AND index > $3 ORDER BY index LIMIT n`)
-- read only the matching rows, instead of walking the sweep's whole index range and
-- discarding the other statuses (a million-run sweep with a few hundred failures). The
-- (sweep_id, status) prefix serves the per-status counts as the old index did, so that
-- one goes: one index per run row less to maintain on every status change.
CREATE INDEX "runs_sweep_id_status_index_idx" ON "runs"("sweep_id", "status", "index");
DROP INDEX "runs_sweep_id_status_idx";

-- ------------------------------------------------------------------ readers
-- Which team each reader role (`sweep admin create-reader TEAM`) belongs to. Role names
-- are cluster-wide, the mapping is per database. A role without a row here sees nothing
-- (the policies below compare with NULL). A team cannot be deleted while it has readers
-- (RESTRICT): `sweep admin drop-reader` drops each role with its row, so no login role
-- outlives the record of what it is.
CREATE TABLE "team_readers" (
    "role_name" TEXT NOT NULL,
    "team_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "team_readers_pkey" PRIMARY KEY ("role_name")
);
CREATE INDEX "team_readers_team_id_idx" ON "team_readers"("team_id");
ALTER TABLE "team_readers" ADD CONSTRAINT "team_readers_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Row-level security. Enabled, not forced: the tables' owner (the role that runs these
-- migrations, which the API and workers connect as) is not subject to it, so the service
-- reads and writes as before at no cost. Every other role without BYPASSRLS sees only
-- what a policy allows; only reader roles are granted anything, and a reader sees the rows
-- of the team its role name maps to. The policies' lookups run with the reader's own
-- privileges, so the subqueries over team_readers, sweeps and runs are themselves filtered.
ALTER TABLE "team_readers" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "team_readers_self" ON "team_readers" FOR SELECT
    USING ("role_name" = current_user);

ALTER TABLE "teams" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "teams_reader" ON "teams" FOR SELECT
    USING ("id" = (SELECT tr."team_id" FROM "team_readers" tr WHERE tr."role_name" = current_user));

ALTER TABLE "sweeps" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "sweeps_reader" ON "sweeps" FOR SELECT
    USING ("team_id" = (SELECT tr."team_id" FROM "team_readers" tr WHERE tr."role_name" = current_user));

-- One hashed lookup in the team's sweep ids per run row.
ALTER TABLE "runs" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "runs_reader" ON "runs" FOR SELECT
    USING ("sweep_id" IN (SELECT s."id" FROM "sweeps" s));

-- Results are shared by every team (one row per configuration and core version). A
-- reader sees a result when one of its team's runs links to it: what its own runs
-- computed or reused, never a result only another team asked for. The views leave out
-- the two columns that belong to whoever computed the row first (duration_ms, created_at).
ALTER TABLE "results" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "results_reader" ON "results" FOR SELECT
    USING (EXISTS (SELECT 1 FROM "runs" r WHERE r."result_id" = "results"."id"));

-- ------------------------------------------------------------------ views
-- The analyst schema holds only versioned views. A view's name ends in its version; its
-- columns (names, types, order, meaning) never change. A change of shape is a new view
-- (runs_v2) beside the old one, which stays until the docs announce its removal.
-- security_invoker: the view reads the tables with the privileges, and under the
-- row-level security, of whoever queries it (not of the view's owner).
CREATE SCHEMA "analyst";
COMMENT ON SCHEMA "analyst" IS 'Stable, versioned views for direct SQL (docs/analyst-sql.md).';

CREATE VIEW "analyst"."sweeps_v1" WITH (security_invoker = true) AS
SELECT s."id"                     AS sweep_id,
       s."name"                   AS sweep_name,
       s."tags"                   AS tags,
       s."team_id"                AS team_id,
       t."name"                   AS team_name,
       s."status"                 AS status,
       s."total"                  AS total,
       s."core_version"           AS core_version,
       s."spec"                   AS spec,
       s."estimated_cost_seconds" AS estimated_cost_seconds,
       s."created_at"             AS created_at,
       s."started_at"             AS started_at,
       s."finished_at"            AS finished_at
  FROM "public"."sweeps" s
  LEFT JOIN "public"."teams" t ON t."id" = s."team_id";
COMMENT ON VIEW "analyst"."sweeps_v1" IS 'One row per sweep. Version 1: its columns never change (docs/analyst-sql.md).';

-- Left joins on unique keys: a query that uses no column of sweeps, teams or results
-- does not read them (Postgres removes the join).
CREATE VIEW "analyst"."runs_v1" WITH (security_invoker = true) AS
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
       r."status"                   AS status,
       r."attempts"                 AS attempts,
       r."error"                    AS error,
       r."reused"                   AS reused,
       r."started_at"               AS started_at,
       r."finished_at"              AS finished_at,
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
COMMENT ON VIEW "analyst"."runs_v1" IS 'One row per run with its sweep, axis values, configuration, verdicts and summary. Version 1: its columns never change (docs/analyst-sql.md).';

-- What a reader role is granted, in one place: `sweep admin create-reader` calls it for a
-- new role, and a migration that adds a view calls it for every reader
-- (SELECT grant_analyst_reader(role_name) FROM team_readers). With security_invoker the
-- reader needs SELECT on the base columns the views read (and the policies' lookups),
-- granted column by column from the views' own dependencies: nothing else of the base
-- tables (no trajectory, no api_keys, no workers).
CREATE FUNCTION "public"."grant_analyst_reader"(reader TEXT) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    t RECORD;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA analyst TO %I', reader);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA analyst TO %I', reader);
    FOR t IN
        SELECT d.refobjid::regclass AS rel, string_agg(DISTINCT quote_ident(a.attname), ', ') AS cols
          FROM pg_depend d
          JOIN pg_rewrite w ON w.oid = d.objid
          JOIN pg_class v ON v.oid = w.ev_class
          JOIN pg_namespace n ON n.oid = v.relnamespace AND n.nspname = 'analyst'
          JOIN pg_class b ON b.oid = d.refobjid AND b.relkind IN ('r', 'p')
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid AND a.attnum > 0
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
         GROUP BY d.refobjid
    LOOP
        EXECUTE format('GRANT SELECT (%s) ON %s TO %I', t.cols, t.rel, reader);
    END LOOP;
    EXECUTE format('GRANT SELECT (role_name, team_id) ON public.team_readers TO %I', reader);
END
$$;
REVOKE ALL ON FUNCTION "public"."grant_analyst_reader"(TEXT) FROM PUBLIC;
