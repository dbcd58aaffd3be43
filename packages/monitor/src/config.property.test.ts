/**
 * Property-based tests of the prober's configuration (fast-check): no text makes `parseProberConfig`
 * throw anything but a ConfigError whose every problem names a field or the file; a generated valid
 * configuration round-trips (what was parsed is what the file said, plus the defaults); no bytes in a
 * file make `loadProberConfig` throw anything but a ConfigFileError naming the file.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError, PROBER_DEFAULTS, parseProberConfig, type ProberConfig } from "./config.js";
import { defaultTopologyFor } from "@gm/runbook/topology";
import { ConfigFileError } from "./config-file.js";
import { loadProberConfig } from "./build-prober.js";

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const host = fc.oneof(
  fc.constant("127.0.0.1"),
  fc.constant("localhost"),
  name.map((n) => `${n}.example`),
);
const port = fc.integer({ min: 1, max: 65535 });
const httpUrl = fc
  .tuple(fc.constantFrom("http", "https"), host, port, fc.constantFrom("", "/api", "/a/b"))
  .map(([s, h, p, path]) => `${s}://${h}:${p}${path}`);
const urls = fc.array(httpUrl, { minLength: 1, maxLength: 3 });
const text = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes("${") && s.trim() === s && s !== "");

/** A valid configuration, as the parsed value it must become (every optional part present or not). */
const configArb: fc.Arbitrary<ProberConfig> = fc
  .record(
    {
      intervalSeconds: fc.double({ min: 0.5, max: 3600, noNaN: true }),
      timeoutMs: fc.integer({ min: 50, max: 60_000 }),
      maxInFlight: fc.integer({ min: 1, max: 100_000 }),
      windowSeconds: fc.double({ min: 1, max: 3600, noNaN: true }),
      listen: fc.record({ host, port: fc.integer({ min: 0, max: 65535 }) }),
      services: fc
        .record({ "ingest-api": urls, "event-processor-service": urls, "stats-api": urls }, { requiredKeys: [] })
        .filter((s) => Object.keys(s).length > 0),
      kafka: fc.record(
        {
          brokers: fc.array(
            fc.tuple(host, port).map(([h, p]) => `${h}:${p}`),
            { minLength: 1, maxLength: 3 },
          ),
          topic: text,
          groups: fc.array(text, { minLength: 1, maxLength: 3 }),
          expectedBrokers: fc.integer({ min: 1, max: 100 }),
        },
        { requiredKeys: ["brokers", "topic", "groups"] },
      ),
      postgres: fc.record({
        url: fc.tuple(fc.constantFrom("postgres", "postgresql"), name, host, port).map(([s, u, h, p]) => `${s}://${u}@${h}:${p}/gm`),
      }),
      synthetic: fc.record({ players: fc.integer({ min: 1, max: 1000 }) }),
      security: fc.record({
        protected: fc.array(fc.record({ method: fc.constantFrom("GET", "DELETE", "POST"), url: httpUrl })),
        public: fc.array(httpUrl),
        secrets: fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/), text, { maxKeys: 3 }),
      }),
      prometheus: fc.record({ url: httpUrl }),
      alertmanager: fc.record({ urls }),
      platform: fc.oneof(
        fc.record({ driver: fc.constant("docker" as const), stackId: name }),
        fc.record(
          {
            driver: fc.constant("kubernetes" as const),
            kubeconfig: text,
            context: text,
            namespaces: fc.record({ kafka: name, platform: name }),
            allow: fc.record({
              contexts: fc.array(text, { minLength: 1, maxLength: 2 }),
              namespaces: fc.array(name, { minLength: 1, maxLength: 2 }),
            }),
          },
          { requiredKeys: ["driver", "namespaces", "allow"] },
        ),
      ),
      policy: text,
      hysteresis: fc.record({ resolveAfter: fc.integer({ min: 1, max: 100 }) }),
    },
    { requiredKeys: ["intervalSeconds", "timeoutMs", "maxInFlight", "windowSeconds", "listen", "services", "hysteresis"] },
  )
  .map((c) => c as ProberConfig);

