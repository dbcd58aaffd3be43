/** A stack's lifecycle on the Docker engine: its network, and clean-up by label. */
import { dockerode, isNotFound, LABEL, listStackContainers } from "@gm/docker-engine/docker";

// Finding a stack's containers by label lives in packages/docker-engine (the platform driver does it
// too); the stack's callers keep taking it from here.
export { listStackContainers };
export type { LabelledContainer } from "@gm/docker-engine/docker";

/** Removes every container and network of a stack, by label. "Not found" counts as removed. */
export async function removeStack(stackId: string): Promise<{ containers: number; networks: number }> {
  const d = await dockerode();
  const containers = await listStackContainers(stackId);
  await Promise.all(
    containers.map((c) =>
      d
        .getContainer(c.id)
        .remove({ force: true, v: true })
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        }),
    ),
  );
  const networks = await d.listNetworks({ filters: { label: [`${LABEL.stack}=${stackId}`] } });
  await Promise.all(
    networks.map((n) =>
      d
        .getNetwork(n.Id)
        .remove()
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        }),
    ),
  );
  return { containers: containers.length, networks: networks.length };
}

export async function createNetwork(stackId: string): Promise<string> {
  const d = await dockerode();
  const name = `gm-${stackId}`;
  await d.createNetwork({
    Name: name,
    Driver: "bridge",
    CheckDuplicate: true,
    Labels: { [LABEL.managed]: "true", [LABEL.stack]: stackId },
  });
  return name;
}
