import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { keyFromPrivate, type KeyPair } from "../../ops/besu/keys.js";
import { permissionsFile } from "../../ops/besu/config-toml.js";
import { writeFilesAtomic } from "../../ops/fs.js";
import { assembleNetwork, MANIFEST_FILE } from "../../ops/members/assemble.js";
import { initMember } from "../../ops/members/init.js";
import type { MemberAccount } from "../../ops/members/member-file.js";
import { parseFlatToml } from "../ops/helpers.js";

type Account = { id: string; role: MemberAccount["role"]; organisation: string; zone: string };

/**
 * The network manifest of a network `gridchain generate` made, as its members would have assembled
 * it: each organisation's signed member file made by the key ceremony from that network's own node
 * and account keys (so its enodes and accounts are the ones the deploy put on chain), one member
 * folder per organisation under `dir`, and the manifest and its genesis in `dir/manifest`.
 */
export async function foundersManifest(
  network: string,
  consortium: string,
  dir: string,
): Promise<{ manifest: string; genesis: string; memberDir: (organisation: string) => string }> {
  const text = readFileSync(consortium, "utf8");
  const name = /^name: (\S+)$/m.exec(text)![1]!;
  const chainId = Number(/^chainId: (\d+)$/m.exec(text)![1]);
  const accounts = JSON.parse(readFileSync(join(network, "accounts.json"), "utf8")) as Account[];
  const key = (path: string) => keyFromPrivate(readFileSync(path, "utf8").trim());
  const organisations = [...new Set(accounts.map((account) => account.organisation))];
  const memberDir = (organisation: string) => join(dir, `member-${organisation}`);
  const memberFiles: { text: string; file: string }[] = [];
  for (const organisation of organisations) {
    const nodes = readdirSync(join(network, "nodes"))
      .filter((node) => node.startsWith(`${organisation}-validator-`))
      .sort();
    const own = accounts.filter((account) => account.organisation === organisation);
    const keys: KeyPair[] = [
      ...nodes.map((node) => key(join(network, "nodes", node, "key"))),
      ...own.map((account) => key(join(network, "accounts", `${account.id}.key`))),
    ];
    const made = initMember({
      network: { name, chainId },
      organisation: {
        id: organisation,
        role: own.some((account) => account.role === "grid-operator")
          ? "grid-operator"
          : "producer",
      },
      nodes: nodes.map((node) => {
        const enode = readFileSync(join(network, "nodes", node, "enode"), "utf8").trim();
        const [, host, port] = /@([^:]+):(\d+)/.exec(enode)!;
        return { kind: "validator" as const, host: host!, p2pPort: Number(port) };
      }),
      accounts: own.map((account) => ({ role: account.role, zone: account.zone })),
      generate: () => keys.shift()!,
    });
    await writeFilesAtomic(memberDir(organisation), made.files);
    memberFiles.push({
      text: made.files.get("member.json")!.content,
      file: join(memberDir(organisation), "member.json"),
    });
  }
  const assembled = assembleNetwork({ text, file: consortium }, memberFiles);
  const out = join(dir, "manifest");
  await writeFilesAtomic(
    out,
    new Map([
      [MANIFEST_FILE, { content: assembled.manifestText, mode: 0o644 }],
      ["genesis.json", { content: assembled.genesis, mode: 0o644 }],
    ]),
  );
  return { manifest: join(out, MANIFEST_FILE), genesis: assembled.genesis, memberDir };
}

/** A rendered bundle as written: every file's text and mode, and one node's peers and allowlists. */
export function readBundle(out: string, node: string) {
  const files = new Map<string, { content: string; mode: number }>();
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else
        files.set(relative(out, path), {
          content: readFileSync(path, "utf8"),
          mode: statSync(path).mode & 0o777,
        });
    }
  };
  walk(out);
  const permissions = parseFlatToml(files.get(permissionsFile(node))!.content);
  return {
    files,
    staticNodes: JSON.parse(files.get("static-nodes.json")!.content) as string[],
    nodesAllowlist: permissions["nodes-allowlist"] as string[],
    accountsAllowlist: (permissions["accounts-allowlist"] as string[]).map((a) => a.toLowerCase()),
  };
}
