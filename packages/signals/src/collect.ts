/**
 * Running collectors: each has a timeout and never throws into the loop. A failed collection is
 * itself a signal: it comes back as `{ value: null, error }` and lands in `snapshot.collectionErrors`.
 */

export interface Collected<T> {
  collector: string;
  value: T | null;
  error: string | null;
  ms: number;
}

export async function collect<T>(collector: string, timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<Collected<T>> {
  const t0 = performance.now();
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const value = await Promise.race([fn(ac.signal), timeout]);
    return { collector, value, error: null, ms: performance.now() - t0 };
  } catch (err) {
    return { collector, value: null, error: err instanceof Error ? err.message : String(err), ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** A bounded series of (time, value) samples, for rates and trends over a sliding window. */
export class Series {
  private readonly points: { t: number; v: number }[] = [];
  constructor(private readonly windowMs: number) {}

  add(t: number, v: number): void {
    this.points.push({ t, v });
    // keep one point older than the window, so a full-window delta is always available
    while (this.points.length > 2 && this.points[1]!.t <= t - this.windowMs) this.points.shift();
  }

  /** The oldest point inside (or just before) the window and the newest one. */
  span(): { first: { t: number; v: number }; last: { t: number; v: number } } | null {
    const first = this.points[0];
    const last = this.points[this.points.length - 1];
    if (!first || !last || first === last) return null;
    return { first, last };
  }

  /** Change over the last `n` intervals between samples (the newest n+1 points, fewer when fewer exist), and their span. */
  recent(n: number): { delta: number; ms: number } | null {
    const last = this.points[this.points.length - 1];
    const from = this.points[Math.max(0, this.points.length - 1 - n)];
    if (!last || !from || from === last) return null;
    return { delta: last.v - from.v, ms: last.t - from.t };
  }

  /** Change per second over the window; null with fewer than two points. */
  slopePerSecond(): number | null {
    const s = this.span();
    if (!s || s.last.t === s.first.t) return null;
    return (s.last.v - s.first.v) / ((s.last.t - s.first.t) / 1000);
  }

  all(): readonly { t: number; v: number }[] {
    return this.points;
  }
}
