import { Interface } from "ethers";
import { EnergyMarket__factory } from "../../../types/ethers-contracts/index.js";
import type { JournalRecord } from "../protocol.js";
import type { JsonRpc } from "./rpc.js";

const MARKET = new Interface(EnergyMarket__factory.abi);

/**
 * The grid's income the market holds (tariffs and kept capacity fees, GridCredit base units), read
 * from the chain as a journal record: the report takes the test's income as after minus before.
 */
export async function gridIncomeRecord(
  rpc: JsonRpc,
  market: string,
  phase: "before" | "after",
): Promise<Extract<JournalRecord, { t: "grid-income" }>> {
  const data = await rpc.call<string>("eth_call", [
    { to: market, data: MARKET.encodeFunctionData("gridIncome") },
    "latest",
  ]);
  const [income] = MARKET.decodeFunctionResult("gridIncome", data) as unknown as [bigint];
  return { t: "grid-income", phase, at: Date.now(), credits: income.toString() };
}
