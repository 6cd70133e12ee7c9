-- What a run row costs to insert (docs/service-design.md, "Submission (API)"). A large
-- sweep's rows are inserted a million at a time, each starting queued with no result.

-- The result_id index only answers lookups by a result's id (the team-scoped result
-- cache joins on it, the SET NULL when a result is deleted compares with it), which equal
-- a non-null value: the rows without a result need no entry, so a queued row's insert
-- skips this index, and the index holds only finished runs.
DROP INDEX "runs_result_id_idx";
CREATE INDEX "runs_result_id_idx" ON "runs"("result_id") WHERE "result_id" IS NOT NULL;

-- runs.sweep_id -> sweeps.id, checked once per statement instead of once per row. The
-- foreign key ran its check (a key-share lock of the sweep row through an index probe)
-- for every inserted row, though a chunk of 20,000 rows names one sweep. Now:
--  - an insert (and an update that changes sweep_id) locks each sweep it names FOR KEY
--    SHARE at the end of the statement, as the foreign key did, and fails with
--    foreign_key_violation (23503) when one does not exist; a sweep deleted concurrently
--    makes the lock wait for that delete and then find no row;
--  - deleting sweeps deletes their runs (as ON DELETE CASCADE did): the delete waits
--    for any insert still holding a sweep's key-share lock and then, a new statement
--    with a new snapshot, sees its committed rows.
-- Sweep ids never change (the foreign key's ON UPDATE CASCADE had nothing to do).
ALTER TABLE "runs" DROP CONSTRAINT "runs_sweep_id_fkey";

CREATE FUNCTION "public"."runs_sweep_exists"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    wanted int;
    found int;
BEGIN
    SELECT count(DISTINCT sweep_id) INTO wanted FROM new_runs;
    -- Sorted, so two statements lock the sweeps they share in the same order.
    SELECT count(*) INTO found FROM (
        SELECT 1 FROM sweeps s WHERE s.id IN (SELECT sweep_id FROM new_runs) ORDER BY s.id FOR KEY SHARE OF s
    ) l;
    IF found < wanted THEN
        RAISE EXCEPTION 'insert or update on table "runs" violates foreign key "runs_sweep_id_fkey"'
            USING ERRCODE = 'foreign_key_violation', DETAIL = 'A run names a sweep that does not exist.';
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION "public"."runs_sweep_exists_row"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM 1 FROM sweeps WHERE id = NEW.sweep_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "runs" violates foreign key "runs_sweep_id_fkey"'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (sweep_id)=(%s) is not present in table "sweeps".', NEW.sweep_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION "public"."sweeps_delete_runs"() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    DELETE FROM runs r USING old_sweeps o WHERE r.sweep_id = o.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER "runs_sweep_exists" AFTER INSERT ON "runs"
    REFERENCING NEW TABLE AS new_runs FOR EACH STATEMENT EXECUTE FUNCTION "public"."runs_sweep_exists"();
-- Transition tables cannot go with a column list; the workers' updates never change
-- sweep_id, so this is never queued for them.
CREATE TRIGGER "runs_sweep_exists_update" AFTER UPDATE OF "sweep_id" ON "runs"
    FOR EACH ROW WHEN (OLD."sweep_id" IS DISTINCT FROM NEW."sweep_id") EXECUTE FUNCTION "public"."runs_sweep_exists_row"();
CREATE TRIGGER "sweeps_delete_runs" AFTER DELETE ON "sweeps"
    REFERENCING OLD TABLE AS old_sweeps FOR EACH STATEMENT EXECUTE FUNCTION "public"."sweeps_delete_runs"();
