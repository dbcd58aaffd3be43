/**
 * The host-wide kube-proxy lock of startNode (one node with kube-proxy per host: its KUBE-* chains are the
 * host's). Pure file logic on a lock path of the test's own, so it runs without root and never touches a
 * real node's lock: a live holder makes a start wait and then fail naming it, a dead holder's lock is
 * taken over, a waiter proceeds once the holder releases, and a release never removes another node's lock.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireKubeProxyLock, releaseKubeProxyLock } from "./node.js";

describe("kube-proxy lock", () => {
  let tmp: string;
  let lock: string;
  const lines: string[] = [];
  const progress = (l: string) => lines.push(l);
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "gm-lock-test-"));
    lock = path.join(tmp, "gm-kube-proxy.lock");
    lines.length = 0;
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const holder = () => spawn("sleep", ["60"], { stdio: "ignore" });
  const held = () => JSON.parse(readFileSync(lock, "utf8")) as { pid: number; dir: string };

  it("takes a free lock, naming this process and the node's dir", async () => {
    await acquireKubeProxyLock("/tmp/gm-node-a", 1000, progress, lock);
    expect(held()).toEqual({ pid: process.pid, dir: "/tmp/gm-node-a" });
  });

  it("fails after the wait while a live process holds it, naming the holder", async () => {
    const p = holder();
    try {
      writeFileSync(lock, JSON.stringify({ pid: p.pid, dir: "/tmp/gm-node-other" }));
      await expect(acquireKubeProxyLock("/tmp/gm-node-a", 2500, progress, lock)).rejects.toThrow(
        `kube-proxy already runs on this host for the node in /tmp/gm-node-other (test process ${p.pid})`,
      );
      expect(lines[0]).toContain("waiting for the node in /tmp/gm-node-other");
      expect(held().dir).toBe("/tmp/gm-node-other");
    } finally {
      p.kill("SIGKILL");
    }
  });

  it("takes over the lock of a dead process", async () => {
    const p = holder();
    p.kill("SIGKILL");
    await new Promise((r) => p.on("exit", r));
    writeFileSync(lock, JSON.stringify({ pid: p.pid, dir: "/tmp/gm-node-dead" }));
    await acquireKubeProxyLock("/tmp/gm-node-a", 1000, progress, lock);
    expect(held().dir).toBe("/tmp/gm-node-a");
  });

  it("waits while the holder runs and proceeds once it releases", async () => {
    const p = holder();
    try {
      writeFileSync(lock, JSON.stringify({ pid: p.pid, dir: "/tmp/gm-node-other" }));
      setTimeout(() => releaseKubeProxyLock("/tmp/gm-node-other", lock), 1500);
      await acquireKubeProxyLock("/tmp/gm-node-a", 60_000, progress, lock);
      expect(held().dir).toBe("/tmp/gm-node-a");
      expect(lines.some((l) => l.startsWith("kube-proxy lock taken after"))).toBe(true);
    } finally {
      p.kill("SIGKILL");
    }
  });

  it("a release leaves another node's lock alone", async () => {
    await acquireKubeProxyLock("/tmp/gm-node-a", 1000, progress, lock);
    releaseKubeProxyLock("/tmp/gm-node-b", lock);
    expect(held().dir).toBe("/tmp/gm-node-a");
    releaseKubeProxyLock("/tmp/gm-node-a", lock);
    await acquireKubeProxyLock("/tmp/gm-node-b", 1000, progress, lock);
    expect(held().dir).toBe("/tmp/gm-node-b");
  });
});
