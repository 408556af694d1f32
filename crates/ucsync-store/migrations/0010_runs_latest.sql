-- A connector's last run of each profile, and its last successful one, found without reading
-- the whole history (connector status asks for them on every call).
CREATE INDEX runs_latest ON runs (connector, profile, id);
CREATE INDEX runs_latest_status ON runs (connector, profile, status, id);
