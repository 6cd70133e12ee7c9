-- CreateIndex
-- Covering index for the stats aggregates (GET /v1/sweeps/:id/stats, /v1/stats?tag=): a
-- sweep's runs join results by id and read only these summary columns, so Postgres answers
-- from the index alone (index-only scan) instead of reading the wide results rows (summary
-- jsonb, trajectory). Keeps a 100,000-run group-by flat as `results` grows with other sweeps.
CREATE INDEX "results_stats_idx" ON "results"("id", "converged", "converged_at", "collapsed", "nash_gap", "basin_share0", "surviving_basins", "in_interval", "final_entropy");
