/**
 * What `npm run bench:lag` compares, kept pure so that each part is tested on real captured output:
 * Kafka's own `kafka-consumer-groups.sh --describe` text and Burrow's `/v3/kafka/<cluster>/consumer/<group>/lag`
 * JSON read into one shape (lag per partition); the difference of the prober's and Burrow's lag from
 * Kafka's tool, the reference, per partition and in total; when each said a paused group was
 * stalled or stopped; how far apart the reads ended;
 * medians and spreads; and issue 11 §3's goals beside the numbers.
 */
import { median } from "./proc-stats.js";

/** One partition's lag as one source read it; null where the source had no number (no committed offset). */
export interface PartitionReading {
  partition: number;
  committedOffset: number | null;
  endOffset: number | null;
  lag: number | null;
}

export class ParseError extends Error {}

// ---------- kafka-consumer-groups.sh ----------

export interface ConsumerGroupsDescribe {
  group: string;
  /** "Consumer group '…' has no active members." was printed (every member left or timed out) */
  noActiveMembers: boolean;
  /** distinct CONSUMER-IDs owning a partition ("-" not counted) */
  members: number;
  partitions: (PartitionReading & { topic: string })[];
}

const KCG_COLUMNS = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID"] as const;

/**
 * The output of `kafka-consumer-groups.sh --describe --group G` (Kafka 3.x): an optional "has no active
 * members" line, a header row and one whitespace-separated row per partition, "-" where there is no
 * number. The tool prints "Error: …" on stdout and still exits 0 for a group that does not exist: that
 * is thrown, as is any row the header does not explain.
 */
export function parseConsumerGroupsDescribe(text: string, group: string): ConsumerGroupsDescribe {
  const lines = text.split("\n").map((l) => l.trimEnd());
  const error = lines.find((l) => l.startsWith("Error:"));
  if (error) throw new ParseError(`kafka-consumer-groups.sh: ${error}`);
  const noActiveMembers = lines.some((l) => l === `Consumer group '${group}' has no active members.`);
  const h = lines.findIndex((l) => /^GROUP\s+TOPIC\s+PARTITION\s/.test(l));
  if (h < 0)
    throw new ParseError(
      `kafka-consumer-groups.sh: expected a header row "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG …", got ${JSON.stringify(text.slice(0, 200))}`,
    );
  const header = lines[h]!.split(/\s+/);
  const col = Object.fromEntries(
    KCG_COLUMNS.map((c) => {
      const i = header.indexOf(c);
      if (i < 0) throw new ParseError(`kafka-consumer-groups.sh: the header row has no ${c} column: ${JSON.stringify(lines[h])}`);
      return [c, i];
    }),
  ) as Record<(typeof KCG_COLUMNS)[number], number>;
  const partitions: ConsumerGroupsDescribe["partitions"] = [];
  const owners = new Set<string>();
  for (const line of lines.slice(h + 1)) {
    if (line.trim() === "") continue;
    const f = line.trim().split(/\s+/);
    const field = (c: (typeof KCG_COLUMNS)[number]) => {
      const v = f[col[c]];
      if (v === undefined) throw new ParseError(`kafka-consumer-groups.sh: row ${JSON.stringify(line)} has no ${c} column`);
      return v;
    };
    const num = (c: "PARTITION" | "CURRENT-OFFSET" | "LOG-END-OFFSET" | "LAG") => {
      const v = field(c);
      if (v === "-") return null;
      if (!/^\d+$/.test(v))
        throw new ParseError(
          `kafka-consumer-groups.sh: ${c} of row ${JSON.stringify(line)}: expected a whole number or "-", got ${JSON.stringify(v)}`,
        );
      return Number(v);
    };
    if (field("GROUP") !== group)
      throw new ParseError(
        `kafka-consumer-groups.sh: GROUP of row ${JSON.stringify(line)}: expected ${JSON.stringify(group)}, got ${JSON.stringify(field("GROUP"))}`,
      );
    const partition = num("PARTITION");
    if (partition === null)
      throw new ParseError(`kafka-consumer-groups.sh: PARTITION of row ${JSON.stringify(line)}: expected a whole number, got "-"`);
    const consumer = field("CONSUMER-ID");
    if (consumer !== "-") owners.add(consumer);
    partitions.push({
      topic: field("TOPIC"),
      partition,
      committedOffset: num("CURRENT-OFFSET"),
      endOffset: num("LOG-END-OFFSET"),
      lag: num("LAG"),
    });
  }
  partitions.sort((a, b) => a.partition - b.partition);
  return { group, noActiveMembers, members: owners.size, partitions };
}

// ---------- Burrow ----------

/** Burrow's statuses (protocol.StatusConstant names as its HTTP API v3 prints them). */
export const BURROW_STATUSES = ["NOTFOUND", "OK", "WARN", "ERR", "STOP", "STALL", "REWIND"] as const;
export type BurrowStatus = (typeof BURROW_STATUSES)[number];

