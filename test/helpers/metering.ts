import { expect } from "chai";
import type { BytesLike, Signer } from "ethers";
import type { EnergyMarket } from "../../types/ethers-contracts/index.js";

/** What the metering helpers need of a test world. */
type Metered = { market: EnergyMarket; meter: Signer };

/** The meter records one reading: `recordMeterReadings` with a batch of one. */
export function recordReading(
  w: Metered,
  orderId: bigint,
  meterId: BytesLike,
  readingWh: bigint,
  deliveredWh: bigint,
  by: Signer = w.meter,
) {
  return w.market.connect(by).recordMeterReadings([{ orderId, meterId, readingWh, deliveredWh }]);
}

/** One default settled: `settleDefaults` with a batch of one, by `caller` (anyone may). */
export function settleDefault(w: Metered, orderId: bigint, caller?: Signer) {
  return (caller === undefined ? w.market : w.market.connect(caller)).settleDefaults([orderId]);
}

/**
 * The `reason` of a `BatchItemRefused` event: the market's custom error `name` with `args`,
 * ABI-encoded as a revert would carry it.
 */
export function refusal(market: EnergyMarket, name: string, args: readonly unknown[]): string {
  return market.interface.encodeErrorResult(name, args);
}

/** A `withArgs` predicate: the `BatchItemRefused` reason is the market's custom error `name`. */
export function refusalNamed(market: EnergyMarket, name: string) {
  return (reason: string) => market.interface.parseError(reason)?.name === name;
}

/** Asserts that the batch call `sent` refused `orderId` with the market's custom error `name`. */
export function expectRefused(
  sent: Promise<unknown>,
  market: EnergyMarket,
  orderId: bigint,
  name: string,
  args: readonly unknown[],
) {
  return expect(sent)
    .to.emit(market, "BatchItemRefused")
    .withArgs(orderId, refusal(market, name, args));
}
