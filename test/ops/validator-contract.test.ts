import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AbiCoder, Interface, JsonRpcProvider, getAddress, keccak256 } from "ethers";
import { loadConsortium, planNetwork, resolveKeys } from "../../ops/consortium/index.js";
import { renderGenesis } from "../../ops/besu/genesis.js";
import { decodeQbftExtraData } from "../../ops/besu/extradata.js";
import {
  GET_VALIDATORS_SELECTOR,
  VALIDATOR_CONTRACT_ADDRESS,
  validatorContractStorage,
} from "../../ops/besu/validator-contract.js";
import { VALIDATOR_SET_RUNTIME_CODE } from "../../ops/besu/validator-set-code.js";
import { toAddress, type Address } from "../../ops/besu/keys.js";
import { EmbeddedEngine } from "../../ops/engines/embedded.js";
import { freePort } from "../support/net.js";
import { BESU_DATA, readJson, seededKeys, tempDir } from "./helpers.js";

const PILOT = "network/consortium.yaml";
const VECTORS = readJson(`${BESU_DATA}/vectors/validator-contract-storage.json`);

type Genesis = {
  config: { qbft: Record<string, unknown>; transitions?: { qbft: Record<string, unknown>[] } };
  extraData: string;
  alloc: Record<string, { code?: string; storage?: Record<string, string>; balance: string }>;
};

function pilotPlan(overrides: Partial<{ selection: "blockheader"; transition: boolean }> = {}) {
  const spec = loadConsortium(PILOT);
  if (overrides.selection !== undefined) spec.consensus.validatorSelection = overrides.selection;
  if (overrides.transition === true) {
    spec.consensus.validatorContractTransition = {
      block: 120,
      address: "0x00000000000000000000000000000000000000aa",
    };
  }
  const { keys } = resolveKeys(spec, tempDir(), { rotate: false, generate: seededKeys("vset") });
  return planNetwork(spec, keys, { genesisTimestamp: 1 });
}

/**
 * Reads `address[]` at slot 0 and an address at slot 1 back out of a storage map by Solidity's
 * layout rules, computing the element slots with the ABI coder (not the generator's code).
 */
function decodeStorage(storage: Record<string, string>): {
  validators: string[];
  controller: string;
} {
  const coder = AbiCoder.defaultAbiCoder();
  const at = (slot: bigint) => storage[coder.encode(["uint256"], [slot]).slice(2)];
  const length = Number(BigInt(`0x${at(0n)}`));
  const base = BigInt(keccak256(coder.encode(["uint256"], [0n])));
  const asAddress = (value: string | undefined) =>
    coder.decode(["address"], `0x${value}`)[0] as string;
  const validators = Array.from({ length }, (_, i) => asAddress(at(base + BigInt(i))));
  expect(Object.keys(storage)).to.have.length(
    length + 2,
    "no slot besides length, elements, controller",
  );
  return { validators, controller: asAddress(at(1n)) };
}

describe("validator contract (QBFT contract-based validator selection)", () => {
  it("the genesis code is the compiled ValidatorSet runtime code", () => {
    const artifact = readJson(
      "artifacts/contracts/governance/ValidatorSet.sol/ValidatorSet.json",
    ) as { deployedBytecode: string };
    expect(VALIDATOR_SET_RUNTIME_CODE).to.equal(artifact.deployedBytecode);
    const getValidators = new Interface(["function getValidators() view returns (address[])"]);
    expect(getValidators.getFunction("getValidators")!.selector).to.equal(GET_VALIDATORS_SELECTOR);
  });

  for (const id of ["besu-simple-array-1", "besu-simple-array-2"]) {
    it(`encodes the validator array as Besu's own genesis does (${id})`, () => {
      const vector = VECTORS.vectors.find((v: { id: string }) => v.id === id);
      const controller = toAddress("0x00000000000000000000000000000000000000c1");
      const storage = validatorContractStorage(vector.validators as Address[], controller);
      const { [`${"0".repeat(63)}1`]: controllerWord, ...arrayPart } = storage;
      expect(arrayPart).to.deep.equal(vector.expectedStorage);
      expect(controllerWord).to.equal(`${"0".repeat(24)}${controller.slice(2)}`);
    });
  }

  it("a new network's genesis names the contract, lists no validator in extraData and allocates the plan's validators", () => {
    const plan = pilotPlan();
    const genesis = JSON.parse(renderGenesis(plan)) as Genesis;
    expect(genesis.config.qbft.validatorcontractaddress).to.equal(VALIDATOR_CONTRACT_ADDRESS);
    expect(genesis.extraData).to.equal(VECTORS.emptyExtraData);
    expect(decodeQbftExtraData(genesis.extraData as `0x${string}`).validators).to.deep.equal([]);
    const entry = genesis.alloc[VALIDATOR_CONTRACT_ADDRESS]!;
    expect(entry.code).to.equal(VALIDATOR_SET_RUNTIME_CODE);
    const decoded = decodeStorage(entry.storage!);
    expect(decoded.validators.map((a) => a.toLowerCase())).to.deep.equal(
      plan.validators.map((node) => node.key.address),
    );
    const deployer = plan.accounts.find((account) => account.id === "deployer")!;
    expect(decoded.controller).to.equal(getAddress(deployer.address));
  });

  it("a block-header network keeps its validators in extraData and moves to the contract through a transition", () => {
    const header = JSON.parse(renderGenesis(pilotPlan({ selection: "blockheader" }))) as Genesis;
    expect(header.config.qbft).to.not.have.property("validatorcontractaddress");
    expect(header.config).to.not.have.property("transitions");
    expect(header.alloc).to.not.have.property(VALIDATOR_CONTRACT_ADDRESS);
    expect(decodeQbftExtraData(header.extraData as `0x${string}`).validators).to.have.length(4);

    const moved = JSON.parse(
      renderGenesis(pilotPlan({ selection: "blockheader", transition: true })),
    ) as Genesis;
    expect(moved.config.transitions).to.deep.equal({
      qbft: [
        {
          block: 120,
          validatorselectionmode: "contract",
          validatorcontractaddress: "0x00000000000000000000000000000000000000aa",
        },
      ],
    });
    // The genesis block is the same chain: header fields and alloc unchanged.
    expect(moved.extraData).to.equal(header.extraData);
    expect(moved.alloc).to.deep.equal(header.alloc);
  });

  it("the embedded engine runs the genesis contract: eth_call getValidators() returns the plan's validators", async function () {
    this.timeout(60_000);
    const plan = pilotPlan();
    const dir = await mkdtemp(join(tmpdir(), "gridchain-vset-"));
    await writeFile(join(dir, "genesis.json"), renderGenesis(plan));
    const engine = new EmbeddedEngine({ networkDir: dir, port: await freePort() });
    try {
      await engine.up();
      await engine.ready();
      const rpc = new JsonRpcProvider(engine.rpcUrl(), undefined, { staticNetwork: true });
      const result = (await rpc.send("eth_call", [
        { to: VALIDATOR_CONTRACT_ADDRESS, data: GET_VALIDATORS_SELECTOR },
        "latest",
      ])) as string;
      rpc.destroy();
      const [validators] = AbiCoder.defaultAbiCoder().decode(["address[]"], result) as unknown as [
        string[],
      ];
      expect(validators.map((a) => a.toLowerCase())).to.deep.equal(
        plan.validators.map((node) => node.key.address),
      );
    } finally {
      await engine.down();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
