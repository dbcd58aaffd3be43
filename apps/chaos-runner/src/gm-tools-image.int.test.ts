/**
 * The gamemetrics/gm-tools image (deploy/gm-tools), built by its recipe and run the way deploy/prober and
 * deploy/gameday run it: only `args` (the image's command is the first one), uid 1000, a read-only root
 * filesystem, the incident journal on its own volume. Against a real stack, from a container on the stack's
 * network that reaches everything by name (as a pod reaches Services by cluster DNS: the image resolves names
 * with no shell or libnss packages of its own): gm-prober classifies the services, Kafka and PostgreSQL,
 * serves /healthz and /metrics on 0.0.0.0:9464 as deploy/prober/prober.yaml has it, and journals a real
 * incident (stats-api stopped) in the mounted directory.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type Stack, startStack } from "@gm/stack/stack";
import { proberConfigFor } from "./prober-config.js";

const BUILD = fileURLToPath(new URL("../../../deploy/gm-tools/build.sh", import.meta.url));
const id = `t-gmtools-${Date.now().toString(36)}`;
/** every container this file starts is named after the stack id, so cleanup finds exactly them */
const names: string[] = [];
const work = mkdtempSync(join(tmpdir(), "gm-tools-image-"));

const docker = (args: string[], timeout = 120_000) => spawnSync("docker", args, { encoding: "utf8", timeout });
const out = (r: ReturnType<typeof docker>) => `exit ${r.status}\nstdout: ${r.stdout?.slice(-2000)}\nstderr: ${r.stderr?.slice(-3000)}`;

/** `docker run` as the manifests' securityContext has it: uid 1000, read-only root, no privilege escalation. */
const podLike = (name: string, extra: string[] = []) => {
  names.push(name);
  return ["run", "--name", name, "--read-only", "--user", "1000:1000", "--security-opt", "no-new-privileges", ...extra];
};

/** The address at which the test reaches the stack's published ports (127.0.0.1 on a plain machine). */
const hostOf = (stack: Stack) => new URL(stack.endpoints.services["ingest-api"]).hostname;

/** Polls `probe` until it gives a value; `what` (a function: evaluated at the deadline, e.g. the container's logs then) names it. */
async function until<T>(what: string | (() => string), deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `${typeof what === "function" ? what() : what}: not within ${deadlineMs / 1000} s${last ? ` (last: ${(last as Error).message})` : ""}`,
  );
}

