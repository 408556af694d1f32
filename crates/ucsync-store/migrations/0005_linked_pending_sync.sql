-- The objects a sync must look at that are linked to a directory entry: only they can take an
-- entry away (deleted in the source, or out of scope now), so the deletion threshold counts them
-- before a sync changes anything. A first import marks unlinked objects and the sync that links
-- them clears their mark, so they never enter this index.
CREATE INDEX staging_sync_linked ON staging (connector_id, id)
    WHERE sync_state != 0 AND entry_id IS NOT NULL;
