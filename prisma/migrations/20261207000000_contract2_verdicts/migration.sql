-- Contract 2 (docs/model.md): results say which contract produced them, and the verdicts a
-- researcher filters or groups by are real columns.

-- The contract is the major number of the core version (core 1.x computed contract 1,
-- 2.x contract 2). Generated from core_version, so a row can never be labelled with a
-- contract other than the one its core implements, and rows from before this migration
-- are labelled by the same rule (a version that does not start with a number, as in
-- hand-made test rows, counts as contract 1, the only contract before this one).
ALTER TABLE "results" ADD COLUMN "contract" INTEGER NOT NULL GENERATED ALWAYS AS (
    CASE WHEN "core_version" ~ '^[0-9]{1,9}\.' THEN split_part("core_version", '.', 1)::integer ELSE 1 END
) STORED;

-- Verdicts new in contract 2 (NULL where the run has none: m != 2 for the audit, fewer
-- than two positive outside masses for the decay rate), and final.outside.
ALTER TABLE "results"
    ADD COLUMN "outside_decay_rate" DOUBLE PRECISION,
    ADD COLUMN "audit_applies" BOOLEAN,
    ADD COLUMN "in_interval_b5" BOOLEAN,
    ADD COLUMN "in_interval_corrected" BOOLEAN,
    ADD COLUMN "outside_domination" DOUBLE PRECISION,
    ADD COLUMN "final_outside" DOUBLE PRECISION;

-- Backfill from the stored summaries: contract 1 summaries have final.outside and none
-- of the other fields, so those stay NULL; a jsonb null or a missing key reads as NULL.
UPDATE "results" SET
    "outside_decay_rate" = ("summary" ->> 'outsideDecayRate')::double precision,
    "audit_applies" = ("summary" #>> '{audit,applies}')::boolean,
    "in_interval_b5" = ("summary" #>> '{audit,inIntervalB5}')::boolean,
    "in_interval_corrected" = ("summary" #>> '{audit,inIntervalCorrected}')::boolean,
    "outside_domination" = ("summary" #>> '{audit,outsideDomination}')::double precision,
    "final_outside" = ("summary" #>> '{final,outside}')::double precision;

-- The covering index of the stats aggregates now also carries the contract, the core
-- version and the new verdicts, so grouping a sweep's runs by contract and aggregating
-- any column stays an index-only scan.
DROP INDEX "results_stats_idx";
CREATE INDEX "results_stats_idx" ON "results"("id", "contract", "core_version", "converged", "converged_at", "collapsed", "nash_gap", "basin_share0", "surviving_basins", "in_interval", "final_entropy", "outside_decay_rate", "audit_applies", "in_interval_b5", "in_interval_corrected", "outside_domination", "final_outside");
