/**
 * Shapes every feature of the API shares, written once (docs/architecture.md, glossary).
 */

/** One page of a list endpoint (the service's PageResponse). */
export type Page<T> = { items: T[]; page: number; size: number; totalItems: number; totalPages: number };

/**
 * How long something waited, in nanoseconds: a region's fault latency, a migration's demand
 * latency, a snapshot's writer stalls. A percentile the measuring side does not compute is null.
 */
export type LatencySummary = {
  count: number;
  p50Ns: number | null;
  p99Ns: number | null;
  p999Ns: number | null;
  maxNs: number;
};
