/** One thing that happened, as the event list and the event stream carry it. */
export type FaultlineEvent = {
  id: number;
  occurredAt: string;
  node: string;
  /** e.g. region.attached, restore.complete, migration.progress */
  kind: string;
  /** region, restore, snapshot, policy, migration, agent */
  subjectType: string;
  subjectId: string;
  message: string;
  data: Record<string, unknown> | null;
};

export const eventKeys = { recent: ['events', 'recent'] as const };

export function isFaultlineEvent(value: unknown): value is FaultlineEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'number' && typeof v.kind === 'string' && typeof v.subjectType === 'string' && typeof v.message === 'string';
}
