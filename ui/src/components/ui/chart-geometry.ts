export type Point = { t: number; v: number | null };

/**
 * SVG path data for points scaled into a width × height box: time on x (oldest at the left),
 * value on y from 0 at the bottom to `max` at the top. A null value breaks the line, so a gap
 * in the data shows as a gap, never as a made-up slope.
 */
export function linePath(points: readonly Point[], width: number, height: number, max: number): string {
  if (points.length === 0) return '';
  const t0 = points[0]!.t;
  const span = points[points.length - 1]!.t - t0;
  const top = max > 0 ? max : 1;
  let path = '';
  let penDown = false;
  for (const { t, v } of points) {
    if (v === null || !Number.isFinite(v)) {
      penDown = false;
      continue;
    }
    const x = span > 0 ? ((t - t0) / span) * width : width;
    const y = height - (Math.min(Math.max(v, 0), top) / top) * height;
    path += `${penDown ? 'L' : 'M'}${round(x)},${round(y)}`;
    penDown = true;
  }
  return path;
}

/** A round upper bound for the y axis: 1, 2 or 5 times a power of ten, at least `value`. */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
