-- A detach asked through an instance that does not manage the region's node: the region is
-- DETACHING with the request here ('POPULATE' or 'RELEASE') until the instance managing the node
-- claims it (FOR UPDATE SKIP LOCKED) and asks its agent.
ALTER TABLE region ADD COLUMN detach_request VARCHAR(16);
ALTER TABLE region ADD CONSTRAINT ck_region_detach_request CHECK (detach_request IN ('POPULATE', 'RELEASE'));
