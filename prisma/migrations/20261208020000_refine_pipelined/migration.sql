-- The refiner no longer adds a whole stage at a time: it adds points as soon as the
-- outcomes it has ask for them, each addition guarded by the sweep's run count
-- (total). refine_jobs_stage recorded the last stage whose jobs were added, to repair a
-- crash between a stage's rows and its jobs; such rows are now re-queued by the
-- workers' reconciler like any queued run that no job carries.
ALTER TABLE "sweeps" DROP COLUMN "refine_jobs_stage";
