/**
 * The Docker engine as the gm stacks use it, shared by the stack that starts containers
 * (packages/stack) and the driver that acts on them (packages/platform/src/docker.ts): the client,
 * the labels that mark a stack's containers, containers by label, and the engine's log stream format.
 * It lives apart from both so that neither imports the other (the platform's integration tests start
 * stacks with packages/stack).
 */
import type Dockerode from "dockerode";
import { getContainerRuntimeClient } from "testcontainers";

/** The labels every container (and network) of a stack carries; clean-up and the drivers find them by these. */
export const LABEL = {
  managed: "io.gamemetrics.managed",
  stack: "io.gamemetrics.stack",
  role: "io.gamemetrics.role",
  instance: "io.gamemetrics.instance",
} as const;

/** The engine's client, found the way testcontainers finds it (DOCKER_HOST, ~/.testcontainers.properties, the socket). */
export async function dockerode(): Promise<Dockerode> {
  return (await getContainerRuntimeClient()).container.dockerode;
}

export interface LabelledContainer {
  id: string;
  name: string;
  stack: string;
  role: string;
  instance: string;
  state: string;
  status: string;
}

/** Containers of one stack (or of all stacks) found by label: also those a crashed run left behind. */
export async function listStackContainers(stackId?: string): Promise<LabelledContainer[]> {
  const d = await dockerode();
  const filters = { label: [stackId ? `${LABEL.stack}=${stackId}` : `${LABEL.managed}=true`] };
  const list = await d.listContainers({ all: true, filters });
  return list.map((c) => ({
    id: c.Id,
    name: (c.Names[0] ?? "").replace(/^\//, ""),
    stack: c.Labels[LABEL.stack] ?? "",
    role: c.Labels[LABEL.role] ?? "",
    instance: c.Labels[LABEL.instance] ?? "",
    state: c.State,
    status: c.Status,
  }));
}

/** Docker multiplexes stdout and stderr of a non-TTY container into frames with an 8-byte header. */
export function demuxDockerLogs(buf: Buffer): string {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length && buf[i]! <= 2 && buf[i + 1] === 0) {
    const size = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return i === 0 ? buf.toString("utf8") : Buffer.concat(out).toString("utf8");
}

/** Whether a dockerode error is the engine's 404 (no such container or network). */
export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number } | null)?.statusCode === 404;
}

/** Whether a dockerode error is the engine's 304 (already in the requested state, e.g. start of a running container). */
export function isNotModified(err: unknown): boolean {
  return (err as { statusCode?: number } | null)?.statusCode === 304;
}
