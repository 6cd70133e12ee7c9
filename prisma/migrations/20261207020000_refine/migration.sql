-- Adaptive (refine) sweeps. A sweep whose spec has `refine` runs in stages: the
-- refiner adds each stage's run rows (total grows) and the sweep may only finish once
-- it has said that no stage follows (refine_done). refine_stage is the stage whose
-- rows exist; refine_jobs_stage the last stage whose jobs were added, so a crash
-- between the two is repaired by adding that stage's jobs again.
ALTER TABLE "sweeps"
  ADD COLUMN "refine_stage" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "refine_jobs_stage" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "refine_done" BOOLEAN NOT NULL DEFAULT false;

-- Each run of a refine sweep: the stage that added it and its point on the finest
-- lattice (integer coordinates per refine axis). NULL for ordinary sweeps.
ALTER TABLE "runs"
  ADD COLUMN "stage" INTEGER,
  ADD COLUMN "cell" INTEGER[];