describe("gamemetrics/gm-tools as the manifests run it", { timeout: 600_000 }, () => {
  let image = "";
  let stack: Stack | undefined;
  let configDir = "";
  const network = () => stack!.endpoints.network;

  beforeAll(async () => {
    // the recipe: a second or so when the image is up to date, a minute or two when its inputs changed
    const build = spawnSync("bash", [BUILD], { encoding: "utf8", timeout: 900_000 });
    expect(build.status, build.stderr.slice(-4000)).toBe(0);
    image = build.stdout.trim().split("\n").at(-1) ?? "";
    expect(image).toBe("gamemetrics/gm-tools:0.1.0");
    stack = await startStack({ id, brokers: 1 });
    // The stack's own prober configuration, with every address the one a container on the stack's network
    // uses (its name and the container's port: what a Service is to a pod), minus the Docker driver (no
    // engine in a pod; the cluster's configuration reads Kubernetes instead).
    const onNetwork = new Map<string, string>();
    for (const c of stack.containers)
      for (const p of c.spec.ports) if (p.host !== null) onNetwork.set(`${hostOf(stack)}:${p.host}`, `${c.name}:${p.container}`);
    let text = proberConfigFor(stack.endpoints);
    for (const [fromHost, inside] of onNetwork) text = text.replaceAll(fromHost, inside);
    const config = parse(text) as Record<string, unknown> & { kafka: { brokers: string[] } };
    delete config["platform"];
    // the brokers advertise the host's address on their external listener, the name on the internal one
    config.kafka.brokers = stack.endpoints.kafkaInternalBootstrapServers;
    // `listen` is the prober's own bind address (replaced by 0.0.0.0:9464 below), not an address of the stack:
    // where testcontainers names the host 127.0.0.1 it would match
    const { listen: _ownBind, ...addresses } = config;
    expect(JSON.stringify(addresses), "no address of the host left in the configuration").not.toContain(hostOf(stack));
    configDir = join(work, "config");
    spawnSync("mkdir", ["-p", configDir]);
    writeFileSync(join(configDir, "prober.yaml"), stringify({ ...config, listen: "0.0.0.0:9464", intervalSeconds: 1 }));
    chmodSync(configDir, 0o755);
    chmodSync(join(configDir, "prober.yaml"), 0o644);
  }, 600_000);

  afterAll(async () => {
    for (const n of names) docker(["rm", "-f", n], 60_000);
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it("runs both CLIs by name, as uid 1000 on a read-only root", () => {
    for (const cli of ["gm-prober", "gm-chaos"]) {
      const help = docker([...podLike(`${id}-${cli}-help`, ["--rm"]), image, cli, "--help"]);
      expect(help.status, out(help)).toBe(0);
      expect(help.stdout).toContain(`${cli} <command>`);
    }
    const schema = docker([...podLike(`${id}-schema`, ["--rm"]), image, "gm-prober", "schema", "config"]);
    expect(schema.status, out(schema)).toBe(0);
    expect((JSON.parse(schema.stdout) as { title: string }).title).toBe("gm-prober configuration");
    // the scenarios ship beside the bundle, found as in a checkout (scenarios/ relative to the module)
    const plan = docker([...podLike(`${id}-plan`, ["--rm"]), image, "gm-chaos", "plan", "kafka-broker-down"]);
    expect(plan.status, out(plan)).toBe(0);
    expect(plan.stdout).toContain("/app/scenarios/kafka-broker-down.yaml");
  });

  it("gm-chaos keeps its state in /var/lib/gm-chaos, the volume deploy/gameday mounts, not under $HOME", () => {
    const state = join(work, "gm-chaos-state");
    spawnSync("mkdir", ["-p", state]);
    chmodSync(state, 0o777);
    const halt = docker([...podLike(`${id}-halt`, ["--rm", "-v", `${state}:/var/lib/gm-chaos`]), image, "gm-chaos", "halt"]);
    expect(halt.status, out(halt)).toBe(0);
    expect(existsSync(join(state, "HALTED")), "gm-chaos halt's HALTED file on the volume").toBe(true);
    // without the volume, the read-only root refuses it: nothing is written anywhere else
    const refused = docker([...podLike(`${id}-halt-ro`, ["--rm"]), image, "gm-chaos", "halt"]);
    expect(refused.status, out(refused)).not.toBe(0);
    expect(refused.stderr).toContain("read-only file system, open '/var/lib/gm-chaos/HALTED'");
  });

  it("gm-prober once: one classified snapshot of the real stack from the container, healthy", () => {
    const once = docker([
      ...podLike(`${id}-once`, ["--rm", "--network", network(), "-v", `${configDir}:/etc/gm-prober:ro`]),
      image,
      ...["gm-prober", "once", "--config", "/etc/gm-prober/prober.yaml", "--json"],
    ]);
    expect(once.status, out(once)).toBe(0);
    const r = JSON.parse(once.stdout) as { snapshot: { services: unknown[] }; incidents: unknown[] };
    expect(r.incidents).toEqual([]);
    expect(r.snapshot.services).toHaveLength(3);
  });

  it("a journal directory that is not a mounted volume is refused: the root filesystem is read-only", () => {
    const run = docker([
      ...podLike(`${id}-rojournal`, ["--rm", "--network", network(), "-v", `${configDir}:/etc/gm-prober:ro`]),
      image,
      ...["gm-prober", "run", "--config", "/etc/gm-prober/prober.yaml", "--journal-dir", "/var/lib/elsewhere", "--rounds", "1"],
    ]);
    expect(run.status, out(run)).toBe(2);
    expect(run.stderr).toMatch(/--journal-dir \/var\/lib\/elsewhere: cannot be written/);
  });

  it("gm-prober run with deploy/prober's args: /healthz and /metrics, and a real incident journaled on the volume", async () => {
    const journal = join(work, "journal");
    spawnSync("mkdir", ["-p", journal]);
    chmodSync(journal, 0o777); // written by uid 1000, whoever runs the test
    const name = `${id}-run`;
    const port = await freePort();
    const started = docker([
      ...podLike(name, [
        "-d",
        "--network",
        network(),
        "-p",
        `${port}:9464`,
        "-v",
        `${configDir}:/etc/gm-prober:ro`,
        "-v",
        `${journal}:/var/lib/gm-prober`,
      ]),
      image,
      // deploy/prober/deployment.yaml's args, word for word
      ...["gm-prober", "run", "--config", "/etc/gm-prober/prober.yaml", "--journal-dir", "/var/lib/gm-prober"],
    ]);
    expect(started.status, out(started)).toBe(0);
    const base = `http://${hostOf(stack!)}:${port}`;
    const logs = () => out(docker(["logs", name]));

    await until(
      () => `${base}/healthz answering 200 (${logs()})`,
      120_000,
      async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined),
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^gm_prober_/m);

    // a real incident: stats-api stopped; the prober in the container opens it and journals it on the volume
    await stack!.stopContainer("stats-api");
    const line = await until(`an incident in ${journal}/incidents.jsonl`, 120_000, async () => {
      const file = join(journal, "incidents.jsonl");
      if (!existsSync(file)) return undefined;
      return readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; kind?: string; subject?: string })
        .find((r) => r.type === "opened" && JSON.stringify(r).includes("stats-api"));
    });
    expect(line.type).toBe("opened");

    // SIGTERM (what the kubelet sends) ends it cleanly
    const stop = docker(["stop", "--time", "20", name]);
    expect(stop.status, out(stop)).toBe(0);
    const exit = docker(["inspect", "-f", "{{.State.ExitCode}}", name]);
    expect(exit.stdout.trim(), logs()).toBe("0");
  });
});
