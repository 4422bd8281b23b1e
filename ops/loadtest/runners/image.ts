import { execFileSync } from "node:child_process";
import type Docker from "dockerode";
import { importRootfsImage } from "../../engines/images.js";
import { node22Binary, REPO_ROOT } from "../../node22.js";

/** Where the client image holds Node; the docker runner starts workers with it. */
export const CLIENT_NODE = "/usr/local/bin/node";

/** The client image's tag for the host's Node 22: one image per Node version. */
export function clientImageTag(): string {
  const version = execFileSync(node22Binary(), ["-p", "process.versions.node"], {
    encoding: "utf8",
  }).trim();
  return `gridchain/loadtest-client:node-${version}`;
}

/**
 * Makes sure the load-test client image exists and returns its tag. It is built here with no
 * registry: a root filesystem holding the host's Node 22 binary and the libraries it links, plus
 * /etc/passwd and /etc/group naming the host user the workers run as. The project itself is not in
 * the image: the docker runner bind-mounts it read-only at the same path, so the image never goes
 * stale when the code changes.
 */
export async function ensureClientImage(
  docker: Docker,
  options: { tag?: string } = {},
): Promise<string> {
  const tag = options.tag ?? clientImageTag();
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch {
    // Absent: built below.
  }
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const users = ["root:x:0:0:root:/root:/bin/sh"];
  const groups = ["root:x:0:"];
  if (uid !== 0) users.push(`gridchain:x:${uid}:${gid}:gridchain:/tmp:/bin/sh`);
  if (gid !== 0) groups.push(`gridchain:x:${gid}:`);
  await importRootfsImage(docker, {
    tag,
    files: [{ hostPath: node22Binary(), imagePath: CLIENT_NODE }],
    texts: [
      { imagePath: "/etc/passwd", text: `${users.join("\n")}\n` },
      { imagePath: "/etc/group", text: `${groups.join("\n")}\n` },
    ],
  });
  return tag;
}

/**
 * The client image for sites that have a registry: Node from the official image and the project
 * copied in at the path the docker runner uses (`projectDir`, the repository root by default), so
 * the runner's command and its read-only bind mount of the checkout agree with what the image holds.
 *
 * The install keeps dev dependencies: workers run TypeScript through tsx, a dev dependency, so
 * `npm ci --omit=dev` would give an image that cannot start a worker. Build the contracts first
 * (`npm run build`): workers read artifacts/ and types/.
 */
export function clientDockerfile(options: { nodeMajor: number; projectDir?: string }): string {
  const dir = options.projectDir ?? REPO_ROOT;
  return [
    "# gridchain load-test client (workers). Build from the repository root after `npm run build`:",
    "#   docker build -f Dockerfile.loadtest-client -t gridchain/loadtest-client:registry .",
    `FROM node:${options.nodeMajor}-slim`,
    `WORKDIR ${dir}`,
    "COPY package.json package-lock.json ./",
    "# Dev dependencies stay: workers run TypeScript through tsx, which is one.",
    "RUN npm ci && npm cache clean --force",
    "COPY tsconfig.json ./",
    "COPY ops ./ops",
    "COPY artifacts ./artifacts",
    "COPY types ./types",
    "USER node",
    `ENTRYPOINT ["${CLIENT_NODE}", "--import", "${dir}/node_modules/tsx/dist/loader.mjs"]`,
    `CMD ["${dir}/ops/loadtest/worker.ts"]`,
    "",
  ].join("\n");
}
