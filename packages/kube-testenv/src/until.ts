/**
 * Polling for the Kubernetes suites: what a cluster does happens later than the call that asked for it
 * (a pod scheduled, a rule programmed, a name resolvable), so tests wait for it, and fail naming what
 * they waited for and the last error seen.
 */

/** Calls `fn` every `everyMs` until it returns something other than undefined/false (returned), or throws
 * after `timeoutMs` with `what` and the last error `fn` threw. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 90_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
