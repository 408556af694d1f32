-- What each connector's last finished full import and full sync ran with: a fingerprint (a hash)
-- of the settings that change what an import reads, and of the rules a sync applies. A run that
-- finds the configuration's fingerprint different does the full import or sync the change needs
-- by itself. NULL: never recorded (a connector from before this version, or a new one), taken
-- as it is at the next run.
ALTER TABLE connectors ADD COLUMN import_fingerprint TEXT;
ALTER TABLE connectors ADD COLUMN sync_fingerprint TEXT;
-- The settings an image export (a whole file) was last written with: when they change, the next
-- export writes the whole target again, even with nothing pending.
ALTER TABLE connectors ADD COLUMN export_fingerprint TEXT;
-- A full import or sync started and has not finished (stopped, failed or killed): the next run
-- of that step, even a delta one, is a full one.
ALTER TABLE connectors ADD COLUMN full_import_unfinished INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connectors ADD COLUMN full_sync_unfinished INTEGER NOT NULL DEFAULT 0;
