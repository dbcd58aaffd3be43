/** The dead-man's switch's decisions: undo only once the lease lapsed, never after the runner undid it, retry a failing undo. */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Journal, journalFile, leaseLapsed, readJournal, removeJournal, writeJournal } from "./journal.js";
import { leaseSeconds, stopRequested, watchdogResultFile, watchJournal } from "./watchdog.js";

const journal = (drillId: string, expiresInMs: number, state: "applying" | "applied" | "recovered" = "applied"): Journal => ({
  drillId,
  stackId: "t-wd",
  postgresUrl: "postgres://x@127.0.0.1:1/x",
  pid: 999_999,
  startedAt: new Date().toISOString(),
  entries: [{ fault: { type: "pause-consumers", params: {} }, undo: { instances: ["a"] }, state }],
  lease: { seconds: 3, expiresAt: new Date(Date.now() + expiresInMs).toISOString() },
});

describe("watchJournal", () => {
  let before: string | undefined;
  beforeEach(() => {
    before = process.env["GM_STATE_DIR"];
    process.env["GM_STATE_DIR"] = mkdtempSync(join(tmpdir(), "gm-wd-"));
  });
  afterEach(() => {
    if (before === undefined) delete process.env["GM_STATE_DIR"];
    else process.env["GM_STATE_DIR"] = before;
  });
  const lines: string[] = [];
  const log = (l: string) => void lines.push(l);

  it("leaves the fault alone while the lease holds and exits when the runner removes its journal", async () => {
    writeJournal(journal("d-live", 60_000));
    const undone: string[] = [];
    setTimeout(() => removeJournal("d-live"), 300);
    const r = await watchJournal("d-live", {
      pollMs: 50,
      log,
      undo: async (j) => {
        undone.push(j.drillId);
        return 1;
      },
      leftovers: async () => [],
    });
    expect(r.outcome).toBe("runner-finished");
    expect(undone).toEqual([]);
  });

  it("exits without undoing when every entry is already recovered (the runner undid it, leftovers are recover's)", async () => {
    writeJournal(journal("d-done", -1_000, "recovered"));
    const r = await watchJournal("d-done", { pollMs: 50, log, undo: async () => 1, leftovers: async () => [] });
    expect(r.outcome).toBe("runner-finished");
    expect(existsSync(journalFile("d-done"))).toBe(true);
  });

  it("undoes once the lease lapses, removes the journal and records when and why", async () => {
    writeJournal(journal("d-dead", 200));
    const calls: number[] = [];
    const r = await watchJournal("d-dead", {
      pollMs: 50,
      log,
      undo: async () => {
        calls.push(Date.now());
        return 1;
      },
      leftovers: async () => [],
    });
    expect(r.outcome).toBe("undone");
    expect(calls).toHaveLength(1);
    expect(calls[0]!).toBeGreaterThanOrEqual(Date.parse(r.leaseExpiredAt!));
    expect(r.why).toMatch(/lapsed/);
    expect(readJournal("d-dead")).toBeUndefined();
    expect(JSON.parse(readFileSync(watchdogResultFile("d-dead"), "utf8"))).toMatchObject({ outcome: "undone", undone: 1 });
  });

  it("retries an undo that fails (Docker briefly gone) and keeps the journal when something is left", async () => {
    writeJournal(journal("d-retry", -1));
    let n = 0;
    const r = await watchJournal("d-retry", {
      pollMs: 50,
      log,
      undo: async () => {
        if (++n < 3) throw new Error("connect ENOENT /var/run/docker.sock");
        return 1;
      },
      leftovers: async () => ["kafka-3 is not running"],
    });
    expect(r).toMatchObject({ outcome: "undone", attempts: 3, leftovers: ["kafka-3 is not running"] });
    expect(r.errors).toHaveLength(2);
    expect(readJournal("d-retry")?.undoneBy).toMatchObject({ by: "watchdog" });
  });

  it("gives up after its deadline, leaving the journal for gm-chaos recover", async () => {
    writeJournal(journal("d-give", -1));
    const r = await watchJournal("d-give", {
      pollMs: 50,
      giveUpMs: 100,
      log,
      undo: async () => Promise.reject(new Error("no engine")),
      leftovers: async () => [],
    });
    expect(r.outcome).toBe("gave-up");
    expect(readJournal("d-give")?.entries[0]?.state).toBe("applied");
  });
});

describe("stopRequested (SIGTERM to the watchdog)", () => {
  let before: string | undefined;
  beforeEach(() => {
    before = process.env["GM_STATE_DIR"];
    process.env["GM_STATE_DIR"] = mkdtempSync(join(tmpdir(), "gm-wd-"));
  });
  afterEach(() => {
    if (before === undefined) delete process.env["GM_STATE_DIR"];
    else process.env["GM_STATE_DIR"] = before;
  });

  it("is ignored while the drill's fault is pending, honoured (with a result) when none is", () => {
    writeJournal(journal("d-term", 60_000));
    expect(stopRequested("d-term", () => undefined)).toBe(false);
    expect(existsSync(watchdogResultFile("d-term"))).toBe(false);
    writeJournal(journal("d-term", 60_000, "recovered"));
    expect(stopRequested("d-term", () => undefined)).toBe(true);
    removeJournal("d-term");
    expect(stopRequested("d-none", () => undefined)).toBe(true);
    expect(JSON.parse(readFileSync(watchdogResultFile("d-none"), "utf8"))).toMatchObject({ outcome: "runner-finished" });
  });
});

describe("the lease", () => {
  it("lapses at its expiry, never without one", () => {
    const now = Date.now();
    expect(leaseLapsed({ lease: { seconds: 10, expiresAt: new Date(now + 1).toISOString() } }, now)).toBe(false);
    expect(leaseLapsed({ lease: { seconds: 10, expiresAt: new Date(now).toISOString() } }, now)).toBe(true);
    expect(leaseLapsed({ lease: { seconds: 10, expiresAt: "garbage" } }, now)).toBe(true);
    expect(leaseLapsed({}, now)).toBe(false);
  });

  it("takes its length from the drill, GM_CHAOS_LEASE_SECONDS or the default, and refuses nonsense by name", () => {
    expect(leaseSeconds(undefined, {})).toBe(10);
    expect(leaseSeconds(undefined, { GM_CHAOS_LEASE_SECONDS: "30" })).toBe(30);
    expect(leaseSeconds(5, { GM_CHAOS_LEASE_SECONDS: "30" })).toBe(5);
    for (const bad of ["abc", "0", "2", "601", "-5", " "])
      expect(() => leaseSeconds(undefined, { GM_CHAOS_LEASE_SECONDS: bad })).toThrow(
        /GM_CHAOS_LEASE_SECONDS: expected seconds from 3 to 600/,
      );
  });
});
