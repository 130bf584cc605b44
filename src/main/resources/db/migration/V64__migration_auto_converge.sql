-- Whether the source may throttle its workload while precopy rounds do not converge (auto-converge).
-- Jobs created before the option existed never throttled.
ALTER TABLE migration ADD COLUMN auto_converge BOOLEAN DEFAULT FALSE NOT NULL;
