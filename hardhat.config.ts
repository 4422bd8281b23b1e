import { createRequire } from "node:module";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import hardhatUpgrades from "@openzeppelin/hardhat-upgrades";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

/** The EVM fork the generated Besu genesis enables; OpenZeppelin 5.7 needs cancun (mcopy). */
export const EVM_VERSION = "cancun";

/**
 * Hardhat cannot download solc on an offline machine: compile with solc-js from the npm `solc`
 * package. Its version is read from the package so the two never drift apart.
 */
const solcPath = require.resolve("solc/soljson.js");
const solcVersion: string = require("solc/package.json").version;

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers, hardhatUpgrades],
  solidity: {
    compilers: [
      {
        version: solcVersion,
        path: solcPath,
        settings: { evmVersion: EVM_VERSION, optimizer: { enabled: true, runs: 200 } },
      },
    ],
    // EnergyMarket is the one contract near the 24,576-byte limit: optimized for size (50 runs
    // instead of 200): 270 bytes smaller for about 90 gas more per trade (npm run bench:gas).
    overrides: {
      "contracts/market/EnergyMarket.sol": {
        version: solcVersion,
        path: solcPath,
        settings: { evmVersion: EVM_VERSION, optimizer: { enabled: true, runs: 50 } },
      },
    },
  },
  networks: {
    // In-process chain for tests: zero gas price like the consortium's Besu (min gas price 0).
    // The base fee stays 0 only while blocks stay under half full, hence the large gas limit.
    default: {
      type: "edr-simulated",
      chainType: "l1",
      hardfork: EVM_VERSION,
      blockGasLimit: 1_000_000_000n,
      initialBaseFeePerGas: 0n,
      gasPrice: 0n,
      allowUnlimitedContractSize: false,
    },
    // The embedded engine (anvil) started by `gridchain up`.
    embedded: {
      type: "http",
      chainType: "l1",
      url: process.env.GRIDCHAIN_RPC_URL ?? "http://127.0.0.1:8545",
      gasPrice: 0n,
    },
  },
  test: {
    mocha: {
      timeout: 120_000,
    },
  },
});
