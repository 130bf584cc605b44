/** Labels as a person types them: `key=value`, one per line or separated by commas. */
export function formatLabels(labels: Record<string, string>, separator = '\n'): string {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`)
    .join(separator);
}

export type ParsedLabels = { labels: Record<string, string>; error: string | null };

/**
 * Reads `key=value` pairs. Only the shape is checked here (each pair has a key and an `=`, no
 * key twice); the service checks the key and value syntax and says what is wrong.
 */
export function parseLabels(text: string): ParsedLabels {
  const labels: Record<string, string> = {};
  const pairs = text
    .split(/[\n,]/)
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '');
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return { labels, error: `"${pair}" is not key=value` };
    const key = pair.slice(0, eq).trim();
    if (key in labels) return { labels, error: `label "${key}" is given twice` };
    labels[key] = pair.slice(eq + 1).trim();
  }
  return { labels, error: null };
}
