import { Contract, getAddress, JsonRpcProvider } from "ethers";
import type { DeploymentManifest } from "./manifest.js";
import { MARKET_CONTRACTS, type MarketContractName } from "./roles.js";

/** ERC-1967 implementation slot: keccak256("eip1967.proxy.implementation") - 1. */
const IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

const COUNTS_ABI = [
  "function offerCount() view returns (uint256)",
  "function orderCount() view returns (uint256)",
];

/** What the chain holds of a deployment, as `gridchain status` shows it. */
export type DeploymentState = {
  contracts: {
    name: MarketContractName;
    contractName: string;
    proxy: string;
    /** Implementation read from the proxy's ERC-1967 slot (undefined when the proxy has no code). */
    implementation: string | undefined;
    hasCode: boolean;
    /** False when the chain's implementation is not the manifest's. */
    matchesManifest: boolean;
  }[];
  offers: bigint | undefined;
  orders: bigint | undefined;
};

/** Reads each proxy's code and implementation and the market's counts over JSON-RPC. */
export async function readDeploymentState(
  rpcUrl: string,
  manifest: DeploymentManifest,
): Promise<DeploymentState> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    const contracts = await Promise.all(
      MARKET_CONTRACTS.map(async (name) => {
        const record = manifest.contracts[name];
        const hasCode = (await provider.getCode(record.proxy)) !== "0x";
        const slot = hasCode
          ? await provider.getStorage(record.proxy, IMPLEMENTATION_SLOT)
          : undefined;
        const implementation = slot === undefined ? undefined : getAddress(`0x${slot.slice(26)}`);
        return {
          name,
          contractName: record.contractName,
          proxy: record.proxy,
          implementation,
          hasCode,
          matchesManifest: implementation === getAddress(record.implementation),
        };
      }),
    );
    const marketHasCode = contracts.find((c) => c.name === "EnergyMarket")?.hasCode === true;
    if (!marketHasCode) return { contracts, offers: undefined, orders: undefined };
    const market = new Contract(manifest.contracts.EnergyMarket.proxy, COUNTS_ABI, provider);
    const [offers, orders] = (await Promise.all([
      market.getFunction("offerCount")(),
      market.getFunction("orderCount")(),
    ])) as [bigint, bigint];
    return { contracts, offers, orders };
  } finally {
    provider.destroy();
  }
}
