// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ChannelLedger} from "./ChannelLedger.sol";
import {ChannelMath} from "./ChannelMath.sol";

/// @notice The market's answer to a lock: the one read {ChannelLocks} makes of the market.
interface IOrderOutcomes {
    /**
     * @notice Whether an order has reached a state no later transaction changes (`decided`), the
     * energy it delivered and was ordered, and the end of its delivery window. An id never issued
     * reads as decided with nothing delivered.
     */
    function paymentOutcome(
        uint256 orderId
    ) external view returns (bool decided, uint64 deliveredWh, uint64 quantityWh, uint40 deliveryEnd);
}

/**
 * @title ChannelLocks
 * @notice Delivery versus payment: payments locked to the market's outcome of an order.
 *
 * A lock is `(orderId, amount)`: the sender owes the receiver `amount * deliveredWh / quantityWh`
 * once the market has decided the order, and nothing if the order ended without delivery (rejected,
 * denied, cancelled, expired, or walked away from unpaid). The condition is a fact on chain, so
 * unlike Raiden's hash locks no secret is revealed and a lock can never be "claimed late": its
 * outcome is read from the market, not raced for.
 *
 * A balance proof carries its pending locks in `additionalHash`, which the sender signs:
 * `additionalHash = keccak256(abi.encode(LOCKS_TYPEHASH, lockedAmount, locksroot))` with
 * `locksroot = keccak256(locks)`, `locks` the packed `(uint256 orderId, uint256 amount)` pairs. A
 * plain payment's tag (the order payment hash) is four words, a lock commitment three, so one can
 * never be read as the other without a keccak256 collision.
 *
 * After a close, anyone may {revealLocks} of the recorded proof before the settle window ends;
 * settlement then keeps `min(lockedAmount, sender's balance)` back from the sender, and {unlock}
 * pays each lock out by the market's outcome once its order is decided. The receiver alone gains
 * from a reveal, and only the receiver (or its watcher) can submit a sender's proof, so a sender can
 * never hide its own locks.
 *
 * An order the meter never reads is decided by the market, not here: past its metering deadline
 * the market reports it decided with nothing delivered and refuses later readings, so every lock on
 * the order, in any channel and at any time, and every off-chain release read the same outcome.
 */
