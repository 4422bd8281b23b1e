import type { NetworkPlan } from "../consortium/plan.js";
import { OperatorError } from "../errors.js";
import { encodeCliqueExtraData, encodeQbftExtraData } from "./extradata.js";
import { BESU_FACTS } from "./versions.js";
import { VALIDATOR_CONTRACT_ADDRESS, validatorContractAlloc } from "./validator-contract.js";

/**
 * The EVM fork a QBFT genesis enables; it must equal hardhat.config.ts's EVM_VERSION so contracts
 * compiled for it run on the network (OpenZeppelin 5.7 needs cancun's mcopy).
 */
export const GENESIS_EVM_VERSION = "cancun";

/**
 * The fork a Clique genesis stops at. Besu 26.2.0's Clique block creator adds no withdrawals list,
 * so from Shanghai on Besu rejects the blocks it seals itself ("withdrawals must not be null when
 * Withdrawals are activated", ethereum/core/.../mainnet/WithdrawalsValidator.java; only the BFT
 * block creators fill withdrawals in AbstractBlockCreator). London is the last fork Clique seals.
 */
export const CLIQUE_EVM_VERSION = "london";

/** The EVM fork of a network's genesis, by consensus protocol. */
export function genesisEvmVersion(protocol: "qbft" | "clique"): string {
  return protocol === "qbft" ? GENESIS_EVM_VERSION : CLIQUE_EVM_VERSION;
}

/** Block-numbered forks up to London, all at genesis: what Clique can seal. */
const FORKS_TO_LONDON = {
  homesteadBlock: 0,
  eip150Block: 0,
  eip155Block: 0,
  eip158Block: 0,
  byzantiumBlock: 0,
  constantinopleBlock: 0,
  petersburgBlock: 0,
  istanbulBlock: 0,
  muirGlacierBlock: 0,
  berlinBlock: 0,
  londonBlock: 0,
};

/** Then the time-based Shanghai and Cancun, at genesis too: QBFT seals them. */
const FORKS_TO_CANCUN = { ...FORKS_TO_LONDON, shanghaiTime: 0, cancunTime: 0 };

/** The BFT header constants Besu expects in a QBFT genesis ("Istanbul" mix hash). */
const BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365";

/**
 * Ether given to every consortium account at genesis. Besu with min gas price 0 needs none, but the
 * embedded engine (anvil) refuses a sender with no balance even at gas price 0, and both engines
 * must start from the same genesis. The amount is meaningless at zero gas price: money is GridCredit.
 */
export const ACCOUNT_GENESIS_BALANCE_WEI = 10n ** 24n;

/** genesis.json: chain id, forks, zero base fee, gas and contract-size limits, consensus section. */
export function renderGenesis(plan: NetworkPlan): string {
  const { spec } = plan;
  const { consensus } = spec;
  const validators = plan.validators.map((node) => node.key.address);
  let consensusSection: Record<string, unknown>;
  let extraData: string;
  if (consensus.protocol === "qbft") {
    const qbft: Record<string, number | string> = {
      blockperiodseconds: consensus.blockPeriodSeconds,
      epochlength: consensus.epochLength,
      requesttimeoutseconds: consensus.requestTimeoutSeconds ?? 2 * consensus.blockPeriodSeconds,
    };
    if (consensus.emptyBlockPeriodSeconds !== undefined) {
      qbft[BESU_FACTS[spec.besu.version].emptyBlockPeriodKey] = consensus.emptyBlockPeriodSeconds;
    }
    if (plan.validatorSelection.mode === "contract") {
      qbft.validatorcontractaddress = VALIDATOR_CONTRACT_ADDRESS;
    }
    consensusSection = { qbft, ...qbftTransitions(plan) };
    // Contract mode: Besu takes the validators from getValidators(), the genesis header lists none
    // (Besu's qbft-emptyextradata.json acceptance genesis).
    extraData = encodeQbftExtraData({
      validators: plan.validatorSelection.mode === "contract" ? [] : validators,
    });
  } else {
    consensusSection = {
      clique: {
        blockperiodseconds: consensus.blockPeriodSeconds,
        epochlength: consensus.epochLength,
        createemptyblocks: consensus.createEmptyBlocks ?? true,
      },
    };
    extraData = encodeCliqueExtraData({ signers: validators });
  }
  const genesis = {
    config: {
      chainId: spec.chainId,
      ...(consensus.protocol === "qbft" ? FORKS_TO_CANCUN : FORKS_TO_LONDON),
      zeroBaseFee: true,
      contractSizeLimit: spec.genesis.contractSizeLimit,
      ...consensusSection,
    },
    nonce: "0x0",
    timestamp: `0x${plan.genesisTimestamp.toString(16)}`,
    gasLimit: `0x${spec.genesis.gasLimit.toString(16)}`,
    difficulty: "0x1",
    mixHash: consensus.protocol === "qbft" ? BFT_MIX_HASH : `0x${"00".repeat(32)}`,
    coinbase: `0x${"00".repeat(20)}`,
    extraData,
    alloc: Object.fromEntries([
      ...plan.accounts
        .map((account) => account.address.toLowerCase())
        .sort()
        .map((address) => [address, { balance: `0x${ACCOUNT_GENESIS_BALANCE_WEI.toString(16)}` }]),
      ...validatorContractEntry(plan),
    ]),
  };
  return `${JSON.stringify(genesis, null, 2)}\n`;
}

/**
 * The transitions of the validator selection. Besu reads `validatorcontractaddress`
 * from the qbft section (config/.../JsonQbftConfigOptions.java) and a switch at a block from
 * `transitions.qbft[]` with `validatorselectionmode` and `validatorcontractaddress`
 * (config/.../QbftFork.java, Besu 26.8.0). A transition leaves the genesis block itself unchanged:
 * Besu hashes the header and the alloc, not the config, so a started chain can take one.
 */
function qbftTransitions(plan: NetworkPlan): {
  transitions?: { qbft: Record<string, unknown>[] };
} {
  const selection = plan.validatorSelection;
  if (selection.mode === "blockheader" && selection.transition !== undefined) {
    return {
      transitions: {
        qbft: [
          {
            block: selection.transition.block,
            validatorselectionmode: "contract",
            validatorcontractaddress: selection.transition.address,
          },
        ],
      },
    };
  }
  return {};
}

/** The ValidatorSet in the alloc (contract mode), controlled by the deployer until the deploy. */
function validatorContractEntry(plan: NetworkPlan): [string, unknown][] {
  if (plan.spec.consensus.protocol !== "qbft" || plan.validatorSelection.mode !== "contract") {
    return [];
  }
  // The single-folder plan names it "deployer"; a member network takes the grid's deployer account.
  const deployer =
    plan.accounts.find((account) => account.id === "deployer") ??
    plan.accounts.find((account) => account.role === "deployer");
  if (deployer === undefined) {
    throw new OperatorError(
      "the validator contract needs a deployer account to control it until deploy",
      { hint: "give the grid company an account with the deployer role" },
    );
  }
  return [
    [
      VALIDATOR_CONTRACT_ADDRESS,
      validatorContractAlloc(
        plan.validators.map((node) => node.key.address),
        deployer.address,
      ),
    ],
  ];
}
