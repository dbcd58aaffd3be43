/**
 * The image cache of startNode (containerd's root kept between nodes): who may use it, and what happens to
 * it when its node did not stop cleanly. Pure file logic on a root of the test's own, so it runs without
 * root and never touches the real cache: a free cache is taken, a live node's is left alone (the new node
 * imports into its own root), a dead owner's is wiped before it is taken, a clean release keeps it and a
 * release with containers left wipes it. Also the names containerd gives `docker save` images.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { containerdImageName, releaseImageCache, takeImageCache } from "./node.js";

describe("node image cache", () => {
  let tmp: string;
  let root: string;
  const lines: string[] = [];
  const progress = (l: string) => lines.push(l);
  const marker = () => path.join(root, "io.containerd.metadata.v1.bolt", "meta.db");
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "gm-cache-test-"));
    root = path.join(tmp, "containerd-root");
    mkdirSync(path.dirname(marker()), { recursive: true });
    writeFileSync(marker(), "images");
    lines.length = 0;
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));
  const held = () => JSON.parse(readFileSync(`${root}.lock`, "utf8")) as { pid: number; dir: string };

  it("takes a free cache, keeping what is in it, and names this process and the node's dir", async () => {
    expect(await takeImageCache(tmp, progress, root)).toBe(root);
    expect(held()).toEqual({ pid: process.pid, dir: tmp });
    expect(readFileSync(marker(), "utf8")).toBe("images");
  });

  it("leaves a live node's cache alone: null, and says the new node imports into its own root", async () => {
    const p = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      writeFileSync(`${root}.lock`, JSON.stringify({ pid: p.pid, dir: tmp }));
      expect(await takeImageCache("/tmp/gm-node-b", progress, root)).toBeNull();
      expect(lines.join("\n")).toContain(`in use by the node in ${tmp} (process ${p.pid}): importing into this node's own root`);
      expect(held().pid).toBe(p.pid);
      expect(existsSync(marker())).toBe(true);
    } finally {
      p.kill();
    }
  });

  it("wipes the cache of a node whose process died without stop(), then takes it", async () => {
    const dead = spawn("true");
    await new Promise((r) => dead.on("exit", r));
    writeFileSync(`${root}.lock`, JSON.stringify({ pid: dead.pid, dir: "/tmp/gm-node-gone" }));
    expect(await takeImageCache(tmp, progress, root)).toBe(root);
    expect(existsSync(marker())).toBe(false);
    expect(held()).toEqual({ pid: process.pid, dir: tmp });
    expect(lines.join("\n")).toMatch(/did not stop cleanly; wiped/);
  });

  it("a clean release keeps the images and frees the lock; one with containers left wipes the cache", async () => {
    await takeImageCache(tmp, progress, root);
    await releaseImageCache(root, tmp, true);
    expect(existsSync(`${root}.lock`)).toBe(false);
    expect(existsSync(marker())).toBe(true);
    await takeImageCache(tmp, progress, root);
    await releaseImageCache(root, "/tmp/gm-node-other", false); // not its lock: nothing happens
    expect(held().dir).toBe(tmp);
    await releaseImageCache(root, tmp, false);
    expect(existsSync(`${root}.lock`)).toBe(false);
    expect(existsSync(root)).toBe(false);
  });

  it("names images the way containerd imports them from docker save", () => {
    expect(containerdImageName("gamemetrics/kafka:3.9.1-local")).toBe("docker.io/gamemetrics/kafka:3.9.1-local");
    expect(containerdImageName("debian")).toBe("docker.io/library/debian:latest");
    expect(containerdImageName("gamemetrics.local/pause:3.10.2")).toBe("gamemetrics.local/pause:3.10.2");
    expect(containerdImageName("localhost:5000/x")).toBe("localhost:5000/x:latest");
  });
});
