/**
 * How fast the exporter's market follower catches up with a busy market: a JSON-RPC server on
 * 127.0.0.1 serves the logs of `TRADES` complete trades (publish, request, establish, meter) spread
 * over blocks; the follower reads them from the deployment block to the head, as after a restart.
 * Prints events per second for the catch-up, the time of an idle poll and of one /metrics render.
 */
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { Registry } from "prom-client";
import { MARKET_EVENTS, MarketFollower } from "../metrics/exporter.js";

const TRADES = Number(process.env.TRADES ?? 20_000);
const EVENTS_PER_BLOCK = 8;
const MARKET = "0x00000000000000000000000000000000000000aa";
const CREDIT = "0x00000000000000000000000000000000000000cc";
const SELLER = "0x0000000000000000000000000000000000000001";
const BUYER = "0x0000000000000000000000000000000000000002";

const logs: Array<{ blockNumber: number; topics: readonly string[]; data: string }> = [];
const push = (name: string, args: unknown[]) => {
  const encoded = MARKET_EVENTS.encodeEventLog(name, args);
  logs.push({ blockNumber: Math.floor(logs.length / EVENTS_PER_BLOCK) + 1, ...encoded });
};
for (let id = 1; id <= TRADES; id++) {
  push("OfferPublished", [id, SELLER, 1, 0, 250, 100, 1000, 1900, 2800, 2000]);
  push("OrderRequested", [id, id, BUYER, 1000]);
  push("OrderEstablished", [id, BUYER, SELLER, id, 1000, 250, 1900, 2800, 100, 1, 0]);
  push("MeterReadingRecorded", [id, `0x${"11".repeat(32)}`, SELLER, id, 1000, 0]);
}
const head = logs.at(-1)!.blockNumber;

const server = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    const { id, method, params } = JSON.parse(body);
    let result: unknown = null;
    if (method === "eth_blockNumber") result = `0x${head.toString(16)}`;
    else if (method === "eth_getBlockByNumber") result = { timestamp: "0x3e8" };
    else if (method === "eth_call") result = `0x${(6).toString(16).padStart(64, "0")}`;
    else if (method === "eth_getLogs") {
      const from = Number(params[0].fromBlock);
      const to = Number(params[0].toBlock);
      result = logs.filter((log) => log.blockNumber >= from && log.blockNumber <= to);
    }
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ jsonrpc: "2.0", id, result }));
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as { port: number };

const registry = new Registry();
const follower = new MarketFollower(
  `http://127.0.0.1:${port}`,
  { market: MARKET, credit: CREDIT, fromBlock: 1n },
  registry,
);
let started = performance.now();
await follower.poll();
const catchUp = performance.now() - started;
started = performance.now();
await follower.poll();
const idle = performance.now() - started;
started = performance.now();
const text = await registry.metrics();
const render = performance.now() - started;
if (!text.includes(`gridchain_market_orders{state="delivered"} ${TRADES}\n`)) {
  throw new Error("the follower did not count every trade");
}
server.close();

console.log(`market follower catch-up: ${logs.length} events in ${head} blocks`);
console.log(`  ${catchUp.toFixed(0)} ms, ${Math.round(logs.length / (catchUp / 1000))} events/s`);
console.log(`  idle poll (no new block): ${idle.toFixed(1)} ms`);
console.log(`  /metrics render: ${render.toFixed(1)} ms`);
