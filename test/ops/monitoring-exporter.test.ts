import { expect } from "chai";
import { createServer } from "node:http";
import { Registry } from "prom-client";
import {
  BesuReader,
  MARKET_EVENTS,
  MarketFollower,
  validatorLiveness,
} from "../../ops/metrics/exporter.js";

/** A JSON-RPC answer: an Error becomes a JSON-RPC error (as Besu refuses a too-wide log range). */
function reply(id: number, result: unknown) {
  return result instanceof Error
    ? { jsonrpc: "2.0", id, error: { code: -32005, message: result.message } }
    : { jsonrpc: "2.0", id, result };
}

/** A JSON-RPC server on 127.0.0.1 answering from `answer`; records every call. */
async function fakeRpc(answer: (method: string, params: any[]) => unknown) {
  const calls: Array<{ method: string; params: any[] }> = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const { id, method, params } = JSON.parse(body);
      calls.push({ method, params });
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(reply(id, answer(method, params))));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe("Besu consensus readings", () => {
  // The response shape Besu documents for qbft_getSignerMetrics (hex quantities, lower-case addresses).
  const SIGNER_METRICS = [
    {
      address: "0x7ffc57839b00206d1ad20c69a1981b489f772031",
      proposedBlockCount: "0x21",
      lastProposedBlockNumber: "0x61",
    },
    {
      address: "0x42eb768f2244c8811c63729a21a3569731535f06",
      proposedBlockCount: "0x21",
      lastProposedBlockNumber: "0x63",
    },
    {
      address: "0xb279182d99e65703f0076e4812653aab85fca0f0",
      proposedBlockCount: "0x21",
      lastProposedBlockNumber: "0x62",
    },
  ];
  const SILENT = "0x0000000000000000000000000000000000000abc";

  it("joins the validator set with signer metrics; a validator absent from them proposed nothing", () => {
    const validators = [
      "0x7FFC57839B00206D1AD20C69A1981B489F772031",
      "0x42eb768f2244c8811c63729a21a3569731535f06",
      "0xb279182d99e65703f0076e4812653aab85fca0f0",
      SILENT,
    ];
    expect(validatorLiveness(validators, SIGNER_METRICS, 0x63n, 0x00n)).to.deep.equal([
      {
        validator: "0x7ffc57839b00206d1ad20c69a1981b489f772031",
        proposedBlocks: 33,
        blocksSinceProposal: 2,
      },
      {
        validator: "0x42eb768f2244c8811c63729a21a3569731535f06",
        proposedBlocks: 33,
        blocksSinceProposal: 0,
      },
      {
        validator: "0xb279182d99e65703f0076e4812653aab85fca0f0",
        proposedBlocks: 33,
        blocksSinceProposal: 1,
      },
      { validator: SILENT, proposedBlocks: 0, blocksSinceProposal: 99 },
    ]);
  });

  for (const protocol of ["qbft", "clique"] as const) {
    it(`exports peers, validators and per-validator liveness from a Besu-shaped JSON-RPC (${protocol})`, async () => {
      const answers: Record<string, unknown> = {
        net_peerCount: "0x3",
        eth_blockNumber: "0x1f4",
        [`${protocol === "qbft" ? "qbft_getValidatorsByBlockNumber" : "clique_getSigners"}`]: [
          ...SIGNER_METRICS.map((m) => m.address),
          SILENT,
        ],
        [`${protocol}_getSignerMetrics`]: SIGNER_METRICS.map((m) => ({
          ...m,
          lastProposedBlockNumber: "0x1f0",
        })),
      };
      const rpc = await fakeRpc((method) => answers[method]);
      try {
        const registry = new Registry();
        await new BesuReader(rpc.url, registry, protocol).poll();
        const text = await registry.metrics();
        expect(text).to.contain("gridchain_besu_peers 3\n");
        expect(text).to.contain("gridchain_validators 4\n");
        expect(text).to.contain(
          'gridchain_validator_proposed_blocks{validator="0x7ffc57839b00206d1ad20c69a1981b489f772031"} 33\n',
        );
        expect(text).to.contain(`gridchain_validator_proposed_blocks{validator="${SILENT}"} 0\n`);
        expect(text).to.contain(
          'gridchain_validator_blocks_since_proposal{validator="0x42eb768f2244c8811c63729a21a3569731535f06"} 4\n',
        );
        expect(text).to.contain(
          `gridchain_validator_blocks_since_proposal{validator="${SILENT}"} 100\n`,
        );
        // The signer window is the last 100 blocks, asked for explicitly.
        expect(
          rpc.calls.find((call) => call.method === `${protocol}_getSignerMetrics`)!.params,
        ).to.deep.equal(["0x190", "0x1f4"]);
      } finally {
        await rpc.close();
      }
    });
  }
});

