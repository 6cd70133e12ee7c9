-- Recovery, budgets and the result cache's scope (docs/service-design.md).

-- Worker liveness: each worker process writes its heartbeat here every few seconds. A
-- run `running` on behalf of a worker whose heartbeat stopped is computed by nobody, so
-- the reconciler puts it back to `queued` and claims may take it over. In Postgres, not
-- Redis: the jobs in Redis are what may be lost.
CREATE TABLE "workers" (
    "id" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    CONSTRAINT "workers_pkey" PRIMARY KEY ("id")
);

-- A run served from a stored result says so (reused), and keeps its own compute time
-- (duration_ms, NULL when reused): the result row's duration_ms belongs to whoever
-- computed it first, possibly another team. cost_seconds is the core's estimate for
-- this configuration, what the team's budget is charged for it.
ALTER TABLE "runs"
    ADD COLUMN "reused" BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN "duration_ms" DOUBLE PRECISION,
    ADD COLUMN "cost_seconds" DOUBLE PRECISION;

-- Estimated cost of the failed runs a retry put back to work, charged on top of the
-- sweep's own estimate (they compute a second time).
ALTER TABLE "sweeps" ADD COLUMN "retry_cost_seconds" DOUBLE PRECISION NOT NULL DEFAULT 0;

-- With the cache scoped to a team, a lookup asks whether a result is linked from one of
-- the team's runs.
CREATE INDEX "runs_result_id_idx" ON "runs"("result_id");
