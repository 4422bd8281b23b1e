import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ChannelClient } from "../../ops/channels/client.js";
import { acceptLock, lockOrder } from "../../ops/channels/dvp.js";
import { HubMediator } from "../../ops/channels/hub.js";
import { marketOrders } from "../../ops/channels/market.js";
import { ChannelWatcher } from "../../ops/channels/watcher.js";
import type { Address } from "../../ops/channels/proofs.js";
import {
  deployLockWorld,
  establishedOrder,
  keyOf,
  meter,
  type LockWorld,
} from "../helpers/locks.js";

const PRICE = 2_500_000n; // 10 kWh at 0.25 credits per kWh
const FEE_PER_KWH = 10_000n; // 100_000 on 10 kWh
const DEPOSIT = 10_000_000n;

/**
 * One order paid through the hub on a real chain with the real clients: the buyer closes while the
 * hub is offline, the watcher answers for the hub, and each channel settles and unlocks on its own.
 */
describe("hub mediation on chain, the hub offline at the buyer's close", function () {
  this.timeout(120_000);
  let w: LockWorld;
  let dir: string;
  before(async () => {
    w = await deployLockWorld();
    dir = await mkdtemp(join(tmpdir(), "gridchain-hub-chain-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const chainFor = (signer: HardhatEthersSigner) => ({
    channels: w.channels.connect(signer),
    token: w.credit.connect(signer),
  });
  const start = (signer: HardhatEthersSigner, name: string) =>
    ChannelClient.start({
      key: keyOf(signer),
      domain: w.domain,
      storePath: join(dir, `${name}.jsonl`),
      chain: chainFor(signer),
    });

  it("pays the seller the forwarded lock, the hub its fee, and the buyer keeps the rest", async () => {
    const orders = marketOrders(
      w.manifest.contracts.EnergyMarket.proxy as Address,
      w.connection.ethers.provider,
    );
    const buyer = await start(w.alice, "alice");
    const seller = await start(w.solar, "solar");
    // The hub's watcher runs beside it and receives each buyer's proof the hub accepts.
    const watcher = new ChannelWatcher(w.channels.connect(w.outsider));
    const hub = await HubMediator.start({
      key: keyOf(w.grid),
      domain: w.domain,
      storePath: join(dir, "hub.jsonl"),
      chain: chainFor(w.grid),
      orders,
      feePerKwh: FEE_PER_KWH,
      watcher,
    });
    const inbound = await buyer.openChannel(w.grid.address as Address);
    await buyer.deposit(inbound, DEPOSIT);
    await hub.client.sync(inbound);
    const outbound = await hub.client.openChannel(w.solar.address as Address);
    await hub.client.deposit(outbound, DEPOSIT);
    await seller.sync(outbound);

    const orderId = await establishedOrder(w);
    const forward = await hub.mediate(await lockOrder(buyer, orders, orderId, inbound), orderId);
    await acceptLock(seller, orders, forward, { orderId, minAmount: PRICE - 100_000n });

    // The hub goes offline; its watcher already holds the buyer's proof with the hub's update signature.
    await hub.stop();
    await buyer.close(inbound);
    expect((await watcher.scan()).map((o) => o.action)).to.deep.equal(["updated"]);
    const [lockedAmount] = await w.channels.revealedLocks(inbound, w.alice.address);
    expect(lockedAmount).to.equal(PRICE);
    await seller.close(outbound);

    await meter(w, orderId, 10_000n, 100n);
    const [, , , , , settleAt] = await w.channels.getChannel(outbound);
    const now = BigInt(await w.connection.networkHelpers.time.latest());
    if (now <= settleAt) await w.connection.networkHelpers.time.increaseTo(settleAt + 1n);
    const before = {
      alice: await w.credit.balanceOf(w.alice.address),
      grid: await w.credit.balanceOf(w.grid.address),
      solar: await w.credit.balanceOf(w.solar.address),
    };
    await buyer.settle(inbound);
    await seller.settle(outbound);
    expect(await buyer.unlock(inbound, w.alice.address as Address)).to.equal(true);
    expect(await seller.unlock(outbound, w.grid.address as Address)).to.equal(true);
    expect((await w.credit.balanceOf(w.alice.address)) - before.alice).to.equal(DEPOSIT - PRICE);
    expect((await w.credit.balanceOf(w.solar.address)) - before.solar).to.equal(PRICE - 100_000n);
    expect((await w.credit.balanceOf(w.grid.address)) - before.grid).to.equal(DEPOSIT + 100_000n);
    await buyer.stop();
    await seller.stop();
  });
});
