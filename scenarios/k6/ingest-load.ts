/**
 * The drills' load as a k6 script (TypeScript, typed with @types/k6): batches of game events posted to
 * ingest-api at a constant arrival rate, every acknowledged id logged so a drill can check integrity.
 *   k6 run -e INGEST_URL=http://127.0.0.1:8081 -e RUN_ID=gd1 -e RATE=20 -e BATCH=50 -e DURATION=60s \
 *          --log-format=json scenarios/k6/ingest-load.ts
 */
import { check } from "k6";
import exec from "k6/execution";
import http from "k6/http";
import { Counter, Rate } from "k6/metrics";
import type { Options } from "k6/options";

// k6 provides console (not in @types/k6's globals)
declare const console: { log(...args: unknown[]): void };

const ingestUrl = __ENV["INGEST_URL"] ?? "http://127.0.0.1:8081";
const runId = __ENV["RUN_ID"] ?? `k6-${Date.now().toString(36)}`;
const batch = Number(__ENV["BATCH"] ?? "50");

export const options: Options = {
  scenarios: {
    ingest: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV["RATE"] ?? "20"),
      timeUnit: "1s",
      duration: __ENV["DURATION"] ?? "60s",
      preAllocatedVUs: 8,
      maxVUs: 32,
    },
  },
  thresholds: {
    // during a drill some 503s are expected (a broker is down); outside one they are a failure
    ingest_unavailable: ["rate<0.5"],
  },
};

const acknowledged = new Counter("ingest_events_acknowledged");
const unavailable = new Rate("ingest_unavailable");

interface GameEvent {
  id: string;
  playerId: string;
  type: string;
  ts: string;
  payload: Record<string, unknown>;
}

export default function (): void {
  const n = `${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
  const ts = new Date().toISOString();
  const events: GameEvent[] = [];
  for (let k = 0; k < batch; k++) {
    events.push({ id: `${runId}-${n}-${k}`, playerId: `${runId}-player-${k % 200}`, type: "drill_load", ts, payload: { n, k } });
  }
  const res = http.post(`${ingestUrl}/events`, JSON.stringify(events), { headers: { "content-type": "application/json" }, timeout: "15s" });
  unavailable.add(res.status === 503);
  if (check(res, { "acknowledged (202)": (r) => r.status === 202 })) {
    acknowledged.add(events.length);
    // one line per acknowledged batch: the drill reads these ids to check that none was lost
    console.log(JSON.stringify({ ack: events.map((e) => e.id) }));
  }
}
