import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type Docker from "dockerode";

const run = promisify(execFile);

export type RootfsFile = { hostPath: string; imagePath: string };
/** A small file written into the image from text (an /etc/passwd line, a config). */
export type RootfsText = { imagePath: string; text: string; mode?: number };

/**
 * Builds an image with no registry: the given host binaries and the shared libraries they link
 * (from `ldd`) are laid out as a root filesystem and imported (`docker import`). This is how
 * air-gapped sites, and CI, get an image from what the host already has.
 */
export async function importRootfsImage(
  docker: Docker,
  {
    tag,
    files,
    texts = [],
    changes = [],
  }: {
    tag: string;
    files: RootfsFile[];
    texts?: RootfsText[];
    /** Dockerfile instructions applied on import (ENTRYPOINT, ENV, USER, WORKDIR). */
    changes?: string[];
  },
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "gridchain-rootfs-"));
  try {
    const libraries = new Set<string>();
    for (const file of files) {
      await place(file.hostPath, join(root, file.imagePath));
      for (const lib of await linkedLibraries(file.hostPath)) libraries.add(lib);
    }
    for (const lib of libraries) await place(lib, join(root, lib));
    for (const { imagePath, text, mode = 0o644 } of texts) {
      await mkdir(dirname(join(root, imagePath)), { recursive: true });
      await writeFile(join(root, imagePath), text);
      await chmod(join(root, imagePath), mode);
    }
    await mkdir(join(root, "tmp"), { recursive: true, mode: 0o1777 });
    const tarball = `${root}.tar`;
    await run("tar", ["-C", root, "-cf", tarball, "."]);
    const [repo, version = "latest"] = tag.split(":");
    const stream = await docker.importImage(tarball, {
      repo,
      tag: version,
      ...(changes.length > 0 ? { changes } : {}),
    });
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve())),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(`${root}.tar`, { force: true });
  }
}

async function place(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to);
  await chmod(to, (await stat(from)).mode & 0o7777);
}

/** Absolute paths of the shared libraries a dynamically linked binary needs (empty if static). */
async function linkedLibraries(binary: string): Promise<string[]> {
  try {
    const { stdout } = await run("ldd", [binary]);
    return [...stdout.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  } catch {
    return [];
  }
}