abstract contract ChannelLocks is ChannelLedger {
    using SafeERC20 for IERC20;

    /// @notice What a closed channel keeps back for one sender's locks until {unlock}.
    struct PendingLocks {
        bytes32 locksroot;
        uint256 amount;
        address receiver;
    }

    /// @custom:storage-location erc7201:gridchain.storage.ChannelLocks
    struct ChannelLocksStorage {
        IOrderOutcomes market;
        mapping(bytes32 senderKey => PendingLocks) pending;
        mapping(bytes32 senderKey => mapping(uint256 word => uint256 bits)) unlocked;
    }

    // keccak256(abi.encode(uint256(keccak256("gridchain.storage.ChannelLocks")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant CHANNEL_LOCKS_STORAGE_LOCATION = 0x37d75d02f35abd14300fc583c8ab142fb87253babf16b24f6a1075d1f55e9100;

    /// @notice Domain tag of a lock commitment in a balance proof's `additionalHash`.
    // The type string is hashed at compile time: its length costs no gas.
    // solhint-disable-next-line gas-small-strings
    bytes32 public constant LOCKS_TYPEHASH = keccak256("Locks(uint256 lockedAmount,bytes32 locksroot)");
    /// @dev One lock: orderId and amount, two words.
    uint256 private constant LOCK_BYTES = 64;

    error PaymentChannelsLockMarketAlreadySet(address market);
    error PaymentChannelsLockMarketNotSet();
    error PaymentChannelsLocksMismatch(uint256 channelId, address sender, bytes32 additionalHash, bytes32 commitment);
    error PaymentChannelsNoPendingLocks(uint256 channelId, address sender);
    error PaymentChannelsLocksrootMismatch(uint256 channelId, address sender, bytes32 locksroot, bytes32 computed);
    error PaymentChannelsLocksMalformed(uint256 length);
    error PaymentChannelsLockUndecided(uint256 orderId, uint40 deliveryEnd);

    /// @notice The market whose order outcomes decide every lock.
    event LockMarketSet(address market);
    /// @notice The recorded proof of `sender` carries `lockedAmount` in locks under `locksroot`.
    event LocksRevealed(
        uint256 indexed channelId,
        address indexed sender,
        uint256 nonce,
        uint256 lockedAmount,
        bytes32 locksroot
    );
    /// @notice Settlement kept `amount` of `sender`'s balance back for its locks to `receiver`.
    event LocksPending(
        uint256 indexed channelId,
        address indexed sender,
        address indexed receiver,
        uint256 amount,
        bytes32 locksroot
    );
    /// @notice `sender`'s pending locks were split by the market's outcomes.
    event LocksUnlocked(
        uint256 indexed channelId,
        address indexed sender,
        address indexed receiver,
        uint256 toReceiver,
        uint256 toSender
    );

    /// @notice The market deciding locks (zero until set).
    function lockMarket() external view returns (IOrderOutcomes) {
        return _getChannelLocksStorage().market;
    }

    /// @notice What a closed or settled channel keeps back for `sender`'s locks.
    function pendingLocks(uint256 channelId, address sender) external view returns (PendingLocks memory) {
        return _getChannelLocksStorage().pending[_senderKey(channelId, sender)];
    }

    /// @notice The locks revealed for `participant`'s proof with nonce `locksNonce`; they count only
    /// while that proof is the recorded one.
    function revealedLocks(
        uint256 channelId,
        address participant
    ) external view returns (uint256 lockedAmount, bytes32 locksroot, uint256 locksNonce) {
        Participant storage p = _getPaymentChannelsStorage().channels[channelId].participants[participant];
        return (p.lockedAmount, p.locksroot, p.locksNonce);
    }

    /// @notice The `additionalHash` a balance proof carrying these locks signs.
    function locksCommitment(uint256 lockedAmount, bytes32 locksroot) public pure returns (bytes32) {
        return keccak256(abi.encode(LOCKS_TYPEHASH, lockedAmount, locksroot));
    }

    /**
     * @notice Pays out every lock of `sender`'s pool whose order the market has decided: the receiver
     * gets each such lock's delivered share, and the sender whatever the pool holds beyond what the
     * locks still undecided can claim. Anyone may call, with the packed locks whose keccak256 is the
     * locksroot the sender signed, as often as orders get decided; reverts if no lock is newly
     * decided. Why lock by lock: one lock on an order delivered far ahead must not freeze the shares
     * of locks whose orders are already metered.
     * @dev A lock is identified by its position in the signed list and paid once: `unlocked` is a
     * bitmap by position, written only while the pool stays (a pool paid out in one call writes none,
     * and a deleted pool is never recreated: a channel settles once). The
     * pool is paid out exactly: receiver shares come first, capped by what settlement kept back;
     * `min(rest, sum of undecided amounts)` stays in the pool, so the sender is refunded only what no
     * undecided lock can still be owed. State is written before the transfers.
     */
    function unlock(uint256 channelId, address sender, bytes calldata locks) external {
        ChannelLocksStorage storage $ = _getChannelLocksStorage();
        bytes32 key = _senderKey(channelId, sender);
        PendingLocks memory pool = $.pending[key];
        if (pool.amount == 0) revert PaymentChannelsNoPendingLocks(channelId, sender);
        bytes32 computed = keccak256(locks);
        if (computed != pool.locksroot) revert PaymentChannelsLocksrootMismatch(channelId, sender, pool.locksroot, computed);
        if (locks.length % LOCK_BYTES != 0) revert PaymentChannelsLocksMalformed(locks.length);
        (uint256 toReceiver, uint256 stillLocked, uint256[] memory newlyDone) = _resolveLocks($, key, locks);
        if (toReceiver > pool.amount) toReceiver = pool.amount;
        uint256 kept;
        uint256 toSender;
        unchecked {
            // toReceiver <= pool.amount by the line above; kept <= rest by its definition.
            uint256 rest = pool.amount - toReceiver;
            kept = rest < stillLocked ? rest : stillLocked;
            toSender = rest - kept;
        }
        if (kept == 0) {
            delete $.pending[key];
        } else {
            $.pending[key].amount = kept;
            mapping(uint256 => uint256) storage done = $.unlocked[key];
            for (uint256 word = 0; word < newlyDone.length; ++word) {
                if (newlyDone[word] != 0) done[word] |= newlyDone[word];
            }
        }
        emit LocksUnlocked(channelId, sender, pool.receiver, toReceiver, toSender);
        IERC20 credit = _getPaymentChannelsStorage().token;
        if (toReceiver != 0) credit.safeTransfer(pool.receiver, toReceiver);
        if (toSender != 0) credit.safeTransfer(sender, toSender);
    }

    /// @notice Whether the lock at `index` of `sender`'s pool in the channel was already paid out.
    function lockUnlocked(uint256 channelId, address sender, uint256 index) external view returns (bool) {
        return (_getChannelLocksStorage().unlocked[_senderKey(channelId, sender)][index >> 8] >> (index & 0xff)) & 1 == 1;
    }

    function _setLockMarket(address market) internal {
        ChannelLocksStorage storage $ = _getChannelLocksStorage();
        if (address($.market) != address(0)) revert PaymentChannelsLockMarketAlreadySet(address($.market));
        $.market = IOrderOutcomes(market);
        emit LockMarketSet(market);
    }

    /**
     * @dev Checks that `lockedAmount` and `locksroot` are what the recorded proof (nonce `nonce`,
     * signed `additionalHash`) commits to, and records them for that nonce only: a newer proof
     * recorded later carries its own locks, so settlement ignores these.
     */
    function _revealLocks(
        uint256 channelId,
        address sender,
        uint256 nonce,
        bytes32 additionalHash,
        uint256 lockedAmount,
        bytes32 locksroot
    ) internal {
        bytes32 commitment = locksCommitment(lockedAmount, locksroot);
        if (additionalHash != commitment) revert PaymentChannelsLocksMismatch(channelId, sender, additionalHash, commitment);
        Participant storage p = _getPaymentChannelsStorage().channels[channelId].participants[sender];
        p.lockedAmount = lockedAmount;
        p.locksroot = locksroot;
        p.locksNonce = nonce;
        emit LocksRevealed(channelId, sender, nonce, lockedAmount, locksroot);
    }

    /**
     * @dev At settlement: keeps back `min(revealed locked amount, net)` of `sender`'s settled share
     * `net` for its locks to `receiver` and returns what is paid to `sender` now. Locks count only if
     * revealed for the proof recorded last.
     */
    function _holdLocks(
        Channel storage channel,
        uint256 channelId,
        address sender,
        address receiver,
        uint256 net
    ) internal returns (uint256 paidNow) {
        Participant storage p = channel.participants[sender];
        uint256 nonce = p.nonce;
        if (nonce == 0 || p.locksNonce != nonce) return net;
        uint256 held = p.lockedAmount < net ? p.lockedAmount : net;
        if (held == 0) return net;
        bytes32 locksroot = p.locksroot;
        _getChannelLocksStorage().pending[_senderKey(channelId, sender)] = PendingLocks(locksroot, held, receiver);
        emit LocksPending(channelId, sender, receiver, held, locksroot);
        unchecked {
            // held <= net by its definition.
            return net - held;
        }
    }

    /**
     * @dev Finds every lock of the list whose order is decided and that was not paid out before;
     * returns the receiver's total share of them, the total amount of the locks still undecided, and
     * the newly decided positions as a bitmap. Reverts if no lock was newly decided.
     */
    function _resolveLocks(
        ChannelLocksStorage storage $,
        bytes32 key,
        bytes calldata locks
    ) private view returns (uint256 toReceiver, uint256 stillLocked, uint256[] memory newlyDone) {
        IOrderOutcomes market = $.market;
        if (address(market) == address(0)) revert PaymentChannelsLockMarketNotSet();
        mapping(uint256 => uint256) storage done = $.unlocked[key];
        uint256 count = locks.length / LOCK_BYTES;
        newlyDone = new uint256[]((count + 255) >> 8);
        bool resolved;
        uint256 firstUndecided;
        for (uint256 index = 0; index < count; ++index) {
            uint256 bit = 1 << (index & 0xff);
            if (done[index >> 8] & bit != 0) continue;
            (uint256 orderId, uint256 amount) = _lockAt(locks, index);
            (bool decided, uint64 deliveredWh, uint64 quantityWh, ) = market.paymentOutcome(orderId);
            if (!decided) {
                // An undecided order has been issued, so its id is never 0.
                if (firstUndecided == 0) firstUndecided = orderId;
                stillLocked = ChannelMath.saturatingAdd(stillLocked, amount);
                continue;
            }
            newlyDone[index >> 8] |= bit;
            resolved = true;
            toReceiver = ChannelMath.saturatingAdd(toReceiver, _share(amount, deliveredWh, quantityWh));
        }
        if (!resolved) {
            (, , , uint40 deliveryEnd) = market.paymentOutcome(firstUndecided);
            revert PaymentChannelsLockUndecided(firstUndecided, deliveryEnd);
        }
    }

    /// @dev The lock at position `index` of a packed list.
    function _lockAt(bytes calldata locks, uint256 index) private pure returns (uint256 orderId, uint256 amount) {
        uint256 offset = index * LOCK_BYTES;
        orderId = uint256(bytes32(locks[offset:offset + 32]));
        amount = uint256(bytes32(locks[offset + 32:offset + LOCK_BYTES]));
    }

    /// @dev The receiver's share of one lock of `amount` on an order that delivered `deliveredWh` of `quantityWh`.
    function _share(uint256 amount, uint64 deliveredWh, uint64 quantityWh) private pure returns (uint256) {
        if (deliveredWh == 0 || quantityWh == 0) return 0;
        if (deliveredWh >= quantityWh) return amount;
        // Rounded down, full precision: the result is below `amount`, so it cannot overflow.
        return Math.mulDiv(amount, deliveredWh, quantityWh);
    }

    function _senderKey(uint256 channelId, address sender) private pure returns (bytes32) {
        return keccak256(abi.encode(channelId, sender));
    }

    function _getChannelLocksStorage() private pure returns (ChannelLocksStorage storage $) {
        // ERC-7201: a namespaced slot can only be assigned in assembly.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            $.slot := CHANNEL_LOCKS_STORAGE_LOCATION
        }
    }
}
