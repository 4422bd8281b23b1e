import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A throwaway key funded in the genesis that {@link genesisDir} writes. */
export const FUNDED = new Wallet(
  "0x8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63",
);

/** A temp network folder holding a minimal Besu-style QBFT genesis.json (1 s blocks). */
export async function genesisDir(chainId: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gridchain-net-"));
  const genesis = {
    config: { chainId, cancunTime: 0, zeroBaseFee: true, qbft: { blockperiodseconds: 1 } },
    gasLimit: "0x3b9aca00",
    difficulty: "0x1",
    extraData: "0x",
    alloc: { [FUNDED.address]: { balance: "0x56bc75e2d63100000" } },
  };
  await writeFile(join(dir, "genesis.json"), JSON.stringify(genesis));
  return dir;
}
