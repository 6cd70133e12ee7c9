-- CreateTable
CREATE TABLE "sweeps" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "tags" TEXT[],
    "spec" JSONB NOT NULL,
    "total" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "idempotency_key" TEXT,
    "enqueued" INTEGER NOT NULL DEFAULT 0,
    "core_version" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "sweeps_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "runs" (
    "id" BIGSERIAL NOT NULL,
    "sweep_id" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "params" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "config_hash" TEXT,
    "result_id" BIGINT,
    "worker" TEXT,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "results" (
    "id" BIGSERIAL NOT NULL,
    "config_hash" TEXT NOT NULL,
    "core_version" TEXT NOT NULL,
    "git_revision" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "summary" JSONB NOT NULL,
    "trajectory" BYTEA NOT NULL,
    "generator" TEXT,
    "converged" BOOLEAN NOT NULL,
    "converged_at" INTEGER,
    "collapsed" BOOLEAN NOT NULL,
    "nash_gap" DOUBLE PRECISION,
    "basin_share0" DOUBLE PRECISION,
    "surviving_basins" INTEGER NOT NULL,
    "in_interval" BOOLEAN,
    "final_entropy" DOUBLE PRECISION NOT NULL,
    "duration_ms" DOUBLE PRECISION NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "results_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "sweeps_idempotency_key_key" ON "sweeps"("idempotency_key");

-- CreateIndex
CREATE INDEX "sweeps_created_at_idx" ON "sweeps"("created_at");

-- CreateIndex
CREATE INDEX "runs_sweep_id_status_idx" ON "runs"("sweep_id", "status");

-- CreateIndex
CREATE UNIQUE INDEX "runs_sweep_id_index_key" ON "runs"("sweep_id", "index");

-- CreateIndex
CREATE UNIQUE INDEX "results_config_hash_core_version_key" ON "results"("config_hash", "core_version");

-- AddForeignKey
ALTER TABLE "runs" ADD CONSTRAINT "runs_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "runs" ADD CONSTRAINT "runs_result_id_fkey" FOREIGN KEY ("result_id") REFERENCES "results"("id") ON DELETE SET NULL ON UPDATE CASCADE;
