/**
 * Which images the stack runs. Public images by default (apache/kafka, postgres, the demo image
 * built from its Dockerfile); the locally built equivalents (`npm run images`) are preferred when
 * present, since this workplace reaches no registry. Each one can be overridden by option or by
 * GM_KAFKA_IMAGE / GM_POSTGRES_IMAGE / GM_PLATFORM_IMAGE.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getContainerRuntimeClient, ImageName } from "testcontainers";
import { defaultPublicImages, IMAGE_VARIABLES, type StackImages } from "./definition.js";

export const LOCAL_IMAGES = {
  kafka: (v: string) => `gamemetrics/kafka:${v}-local`,
  postgres: "gamemetrics/postgres:15-local",
  node: "gamemetrics/node:24-local",
};
export const PUBLIC_NODE_IMAGE = "node:24-bookworm-slim";

export async function imageExists(name: string): Promise<boolean> {
  const client = await getContainerRuntimeClient();
  return client.image.exists(ImageName.fromString(name));
}

/** The demo-platform package folder (its Dockerfile and bundled app). */
export function platformDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/ or dist/ of packages/stack → apps/demo-platform
  return resolve(here, "../../../apps/demo-platform");
}

export async function resolveImages(
  kafkaVersion: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StackImages & { platformBase: string }> {
  const pub = defaultPublicImages(kafkaVersion);
  const kafkaLocal = LOCAL_IMAGES.kafka(kafkaVersion);
  const [hasKafka, hasPg, hasNode] = await Promise.all([
    imageExists(kafkaLocal),
    imageExists(LOCAL_IMAGES.postgres),
    imageExists(LOCAL_IMAGES.node),
  ]);
  return {
    kafka: env[IMAGE_VARIABLES.kafka] || (hasKafka ? kafkaLocal : pub.kafka),
    postgres: env[IMAGE_VARIABLES.postgres] || (hasPg ? LOCAL_IMAGES.postgres : pub.postgres),
    platform: env[IMAGE_VARIABLES.platform] || "",
    platformBase: env["GM_NODE_IMAGE"] || (hasNode ? LOCAL_IMAGES.node : PUBLIC_NODE_IMAGE),
  };
}

/**
 * Builds the demo-platform image from its Dockerfile when the bundle changed; the tag carries a
 * hash of the bundle and the base, so an unchanged app is never rebuilt.
 */
export async function ensurePlatformImage(base: string, log: (msg: string) => void = () => undefined): Promise<string> {
  const dir = platformDir();
  const bundle = join(dir, "image/app/main.mjs");
  if (!existsSync(bundle)) {
    throw new Error(`the demo-platform bundle ${bundle} is missing: run \`npm run build\` first`);
  }
  const hash = createHash("sha256")
    .update(readFileSync(bundle))
    .update(readFileSync(join(dir, "Dockerfile")))
    .update(base)
    .digest("hex")
    .slice(0, 12);
  const tag = `gamemetrics/demo-platform:${hash}`;
  if (await imageExists(tag)) return tag;
  log(`building ${tag} from ${dir}/Dockerfile on ${base}`);
  const client = await getContainerRuntimeClient();
  await client.image.build(dir, { t: tag, buildargs: { NODE_IMAGE: base }, labels: { "io.gamemetrics.managed": "true" } } as never);
  if (!(await imageExists(tag))) throw new Error(`docker build of ${tag} finished but the image does not exist`);
  return tag;
}
