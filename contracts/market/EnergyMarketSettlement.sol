// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EnergyMarketBase} from "./EnergyMarketBase.sol";

/**
 * @title EnergyMarketSettlement
 * @notice Step D of a trade and the money that stays in the market: metering, default settlement,
 * the grid's income and the sellers' bonds. {EnergyMarket} adds steps A to C; the invariants are
 * stated there.
 */
abstract contract EnergyMarketSettlement is EnergyMarketBase {
    using SafeERC20 for IERC20;

    // ---------------------------------------------------------------- step D: metering and defaults

    /**
     * @notice Most items one batch call ({recordMeterReadings}, {settleDefaults}) takes. `npm run
     * bench:gas` measures about 61k gas per item in a full batch of first readings with a shortfall
     * (every slot they write starts at zero) and 18k per default settled. Allowing 150k for the
     * costliest item (grid charges on both bonds, a long walk in {_recordReading}) a full batch
     * stays under 15.1M gas: below the 2^24 (16.8M) a transaction may use where EIP-7825 applies,
     * and a small share of the consortium's block gas limit, so a batch never takes a block from
     * trades. The walk grows with readings recorded out of order; a meter service that reads
     * windows far apart in time sends smaller batches.
     */
    uint256 internal constant MAX_BATCH = 100;

    /// @notice One meter reading of a {recordMeterReadings} batch.
    struct MeterRecord {
        uint256 orderId;
        bytes32 meterId;
        uint64 readingWh;
        uint64 deliveredWh;
    }

    error MarketBatchTooLarge(uint256 items, uint256 maxItems);

    /**
     * @notice An item of a batch was refused and left as it was; the rest of the batch went on.
     * `reason` is the ABI-encoded custom error of this market that states the broken rule (the
     * transaction's function says which step), e.g. `MarketDeliveryNotOver(orderId, deliveryEnd)`.
     */
    event BatchItemRefused(uint256 indexed orderId, bytes reason);

    /**
     * @notice The meter role records, for each item after its delivery window, a meter's cumulative
     * reading taken at the window's end and the energy the grid attributes to the order; up to
     * `MAX_BATCH` items, applied in the order given (a later item sees the readings of the earlier
     * ones). An item that breaks a rule is skipped with {BatchItemRefused}; the others are recorded.
     * Full delivery frees the default amount; a shortfall leaves it locked for {settleDefaults}. The
     * grid charges close here: the tariff on the energy carried and the capacity fee on the energy
     * not delivered go to the grid's income, the rest of what the confirm locked for them goes back to
     * the seller's free bond. Refused after the metering deadline (`METERING_GRACE` after the window):
     * by then the order is final unmetered. One reading is a batch of one: the rules live in one place.
     * @dev A cumulative meter shows one value at each moment and never runs backwards, so readings
     * are ordered by the window end they were taken at, not by when they reach the chain: a meter
     * keeps one reading per window end, and a new one may be neither below the reading of any earlier
     * window end nor above that of any later one (equal is allowed: no energy flowed). Orders that
     * end at the same moment on the same meter must all state the reading recorded for it. So every
     * order can be recorded with its true reading in any order of arrival, while a meter can never
     * show two values for one moment or energy flowing backwards; each order is metered once (its
     * status moves on), so neither a reading nor an order's energy is counted twice, also when a
     * batch names an order twice.
     */
    function recordMeterReadings(MeterRecord[] calldata records) external restricted {
        uint256 count = records.length;
        _checkBatch(count);
        for (uint256 i; i < count; ++i) {
            MeterRecord calldata r = records[i];
            _reportRefusal(r.orderId, _recordMeterReading(r.orderId, r.meterId, r.readingWh, r.deliveredWh));
        }
    }

    /**
     * @notice Pays metered shortfalls to the buyers from the sellers' locked bonds, up to `MAX_BATCH`
     * orders; anyone may call. An order not Defaulted is skipped with {BatchItemRefused}.
     * @dev payout = floor(defaultAmount * shortfallWh / quantityWh): pro rata of the shortfall, rounded
     * down so it never exceeds the locked amount; the rest (including the rounding remainder) returns
     * to the seller's free bond. Recorded once: the status moves to DefaultSettled before the transfer.
     */
    function settleDefaults(uint256[] calldata orderIds) external {
        uint256 count = orderIds.length;
        _checkBatch(count);
        for (uint256 i; i < count; ++i) {
            uint256 orderId = orderIds[i];
            _reportRefusal(orderId, _settleDefault(orderId));
        }
    }

    function _checkBatch(uint256 count) private pure {
        if (count > MAX_BATCH) revert MarketBatchTooLarge(count, MAX_BATCH);
    }

    /**
     * @dev The custom error `error_` encoded with its first `words` arguments out of a, b, c, d. Every
     * argument of the refusals is a static type, one ABI word each, so one encoder serves them all
     * and keeps the contract within its size limit; the length is cut to the error's own arguments.
     */
    function _refusal(
        bytes4 error_,
        uint256 words,
        uint256 a,
        uint256 b,
        uint256 c,
        uint256 d
    ) private pure returns (bytes memory encoded) {
        encoded = abi.encodeWithSelector(error_, a, b, c, d);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(encoded, add(4, shl(5, words)))
        }
    }

    /// @dev A batch goes on past a refused item and names it.
    function _reportRefusal(uint256 orderId, bytes memory failure) private {
        if (failure.length != 0) emit BatchItemRefused(orderId, failure);
    }

    /**
     * @dev The rule of {recordMeterReadings} for one item. A refusal is returned as the encoded custom
     * error, not reverted, so the batch goes on; it comes before any state change (the one write
     * ahead of a refusal in {_recordReading} only moves an existing latest reading into the list, which
     * changes no rule's outcome), so a refused item leaves the order as it was. Empty means recorded.
     */
    function _recordMeterReading(
        uint256 orderId,
        bytes32 meterId,
        uint64 readingWh,
        uint64 deliveredWh
    ) private returns (bytes memory failure) {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = $.orders[orderId];
        Offer storage offer = $.offers[order.offerId];
        {
            OrderStatus status = order.status;
            if (status == OrderStatus.None) return _refusal(MarketUnknownOrder.selector, 1, orderId, 0, 0, 0);
            if (status != OrderStatus.Established) {
                return
                    _refusal(
                        MarketUnexpectedOrderStatus.selector,
                        3,
                        orderId,
                        uint256(status),
                        uint256(OrderStatus.Established),
                        0
                    );
            }
            uint40 deliveryEnd = offer.deliveryEnd;
            if (block.timestamp < deliveryEnd) return _refusal(MarketDeliveryNotOver.selector, 2, orderId, deliveryEnd, 0, 0);
            uint40 closesAt = _meteringClosesAt(offer);
            if (block.timestamp > closesAt) return _refusal(MarketMeteringClosed.selector, 2, orderId, closesAt, 0, 0);
            failure = _recordReading(meterId, deliveryEnd, readingWh);
            if (failure.length != 0) return failure;
        }
        uint64 quantityWh = order.quantityWh;
        uint64 shortfallWh = deliveredWh < quantityWh ? quantityWh - deliveredWh : 0;
        order.deliveredWh = deliveredWh;
        address seller = offer.seller;
        uint128 released = _settleGridCharges(orderId, order, seller, quantityWh - shortfallWh, shortfallWh);
        if (shortfallWh == 0) {
            order.status = OrderStatus.Delivered;
            released += _defaultAmount(quantityWh, offer.defaultPerKwh);
        } else {
            order.status = OrderStatus.Defaulted;
        }
        _unlock($.bonds[seller], released);
        emit MeterReadingRecorded(orderId, meterId, msg.sender, readingWh, deliveredWh, shortfallWh);
    }

    /**
     * @dev The rule of {settleDefaults} for one order; a refusal is returned as the encoded custom
     * error before any state change. The transfer goes to GridCredit, which
     * has no hooks, from the bond this contract holds, so it does not fail for one order and not for
     * another: if it ever reverts, the whole call reverts.
     */
    function _settleDefault(uint256 orderId) private returns (bytes memory failure) {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = $.orders[orderId];
        OrderStatus status = order.status;
        if (status == OrderStatus.None) return _refusal(MarketUnknownOrder.selector, 1, orderId, 0, 0, 0);
        if (status == OrderStatus.DefaultSettled) return _refusal(MarketDefaultAlreadySettled.selector, 1, orderId, 0, 0, 0);
        if (status != OrderStatus.Defaulted) {
            return _refusal(MarketUnexpectedOrderStatus.selector, 3, orderId, uint256(status), uint256(OrderStatus.Defaulted), 0);
        }
        Offer storage offer = $.offers[order.offerId];
        address seller = offer.seller;
        uint64 quantityWh = order.quantityWh;
        // Defaulted implies deliveredWh < quantityWh.
        uint64 shortfallWh = quantityWh - order.deliveredWh;
        uint96 defaultAmount = _defaultAmount(quantityWh, offer.defaultPerKwh);
        uint256 payout = (uint256(defaultAmount) * shortfallWh) / quantityWh;
        uint256 returned = defaultAmount - payout;
        order.status = OrderStatus.DefaultSettled;
        Bond storage bond = $.bonds[seller];
        bond.locked -= defaultAmount;
        // returned <= defaultAmount, which was part of the (uint128) bond total.
        bond.free += uint128(returned);
        address buyer = order.buyer;
        emit DefaultSettled(orderId, buyer, seller, shortfallWh, payout, returned);
        if (payout != 0) $.credit.safeTransfer(buyer, payout);
    }

    /**
     * @dev Applies the reading rule of {recordMeterReadings}: one reading per meter and
     * window end, never below a reading of an earlier window end nor above one of a later. The new
     * reading is linked in after the closest earlier window end, found by walking back from the
     * latest; windows are metered soon after they end, so the walk is short (one step per later
     * window already recorded on this meter). Returns the encoded refusal, empty when recorded.
     */
    function _recordReading(bytes32 meterId, uint40 windowEnd, uint64 readingWh) private returns (bytes memory failure) {
        MarketStorage storage $ = _getMarketStorage();
        mapping(uint40 => MeterPoint) storage points = $.meterPoints[meterId];
        MeterPoint storage point = points[windowEnd];
        if (point.recorded) {
            // Another order that ends at the same moment: the meter showed one value then.
            if (point.readingWh != readingWh) {
                return _refusal(MarketMeterReadingMismatch.selector, 4, uint256(meterId), windowEnd, point.readingWh, readingWh);
            }
            return failure;
        }
        MeterReading storage last = $.lastReading[meterId];
        uint40 lastEnd = last.windowEnd;
        // A latest reading kept before readings were kept per window end becomes the list's first.
        if (lastEnd != 0 && !points[lastEnd].recorded) points[lastEnd] = MeterPoint(last.readingWh, 0, true);
        if (windowEnd > lastEnd) {
            uint64 lastWh = last.readingWh;
            if (readingWh < lastWh) {
                return _refusal(MarketMeterReadingBelowEarlier.selector, 4, uint256(meterId), readingWh, lastEnd, lastWh);
            }
            points[windowEnd] = MeterPoint(readingWh, lastEnd, true);
            last.windowEnd = windowEnd;
            last.readingWh = readingWh;
            return failure;
        }
        // windowEnd < lastEnd (equal would be recorded): find later > windowEnd > earlier.
        uint40 later = lastEnd;
        uint40 earlier = points[later].previous;
        while (earlier > windowEnd) {
            later = earlier;
            earlier = points[later].previous;
        }
        uint64 laterWh = points[later].readingWh;
        if (readingWh > laterWh) {
            return _refusal(MarketMeterReadingAboveLater.selector, 4, uint256(meterId), readingWh, later, laterWh);
        }
        if (earlier != 0) {
            uint64 earlierWh = points[earlier].readingWh;
            if (readingWh < earlierWh) {
                return _refusal(MarketMeterReadingBelowEarlier.selector, 4, uint256(meterId), readingWh, earlier, earlierWh);
            }
        }
        points[windowEnd] = MeterPoint(readingWh, earlier, true);
        points[later].previous = windowEnd;
    }

    // ---------------------------------------------------------------- grid income

    /**
     * @notice The grid operator takes `amount` of the grid's income (tariffs and kept capacity fees)
     * to `to`. Works while paused: it is an exit.
     */
    function withdrawGridIncome(address to, uint256 amount) external restricted {
        MarketStorage storage $ = _getMarketStorage();
        uint96 income = $.gridIncome;
        if (amount > income) revert MarketGridIncomeInsufficient(income, amount);
        // amount <= income, checked above.
        unchecked {
            $.gridIncome = income - uint96(amount);
        }
        emit GridIncomeWithdrawn(msg.sender, to, amount);
        $.credit.safeTransfer(to, amount);
    }

    /// @notice The grid's income not yet withdrawn, held by this contract in GridCredit.
    function gridIncome() external view returns (uint256) {
        return _getMarketStorage().gridIncome;
    }

    // ---------------------------------------------------------------- bonds

    /// @notice Adds `amount` GridCredit (approved beforehand) to the caller's free bond.
    function depositBond(uint256 amount) external {
        MarketStorage storage $ = _getMarketStorage();
        Bond storage bond = $.bonds[msg.sender];
        uint128 free = bond.free + SafeCast.toUint128(amount);
        bond.free = free;
        emit BondDeposited(msg.sender, amount, free);
        $.credit.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Withdraws `amount` of the caller's free bond; locked bond stays until its orders close.
    function withdrawBond(uint256 amount) external {
        MarketStorage storage $ = _getMarketStorage();
        Bond storage bond = $.bonds[msg.sender];
        uint128 free = bond.free;
        if (amount > free) revert MarketBondInsufficient(msg.sender, free, amount);
        // amount <= free, checked above.
        unchecked {
            free -= uint128(amount);
        }
        bond.free = free;
        emit BondWithdrawn(msg.sender, amount, free);
        $.credit.safeTransfer(msg.sender, amount);
    }
}
