-- Run rows are inserted a million at a time when a large sweep is submitted
-- (docs/service-design.md, "Submission (API)"), and every one starts with no result.
-- The result_id index only answers lookups by a result's id (the team-scoped result
-- cache, the SET NULL when a result is deleted, which equal a non-null value), so the
-- rows without a result need no entry: a queued row's insert skips this index, and the
-- index holds only finished runs.
DROP INDEX "runs_result_id_idx";
CREATE INDEX "runs_result_id_idx" ON "runs"("result_id") WHERE "result_id" IS NOT NULL;
