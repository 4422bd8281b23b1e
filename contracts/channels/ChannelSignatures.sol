// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712Upgradeable} from "@openzeppelin/contracts-upgradeable/utils/cryptography/EIP712Upgradeable.sol";

/**
 * @title ChannelSignatures
 * @notice The typed intents of {PaymentChannels} and their checks. Every signature is EIP-712 with
 * domain (name "PaymentChannels", version "1", chain id, the channels contract) and one typed struct
 * per intent, so a signature for one intent, channel, chain or contract is worthless for any other.
 */
abstract contract ChannelSignatures is EIP712Upgradeable {
    /// @notice A balance proof as submitted on chain: the sender's signature over the typed fields.
    struct BalanceProof {
        uint256 nonce;
        uint256 transferredAmount;
        bytes32 additionalHash;
        bytes signature;
    }

    /**
     * @notice A withdrawal both participants sign. It binds the channel state the partner counted
     * when it agreed: `participant`'s latest proof the partner holds (`nonce`, `transferredAmount`)
     * and the partner's own latest payment total (`partnerNonce`, `partnerTransferredAmount`).
     */
    struct WithdrawIntent {
        address participant;
        uint256 totalWithdraw;
        uint256 expiry;
        uint256 nonce;
        uint256 transferredAmount;
        uint256 partnerNonce;
        uint256 partnerTransferredAmount;
    }

    /**
     * @notice A cooperative settlement both participants sign: the final split, the nonce of each
     * side's latest balance proof the split was computed from, and the time after which it is void.
     */
    struct CooperativeSettlement {
        uint256 amount1;
        uint256 nonce1;
        uint256 amount2;
        uint256 nonce2;
        uint256 expiry;
    }

    // The type strings are hashed at compile time: their length costs no gas.
    // solhint-disable gas-small-strings
    /// @notice Signed by the sender: "I have paid my partner `transferredAmount` in total".
    bytes32 public constant BALANCE_PROOF_TYPEHASH = keccak256(
        "BalanceProof(uint256 channelId,uint256 nonce,uint256 transferredAmount,bytes32 additionalHash)"
    );
    /// @notice Signed by the closer: "close this channel with my partner's proof carrying these fields".
    bytes32 public constant CLOSE_TYPEHASH = keccak256(
        "Close(uint256 channelId,uint256 nonce,uint256 transferredAmount,bytes32 additionalHash)"
    );
    /// @notice Signed by a proof's beneficiary: "record this newer proof of my partner while the channel is closed".
    bytes32 public constant UPDATE_TYPEHASH = keccak256(
        "Update(uint256 channelId,uint256 nonce,uint256 transferredAmount,bytes32 additionalHash)"
    );
    /// @notice Signed by both participants: "`participant` may have withdrawn `totalWithdraw` in total until
    /// `expiry`, counting these payments of each side".
    bytes32 public constant WITHDRAW_TYPEHASH = keccak256(
        "Withdraw(uint256 channelId,address participant,uint256 totalWithdraw,uint256 expiry,uint256 nonce,"
        "uint256 transferredAmount,uint256 partnerNonce,uint256 partnerTransferredAmount)"
    );
    /// @notice Signed by both participants: "pay out these final balances, computed from the proofs with
    /// these nonces, and end the channel, if done by `expiry`".
    bytes32 public constant COOPERATIVE_SETTLE_TYPEHASH = keccak256(
        "CooperativeSettle(uint256 channelId,address participant1,uint256 amount1,uint256 nonce1,"
        "address participant2,uint256 amount2,uint256 nonce2,uint256 expiry)"
    );
    // solhint-enable gas-small-strings

    error PaymentChannelsInvalidSignature(uint256 channelId, address expectedSigner, address recovered);

    /// @notice The EIP-712 domain separator every channel signature is bound to.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev The digest of a balance proof's fields under one of the three proof intents.
    function _proofDigest(bytes32 typeHash, uint256 channelId, BalanceProof calldata proof) internal view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(abi.encode(typeHash, channelId, proof.nonce, proof.transferredAmount, proof.additionalHash))
            );
    }

    function _withdrawDigest(uint256 channelId, WithdrawIntent calldata w) internal view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        WITHDRAW_TYPEHASH,
                        channelId,
                        w.participant,
                        w.totalWithdraw,
                        w.expiry,
                        w.nonce,
                        w.transferredAmount,
                        w.partnerNonce,
                        w.partnerTransferredAmount
                    )
                )
            );
    }

    function _cooperativeSettleDigest(
        uint256 channelId,
        address participant1,
        address participant2,
        CooperativeSettlement calldata c
    ) internal view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        COOPERATIVE_SETTLE_TYPEHASH,
                        channelId,
                        participant1,
                        c.amount1,
                        c.nonce1,
                        participant2,
                        c.amount2,
                        c.nonce2,
                        c.expiry
                    )
                )
            );
    }

    function _checkSigner(uint256 channelId, bytes32 digest, bytes calldata signature, address expected) internal pure {
        (address recovered, ECDSA.RecoverError error, ) = ECDSA.tryRecover(digest, signature);
        if (error != ECDSA.RecoverError.NoError || recovered != expected) {
            revert PaymentChannelsInvalidSignature(channelId, expected, recovered);
        }
    }
}
