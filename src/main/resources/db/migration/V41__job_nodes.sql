-- Snapshot takes and operations run on one host (its agent, its snapshot directory): the node
-- of the snapshot's region. Only the instance managing that node claims them.
ALTER TABLE snapshot ADD COLUMN node VARCHAR(64);
ALTER TABLE snapshot_operation ADD COLUMN node VARCHAR(64);

-- Before this, one instance ran every job; its regions carry their node. A snapshot whose
-- region row is gone keeps NULL: any instance may run its remaining work (deletion).
UPDATE snapshot SET node = (SELECT r.node FROM region r WHERE CAST(r.id AS VARCHAR(36)) = snapshot.region_id);
UPDATE snapshot_operation SET node = (SELECT s.node FROM snapshot s WHERE s.id = snapshot_operation.snapshot_id);

CREATE INDEX ix_snapshot_node_state ON snapshot (node, state);
CREATE INDEX ix_snapshot_operation_node_state ON snapshot_operation (node, state);
