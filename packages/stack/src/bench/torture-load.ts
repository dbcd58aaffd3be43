/**
 * The platform torture's load: batches of events to ingest-api at a steady rate, each event's
 * content remembered (its hash) with the phase it was first sent in and whether it was acknowledged.
 * A batch answered 5xx or not answered is sent again with the same ids and content, as a client that
 * retries does; that is also how an event reaches Kafka twice (a 503 after Kafka had it) and the
 * processor's dedup gets work. The events vary in what a content check can catch: offsets and
 * microseconds in `ts`, non-ASCII, escapes, floats, nesting.
 */
import { type LedgerEntry, type SentEvent, sentHash } from "./torture-integrity.js";

const TYPES = ["session_start", "match_start", "kill", "death", "level_up", "purchase", "match_end", "session_end"];
const NOTES = ["héllo wörld", "世界 🎮 GG", 'quote " and backslash \\', "line\nbreak\ttab", "emoji 👾🏆", "plain"];
const OFFSETS = ["Z", "+05:30", "-08:00", "+00:00", "+14:00"];

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** An RFC 3339 timestamp of `ms` (plus `micros` 0..999) written in the offset `offset` ("Z" or ±hh:mm). */
export function formatTs(ms: number, micros: number, offset: string): string {
  const minutes = offset === "Z" ? 0 : (offset.startsWith("-") ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const local = new Date(ms + minutes * 60_000);
  const base = local.toISOString().slice(0, 19);
  const frac = micros === 0 && ms % 1000 === 0 ? "" : `.${pad(local.getUTCMilliseconds(), 3)}${micros === 0 ? "" : pad(micros, 3)}`;
  return `${base}${frac}${offset}`;
}

/** Event `seq` of a run: deterministic in its shape, random in its numbers. */
export function makeTortureEvent(runId: string, seq: number, now = Date.now(), random = Math.random): SentEvent {
  const micros = seq % 4 === 0 ? 0 : Math.floor(random() * 1000);
  return {
    id: `${runId}-${seq}`,
    playerId: `${runId}-player-${seq % 300}`,
    type: TYPES[seq % TYPES.length]!,
    ts: formatTs(now, micros, OFFSETS[seq % OFFSETS.length]!),
    payload: {
      seq,
      score: Math.floor(random() * 100_000),
      ratio: random(),
      negative: -Math.floor(random() * 1e9) / 1000,
      ok: seq % 2 === 0,
      nothing: null,
      note: NOTES[seq % NOTES.length],
      tags: Array.from({ length: seq % 4 }, (_, i) => `t${i}-${seq % 7}`),
      nested: { z: { deep: [seq % 5, { k: "v" }] }, a: 1 },
    },
  };
}

export interface StatusCounts {
  requests: number;
  s202: number;
  s5xx: number;
  /** 4xx, no answer in time, a connection refused or reset */
  other: number;
  /** ticks skipped because too many requests were in flight */
  throttled: number;
}

export interface LoadOptions {
  ingestUrl: string;
  runId: string;
  rate: number;
  batch: number;
  /** attempts per batch (the first included) before it is given up, unacknowledged */
  attempts?: number;
  maxInFlight?: number;
  requestTimeoutMs?: number;
}

export class TortureLoad {
  readonly ledger = new Map<string, LedgerEntry>();
  readonly counts: StatusCounts[] = [];
  /** requests (with their retries) still running, by the phase their batch was first sent in */
  private readonly inFlight = new Map<number, number>();
  private phase = 0;
  private seq = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly tasks = new Set<Promise<void>>();

  constructor(private readonly o: LoadOptions) {
    this.counts.push(emptyCounts());
  }

  get currentPhase(): number {
    return this.phase;
  }

  /** Events sent from now on belong to the next phase; returns its index. */
  nextPhase(): number {
    this.phase += 1;
    this.counts.push(emptyCounts());
    return this.phase;
  }

  inFlightOf(phase: number): number {
    return this.inFlight.get(phase) ?? 0;
  }

  start(): void {
    this.running = true;
    const tickMs = (1000 * this.o.batch) / this.o.rate;
    this.loop = (async () => {
      let next = performance.now();
      while (this.running) {
        const inFlight = [...this.inFlight.values()].reduce((a, b) => a + b, 0);
        if (inFlight >= (this.o.maxInFlight ?? 128)) this.counts[this.phase]!.throttled += 1;
        else {
          const t = this.send(this.phase);
          this.tasks.add(t);
          void t.finally(() => this.tasks.delete(t));
        }
        next += tickMs;
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else next = performance.now(); // fell behind: do not burst to catch up
      }
    })();
  }

  /** Stops sending new batches and waits for every request and retry already started to end. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.tasks]);
  }

  private async send(phase: number): Promise<void> {
    const events: SentEvent[] = [];
    for (let i = 0; i < this.o.batch; i++) {
      const e = makeTortureEvent(this.o.runId, this.seq++);
      events.push(e);
      this.ledger.set(e.id, { phase, hash: sentHash(e), acked: false });
    }
    const body = JSON.stringify(events);
    this.inFlight.set(phase, this.inFlightOf(phase) + 1);
    try {
      const attempts = this.o.attempts ?? 4;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const counts = this.counts[this.phase]!;
        counts.requests += 1;
        let status = 0;
        try {
          const res = await fetch(`${this.o.ingestUrl}/events`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
            signal: AbortSignal.timeout(this.o.requestTimeoutMs ?? 15_000),
          });
          await res.arrayBuffer();
          status = res.status;
        } catch {
          status = 0;
        }
        if (status === 202) {
          counts.s202 += 1;
          for (const e of events) this.ledger.get(e.id)!.acked = true;
          return;
        }
        if (status >= 500) counts.s5xx += 1;
        else counts.other += 1;
        // a 4xx is the client's mistake: sending it again changes nothing
        if (status >= 400 && status < 500) return;
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    } finally {
      this.inFlight.set(phase, this.inFlightOf(phase) - 1);
    }
  }
}

function emptyCounts(): StatusCounts {
  return { requests: 0, s202: 0, s5xx: 0, other: 0, throttled: 0 };
}
