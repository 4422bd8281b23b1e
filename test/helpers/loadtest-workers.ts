import { join } from "node:path";
import { REPO_ROOT } from "../../ops/node22.js";
import type { FromWorker, ToWorker, WorkerInit } from "../../ops/loadtest/protocol.js";
import type { WorkerHandle } from "../../ops/loadtest/runners/types.js";
import type { EchoCommand } from "../fixtures/loadtest/echo-worker.js";

/** The stand-in worker of the runner tests. */
export const ECHO_WORKER = join(REPO_ROOT, "test", "fixtures", "loadtest", "echo-worker.ts");

/** A protocol init for the echo worker; `rpcUrl` is fetched when it is an http URL. */
export function echoInit(worker: number, agents: number, rpcUrl = "none"): WorkerInit {
  const zero = "0x0000000000000000000000000000000000000000";
  return {
    type: "init",
    worker,
    rpcUrl,
    blockPeriodSeconds: 1,
    chainId: 1337,
    contracts: { market: zero, review: zero, credit: zero, channels: zero },
    agents: Array.from({ length: agents }, (_, i) => ({
      id: `consumer-${i}`,
      address: zero,
      role: "consumer" as const,
      zone: 1,
      key: "0x01",
    })),
    terms: {
      wh: "1000",
      pricePerKwh: "1",
      defaultPerKwh: "1",
      paymentsPerTrade: 0,
      channelDeposit: "0",
      bond: "0",
      buyerBond: "0",
      confirmationTimeoutSeconds: 1,
      tradeTimeoutSeconds: 1,
      path: "request-confirm",
      rejectShare: 0,
      topology: "direct",
      pairingSeed: 1,
      hubFeePerKwh: "0",
    },
    storeDir: "/tmp",
  };
}

/** Sends a fixture-only command; the echo worker understands more than the protocol. */
export function command(handle: WorkerHandle, message: EchoCommand): void {
  handle.send(message as unknown as ToWorker);
}

/** Collects a worker's messages and resolves the first one `match` accepts. */
export function inbox(handle: WorkerHandle): {
  all: FromWorker[];
  next(match: (m: FromWorker) => boolean): Promise<FromWorker>;
} {
  const all: FromWorker[] = [];
  const waiting: { match: (m: FromWorker) => boolean; resolve: (m: FromWorker) => void }[] = [];
  handle.onMessage((message) => {
    all.push(message);
    for (const w of [...waiting]) {
      if (w.match(message)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(message);
      }
    }
  });
  return {
    all,
    next: (match) =>
      new Promise((resolve) => {
        const seen = all.find(match);
        if (seen) resolve(seen);
        else waiting.push({ match, resolve });
      }),
  };
}
