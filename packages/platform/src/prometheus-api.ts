/**
 * Test support: what the real-node tests read from the in-cluster Prometheus of deploy/prometheus, through
 * its HTTP API (https://prometheus.io/docs/prometheus/2.42/querying/api/): the active scrape targets
 * (`GET /api/v1/targets`) and query results (`GET /api/v1/query`). A body that is not a successful answer
 * of that shape throws, quoting what came back.
 */

/** One active scrape target: its labels after relabelling, and how its last scrape went. */
export interface ScrapeTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: "up" | "down" | "unknown";
  lastError: string;
  /** when it was last scraped (ms since the epoch), null before the first scrape */
  lastScrape: number | null;
}

/** One series of a query result with its samples, oldest first (one for an instant vector). */
export interface Series {
  metric: Record<string, string>;
  samples: { at: number; value: number }[];
}

type Answer = { status?: string; data?: unknown; error?: string };

function successData(body: string, what: string): unknown {
  let answer: Answer;
  try {
    answer = JSON.parse(body) as Answer;
  } catch {
    throw new Error(`${what}: not JSON: ${body.slice(0, 200)}`);
  }
  if (answer.status !== "success") throw new Error(`${what}: status ${answer.status ?? "missing"}: ${answer.error ?? body.slice(0, 200)}`);
  return answer.data;
}

/** The active targets of a `GET /api/v1/targets` answer. */
export function parseTargets(body: string): ScrapeTarget[] {
  const data = successData(body, "/api/v1/targets") as { activeTargets?: unknown } | undefined;
  if (!Array.isArray(data?.activeTargets)) throw new Error(`/api/v1/targets: no data.activeTargets in ${body.slice(0, 200)}`);
  return (data.activeTargets as Record<string, unknown>[]).map((t) => {
    const at = typeof t["lastScrape"] === "string" ? Date.parse(t["lastScrape"]) : Number.NaN;
    const health = t["health"];
    return {
      labels: (t["labels"] as Record<string, string> | undefined) ?? {},
      scrapeUrl: String(t["scrapeUrl"] ?? ""),
      health: health === "up" || health === "down" ? health : "unknown",
      lastError: String(t["lastError"] ?? ""),
      // a target not scraped yet reports the zero time, 0001-01-01T00:00:00Z
      lastScrape: Number.isNaN(at) || at <= 0 ? null : at,
    };
  });
}

/** The series of a `GET /api/v1/query` answer: an instant vector (one sample each) or a range vector. */
export function parseQuery(body: string): Series[] {
  const data = successData(body, "/api/v1/query") as { resultType?: string; result?: unknown } | undefined;
  const sample = ([t, v]: [number, string]) => ({ at: t * 1000, value: Number(v) });
  switch (data?.resultType) {
    case "vector":
      return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({
        metric: r.metric,
        samples: [sample(r.value)],
      }));
    case "matrix":
      return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((r) => ({
        metric: r.metric,
        samples: r.values.map(sample),
      }));
    default:
      throw new Error(`/api/v1/query: expected a vector or a matrix, got resultType ${data?.resultType}: ${body.slice(0, 200)}`);
  }
}

/**
 * What is missing for each `[namespace, app, n]` to have at least n targets up (labels `namespace` and
 * `app`, as the pod job of deploy/prometheus/prometheus.yml sets them); empty when nothing is.
 */
export function missingTargets(targets: ScrapeTarget[], want: [string, string, number][]): string[] {
  const out: string[] = [];
  for (const [namespace, app, n] of want) {
    const mine = targets.filter((t) => t.labels["namespace"] === namespace && t.labels["app"] === app);
    const up = mine.filter((t) => t.health === "up").length;
    if (up >= n) continue;
    const others = mine
      .filter((t) => t.health !== "up")
      .map((t) => `${t.labels["pod"] ?? t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ""}`);
    out.push(
      `${namespace}/${app}: ${up} of ${n} targets up${others.length ? `; ${others.join(", ")}` : mine.length ? "" : ", none discovered"}`,
    );
  }
  return out;
}
