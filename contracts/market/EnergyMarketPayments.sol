// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EnergyMarketSettlement} from "./EnergyMarketSettlement.sol";

/**
 * @title EnergyMarketPayments
 * @notice What the market knows of an order's payment, and the outcome a payment lock reads.
 *
 * Payment runs off chain: the buyer pays an order with a channel lock on the order's outcome
 * ({ChannelLocks}), which the seller (directly or through the grid operator's hub) holds. The market
 * cannot see it, so the seller, who alone knows, decides:
 * - {confirmPaid}: the seller holds a lock covering the order; the order is paid and the seller can
 *   no longer walk away from it;
 * - {walkAwayUnpaid}: no payment arrived; before the delivery starts the seller cancels the order,
 *   bond, capacity and quantity come back, and the buyer has nothing to collect.
 * An order the seller neither walked away from nor confirmed counts as paid from its delivery start:
 * by letting the payment deadline pass the seller accepted it as it stands, bound by its bond.
 *
 * Why a walk-away by a deadline rather than "no order established unpaid": a standing offer
 * establishes an order in the buyer's own transaction, before any payment can name its id, and the
 * market cannot verify an off-chain lock without the sender's whole lock list. The deadline keeps the
 * one-transaction trade and still binds the buyer: an unpaid buyer is walked away from and collects
 * no default. Why silence counts as paid: otherwise a seller could hold a buyer's payment, never
 * confirm it and escape its default. A seller walking away from an order the buyer did pay gains
 * nothing: the order ends cancelled, so the buyer's lock returns to it in full.
 */
abstract contract EnergyMarketPayments is EnergyMarketSettlement {
    /// @notice The seller's statement about an order's payment.
    enum PaymentMark {
        None,
        Paid,
        WalkedAway
    }

    /// @custom:storage-location erc7201:gridchain.storage.MarketPayments
    struct MarketPaymentsStorage {
        mapping(uint256 orderId => PaymentMark) marks;
    }

    // keccak256(abi.encode(uint256(keccak256("gridchain.storage.MarketPayments")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant MARKET_PAYMENTS_STORAGE = 0x39b97007be7ab417f3be6580ef594a62d550c02327e09f6a042d73bdf2556b00;

    error MarketPaymentAlreadyMarked(uint256 orderId, PaymentMark mark);
    error MarketPaymentNotOpen(uint256 orderId, OrderStatus status);
    error MarketPaymentDeadlinePassed(uint256 orderId, uint40 deliveryStart);

    /// @notice The seller states it holds a payment covering the order.
    event OrderPaid(uint256 indexed orderId, address indexed seller);
    /// @notice The seller left an unpaid order before its delivery; it is cancelled.
    event OrderWalkedAway(uint256 indexed orderId, address indexed seller, OrderStatus previousStatus);

    /**
     * @notice The seller states that it holds a payment covering the order (approved or awaiting
     * review); from then on it cannot walk away. Any time before the order is metered.
     */
    function confirmPaid(uint256 orderId) external {
        _sellersOpenOrder(orderId);
        _getMarketPaymentsStorage().marks[orderId] = PaymentMark.Paid;
        emit OrderPaid(orderId, msg.sender);
    }

    /**
     * @notice The seller leaves an unpaid order (approved or awaiting review) before its delivery
     * starts: the order is cancelled, capacity, bond, grid charges and quantity come back, and every
     * lock on it returns to the buyer. Not after {confirmPaid}. Works while paused: it is an exit.
     */
    function walkAwayUnpaid(uint256 orderId) external {
        (OrderRecord storage order, uint40 deliveryStart) = _sellersOpenOrder(orderId);
        if (block.timestamp >= deliveryStart) revert MarketPaymentDeadlinePassed(orderId, deliveryStart);
        OrderStatus previous = order.status;
        _getMarketPaymentsStorage().marks[orderId] = PaymentMark.WalkedAway;
        order.status = OrderStatus.Cancelled;
        _undoConfirm(orderId, order);
        emit OrderWalkedAway(orderId, msg.sender, previous);
        emit OrderCancelled(orderId, msg.sender, previous);
    }

    /// @notice The seller's statement on an order's payment (None: no statement yet).
    function paymentMark(uint256 orderId) external view returns (PaymentMark) {
        return _getMarketPaymentsStorage().marks[orderId];
    }

    /**
     * @notice Whether the order counts as paid: the seller confirmed it, or the order went past its
     * delivery start approved and not walked away from. Only a paid order's buyer can be owed a default.
     */
    function isPaid(uint256 orderId) external view returns (bool) {
        if (_getMarketPaymentsStorage().marks[orderId] == PaymentMark.Paid) return true;
        OrderRecord storage order = _getMarketStorage().orders[orderId];
        OrderStatus status = order.status;
        if (status < OrderStatus.Established) return false;
        return block.timestamp >= _getMarketStorage().offers[order.offerId].deliveryStart;
    }

    /**
     * @notice The outcome a payment lock reads ({ChannelLocks}): decided once no transaction can
     * change the order's delivered energy any more. Delivered, defaulted and default-settled orders
     * report their metered energy; rejected, cancelled (walk-aways included), expired and denied ones
     * nothing delivered; requested, awaiting-review and established ones are undecided until the
     * metering deadline (`METERING_GRACE` after the delivery window) and then decided with nothing
     * delivered, the same answer at every later time since no reading is accepted any more. This view
     * is the one source of an order's payment outcome: channels and clients read it, none records its
     * own. An id never issued is decided with nothing delivered, so a lock on it pays its receiver nothing.
     */
    function paymentOutcome(
        uint256 orderId
    ) external view returns (bool decided, uint64 deliveredWh, uint64 quantityWh, uint40 deliveryEnd) {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = $.orders[orderId];
        OrderStatus status = order.status;
        quantityWh = order.quantityWh;
        deliveryEnd = $.offers[order.offerId].deliveryEnd;
        if (status >= OrderStatus.Delivered) return (true, order.deliveredWh, quantityWh, deliveryEnd);
        bool open = status == OrderStatus.Requested || status == OrderStatus.AwaitingReview || status == OrderStatus.Established;
        if (open && block.timestamp > uint256(deliveryEnd) + METERING_GRACE) open = false;
        return (!open, 0, quantityWh, deliveryEnd);
    }

    /// @dev The caller's approved or awaiting-review order without a payment statement, and its delivery start.
    function _sellersOpenOrder(uint256 orderId) private view returns (OrderRecord storage order, uint40 deliveryStart) {
        order = _order(orderId);
        Offer storage offer = _getMarketStorage().offers[order.offerId];
        if (msg.sender != offer.seller) revert MarketNotSeller(orderId, msg.sender, offer.seller);
        OrderStatus status = order.status;
        if (status != OrderStatus.Established && status != OrderStatus.AwaitingReview)
            revert MarketPaymentNotOpen(orderId, status);
        PaymentMark mark = _getMarketPaymentsStorage().marks[orderId];
        if (mark != PaymentMark.None) revert MarketPaymentAlreadyMarked(orderId, mark);
        deliveryStart = offer.deliveryStart;
    }

    function _getMarketPaymentsStorage() private pure returns (MarketPaymentsStorage storage $) {
        // ERC-7201: the namespace's fixed slot can only be assigned in assembly.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            $.slot := MARKET_PAYMENTS_STORAGE
        }
    }
}