describe("market follower (events from a JSON-RPC)", () => {
  const MARKET = "0x00000000000000000000000000000000000000aa";
  const CHANNELS = "0x00000000000000000000000000000000000000bb";
  const CREDIT = "0x00000000000000000000000000000000000000cc";
  const SELLER = "0x0000000000000000000000000000000000000001";
  const BUYER = "0x0000000000000000000000000000000000000002";
  const log = (address: string, name: string, args: unknown[]) => ({
    address,
    ...MARKET_EVENTS.encodeEventLog(name, args),
  });
  const LOGS = [
    // Offer 1: 1000 Wh until t=2000; order 1 takes 600, waits for review, is cancelled: 1000 again.
    log(MARKET, "OfferPublished", [1, SELLER, 1, 0, 250, 100, 1000, 1900, 2800, 2000]),
    log(MARKET, "OrderRequested", [1, 1, BUYER, 600]),
    log(MARKET, "OrderAwaitingReview", [1, SELLER, 600, 60, 1, 400]),
    log(MARKET, "OrderCancelled", [1, SELLER, 6]),
    // Offer 2 expired at t=500 (before the head's t=1000).
    log(MARKET, "OfferPublished", [2, SELLER, 1, 0, 250, 100, 1000, 400, 1300, 500]),
    // Offer 3 sold out by order 2, which is then delivered short and its default settled.
    log(MARKET, "OfferPublished", [3, SELLER, 1, 0, 250, 100, 500, 1900, 2800, 2000]),
    log(MARKET, "OrderRequested", [2, 3, BUYER, 500]),
    log(MARKET, "OrderEstablished", [2, BUYER, SELLER, 3, 500, 250, 1900, 2800, 50, 1, 0]),
    log(MARKET, "MeterReadingRecorded", [2, `0x${"11".repeat(32)}`, SELLER, 900, 400, 100]),
    log(MARKET, "DefaultSettled", [2, BUYER, SELLER, 100, 10, 40]),
    // Order 3 on offer 1 is denied by the review (import capacity, reason 7).
    log(MARKET, "OrderRequested", [3, 1, BUYER, 100]),
    log(MARKET, "OrderDenied", [3, 7, 1]),
    // Channels: 1 open, 2 closed, 3 settled.
    log(CHANNELS, "ChannelOpened", [1, SELLER, BUYER, 3600]),
    log(CHANNELS, "ChannelOpened", [2, SELLER, BUYER, 3600]),
    log(CHANNELS, "ChannelOpened", [3, SELLER, BUYER, 3600]),
    log(CHANNELS, "ChannelClosed", [2, SELLER, 5000]),
    log(CHANNELS, "ChannelClosed", [3, SELLER, 5000]),
    log(CHANNELS, "ChannelSettled", [3, SELLER, 1, BUYER, 2, false]),
  ];

  it("counts offers open, orders by state, reviews, denials, channels and value locked", async () => {
    const balance = MARKET_EVENTS.getFunction("balanceOf")!.selector;
    const rpc = await fakeRpc((method, params) => {
      switch (method) {
        case "eth_blockNumber":
          return "0x20";
        case "eth_getLogs":
          return LOGS;
        case "eth_getBlockByNumber":
          return { timestamp: "0x3e8" };
        case "eth_call": {
          const data: string = params[0].data;
          if (!data.startsWith(balance)) return `0x${(6).toString(16).padStart(64, "0")}`;
          const holder = `0x${data.slice(-40)}`;
          return `0x${(holder === MARKET ? 5_000_000 : 2_500_000).toString(16).padStart(64, "0")}`;
        }
      }
      return null;
    });
    try {
      const registry = new Registry();
      const follower = new MarketFollower(
        rpc.url,
        { market: MARKET, credit: CREDIT, channels: CHANNELS, fromBlock: 0x10n },
        registry,
      );
      await follower.poll();
      const text = await registry.metrics();
      const expected = [
        "gridchain_market_offers_published_total 3",
        "gridchain_market_offers_open 1",
        'gridchain_market_orders{state="cancelled"} 1',
        'gridchain_market_orders{state="default_settled"} 1',
        'gridchain_market_orders{state="denied"} 1',
        'gridchain_market_orders{state="established"} 0',
        'gridchain_market_reviews_total{outcome="referred"} 1',
        'gridchain_market_reviews_total{outcome="approved"} 1',
        'gridchain_market_reviews_total{outcome="denied"} 1',
        'gridchain_market_denials_total{reason="import_capacity"} 1',
        'gridchain_market_denials_total{reason="export_capacity"} 0',
        'gridchain_channels{state="open"} 1',
        'gridchain_channels{state="closed"} 1',
        'gridchain_value_locked_credits{kind="bonds"} 5',
        'gridchain_value_locked_credits{kind="channel_deposits"} 2.5',
        "gridchain_exporter_last_block 32",
      ];
      expect(expected.filter((line) => !text.includes(`${line}\n`))).to.deep.equal([]);
      // One eth_getLogs over both contracts from the deployment block to the head.
      expect(rpc.calls.filter((call) => call.method === "eth_getLogs")).to.deep.equal([
        {
          method: "eth_getLogs",
          params: [{ address: [MARKET, CHANNELS], fromBlock: "0x10", toBlock: "0x20" }],
        },
      ]);
      // The next poll starts after the head: no block is counted twice.
      await follower.poll();
      expect(rpc.calls.filter((call) => call.method === "eth_getLogs")).to.have.length(1);
      expect(await registry.metrics()).to.contain("gridchain_market_offers_published_total 3\n");
    } finally {
      await rpc.close();
    }
  });

  it("asks for fewer blocks when the node refuses a log range, and counts every event once", async () => {
    const ranges: string[] = [];
    const rpc = await fakeRpc((method, params) => {
      if (method === "eth_blockNumber") return "0x20";
      if (method === "eth_getBlockByNumber") return { timestamp: "0x3e8" };
      if (method === "eth_call") return `0x${(6).toString(16).padStart(64, "0")}`;
      if (method === "eth_getLogs") {
        const from = Number(params[0].fromBlock);
        const to = Number(params[0].toBlock);
        if (to - from >= 8) return new Error("query returned more than 10000 results");
        ranges.push(`${from}-${to}`);
        // Every event of the fixture sits in block 0x12.
        return from <= 0x12 && 0x12 <= to ? LOGS : [];
      }
      return null;
    });
    try {
      const registry = new Registry();
      await new MarketFollower(
        rpc.url,
        { market: MARKET, credit: CREDIT, channels: CHANNELS, fromBlock: 0x10n },
        registry,
      ).poll();
      // 2000 blocks halve down to 7; after a success the range doubles and halves again.
      expect(ranges).to.deep.equal(["16-22", "23-29", "30-32"]);
      const text = await registry.metrics();
      expect(text).to.contain("gridchain_market_offers_published_total 3\n");
      expect(text).to.contain('gridchain_channels{state="open"} 1\n');
    } finally {
      await rpc.close();
    }
  });
});
