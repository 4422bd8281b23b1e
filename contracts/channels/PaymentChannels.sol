// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessManager} from "@openzeppelin/contracts/access/manager/IAccessManager.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AccessManagedUpgradeable} from "@openzeppelin/contracts-upgradeable/access/manager/AccessManagedUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {GridRoles} from "../access/GridRoles.sol";
import {ChannelLocks} from "./ChannelLocks.sol";
import {ChannelMath} from "./ChannelMath.sol";
import {ChannelSignatures} from "./ChannelSignatures.sol";

/**
 * @title PaymentChannels
 * @notice Raiden-style bidirectional payment channels in GridCredit between two consortium members,
 * without hash locks: both sides lock deposits here, pay each other off chain with signed balance
 * proofs, and only the final balances come back on chain.
 *
 * A balance proof is signed by its sender and states, for one channel, a strictly increasing `nonce`
 * and the cumulative, monotonic `transferredAmount` the sender has paid its partner so far, plus an
 * `additionalHash` binding the latest payment to the market order (and delivery interval) it pays.
 * Every signature is a typed intent of {ChannelSignatures}, bound to one channel, chain and contract.
 *
 * A proof may also carry pending locks on market orders in its `additionalHash` ({ChannelLocks}):
 * after a close they are revealed, kept back at settlement and split by {unlock} on the market's
 * outcome, so a buyer's payment reaches the seller exactly in proportion to the energy delivered.
 *
 * Exits: cooperative settle (both signatures, immediate), or a unilateral close with the partner's
 * latest balance proof, then a settle window of `settleTimeout` seconds during which the beneficiary
 * of either side's proof (itself, or a watcher holding its update signature) may submit a newer proof,
 * then settle by anyone. Pausing stops opening and deposits only: withdraw, close, update, settle and
 * cooperative settle always work, so funds can never be locked in by an operator.
 *
 * @dev `pause`, `unpause`, `setSettleTimeout` and `upgradeToAndCall` are `restricted`: the
 * {GridAccessManager} decides who may call them. Channel ids come from one global counter and are
 * never reused, so proofs of a settled channel never match a reopened channel between the same pair.
 * The reentrancy guard lives in transient storage (EIP-1153, cancun): it needs no initializer and
 * no storage slot, and works the same behind the proxy.
 *
 * Conservation invariant: for every channel, the contract holds exactly
 * `TAD = deposit1 + deposit2 - withdrawn1 - withdrawn2` (total available deposit) of GridCredit, and
 * every exit pays out exactly TAD split in two non-negative parts. Withdrawals keep it because
 * `withdrawn1 + withdrawn2 <= deposit1 + deposit2` is checked before any transfer.
 */
