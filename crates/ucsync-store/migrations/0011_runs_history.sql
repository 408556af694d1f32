-- The runs of an enterprise by age: those older than its run history are removed.
CREATE INDEX runs_history ON runs (enterprise, started_at) WHERE parent_id IS NULL;
