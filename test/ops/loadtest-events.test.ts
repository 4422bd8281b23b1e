import { expect } from "chai";
import { EventFragment, Interface, id } from "ethers";
import { marketEvents, eventArg } from "../../ops/loadtest/agent-support.js";
import { EventReader } from "../../ops/loadtest/chain/events.js";
import type { MinedReceipt } from "../../ops/loadtest/chain/follower.js";
import { EnergyMarket__factory, GridCredit__factory } from "../../types/ethers-contracts/index.js";

const MARKET = new Interface(EnergyMarket__factory.abi);
const CREDIT = new Interface(GridCredit__factory.abi);
const BUYER = "0x00000000000000000000000000000000000000b1";
const SELLER = "0x00000000000000000000000000000000000000a1";

function log(contract: Interface, name: string, values: unknown[]) {
  return { address: SELLER, ...contract.encodeEventLog(name, values) };
}

/** A buy's receipt as the market writes it: the order requested and established, a token transfer. */
function buyReceipt(orderId: bigint): MinedReceipt {
  return {
    hash: id(`buy ${orderId}`),
    blockNumber: 1,
    blockTimestamp: 1,
    seenAt: 0,
    status: "success",
    gasUsed: 0n,
    logs: [
      log(MARKET, "OrderRequested", [orderId, 3n, BUYER, 500n]),
      log(CREDIT, "Transfer", [BUYER, SELLER, 7n]),
      log(MARKET, "BatchItemRefused", [orderId, "0x1234"]),
    ],
  };
}

/** Counts reads of EventFragment.topicHash (each one a keccak hash) while `run` runs. */
function topicHashes(run: () => void): number {
  const descriptor = Object.getOwnPropertyDescriptor(EventFragment.prototype, "topicHash")!;
  let count = 0;
  Object.defineProperty(EventFragment.prototype, "topicHash", {
    ...descriptor,
    get(this: EventFragment) {
      count += 1;
      return descriptor.get!.call(this);
    },
  });
  try {
    run();
  } finally {
    Object.defineProperty(EventFragment.prototype, "topicHash", descriptor);
  }
  return count;
}

describe("load test event decoding", () => {
  it("decodes the market's events as ethers does and skips other contracts' logs", () => {
    const receipt = buyReceipt(42n);
    const events = marketEvents(receipt);
    const expected = receipt.logs.flatMap((entry) => {
      try {
        const parsed = MARKET.parseLog(entry);
        return parsed === null ? [] : [parsed];
      } catch {
        return [];
      }
    });
    expect(events.map((event) => event.name)).to.deep.equal(["OrderRequested", "BatchItemRefused"]);
    expect(events.map((event) => [event.name, [...event.args]])).to.deep.equal(
      expected.map((event) => [event.name, [...event.args]]),
    );
    expect(eventArg(receipt, MARKET, "OrderRequested", "orderId")).to.equal(42n);
    expect(eventArg(receipt, CREDIT, "Transfer", "value")).to.equal(7n);
    expect(() => eventArg(receipt, MARKET, "OrderDenied", "orderId")).to.throw(
      /no OrderDenied event/,
    );
    const reader = new EventReader(MARKET);
    expect(reader.parse({ topics: [], data: "0x" })).to.equal(null);
    expect(reader.parse(receipt.logs[0]!)?.args.getValue("quantityWh")).to.equal(500n);
  });

  it("hashes each event signature once, not every signature of the ABI for every log", () => {
    const receipts = Array.from({ length: 100 }, (_, i) => buyReceipt(BigInt(i + 1)));
    marketEvents(receipts[0]!); // the reader for the market's ABI is made once
    const hashes = topicHashes(() => {
      for (const receipt of receipts) {
        marketEvents(receipt);
        eventArg(receipt, MARKET, "OrderRequested", "orderId");
      }
    });
    // At most one hash per log decoded (ethers checks the topic of the event it decodes).
    expect(hashes).to.be.at.most(100 * 4);
  });
});
