-- Which worker process reconciles Postgres with the queue (docs/service-design.md,
-- "Recovery"): a lease the holder renews at every pass. A holder that dies or stops
-- (SIGSTOP, a partition) loses it when it expires, and another worker takes over; a
-- session advisory lock would stay with a stopped process for as long as its connection.
CREATE TABLE "reconciler_lease" (
    "name" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "reconciler_lease_pkey" PRIMARY KEY ("name")
);
