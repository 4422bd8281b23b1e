import { JsonRpcProvider } from "ethers";
import { VALIDATOR_CONTRACT_ADDRESS } from "../besu/validator-contract.js";
import { OperatorError } from "../errors.js";
import type { ChainMember } from "../members/roster.js";
import {
  ConsortiumGovernance__factory,
  ValidatorSet__factory,
} from "../../types/ethers-contracts/index.js";
import { readMembers } from "./client.js";

/**
 * The members on chain, read over one node's JSON-RPC with no deployment file: the validator
 * contract sits at the genesis address (or the transition's), and its controller is the members'
 * governance once `gridchain deploy` handed it over. A member that joined by vote holds the
 * manifest and its own folder, not the deployer's records, and this is all it needs. The chain is
 * the authority on who is a member now: the signed member files say who asked, not who was voted in.
 */
export async function readChainMembers(
  rpcUrl: string,
  network: { chainId: number; validatorContract?: string },
): Promise<ChainMember[]> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
  try {
    let chainId: bigint;
    try {
      chainId = (await provider.getNetwork()).chainId;
    } catch (error) {
      throw new OperatorError(`--rpc ${rpcUrl}: no answer`, {
        details: (error as Error).message,
        hint: "give the RPC of a running node of the network (through an SSH tunnel if need be)",
      });
    }
    if (chainId !== BigInt(network.chainId)) {
      throw new OperatorError(`--rpc ${rpcUrl}: chain ${chainId}, not ${network.chainId}`, {
        hint: "give the RPC of a node of this network",
      });
    }
    const setAddress = network.validatorContract ?? VALIDATOR_CONTRACT_ADDRESS;
    const controller = await ValidatorSet__factory.connect(setAddress, provider)
      .controller()
      .catch(() => undefined);
    const governance =
      controller === undefined
        ? undefined
        : ConsortiumGovernance__factory.connect(controller, provider);
    const members = await governance
      ?.memberIds()
      .then(() => readMembers(governance))
      .catch(() => undefined);
    if (members === undefined) {
      throw new OperatorError(
        `--rpc ${rpcUrl}: no members' governance controls the validator contract ${setAddress}`,
        { hint: "the members' governance is deployed by 'gridchain deploy'" },
      );
    }
    return members;
  } finally {
    provider.destroy();
  }
}
