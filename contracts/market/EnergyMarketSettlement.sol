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
     * @notice The meter role records, after the delivery window, a meter's cumulative reading taken at
     * the window's end and the energy the grid attributes to the order. Full delivery frees the default
     * amount; a shortfall leaves it locked for {settleDefault}. The grid charges close here: the tariff
     * on the energy carried and the capacity fee on the energy not delivered go to the grid's income,
     * the rest of what the confirm locked for them goes back to the seller's free bond. Refused after
     * the metering deadline (`METERING_GRACE` after the window): by then the order is final unmetered.
     * @dev A cumulative meter shows one value at each moment and never runs backwards, so readings
     * are ordered by the window end they were taken at, not by when they reach the chain: a meter
     * keeps one reading per window end, and a new one may be neither below the reading of any earlier
     * window end nor above that of any later one (equal is allowed: no energy flowed). Orders that
     * end at the same moment on the same meter must all state the reading recorded for it. So every
     * order can be recorded with its true reading in any order of arrival, while a meter can never
     * show two values for one moment or energy flowing backwards; each order is metered once (its
     * status moves on), so neither a reading nor an order's energy is counted twice.
     */
    function recordMeterReading(uint256 orderId, bytes32 meterId, uint64 readingWh, uint64 deliveredWh) external restricted {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = _order(orderId);
        _expectStatus(orderId, order.status, OrderStatus.Established);
        Offer storage offer = $.offers[order.offerId];
        uint40 deliveryEnd = offer.deliveryEnd;
        if (block.timestamp < deliveryEnd) revert MarketDeliveryNotOver(orderId, deliveryEnd);
        uint40 closesAt = _meteringClosesAt(offer);
        if (block.timestamp > closesAt) revert MarketMeteringClosed(orderId, closesAt);
        _recordReading(meterId, deliveryEnd, readingWh);
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
        Bond storage bond = $.bonds[seller];
        bond.locked -= released;
        bond.free += released;
        emit MeterReadingRecorded(orderId, meterId, msg.sender, readingWh, deliveredWh, shortfallWh);
    }

    /**
     * @notice Pays a metered shortfall to the buyer from the seller's locked bond; anyone may call.
     * @dev payout = floor(defaultAmount * shortfallWh / quantityWh): pro rata of the shortfall, rounded
     * down so it never exceeds the locked amount; the rest (including the rounding remainder) returns
     * to the seller's free bond. Recorded once: the status moves to DefaultSettled before the transfer.
     */
    function settleDefault(uint256 orderId) external {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = _order(orderId);
        OrderStatus status = order.status;
        if (status == OrderStatus.DefaultSettled) revert MarketDefaultAlreadySettled(orderId);
        _expectStatus(orderId, status, OrderStatus.Defaulted);
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
     * @dev Applies the reading rule of {EnergyMarket-recordMeterReading}: one reading per meter and
     * window end, never below a reading of an earlier window end nor above one of a later. The new
     * reading is linked in after the closest earlier window end, found by walking back from the
     * latest; windows are metered soon after they end, so the walk is short (one step per later
     * window already recorded on this meter).
     */
    function _recordReading(bytes32 meterId, uint40 windowEnd, uint64 readingWh) private {
        MarketStorage storage $ = _getMarketStorage();
        mapping(uint40 => MeterPoint) storage points = $.meterPoints[meterId];
        MeterPoint storage point = points[windowEnd];
        if (point.recorded) {
            // Another order that ends at the same moment: the meter showed one value then.
            if (point.readingWh != readingWh) revert MarketMeterReadingMismatch(meterId, windowEnd, point.readingWh, readingWh);
            return;
        }
        MeterReading storage last = $.lastReading[meterId];
        uint40 lastEnd = last.windowEnd;
        // A latest reading kept before readings were kept per window end becomes the list's first.
        if (lastEnd != 0 && !points[lastEnd].recorded) points[lastEnd] = MeterPoint(last.readingWh, 0, true);
        if (windowEnd > lastEnd) {
            uint64 lastWh = last.readingWh;
            if (readingWh < lastWh) revert MarketMeterReadingBelowEarlier(meterId, readingWh, lastEnd, lastWh);
            points[windowEnd] = MeterPoint(readingWh, lastEnd, true);
            last.windowEnd = windowEnd;
            last.readingWh = readingWh;
            return;
        }
        // windowEnd < lastEnd (equal would be recorded): find later > windowEnd > earlier.
        uint40 later = lastEnd;
        uint40 earlier = points[later].previous;
        while (earlier > windowEnd) {
            later = earlier;
            earlier = points[later].previous;
        }
        uint64 laterWh = points[later].readingWh;
        if (readingWh > laterWh) revert MarketMeterReadingAboveLater(meterId, readingWh, later, laterWh);
        if (earlier != 0) {
            uint64 earlierWh = points[earlier].readingWh;
            if (readingWh < earlierWh) revert MarketMeterReadingBelowEarlier(meterId, readingWh, earlier, earlierWh);
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
