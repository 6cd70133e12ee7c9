-- Teams and API keys (docs/service-design.md, "Access control").

-- CreateTable
CREATE TABLE "teams" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    -- Total estimated compute (seconds) the team's sweeps that are not cancelled may add up to; NULL = unlimited.
    "compute_budget_seconds" DOUBLE PRECISION,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "teams_pkey" PRIMARY KEY ("id")
);

-- CreateTable
-- Keys are stored as the sha256 hex of the whole key, never in plain text. A fast hash is
-- enough (no bcrypt/scrypt): keys are 32 random bytes, so there is nothing to guess or
-- brute-force, unlike a password; and a fast, deterministic hash lets every request find
-- its key with one unique-index lookup.
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "team_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    -- The first characters of the key (e.g. "cs_AbCdEfGh"), shown in listings to tell keys apart.
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    -- member | admin
    "role" TEXT NOT NULL DEFAULT 'member',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "api_keys_role_check" CHECK ("role" IN ('member', 'admin'))
);

-- CreateIndex
CREATE UNIQUE INDEX "teams_name_key" ON "teams"("name");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys"("hash");

-- CreateIndex
CREATE INDEX "api_keys_team_id_idx" ON "api_keys"("team_id");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AlterTable
-- Sweeps from before teams keep team_id NULL: only admin keys see them.
ALTER TABLE "sweeps" ADD COLUMN "team_id" UUID,
ADD COLUMN "estimated_cost_seconds" DOUBLE PRECISION NOT NULL DEFAULT 0;

-- AddForeignKey
ALTER TABLE "sweeps" ADD CONSTRAINT "sweeps_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Idempotency keys are unique per team: two teams may use the same key.
-- DropIndex
DROP INDEX "sweeps_idempotency_key_key";

-- CreateIndex
CREATE UNIQUE INDEX "sweeps_team_id_idempotency_key_key" ON "sweeps"("team_id", "idempotency_key");

-- CreateIndex
-- A team's sweeps newest first (GET /v1/sweeps for a member key).
CREATE INDEX "sweeps_team_id_created_at_idx" ON "sweeps"("team_id", "created_at");
