-- Nothing for PostgreSQL: its replicas share every consumed flow at once. This
-- step keeps both schemas at the same version (process_runs is SQLite's).
SELECT 1;
