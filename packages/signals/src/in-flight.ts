/**
 * A bound on the requests a round has in flight. A round used to start every probe at once: at 10,000
 * targets that is 20,000 sockets (health and metrics) opened in the same instant, past this machine's
 * open-files limit, and every in-flight request's buffers alive together (`npm run bench:prober`).
 * blackbox_exporter is bounded the same way by Prometheus' scrape concurrency. Work queued here waits
 * for a slot; what a probe measures (its latency, its timeout) starts when it gets one.
 */
export type InFlight = <T>(work: () => Promise<T>) => Promise<T>;

/** At most `max` of the given works run at once, in the order given; the rest wait for a slot. */
export function inFlightLimit(max: number): InFlight {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`in-flight limit: expected a whole number ≥ 1, got ${max}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    running--;
    const next = waiting.shift();
    if (next) next();
  };
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      release();
    }
  };
}

/** No bound: every work starts at once (the collectors' default when no limit is given). */
export const unbounded: InFlight = (work) => work();
