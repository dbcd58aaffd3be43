import { fileURLToPath } from "node:url";

const packages = fileURLToPath(new URL("./packages/", import.meta.url));

/** Tests run sibling workspace packages from their sources, so no build is needed to test them. */
export const workspaceAlias = [{ find: /^@gm\/(runbook|signals|stack|platform|report|kube-testenv|monitor|docker-engine)\/(.+)$/, replacement: `${packages}$1/src/$2.ts` }];
