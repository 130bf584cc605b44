// Values that differ between deployments come from Vite's env (VITE_*), with defaults that
// suit the usual setup: the UI served by the same Spring Boot service that answers the API.
function positiveInt(raw: string | undefined, fallback: number): number {
  const value = Number(raw);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

export const env = {
  /** Prefix for API calls; empty means same origin as the UI. */
  apiBaseUrl: (import.meta.env.VITE_API_BASE_URL ?? '').replace(/\/+$/, ''),
  /** How often the overview polls the host, so an agent restart shows up without a reload. */
  hostRefreshMs: positiveInt(import.meta.env.VITE_HOST_REFRESH_MS, 5000),
} as const;
