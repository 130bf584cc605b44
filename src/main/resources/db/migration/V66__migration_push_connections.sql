-- How many connections carry a job's pushed pages (1 to 8). Jobs created before the option
-- existed ran on the page channel alone.
ALTER TABLE migration ADD COLUMN push_connections INTEGER DEFAULT 1 NOT NULL;
