import { expect } from "chai";
import hre from "hardhat";
import { upgrades as upgradesFor } from "@openzeppelin/hardhat-upgrades";
import { ZERO_HASH } from "../../ops/channels/proofs.js";
import {
  SETTLE_TIMEOUT,
  deployChannels,
  openFunded,
  signProofIntent,
  type ChannelsFixture,
} from "../helpers/channels.js";

const THIRTY_DAYS = 30n * 24n * 3600n;
const UINT64_MAX = 2n ** 64n - 1n;
const EMPTY = { nonce: 0n, transferredAmount: 0n, additionalHash: ZERO_HASH, signature: "0x" };

describe("PaymentChannels settle timeout bound", () => {
  let f: ChannelsFixture;
  before(async () => {
    f = await deployChannels();
  });
  let restore: () => Promise<void>;
  beforeEach(async () => {
    const snapshot = await f.networkHelpers.takeSnapshot();
    restore = () => snapshot.restore();
  });
  afterEach(async () => {
    await restore();
  });

  async function closeAsAlice(channelId: bigint) {
    const signature = await signProofIntent(f.alice, f.domain, "Close", { ...EMPTY, channelId });
    return f.channels.connect(f.alice).closeChannel(channelId, f.alice.address, EMPTY, signature);
  }

  it("refuses a timeout whose settleAt could overflow, so every new channel stays closable", async () => {
    await expect(f.channels.connect(f.grid).setSettleTimeout(UINT64_MAX))
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsSettleTimeoutTooLong")
      .withArgs(UINT64_MAX, THIRTY_DAYS);
    await expect(f.channels.connect(f.grid).setSettleTimeout(THIRTY_DAYS + 1n))
      .to.be.revertedWithCustomError(f.channels, "PaymentChannelsSettleTimeoutTooLong")
      .withArgs(THIRTY_DAYS + 1n, THIRTY_DAYS);
    expect(await f.channels.settleTimeout()).to.equal(SETTLE_TIMEOUT);
    expect(await f.channels.MAX_SETTLE_TIMEOUT()).to.equal(THIRTY_DAYS);
  });

  it("refuses an unbounded timeout at initialization too", async () => {
    const upgrades = await upgradesFor(hre, f.connection);
    const factory = await f.ethers.getContractFactory("PaymentChannels");
    const args = [await f.manager.getAddress(), await f.credit.getAddress(), UINT64_MAX];
    const failure = await upgrades.deployProxy(factory, args, { kind: "uups" }).then(
      () => null,
      (error: unknown) => error as Error,
    );
    expect(failure?.message).to.contain("PaymentChannelsSettleTimeoutTooLong");
  });

  it("closes and settles a channel opened under the longest timeout", async () => {
    await f.channels.connect(f.grid).setSettleTimeout(THIRTY_DAYS);
    const id = await openFunded(f, f.alice, f.bob, 100n, 0n);
    await expect(closeAsAlice(id)).to.emit(f.channels, "ChannelClosed");
    const [, , , timeout, , settleAt] = await f.channels.getChannel(id);
    expect(timeout).to.equal(THIRTY_DAYS);
    await f.networkHelpers.time.increaseTo(settleAt + 1n);
    await expect(f.channels.settleChannel(id)).to.emit(f.channels, "ChannelSettled");
  });
});
