// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ChannelMath} from "./ChannelMath.sol";

/**
 * @title ChannelLedger
 * @notice The channels' state in its ERC-7201 namespace and everything that only reads it: the
 * public views and the settlement split. {PaymentChannels} holds every state change.
 */
abstract contract ChannelLedger {
    enum ChannelState {
        None,
        Opened,
        Closed,
        Settled
    }

    struct Participant {
        uint256 deposit;
        uint256 withdrawn;
        uint256 nonce;
        uint256 transferredAmount;
        // Appended for locks (upgrade-safe: a mapping value's struct may grow at its end).
        uint256 lockedAmount;
        bytes32 locksroot;
        uint256 locksNonce;
    }

    struct Channel {
        address participant1;
        address participant2;
        ChannelState state;
        uint64 settleTimeout;
        address closer;
        uint64 settleAt;
        mapping(address participant => Participant) participants;
    }

    /// @custom:storage-location erc7201:gridchain.storage.PaymentChannels
    struct PaymentChannelsStorage {
        IERC20 token;
        uint64 settleTimeout;
        uint256 lastChannelId;
        mapping(uint256 channelId => Channel) channels;
        mapping(bytes32 pairKey => uint256 channelId) openChannelOfPair;
    }

    // keccak256(abi.encode(uint256(keccak256("gridchain.storage.PaymentChannels")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant PAYMENT_CHANNELS_STORAGE_LOCATION =
        0xbeb363c706119a63c8edf5a6c3456af36fd76ed6b843a9f4939f675149da6900;

    error PaymentChannelsUnexpectedState(uint256 channelId, ChannelState state, ChannelState expected);
    error PaymentChannelsNotParticipant(uint256 channelId, address account);

    /// @notice The token every channel locks (GridCredit).
    function token() external view returns (IERC20) {
        return _getPaymentChannelsStorage().token;
    }

    /// @notice The settle window given to channels opened from now on, in seconds.
    function settleTimeout() external view returns (uint64) {
        return _getPaymentChannelsStorage().settleTimeout;
    }

    /// @notice The id of the last channel opened (ids start at 1).
    function lastChannelId() external view returns (uint256) {
        return _getPaymentChannelsStorage().lastChannelId;
    }

    /// @notice The open or closed channel between two accounts, or 0 when there is none.
    function channelOfPair(address a, address b) external view returns (uint256) {
        return _getPaymentChannelsStorage().openChannelOfPair[_pairKey(a, b)];
    }

    /// @notice A channel's participants, state and settle timing.
    function getChannel(
        uint256 channelId
    )
        external
        view
        returns (address participant1, address participant2, ChannelState state, uint64 timeout, address closer, uint64 settleAt)
    {
        Channel storage channel = _getPaymentChannelsStorage().channels[channelId];
        return (
            channel.participant1,
            channel.participant2,
            channel.state,
            channel.settleTimeout,
            channel.closer,
            channel.settleAt
        );
    }

    /// @notice A participant's deposit, withdrawal and the recorded proof of its payments.
    function getParticipant(
        uint256 channelId,
        address participant
    ) external view returns (uint256 deposit, uint256 withdrawn, uint256 nonce, uint256 transferredAmount) {
        Participant storage p = _getPaymentChannelsStorage().channels[channelId].participants[participant];
        return (p.deposit, p.withdrawn, p.nonce, p.transferredAmount);
    }

    /**
     * @notice What settlement would pay each participant with the state recorded now.
     * @dev See {settleChannel} for why this can neither revert nor exceed the channel's holdings.
     */
    function settlementAmounts(uint256 channelId) external view returns (uint256 amount1, uint256 amount2) {
        Channel storage channel = _getPaymentChannelsStorage().channels[channelId];
        return _settlementAmounts(channel.participants[channel.participant1], channel.participants[channel.participant2]);
    }

    function _checkParticipant(Channel storage channel, uint256 channelId, address account) internal view {
        if (account != channel.participant1 && account != channel.participant2)
            revert PaymentChannelsNotParticipant(channelId, account);
    }

    function _channelIn(uint256 channelId, ChannelState expected) internal view returns (Channel storage channel) {
        channel = _getPaymentChannelsStorage().channels[channelId];
        if (channel.state != expected) revert PaymentChannelsUnexpectedState(channelId, channel.state, expected);
    }

    function _partnerOf(Channel storage channel, uint256 channelId, address participant) internal view returns (address) {
        if (participant == channel.participant1) return channel.participant2;
        if (participant == channel.participant2) return channel.participant1;
        revert PaymentChannelsNotParticipant(channelId, participant);
    }

    /// @dev What settlement pays each side with the proofs recorded now; see {ChannelMath-settlementAmounts}.
    function _settlementAmounts(
        Participant storage p1,
        Participant storage p2
    ) internal view returns (uint256 amount1, uint256 amount2) {
        return
            ChannelMath.settlementAmounts(
                _totalAvailableDeposit(p1, p2),
                p1.deposit,
                p1.withdrawn,
                p1.transferredAmount,
                p2.transferredAmount
            );
    }

    function _totalAvailableDeposit(Participant storage p1, Participant storage p2) internal view returns (uint256) {
        return ChannelMath.totalAvailableDeposit(p1.deposit, p1.withdrawn, p2.deposit, p2.withdrawn);
    }

    /// @dev Clears what settlement read. The revealed-lock fields stay: the channel id is never
    /// reused, and clearing them would cost every settlement three more slot writes per side.
    function _clearBalances(Participant storage p) internal {
        p.deposit = 0;
        p.withdrawn = 0;
        p.nonce = 0;
        p.transferredAmount = 0;
    }

    function _pairKey(address a, address b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _getPaymentChannelsStorage() internal pure returns (PaymentChannelsStorage storage $) {
        // ERC-7201: a namespaced slot can only be assigned in assembly.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            $.slot := PAYMENT_CHANNELS_STORAGE_LOCATION
        }
    }
}
