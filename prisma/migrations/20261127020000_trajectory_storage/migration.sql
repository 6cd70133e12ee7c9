-- Trajectories are packed Float64 columns that Postgres's default compression (pglz)
-- cannot shrink: it spent about 0.6 ms of server CPU per 35 KB trajectory and stored it
-- uncompressed anyway. EXTERNAL keeps them out of line without trying. (lz4 would save
-- ~15% of the space at the same speed, but not every server is built with it.)
-- Prisma's schema has no word for storage modes, so this lives only here.
ALTER TABLE "results" ALTER COLUMN "trajectory" SET STORAGE EXTERNAL;