/** The YAML a person would write for `c`: listen as host:port; security lists only when non-empty. */
function fileOf(c: ProberConfig): string {
  const { listen, security, ...rest } = c;
  const doc: Record<string, unknown> = { ...rest, listen: `${listen.host}:${listen.port}` };
  if (security)
    doc["security"] = {
      ...(security.protected.length ? { protected: security.protected } : {}),
      ...(security.public.length ? { public: security.public } : {}),
      secrets: security.secrets,
    };
  return stringify(doc);
}

/** A problem names a field path (`kafka.brokers[0]`), a key that is not shown, or the file. */
// a key such as "." reads as a field name and is shown as one (".: unknown key")
const NAMED =
  /^(\(file\)|\(root\)|[A-Za-z0-9_.$-][A-Za-z0-9_.$[\]-]*(\.\(a key that is not a field name; not shown\))?|\(a key that is not a field name; not shown\)): /;

function parseOrProblems(t: string): ProberConfig | string[] {
  try {
    return parseProberConfig(t);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe("parseProberConfig, over generated input", { timeout: 120_000 }, () => {
  it("a valid configuration round-trips: the parsed config is what the file said, defaults aside", () => {
    fc.assert(
      fc.property(configArb, (c) => {
        const parsed = parseProberConfig(fileOf(c));
        // GameMetrics Pro's names in the short form: the default description's roles, with the file's URLs
        expect(parsed).toEqual({ ...c, topology: defaultTopologyFor(c.services) });
      }),
      { numRuns: 500 },
    );
  });

  it("a file that leaves out the optional settings gets gm-prober's defaults", () => {
    fc.assert(
      fc.property(fc.record({ "stats-api": urls }), (services) => {
        expect(parseProberConfig(stringify({ services }))).toEqual({
          ...PROBER_DEFAULTS,
          services,
          topology: defaultTopologyFor(services),
        });
      }),
    );
  });

  it("never throws anything but a ConfigError, and every problem names a field or the file", () => {
    const leaf = fc.oneof(
      fc.jsonValue(),
      fc.string({ unit: "binary", maxLength: 50 }),
      fc.constantFrom("127.0.0.1:99999", "http://", "postgres://", "ftp://x", "", " ", ".nan", "$" + "{HOME}"),
    );
    const mutated = fc.tuple(configArb, fc.array(fc.tuple(fc.nat(), leaf), { minLength: 1, maxLength: 4 })).map(([c, changes]) => {
      // replace generated leaves of a valid file by random values: wrong types, out of range, unknown keys
      const doc = JSON.parse(JSON.stringify(c)) as Record<string, unknown>;
      for (const [at, v] of changes) {
        const paths: [Record<string, unknown>, string][] = [];
        const walk = (o: unknown) => {
          if (o === null || typeof o !== "object") return;
          for (const k of Object.keys(o)) {
            paths.push([o as Record<string, unknown>, k]);
            walk((o as Record<string, unknown>)[k]);
          }
        };
        walk(doc);
        const [parent, key] = paths[at % paths.length]!;
        if (at % 7 === 0) parent[`x${key}`] = v;
        else parent[key] = v;
      }
      return stringify(doc);
    });
    const anyText = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.jsonValue().map((v) => stringify(v)),
      mutated,
      mutated,
    );
    fc.assert(
      fc.property(anyText, (t) => {
        const r = parseOrProblems(t);
        if (Array.isArray(r)) {
          expect(r.length).toBeGreaterThan(0);
          for (const p of r) expect(p).toMatch(NAMED);
        }
      }),
      { numRuns: 1500 },
    );
  });
});

describe("loadProberConfig, over generated files", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "gm-prober-prop-"));
  it("no bytes make it throw anything but a ConfigFileError naming the file", () => {
    let n = 0;
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      fc.string({ unit: "binary", maxLength: 200 }).map((s) => new TextEncoder().encode(s)),
      fc.tuple(configArb, fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat()).map(([c, junk, at]) => {
        // a valid file with a few raw bytes spliced in: invalid UTF-8, NUL, control characters
        const b = new TextEncoder().encode(fileOf(c));
        const i = at % (b.length + 1);
        return new Uint8Array([...b.subarray(0, i), ...junk, ...b.subarray(i)]);
      }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const file = join(dir, `c${n++}.yaml`);
        writeFileSync(file, b);
        try {
          loadProberConfig(file, {});
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigFileError);
          expect(
            (err as Error).message.startsWith(file) ||
              (err as Error).message.startsWith(`--config ${file}`) ||
              (err as Error).message.startsWith("policy "),
          ).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