export interface BurrowLag {
  group: string;
  status: BurrowStatus;
  /** the share of the evaluation window (storage `intervals` commits) filled, 0..1, least over partitions */
  complete: number;
  totalLag: number;
  partitions: (PartitionReading & { topic: string; status: BurrowStatus; lastCommitAt: number | null; complete: number })[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Burrow's `GET /v3/kafka/<cluster>/consumer/<group>/lag` (Burrow 1.2): the group's status and every
 * partition with its current lag (Burrow's last broker offset minus the last commit it read from
 * __consumer_offsets) and the window's last commit (`end`, null before the first). An `error: true`
 * answer or a field of the wrong type is thrown, naming it.
 */
export function parseBurrowLag(body: string, group: string): BurrowLag {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch (err) {
    throw new ParseError(`Burrow: expected JSON, got ${JSON.stringify(body.slice(0, 200))} (${(err as Error).message})`);
  }
  if (!isObj(j)) throw new ParseError(`Burrow: expected a JSON object, got ${JSON.stringify(body.slice(0, 200))}`);
  if (j["error"] !== false) throw new ParseError(`Burrow: error answer: ${JSON.stringify(j["message"] ?? j)}`);
  const s = j["status"];
  if (!isObj(s)) throw new ParseError(`Burrow: status: expected an object, got ${JSON.stringify(s)}`);
  if (s["group"] !== group)
    throw new ParseError(`Burrow: status.group: expected ${JSON.stringify(group)}, got ${JSON.stringify(s["group"])}`);
  const status = (v: unknown, where: string): BurrowStatus => {
    if (typeof v === "string" && (BURROW_STATUSES as readonly string[]).includes(v)) return v as BurrowStatus;
    throw new ParseError(`Burrow: ${where}: expected one of ${BURROW_STATUSES.join(", ")}, got ${JSON.stringify(v)}`);
  };
  const number = (v: unknown, where: string): number => {
    if (typeof v === "number" && Number.isFinite(v)) return v;
    throw new ParseError(`Burrow: ${where}: expected a number, got ${JSON.stringify(v)}`);
  };
  const parts = s["partitions"];
  if (!Array.isArray(parts)) throw new ParseError(`Burrow: status.partitions: expected an array, got ${JSON.stringify(parts)}`);
  const partitions = parts.map((p: unknown, i) => {
    const at = `status.partitions[${i}]`;
    if (!isObj(p)) throw new ParseError(`Burrow: ${at}: expected an object, got ${JSON.stringify(p)}`);
    const end = p["end"];
    if (end !== null && !isObj(end)) throw new ParseError(`Burrow: ${at}.end: expected an object or null, got ${JSON.stringify(end)}`);
    if (typeof p["topic"] !== "string") throw new ParseError(`Burrow: ${at}.topic: expected a string, got ${JSON.stringify(p["topic"])}`);
    const committedOffset = end ? number(end["offset"], `${at}.end.offset`) : null;
    const lag = number(p["current_lag"], `${at}.current_lag`);
    return {
      topic: p["topic"],
      partition: number(p["partition"], `${at}.partition`),
      status: status(p["status"], `${at}.status`),
      committedOffset,
      // Burrow keeps the broker offset it last fetched (offset-refresh) but does not print it: committed + lag
      endOffset: committedOffset === null ? null : committedOffset + lag,
      // before its first commit Burrow prints 0, a number it does not have
      lag: committedOffset === null ? null : lag,
      lastCommitAt: end ? number(end["timestamp"], `${at}.end.timestamp`) : null,
      complete: number(p["complete"], `${at}.complete`),
    };
  });
  partitions.sort((a, b) => a.partition - b.partition);
  return {
    group,
    status: status(s["status"], "status.status"),
    complete: number(s["complete"], "status.complete"),
    totalLag: number(s["totallag"], "status.totallag"),
    partitions,
  };
}

// ---------- comparison ----------

export interface Difference {
  /** other − reference over the partitions both have a number for */
  total: number;
  /** the largest |other − reference| of one partition */
  maxAbsPartition: number;
  /** per partition, other − reference; null where either has no number */
  partitions: { partition: number; diff: number | null }[];
  /** partitions where either had no number, or that only one of them has */
  uncomparable: number[];
}

/** The difference of a source's lag from the reference's (Kafka's tool), per partition and in total. */
export function difference(reference: readonly PartitionReading[], other: readonly PartitionReading[]): Difference {
  const ref = new Map(reference.map((p) => [p.partition, p]));
  const oth = new Map(other.map((p) => [p.partition, p]));
  const all = [...new Set([...ref.keys(), ...oth.keys()])].sort((a, b) => a - b);
  let total = 0;
  let maxAbs = 0;
  const uncomparable: number[] = [];
  const partitions = all.map((partition) => {
    const r = ref.get(partition)?.lag;
    const o = oth.get(partition)?.lag;
    if (r === undefined || r === null || o === undefined || o === null) {
      uncomparable.push(partition);
      return { partition, diff: null };
    }
    const diff = o - r;
    total += diff;
    maxAbs = Math.max(maxAbs, Math.abs(diff));
    return { partition, diff };
  });
  return { total, maxAbsPartition: maxAbs, partitions, uncomparable };
}

export const sumLag = (parts: readonly PartitionReading[]): number => parts.reduce((s, p) => s + (p.lag ?? 0), 0);

/** max − min of the reads' end times: how far apart the three "same moment" reads were */
export function skewMs(endsMs: readonly number[]): number {
  return endsMs.length === 0 ? 0 : Math.max(...endsMs) - Math.min(...endsMs);
}

// ---------- stall timing ----------

/** What a source said about the group at one read, `at` ms since the epoch. */
export interface Verdict {
  at: number;
  status: string;
}

/** The prober's verdicts that call a group stalled (committed offsets frozen stallSeconds while lagging) or stopped (no member). */
export const PROBER_CALLS: readonly string[] = ["stalled", "stopped"];
/** Burrow's statuses that call a group in trouble: its error statuses (STALL, STOP, ERR, REWIND) and WARN (falling behind). */
export const BURROW_CALLS: readonly string[] = ["WARN", "ERR", "STOP", "STALL", "REWIND"];

/**
 * The first read at or after `since` whose status is one of `calls`: its status and seconds after
 * `since`; null when none did (never a time for a call that was not made).
 */
export function firstCall(
  verdicts: readonly Verdict[],
  since: number,
  calls: readonly string[],
): { status: string; seconds: number } | null {
  const v = [...verdicts].sort((a, b) => a.at - b.at).find((x) => x.at >= since && calls.includes(x.status));
  return v ? { status: v.status, seconds: (v.at - since) / 1000 } : null;
}

// ---------- summaries and goals ----------

export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread | null {
  if (xs.length === 0) return null;
  return { n: xs.length, median: median([...xs]), min: Math.min(...xs), max: Math.max(...xs) };
}

export function fmtSpread(s: Spread | null, digits = 0): string {
  if (!s) return "—";
  const f = (x: number) => x.toFixed(digits);
  return s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}…${f(s.max)})`;
}

export interface GoalCheck {
  goal: string;
  measured: string;
  met: boolean | null;
}

/**
 * "Agrees with kafka-consumer-groups.sh exactly when offsets are quiet": every quiet sample's every
 * partition equal. null (not measured) without a comparable quiet sample.
 */
export function quietGoal(source: string, diffs: readonly Difference[]): GoalCheck {
  const goal = `${source}: equal to kafka-consumer-groups.sh per partition while offsets are quiet`;
  const comparable = diffs.filter((d) => d.partitions.some((p) => p.diff !== null));
  if (comparable.length === 0) return { goal, measured: "no comparable quiet sample", met: null };
  const worst = Math.max(...comparable.map((d) => d.maxAbsPartition));
  const unequal = comparable.filter((d) => d.maxAbsPartition !== 0 || d.total !== 0).length;
  return { goal, measured: `${unequal} of ${comparable.length} samples differ; largest partition difference ${worst}`, met: unequal === 0 };
}

/**
 * "Within one poll's produce rate under load": |total difference| of every loaded sample at most the
 * messages produced during one prober interval at the rate measured over the phase.
 */
export function loadGoal(source: string, diffs: readonly Difference[], producedPerSecond: number, intervalSeconds: number): GoalCheck {
  const allowed = Math.round(producedPerSecond * intervalSeconds);
  const goal = `${source}: |total − kafka-consumer-groups.sh| ≤ one interval's production (${producedPerSecond.toFixed(0)} msg/s × ${intervalSeconds} s = ${allowed}) under load`;
  const comparable = diffs.filter((d) => d.partitions.some((p) => p.diff !== null));
  if (comparable.length === 0) return { goal, measured: "no comparable loaded sample", met: null };
  const worst = Math.max(...comparable.map((d) => Math.abs(d.total)));
  return { goal, measured: `largest |total difference| ${worst} over ${comparable.length} samples`, met: worst <= allowed };
}

/** "A stalled group called within stallSeconds + one interval" (from the moment consumption stopped). */
export function stallGoal(
  source: string,
  call: { status: string; seconds: number } | null,
  stallSeconds: number,
  intervalSeconds: number,
  waitedSeconds: number,
): GoalCheck {
  const limit = stallSeconds + intervalSeconds;
  const goal = `${source}: calls the paused group within stallSeconds + one interval (${stallSeconds} + ${intervalSeconds} = ${limit} s)`;
  if (!call) return { goal, measured: `not called within ${waitedSeconds.toFixed(0)} s`, met: false };
  return { goal, measured: `${call.status} after ${call.seconds.toFixed(1)} s`, met: call.seconds <= limit };
}

export function goalText(g: GoalCheck): string {
  return `goal: ${g.goal}: ${g.measured} — ${g.met === null ? "not measured" : g.met ? "met" : "NOT MET"}`;
}
