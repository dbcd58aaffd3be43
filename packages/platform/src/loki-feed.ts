/**
 * Ships a stack's container logs to Loki, the way promtail would: read through the Docker engine
 * (with the engine's timestamps), one Loki stream per container and level, labelled
 * `{instance, container, service, stack, level?}`. `instance` is the name the platform port knows the
 * container by (`logs("ingest-api", …)`), `container` the Docker name. One call pushes what is there;
 * `startDockerLogFeed` repeats it on an interval, each container from where the last pass stopped.
 */
import { demuxDockerLogs, dockerode, listStackContainers } from "@gm/docker-engine/docker";
import { compareNs, type LokiLogs, type LokiStream } from "./loki.js";

export interface FeedOptions {
  stackId: string;
  loki: Pick<LokiLogs, "push">;
  /** only lines at or after this time (default: everything the engine kept) */
  since?: Date;
}

export interface FeedResult {
  /** lines pushed per instance */
  lines: Record<string, number>;
  total: number;
}

/** Entries per push, so a request stays well under Loki's default message size and rate limits. */
const BATCH = 1000;

/** Docker's `--timestamps` prefix (RFC 3339 with nanoseconds, UTC) → nanoseconds since the epoch. */
export function rfc3339ToNs(ts: string): string | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return null;
  return (BigInt(ms / 1000) * 1_000_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"))).toString();
}

/** The `level` of a JSON log line, lower case, when it has one. */
export function levelOf(line: string): string | null {
  if (!line.startsWith("{")) return null;
  try {
    const v: unknown = JSON.parse(line);
    const level = typeof v === "object" && v !== null ? (v as Record<string, unknown>)["level"] : undefined;
    return typeof level === "string" && /^[a-zA-Z]{1,16}$/.test(level) ? level.toLowerCase() : null;
  } catch {
    return null;
  }
}

/**
 * `docker logs --timestamps` text → Loki streams (one per level), entries after `afterNs` only,
 * oldest first. Lines without a timestamp prefix or with nothing after it are left out.
 */
export function dockerLogsToStreams(
  text: string,
  labels: Record<string, string>,
  afterNs?: string,
): { streams: LokiStream[]; lastNs: string | null; count: number } {
  const byLevel = new Map<string, [string, string][]>();
  let lastNs: string | null = null;
  let count = 0;
  for (const raw of text.split("\n")) {
    const sp = raw.indexOf(" ");
    if (sp <= 0) continue;
    const ns = rfc3339ToNs(raw.slice(0, sp));
    const line = raw.slice(sp + 1).replace(/\r$/, "");
    if (ns === null || line.trim() === "") continue;
    if (afterNs !== undefined && compareNs(ns, afterNs) <= 0) continue;
    const level = levelOf(line) ?? "";
    byLevel.set(level, [...(byLevel.get(level) ?? []), [ns, line]]);
    if (lastNs === null || compareNs(ns, lastNs) > 0) lastNs = ns;
    count++;
  }
  const streams = [...byLevel].map(([level, values]) => ({
    stream: level ? { ...labels, level } : { ...labels },
    values: values.sort((a, b) => compareNs(a[0], b[0])),
  }));
  return { streams, lastNs, count };
}

/** One pass; `cursors` (container id → last nanosecond pushed) is read and advanced. */
async function feedOnce(o: FeedOptions, cursors: Map<string, string>): Promise<FeedResult> {
  const d = await dockerode();
  const result: FeedResult = { lines: {}, total: 0 };
  const sinceNs = o.since ? (BigInt(o.since.getTime()) * 1_000_000n - 1n).toString() : undefined;
  for (const c of await listStackContainers(o.stackId)) {
    const after = cursors.get(c.id) ?? sinceNs;
    // The engine's `since` has whole seconds; the cursor drops what was already pushed.
    const sinceSeconds = after === undefined ? 0 : Number(BigInt(after) / 1_000_000_000n);
    const buf = (await d
      .getContainer(c.id)
      .logs({ stdout: true, stderr: true, timestamps: true, since: sinceSeconds })) as unknown as Buffer;
    const instance = c.instance || c.name;
    const labels = { instance, container: c.name, service: c.role || instance, stack: o.stackId };
    const { streams, lastNs, count } = dockerLogsToStreams(demuxDockerLogs(buf), labels, after);
    for (const s of streams) {
      for (let i = 0; i < s.values.length; i += BATCH) await o.loki.push([{ stream: s.stream, values: s.values.slice(i, i + BATCH) }]);
    }
    if (lastNs !== null) cursors.set(c.id, lastNs);
    result.lines[instance] = (result.lines[instance] ?? 0) + count;
    result.total += count;
  }
  return result;
}

/** Pushes every log line the stack's containers have now (or since `since`) to Loki. */
export function feedDockerLogsToLoki(o: FeedOptions): Promise<FeedResult> {
  return feedOnce(o, new Map());
}

export interface DockerLogFeed {
  /** runs a pass now (after the one in flight, if any) */
  flush(): Promise<FeedResult>;
  /** stops the interval after a last pass; returns the lines pushed in all */
  stop(): Promise<FeedResult>;
  /** the last pass's error, if it failed */
  readonly lastError: unknown;
}

/** Feeds the stack's logs every `intervalMs` (default 2 s), each line once. */
export function startDockerLogFeed(o: FeedOptions & { intervalMs?: number; onError?: (err: unknown) => void }): DockerLogFeed {
  const cursors = new Map<string, string>();
  const totals: FeedResult = { lines: {}, total: 0 };
  let lastError: unknown;
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const pass = (): Promise<FeedResult> => {
    const p = chain.then(async () => {
      const r = await feedOnce(o, cursors);
      for (const [k, n] of Object.entries(r.lines)) totals.lines[k] = (totals.lines[k] ?? 0) + n;
      totals.total += r.total;
      lastError = undefined;
      return r;
    });
    chain = p.catch((err: unknown) => {
      lastError = err;
      o.onError?.(err);
    });
    return p;
  };
  const tick = () => {
    timer = setTimeout(() => {
      void pass()
        .catch(() => undefined)
        .finally(() => {
          if (!stopped) tick();
        });
    }, o.intervalMs ?? 2_000);
  };
  tick();
  return {
    flush: pass,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass().catch(() => undefined);
      return totals;
    },
    get lastError() {
      return lastError;
    },
  };
}
