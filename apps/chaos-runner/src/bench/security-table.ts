/**
 * `npm run security`: the security claims tried against a real stack this script starts (and removes),
 * printed as a table — what was tried, what was expected, what happened, pass or fail:
 * - stats-api's admin token: the right one, a wrong one of the same length, of other lengths, none;
 * - ingest-api and stats-api: an oversized body (declared, and streamed), oversized headers, headers and a
 *   body dribbled a byte at a time (slowloris) — against the services' default limits;
 * - the prober's PostgreSQL role: every write refused with permission denied (read-only turned off
 *   first), its reads working;
 * - one drill (SECURITY_DRILL, default db-pool-exhausted-lock) run as `gm-chaos drill --alertmanager
 *   --report-dir` runs it, with an Alertmanager behind credentials: every artifact it wrote (reports,
 *   JUnit, progress and --json lines, the prober's log and /metrics, `stack status` text and --json,
 *   every container's log) grepped for every configured secret; and a planted leak, to show the grep finds one.
 * Exit 0 when every row passes, 1 otherwise. Figures are printed, not asserted.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningAlertmanager, alertmanagerBinary, startAlertmanager } from "@gm/monitor/alertmanager-run";
import { type Artifact, describeLeaks, findLeaks, type Secret } from "@gm/runbook/leaks";
import { writeReportFiles } from "@gm/report/write";
import { toJUnit } from "@gm/report/junit";
import type { DrillReport } from "@gm/report/schema";
import { declaredOversizedBody, oversizedHeaders, slowBody, slowHeaders, streamedOversizedBody } from "@gm/stack/abuse";
import { PERMISSION_DENIED, READ_ATTEMPTS, tryAsRole, WRITE_ATTEMPTS } from "@gm/stack/prober-role";
import { startStack } from "@gm/stack/stack";
import { drillPolicy } from "../commands/drill.js";
import { containerLogArtifacts, drillOutputArtifacts, fileArtifacts, lineRecorder, stackStatusArtifacts } from "../drill/artifacts.js";
import type { DrillProgress } from "../drill/lifecycle.js";
import { defaultScenariosDir, loadScenarios } from "../drill/load-scenarios.js";
import { runDrill, startDrillObserver } from "../drill/run.js";
import { namedStackSecrets } from "../state.js";

interface Row {
  area: string;
  tried: string;
  expected: string;
  result: string;
  pass: boolean;
}

const rows: Row[] = [];
const row = (area: string, tried: string, expected: string, result: string, pass: boolean) => {
  rows.push({ area, tried, expected, result, pass });
  process.stderr.write(`${pass ? "pass" : "FAIL"}  ${area}: ${tried} → ${result}\n`);
};
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

const t0 = performance.now();
const drillName = process.env["SECURITY_DRILL"] ?? "db-pool-exhausted-lock";
const policy = drillPolicy(undefined, defaultScenariosDir());
const [scenario] = loadScenarios([drillName], defaultScenariosDir(), policy);
if (!scenario) throw new Error(`SECURITY_DRILL: no drill named ${drillName}`);

// An Alertmanager behind basic auth, as a production one may be, and receivers whose secret files (PagerDuty
// routing key, Slack URL, ticket token) hold a secret: neither may surface anywhere.
const alertmanagerPassword = randomBytes(12).toString("hex");
const receiverPassword = randomBytes(12).toString("hex");
const work = mkdtempSync(join(tmpdir(), "gm-security-"));
let am: RunningAlertmanager | undefined;
if (alertmanagerBinary()) {
  am = await startAlertmanager({ secret: receiverPassword });
}
const stack = await startStack({
  brokers: scenario.stack.brokers as 1 | 3,
  processorReplicas: scenario.stack.processorReplicas,
  pgPoolMax: scenario.stack.pgPoolMax,
  postgres: { maxConnections: scenario.stack.maxConnections },
  id: `security-${Date.now().toString(36)}`,
  onProgress: (m) => process.stderr.write(`${m}\n`),
});
const e = stack.endpoints;
const ingest = e.services["ingest-api"];
const stats = e.services["stats-api"];
const stackReady = performance.now();

try {
  // 1. the admin token
  const erase = (auth: string | undefined) =>
    fetch(`${stats}/admin/players/security-nobody`, {
      method: "DELETE",
      ...(auth === undefined ? {} : { headers: { authorization: auth } }),
    }).then((r) => r.status);
  const token = e.adminToken;
  const flip = (s: string) => s.slice(0, -1) + (s.endsWith("0") ? "1" : "0");
  const tokenTries: [string, string | undefined, number][] = [
    [`wrong token, same length (${token.length}, last character changed)`, `Bearer ${flip(token)}`, 401],
    [`wrong token, shorter (${token.length - 1})`, `Bearer ${token.slice(0, -1)}`, 401],
    [`wrong token, longer (${token.length + 1})`, `Bearer ${token}0`, 401],
    ["wrong token, 10,000 characters", `Bearer ${"x".repeat(10_000)}`, 401],
    ["the token without 'Bearer '", token, 401],
    ["no Authorization header", undefined, 401],
    ["the right token", `Bearer ${token}`, 200],
  ];
  for (const [what, auth, want] of tokenTries) {
    const got = await erase(auth);
    row("admin token", `DELETE /admin/players/:id, ${what}`, String(want), String(got), got === want);
  }

  // 2. bodies and headers (the services' default limits: 1 MiB body, 16 KiB headers, 10 s headers, 30 s request)
  const declared = await declaredOversizedBody(`${ingest}/events`, { declaredBytes: 100 * 1024 * 1024, sendBytes: 1024 });
  row(
    "body",
    "ingest-api POST /events, Content-Length 100 MiB, 1 KiB sent",
    "413 before the rest is sent, connection closed",
    `${declared.status ?? "no answer"} after ${kib(declared.sentBytes)}, ${declared.closedEarly ? "closed" : "left open"}`,
    declared.status === 413 && declared.closedEarly,
  );
  const streamed = await streamedOversizedBody(`${ingest}/events`, { totalBytes: 100 * 1024 * 1024 });
  row(
    "body",
    "ingest-api POST /events, 100 MiB chunked (no length)",
    "413 once past 1 MiB, connection closed",
    `${streamed.status ?? "no answer"} after ${mib(streamed.sentBytes)} of ${mib(streamed.plannedBytes)}, ${streamed.closedEarly ? "closed" : "left open"}`,
    streamed.status === 413 && streamed.closedEarly,
  );
  for (const [name, url] of [
    ["ingest-api", ingest],
    ["stats-api", stats],
  ] as const) {
    const big = await oversizedHeaders(`${url}/health`, { headerBytes: 20_000 });
    row("headers", `${name} GET /health with a 20 KB cookie`, "431", String(big.status ?? "no answer"), big.status === 431);
  }
  const slow = await Promise.all([
    slowHeaders(`${ingest}/health`, { intervalMs: 500, maxMs: 40_000 }).then(
      (r) => ["ingest-api", "headers, a byte every 500 ms for up to 40 s", r] as const,
    ),
    slowHeaders(`${stats}/health`, { intervalMs: 500, maxMs: 40_000 }).then(
      (r) => ["stats-api", "headers, a byte every 500 ms for up to 40 s", r] as const,
    ),
    slowBody(`${ingest}/events`, { bodyBytes: 10_000, intervalMs: 500, maxMs: 60_000 }).then(
      (r) => ["ingest-api", "a body of 10,000 bytes, a byte every 500 ms for up to 60 s", r] as const,
    ),
  ]);
  for (const [name, what, r] of slow) {
    row(
      "slowloris",
      `${name}: ${what}`,
      "408 and closed while still sending",
      `${r.status ?? "no answer"}, ${r.closedEarly ? `closed after ${r.sentBytes} of ${r.plannedBytes} bytes` : "not closed"}`,
      r.status === 408 && r.closedEarly,
    );
  }

  // 3. the prober's PostgreSQL role
  const writes = await tryAsRole(e.proberPostgresUrl, WRITE_ATTEMPTS, { otherUrl: e.postgresUrl });
  for (const w of writes)
    row(
      "prober role",
      `as gm_prober, read-only off: ${w.what}`,
      `refused ${PERMISSION_DENIED}`,
      w.ok ? "ALLOWED" : `${w.code} ${w.message}`,
      !w.ok && w.code === PERMISSION_DENIED,
    );
  const reads = await tryAsRole(e.proberPostgresUrl, READ_ATTEMPTS, { otherUrl: e.postgresUrl });
  for (const r of reads) row("prober role", `as gm_prober: ${r.what}`, "works", r.ok ? `ok ${r.message}` : `${r.code} ${r.message}`, r.ok);

  // 4. one drill's artifacts, grepped for every secret
  const secrets: Secret[] = [
    ...namedStackSecrets(e),
    { name: "ALERTMANAGER_PASSWORD", value: alertmanagerPassword },
    { name: "RECEIVER_PASSWORD", value: receiverPassword },
  ];
  const proberLog = lineRecorder("prober log lines");
  const amWithCredentials = am ? { ...am, url: am.url.replace("http://", `http://gm-prober:${alertmanagerPassword}@`) } : undefined;
  const observer = await startDrillObserver({
    endpoints: e,
    policy,
    ...(amWithCredentials ? { alertmanager: amWithCredentials } : {}),
    log: proberLog.log,
  });
  const progress: DrillProgress[] = [];
  let report: DrillReport;
  try {
    report = await runDrill({
      scenario,
      endpoints: e,
      brokers: scenario.stack.brokers,
      policy,
      observer,
      ...(amWithCredentials ? { alertmanager: amWithCredentials } : {}),
      onProgress: (p) => {
        progress.push(p);
        process.stderr.write(`  ${p.scenario} [${p.phase}] ${p.message}\n`);
      },
    });
  } finally {
    await observer.stop();
  }
  const reportDir = join(work, "reports");
  await writeReportFiles(join(reportDir, scenario.name), report);
  writeFileSync(join(reportDir, "junit.xml"), toJUnit([report], { suiteName: "gameday" }));
  const groups: [string, Artifact[]][] = [
    ["report files (report.json/.md/.html, signals.svg, junit.xml)", fileArtifacts(reportDir, "reports")],
    ["drill progress and --json lines", drillOutputArtifacts(progress, [report])],
    ["prober log lines and /metrics", [proberLog.artifact(), { name: "prober /metrics", text: (await observer.metrics?.()) ?? "" }]],
    ["gm-chaos stack status (text and --json)", stackStatusArtifacts(e, scenario.stack.brokers)],
    ["every container's log", await containerLogArtifacts(e.stackId)],
  ];
  const all = groups.flatMap(([, a]) => a);
  const bytes = all.reduce((n, a) => n + a.text.length, 0);
  // the drill's own verdict is not what is checked here (a loaded machine can fail it): its artifacts are
  row(
    "drill",
    `${scenario.name} as gm-chaos drill --alertmanager runs it`,
    "a report, whatever its outcome",
    `${report.outcome}${report.reasons.length ? ` (${report.reasons.join("; ")})` : ""}`,
    true,
  );
  for (const [what, artifacts] of groups) {
    const leaks = findLeaks(artifacts, secrets);
    row(
      "secrets",
      `grep ${what}: ${artifacts.length} artifact(s), ${kib(artifacts.reduce((n, a) => n + a.text.length, 0))}, for ${secrets.length} secrets`,
      "no secret",
      leaks.length === 0 ? "none" : describeLeaks(leaks),
      leaks.length === 0,
    );
  }
  const planted = findLeaks([...all, { name: "planted line", text: `a log line with ${encodeURIComponent(e.postgresUrl)}` }], secrets);
  row(
    "secrets",
    `control: the same ${all.length} artifacts (${mib(bytes)}) plus one line leaking the PostgreSQL URL, URL-encoded`,
    "that leak found, nothing else",
    planted.map((l) => `${l.secret} in ${l.artifact}`).join(", ") || "nothing found",
    planted.length === 1 && planted[0]!.artifact === "planted line",
  );
} finally {
  await stack.stop();
  await am?.stop();
  rmSync(work, { recursive: true, force: true });
}

// The table
const cols: (keyof Row)[] = ["area", "tried", "expected", "result"];
const width = (k: keyof Row, max: number) => Math.min(max, Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
const widths = { area: width("area", 12), tried: width("tried", 78), expected: width("expected", 36), result: width("result", 70) };
const cell = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
const line = (r: Record<keyof Row, string>) => `${cols.map((k) => cell(r[k], widths[k as keyof typeof widths])).join(" | ")} | ${r.pass}`;
process.stdout.write(
  `security checks against stack ${e.stackId} (${scenario.stack.brokers} broker(s)); stack start ${((stackReady - t0) / 1000).toFixed(1)} s, all ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
);
process.stdout.write(`${line({ area: "area", tried: "tried", expected: "expected", result: "result", pass: "pass" })}\n`);
process.stdout.write(`${cols.map((k) => "-".repeat(widths[k as keyof typeof widths])).join("-|-")}-|-----\n`);
for (const r of rows) process.stdout.write(`${line({ ...r, pass: r.pass ? "pass" : "FAIL" })}\n`);
const failed = rows.filter((r) => !r.pass);
process.stdout.write(`${rows.length - failed.length} of ${rows.length} passed\n`);
for (const r of failed) process.stdout.write(`FAIL ${r.area}: ${r.tried}\n  expected ${r.expected}\n  got ${r.result}\n`);
process.exit(failed.length ? 1 : 0);
