/** Docker access through testcontainers' runtime client (dockerode): labels, networks, clean-up. */
import type Dockerode from "dockerode";
import { getContainerRuntimeClient } from "testcontainers";
import { LABEL } from "./definition.js";

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

/** Removes every container and network of a stack, by label. "Not found" counts as removed. */
export async function removeStack(stackId: string): Promise<{ containers: number; networks: number }> {
  const d = await dockerode();
  const containers = await listStackContainers(stackId);
  await Promise.all(
    containers.map((c) =>
      d
        .getContainer(c.id)
        .remove({ force: true, v: true })
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 404) throw err;
        }),
    ),
  );
  const networks = await d.listNetworks({ filters: { label: [`${LABEL.stack}=${stackId}`] } });
  await Promise.all(
    networks.map((n) =>
      d
        .getNetwork(n.Id)
        .remove()
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 404) throw err;
        }),
    ),
  );
  return { containers: containers.length, networks: networks.length };
}

export async function createNetwork(stackId: string): Promise<string> {
  const d = await dockerode();
  const name = `gm-${stackId}`;
  await d.createNetwork({ Name: name, Driver: "bridge", CheckDuplicate: true, Labels: { [LABEL.managed]: "true", [LABEL.stack]: stackId } });
  return name;
}