contract PaymentChannels is
    Initializable,
    AccessManagedUpgradeable,
    PausableUpgradeable,
    ChannelSignatures,
    ChannelLocks,
    UUPSUpgradeable,
    ReentrancyGuardTransient
{
    using SafeERC20 for IERC20;

    /// @notice The shortest settle window accepted: one minute leaves a watcher time to react.
    uint64 public constant MIN_SETTLE_TIMEOUT = 60;
    /// @notice Longest settle window: `settleAt = now + settleTimeout` then always fits a uint64, so
    /// every channel can be closed unilaterally, and no exit waits longer than a month.
    uint64 public constant MAX_SETTLE_TIMEOUT = 30 days;

    error PaymentChannelsInvalidToken(address token);
    error PaymentChannelsInvalidSettleTimeout(uint64 settleTimeout, uint64 minimum);
    error PaymentChannelsSettleTimeoutTooLong(uint64 settleTimeout, uint64 maximum);
    error PaymentChannelsNotMember(address account);
    error PaymentChannelsSameParticipant(address account);
    error PaymentChannelsAlreadyOpen(address participant1, address participant2, uint256 channelId);
    error PaymentChannelsDepositNotIncreasing(uint256 channelId, address participant, uint256 current, uint256 requested);
    error PaymentChannelsWithdrawNotIncreasing(uint256 channelId, address participant, uint256 current, uint256 requested);
    error PaymentChannelsWithdrawExpired(uint256 channelId, uint256 expiry, uint256 now_);
    error PaymentChannelsWithdrawExceedsDeposits(uint256 channelId, uint256 totalWithdrawn, uint256 totalDeposit);
    error PaymentChannelsEmptyProofWithAmount(uint256 channelId, uint256 transferredAmount);
    error PaymentChannelsStaleBalanceProof(uint256 channelId, address sender, uint256 storedNonce, uint256 nonce);
    error PaymentChannelsSettleWindowOver(uint256 channelId, uint64 settleAt, uint256 now_);
    error PaymentChannelsSettleWindowOpen(uint256 channelId, uint64 settleAt, uint256 now_);
    error PaymentChannelsCooperativeSettleMismatch(uint256 channelId, uint256 sum, uint256 available);
    error PaymentChannelsDepositNotByParticipant(uint256 channelId, address participant, address caller);
    error PaymentChannelsWithdrawExceedsBalance(uint256 channelId, address participant, uint256 totalWithdraw, uint256 balance);
    error PaymentChannelsCooperativeSettleExpired(uint256 channelId, uint256 expiry, uint256 now_);

    /// @notice A channel was opened; its id was never used before.
    event ChannelOpened(
        uint256 indexed channelId,
        address indexed participant1,
        address indexed participant2,
        uint64 settleTimeout
    );
    /// @notice `participant`'s cumulative deposit rose to `totalDeposit` (`added` new credits, paid by `funder`).
    event ChannelDeposited(
        uint256 indexed channelId,
        address indexed participant,
        uint256 totalDeposit,
        uint256 added,
        address funder
    );
    /// @notice `participant` withdrew `amount`, `totalWithdraw` in total, without closing.
    event ChannelWithdrawn(uint256 indexed channelId, address indexed participant, uint256 totalWithdraw, uint256 amount);
    /// @notice `closer` closed the channel; exits settle after `settleAt`.
    event ChannelClosed(uint256 indexed channelId, address indexed closer, uint64 settleAt);
    /// @notice The proof of `sender`'s payments recorded for settlement is now this one (`additionalHash`
    /// is zero when the total was bound by a withdrawal).
    event BalanceProofRecorded(
        uint256 indexed channelId,
        address indexed sender,
        uint256 nonce,
        uint256 transferredAmount,
        bytes32 additionalHash
    );
    /// @notice The channel ended and paid out exactly its total available deposit.
    event ChannelSettled(
        uint256 indexed channelId,
        address indexed participant1,
        uint256 amount1,
        address indexed participant2,
        uint256 amount2,
        bool cooperative
    );
    /// @notice Channels opened from now on get a settle window of `settleTimeout` seconds.
    event SettleTimeoutChanged(uint64 previous, uint64 settleTimeout);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /**
     * @param authority The consortium's {GridAccessManager}: role checks and membership.
     * @param creditToken GridCredit, the token every channel locks.
     * @param initialSettleTimeout Seconds between a unilateral close and settlement for channels opened next.
     */
    function initialize(address authority, IERC20 creditToken, uint64 initialSettleTimeout) external initializer {
        if (address(creditToken) == address(0)) revert PaymentChannelsInvalidToken(address(creditToken));
        __AccessManaged_init(authority);
        __Pausable_init();
        __EIP712_init("PaymentChannels", "1");
        _getPaymentChannelsStorage().token = creditToken;
        _setSettleTimeout(initialSettleTimeout);
    }

    /// @notice Stops opening and deposits. Exits keep working.
    function pause() external restricted {
        _pause();
    }

    function unpause() external restricted {
        _unpause();
    }

    /// @notice Sets the settle window of channels opened from now on; open channels keep theirs.
    function setSettleTimeout(uint64 newSettleTimeout) external restricted {
        _setSettleTimeout(newSettleTimeout);
    }

    /**
     * @notice Sets, once, the market whose order outcomes decide every lock ({ChannelLocks}): a lock
     * names only an order id, so the market it is read from can never change under a pending lock.
     */
    function setLockMarket(address market) external restricted {
        _setLockMarket(market);
    }

    /**
     * @notice Opens a channel between the caller and `partner`, both consortium members. One channel
     * per pair at a time; a pair may reopen after settlement and then gets a fresh id.
     */
    function openChannel(address partner) external whenNotPaused returns (uint256 channelId) {
        address opener = _msgSender();
        if (opener == partner) revert PaymentChannelsSameParticipant(opener);
        _checkMember(opener);
        _checkMember(partner);
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        bytes32 pair = _pairKey(opener, partner);
        uint256 existing = $.openChannelOfPair[pair];
        if (existing != 0) revert PaymentChannelsAlreadyOpen(opener, partner, existing);
        channelId = ++$.lastChannelId;
        $.openChannelOfPair[pair] = channelId;
        Channel storage channel = $.channels[channelId];
        channel.participant1 = opener;
        channel.participant2 = partner;
        channel.state = ChannelState.Opened;
        channel.settleTimeout = $.settleTimeout;
        emit ChannelOpened(channelId, opener, partner, $.settleTimeout);
    }

    /**
     * @notice Raises the caller's cumulative deposit to `totalDeposit`, taking the difference from it
     * (it approved this contract). Cumulative so that a replayed transaction is harmless. Only
     * `participant` itself may deposit: a deposit changes the channel's total, and a signed
     * cooperative settlement or withdrawal must not be breakable by a stranger's one-unit deposit.
     */
    function setTotalDeposit(uint256 channelId, address participant, uint256 totalDeposit) external whenNotPaused nonReentrant {
        Channel storage channel = _channelIn(channelId, ChannelState.Opened);
        _checkParticipant(channel, channelId, participant);
        if (participant != _msgSender()) revert PaymentChannelsDepositNotByParticipant(channelId, participant, _msgSender());
        Participant storage p = channel.participants[participant];
        uint256 current = p.deposit;
        if (totalDeposit <= current) revert PaymentChannelsDepositNotIncreasing(channelId, participant, current, totalDeposit);
        p.deposit = totalDeposit;
        uint256 added;
        unchecked {
            // totalDeposit > current was checked above.
            added = totalDeposit - current;
        }
        _getPaymentChannelsStorage().token.safeTransferFrom(_msgSender(), address(this), added);
        emit ChannelDeposited(channelId, participant, totalDeposit, added, _msgSender());
    }

    /**
     * @notice Pays `w.participant` out of an open channel without closing it, raising its cumulative
     * withdrawal to `w.totalWithdraw`. Both participants sign the same {WithdrawIntent}, which binds
     * the payments of each side the partner counted when it agreed; this contract then holds both
     * sides to them:
     * - `totalWithdraw <= deposit + partnerTransferredAmount - transferredAmount`: the participant
     *   takes out no more than its balance in that state, so it cannot pay with proofs and withdraw
     *   the same credits (the partner's client keeps the signed amount reserved until `expiry`, and
     *   accepts no proof the rest of the balance does not cover);
     * - both bound payment totals are recorded like balance proofs when newer than the recorded ones,
     *   so a later close can never count either side as having paid less than it did then.
     * Cumulative and expiring, so a signature cannot be replayed or used late. A bound state carries
     * no locks: each signer gives up the partner's locks pending toward it, so clients sign only lock-free.
     */
    function withdraw(
        uint256 channelId,
        WithdrawIntent calldata w,
        bytes calldata participantSignature,
        bytes calldata partnerSignature
    ) external nonReentrant {
        (uint256 current, address partner) = _checkWithdraw(channelId, w);
        bytes32 digest = _withdrawDigest(channelId, w);
        _checkPairSigned(channelId, digest, w.participant, participantSignature, partner, partnerSignature);
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        Channel storage channel = $.channels[channelId];
        channel.participants[w.participant].withdrawn = w.totalWithdraw;
        _recordBound(channel, channelId, w.participant, w.nonce, w.transferredAmount);
        _recordBound(channel, channelId, partner, w.partnerNonce, w.partnerTransferredAmount);
        uint256 amount;
        unchecked {
            // totalWithdraw > current was checked by _checkWithdraw.
            amount = w.totalWithdraw - current;
        }
        $.token.safeTransfer(w.participant, amount);
        emit ChannelWithdrawn(channelId, w.participant, w.totalWithdraw, amount);
    }

    /**
     * @notice Closes the channel on behalf of `closer`, recording the partner's balance proof (what
     * the partner paid the closer). Anyone may submit it with the closer's Close signature. An empty
     * proof (nonce 0, amount 0) means the partner paid nothing. The closer's own payments count as
     * zero until the partner, or its watcher, submits the closer's latest proof with {updateBalanceProof}.
     */
    function closeChannel(
        uint256 channelId,
        address closer,
        BalanceProof calldata partnerProof,
        bytes calldata closeSignature
    ) external {
        Channel storage channel = _channelIn(channelId, ChannelState.Opened);
        address partner = _partnerOf(channel, channelId, closer);
        bytes32 digest = _proofDigest(CLOSE_TYPEHASH, channelId, partnerProof);
        _checkSigner(channelId, digest, closeSignature, closer);
        channel.state = ChannelState.Closed;
        channel.closer = closer;
        uint64 settleAt = uint64(block.timestamp) + channel.settleTimeout;
        channel.settleAt = settleAt;
        emit ChannelClosed(channelId, closer, settleAt);
        if (partnerProof.nonce == 0) {
            if (partnerProof.transferredAmount != 0)
                revert PaymentChannelsEmptyProofWithAmount(channelId, partnerProof.transferredAmount);
        } else if (partnerProof.nonce > channel.participants[partner].nonce) {
            // A withdrawal may already have recorded this proof's total (or a newer one): keep that.
            _recordProof(channel, channelId, partner, partnerProof);
        }
    }

    /**
     * @notice Records a newer balance proof of `sender` while the channel is closed and its settle
     * window is open. The sender's partner (the proof's beneficiary) authorises it with an Update
     * signature, so a watcher holding that signature can submit for it. Only the beneficiary can
     * replace a sender's proof: a sender can never lower what it is recorded to have paid by signing
     * a fresh proof with a higher nonce.
     */
    function updateBalanceProof(
        uint256 channelId,
        address sender,
        BalanceProof calldata proof,
        bytes calldata updateSignature
    ) public {
        Channel storage channel = _channelIn(channelId, ChannelState.Closed);
        address beneficiary = _partnerOf(channel, channelId, sender);
        if (block.timestamp > channel.settleAt)
            revert PaymentChannelsSettleWindowOver(channelId, channel.settleAt, block.timestamp);
        bytes32 digest = _proofDigest(UPDATE_TYPEHASH, channelId, proof);
        _checkSigner(channelId, digest, updateSignature, beneficiary);
        _recordProof(channel, channelId, sender, proof);
    }

    /**
     * @notice {updateBalanceProof} and {revealLocks} in one transaction, for a proof carrying locks.
     * Why: an update is accepted up to the settle window's last second, and a reveal is a second
     * transaction that may land after it, so the locks of a proof recorded in time would be dropped
     * at settlement. Recorded together, a proof that counts always counts with its locks.
     */
    function updateBalanceProofWithLocks(
        uint256 channelId,
        address sender,
        BalanceProof calldata proof,
        bytes calldata updateSignature,
        uint256 lockedAmount,
        bytes32 locksroot
    ) external {
        updateBalanceProof(channelId, sender, proof, updateSignature);
        _revealLocks(channelId, sender, proof.nonce, proof.additionalHash, lockedAmount, locksroot);
    }

    /**
     * @notice Reveals the locks the recorded proof of `sender` carries, so settlement keeps them back
     * for {unlock}: `proof` must be that recorded proof (same nonce, signed by `sender`) and its
     * `additionalHash` the commitment to `lockedAmount` and `locksroot`. Anyone may call until the
     * settle window ends; only the receiver gains from it. Locks of a proof replaced later by a newer
     * one no longer count.
     */
    function revealLocks(
        uint256 channelId,
        address sender,
        BalanceProof calldata proof,
        uint256 lockedAmount,
        bytes32 locksroot
    ) external {
        Channel storage channel = _channelIn(channelId, ChannelState.Closed);
        _checkParticipant(channel, channelId, sender);
        if (block.timestamp > channel.settleAt)
            revert PaymentChannelsSettleWindowOver(channelId, channel.settleAt, block.timestamp);
        uint256 recorded = channel.participants[sender].nonce;
        if (proof.nonce != recorded || recorded == 0)
            revert PaymentChannelsStaleBalanceProof(channelId, sender, recorded, proof.nonce);
        _checkSigner(channelId, _proofDigest(BALANCE_PROOF_TYPEHASH, channelId, proof), proof.signature, sender);
        _revealLocks(channelId, sender, proof.nonce, proof.additionalHash, lockedAmount, locksroot);
    }

    /**
     * @notice Pays out a closed channel after its settle window: callable by anyone.
     * @dev Can never revert once the window is over, and never pays more than the channel holds:
     * - the amounts come from {_settlementAmounts}, which uses only saturating arithmetic and a final
     *   clamp into [0, TAD], so no proof, however large its amounts, can make it overflow or underflow;
     * - amount1 + amount2 == TAD, and the contract holds at least TAD for this channel (see the
     *   conservation invariant), so both GridCredit transfers are covered;
     * - both recipients are non-zero (checked at open) and GridCredit has no hooks, blocklist or pause,
     *   so its `transfer` cannot refuse them; zero amounts are not transferred at all;
     * - state is cleared before the transfers, so re-entry finds a settled channel;
     * - a side's revealed locks are kept back out of its own share only (at most all of it), so the
     *   two payouts and the two pools still add up to exactly TAD; {unlock} pays each pool out.
     */
    function settleChannel(uint256 channelId) external nonReentrant {
        Channel storage channel = _channelIn(channelId, ChannelState.Closed);
        if (block.timestamp <= channel.settleAt)
            revert PaymentChannelsSettleWindowOpen(channelId, channel.settleAt, block.timestamp);
        address a1 = channel.participant1;
        address a2 = channel.participant2;
        (uint256 amount1, uint256 amount2) = _settlementAmounts(channel.participants[a1], channel.participants[a2]);
        amount1 = _holdLocks(channel, channelId, a1, a2, amount1);
        amount2 = _holdLocks(channel, channelId, a2, a1, amount2);
        _finish(channel, channelId, a1, amount1, a2, amount2, false);
    }

    /**
     * @notice Ends an open channel at once with the final balances both participants signed. The
     * amounts must add up to exactly the total available deposit, so nothing is created or stranded.
     * The settlement is void after `expiry` and when either side's recorded proof (bound by a later
     * withdrawal) is newer than the nonce it was computed from: an old split cannot be replayed to
     * erase payments made after it. Each client refuses payments in both directions from signing
     * until `expiry`, so the signed split stays the channel's final state while it can be used.
     */
    function cooperativeSettle(
        uint256 channelId,
        CooperativeSettlement calldata c,
        bytes calldata signature1,
        bytes calldata signature2
    ) external nonReentrant {
        Channel storage channel = _channelIn(channelId, ChannelState.Opened);
        _checkCooperativeSettle(channel, channelId, c, signature1, signature2);
        _finish(channel, channelId, channel.participant1, c.amount1, channel.participant2, c.amount2, true);
    }

    function _authorizeUpgrade(address) internal override restricted {}

    function _setSettleTimeout(uint64 settleTimeout_) internal {
        if (settleTimeout_ < MIN_SETTLE_TIMEOUT) revert PaymentChannelsInvalidSettleTimeout(settleTimeout_, MIN_SETTLE_TIMEOUT);
        if (settleTimeout_ > MAX_SETTLE_TIMEOUT) revert PaymentChannelsSettleTimeoutTooLong(settleTimeout_, MAX_SETTLE_TIMEOUT);
        PaymentChannelsStorage storage $ = _getPaymentChannelsStorage();
        emit SettleTimeoutChanged($.settleTimeout, settleTimeout_);
        $.settleTimeout = settleTimeout_;
    }

    function _checkMember(address account) internal view {
        if (!GridRoles.isMember(IAccessManager(authority()), account)) revert PaymentChannelsNotMember(account);
    }

    function _checkPairSigned(
        uint256 channelId,
        bytes32 digest,
        address signer1,
        bytes calldata signature1,
        address signer2,
        bytes calldata signature2
    ) internal pure {
        _checkSigner(channelId, digest, signature1, signer1);
        _checkSigner(channelId, digest, signature2, signer2);
    }

    /// @dev Checks a withdrawal's channel, timing and amounts; returns the current cumulative withdrawal and the partner.
    function _checkWithdraw(
        uint256 channelId,
        WithdrawIntent calldata w
    ) internal view returns (uint256 current, address partner) {
        Channel storage channel = _channelIn(channelId, ChannelState.Opened);
        partner = _partnerOf(channel, channelId, w.participant);
        if (block.timestamp > w.expiry) revert PaymentChannelsWithdrawExpired(channelId, w.expiry, block.timestamp);
        Participant storage p = channel.participants[w.participant];
        Participant storage q = channel.participants[partner];
        current = p.withdrawn;
        if (w.totalWithdraw <= current)
            revert PaymentChannelsWithdrawNotIncreasing(channelId, w.participant, current, w.totalWithdraw);
        uint256 totalDeposit = p.deposit + q.deposit;
        if (w.totalWithdraw > totalDeposit || totalDeposit - w.totalWithdraw < q.withdrawn) {
            revert PaymentChannelsWithdrawExceedsDeposits(
                channelId,
                ChannelMath.saturatingAdd(w.totalWithdraw, q.withdrawn),
                totalDeposit
            );
        }
        uint256 balance = ChannelMath.saturatingSub(
            ChannelMath.saturatingAdd(p.deposit, w.partnerTransferredAmount),
            w.transferredAmount
        );
        if (w.totalWithdraw > balance)
            revert PaymentChannelsWithdrawExceedsBalance(channelId, w.participant, w.totalWithdraw, balance);
    }

    function _checkCooperativeSettle(
        Channel storage channel,
        uint256 channelId,
        CooperativeSettlement calldata c,
        bytes calldata signature1,
        bytes calldata signature2
    ) internal view {
        if (block.timestamp > c.expiry) revert PaymentChannelsCooperativeSettleExpired(channelId, c.expiry, block.timestamp);
        address a1 = channel.participant1;
        address a2 = channel.participant2;
        uint256 recorded1 = channel.participants[a1].nonce;
        if (c.nonce1 < recorded1) revert PaymentChannelsStaleBalanceProof(channelId, a1, recorded1, c.nonce1);
        uint256 recorded2 = channel.participants[a2].nonce;
        if (c.nonce2 < recorded2) revert PaymentChannelsStaleBalanceProof(channelId, a2, recorded2, c.nonce2);
        _checkCooperativeSum(channel, channelId, c.amount1, c.amount2);
        _checkPairSigned(channelId, _cooperativeSettleDigest(channelId, a1, a2, c), a1, signature1, a2, signature2);
    }

    function _checkCooperativeSum(Channel storage channel, uint256 channelId, uint256 amount1, uint256 amount2) internal view {
        uint256 available = _totalAvailableDeposit(
            channel.participants[channel.participant1],
            channel.participants[channel.participant2]
        );
        (bool ok, uint256 sum) = ChannelMath.tryAdd(amount1, amount2);
        if (!ok || sum != available)
            revert PaymentChannelsCooperativeSettleMismatch(channelId, ok ? sum : type(uint256).max, available);
    }

    /**
     * @dev Records a payment total both participants signed in a withdrawal if it is newer than the
     * recorded proof of `sender`; an older or equal one changes nothing (the recorded one already counts).
     */
    function _recordBound(Channel storage channel, uint256 channelId, address sender, uint256 nonce, uint256 amount) internal {
        Participant storage p = channel.participants[sender];
        if (nonce <= p.nonce) return;
        p.nonce = nonce;
        p.transferredAmount = amount;
        emit BalanceProofRecorded(channelId, sender, nonce, amount, bytes32(0));
    }

    /// @dev Records `sender`'s proof if it is newer than the recorded one and signed by `sender`.
    function _recordProof(Channel storage channel, uint256 channelId, address sender, BalanceProof calldata proof) internal {
        Participant storage p = channel.participants[sender];
        if (proof.nonce <= p.nonce) revert PaymentChannelsStaleBalanceProof(channelId, sender, p.nonce, proof.nonce);
        bytes32 digest = _proofDigest(BALANCE_PROOF_TYPEHASH, channelId, proof);
        _checkSigner(channelId, digest, proof.signature, sender);
        p.nonce = proof.nonce;
        p.transferredAmount = proof.transferredAmount;
        emit BalanceProofRecorded(channelId, sender, proof.nonce, proof.transferredAmount, proof.additionalHash);
    }

    /// @dev Clears the channel, frees the pair and pays both sides; never reverts for covered amounts.
    function _finish(
        Channel storage channel,
        uint256 channelId,
        address a1,
        uint256 amount1,
        address a2,
        uint256 amount2,
        bool cooperative
    ) internal {
        channel.state = ChannelState.Settled;
        _clearBalances(channel.participants[a1]);
        _clearBalances(channel.participants[a2]);
        delete _getPaymentChannelsStorage().openChannelOfPair[_pairKey(a1, a2)];
        emit ChannelSettled(channelId, a1, amount1, a2, amount2, cooperative);
        IERC20 credit = _getPaymentChannelsStorage().token;
        if (amount1 != 0) credit.safeTransfer(a1, amount1);
        if (amount2 != 0) credit.safeTransfer(a2, amount2);
    }
}
