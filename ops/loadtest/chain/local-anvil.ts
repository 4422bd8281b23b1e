import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { anvilBinary } from "../../engines/anvil.js";
import { rpcCall } from "../../engines/rpc.js";

/** The first dev account of anvil's default mnemonic, and the next ones: published test keys. */
export const ANVIL_DEV_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
] as const;

export type LocalAnvil = { url: string; port: number; stop(): Promise<void> };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Children still running: killed when this process exits, so a failed test or an interrupted
 * benchmark leaves no anvil behind. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const left of running) left.kill("SIGKILL");
  });
}

/**
 * A throwaway anvil on 127.0.0.1 for tests and benchmarks (no state file, no PID file: the
 * embedded engine is the one operators use). Gas price and base fee 0, as on the consortium's Besu.
 */
export async function startLocalAnvil(args: string[] = []): Promise<LocalAnvil> {
  const port = await freePort();
  const child = spawn(
    anvilBinary(),
    ["--host", "127.0.0.1", "--port", String(port), "--base-fee", "0", "--gas-price", "0", ...args],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  killOnExit(child);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await rpcCall<string>(url, "eth_chainId", [], 500);
      return { url, port, stop };
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`anvil did not start on ${url}: ${stderr.trim() || String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
