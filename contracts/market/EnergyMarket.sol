// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {GridReview} from "../review/GridReview.sol";
import {EnergyMarketPayments} from "./EnergyMarketPayments.sol";

/**
 * @title EnergyMarket
 * @notice The paper's transaction layer on chain, steps A to D of one trade:
 * A. a producer publishes an offer (energy type, price per kWh, quantity, delivery window, zone);
 * B. a consumer requests part of it, the seller confirms or rejects;
 * C. the confirm runs the grid's review ({GridReview}), which reserves line capacity; in manual mode
 *    the grid operator then approves or denies;
 * D. the approved order is recorded; after the window the meter role records delivered energy and a
 *    shortfall pays the buyer from the seller's bond.
 *
 * Units: energy in Wh, prices in GridCredit base units per kWh, so an order's price is
 * `quantityWh * pricePerKwh / 1000`. Payment runs over payment channels; this contract moves
 * GridCredit only for bonds, defaults and the grid's income (tariff and capacity fees, see
 * {GridReview}), all taken from the seller's bond.
 *
 * Time rules: a request stands until the offer expires or the buyer's own deadline
 * ({requestBefore}); the grid operator reviews, approves and cancels only before the delivery starts;
 * from the delivery start on, only the meter decides an established order.
 *
 * @dev Invariants:
 * - Offer quantity is conserved: `remainingWh + sum(quantityWh of its orders that are awaiting review,
 *   established, delivered, defaulted or settled) == quantityWh`. Confirm subtracts, every path that
 *   undoes a confirmed order (deny, cancel, expire) adds back the same amount.
 * - Bonds are conserved: the contract's GridCredit balance equals the sum of all `free + locked` plus
 *   the grid's income. A confirm moves `defaultAmount` plus the grid charges from free to locked;
 *   cancel, deny and expiry move all of it back; metering moves the tariff on the energy carried and
 *   the capacity fee on the shortfall to the grid's income and frees the rest of the charges (and the
 *   default amount on full delivery); settlement pays `payout <= defaultAmount` to the buyer and frees
 *   the rest.
 * - Each order has one outcome: every transition checks the current status and moves forward, so a
 *   second confirm, meter reading or settlement of the same order reverts.
 * - Capacity stays reserved from confirm on; every path that ends an order before delivery (deny,
 *   cancel, expire) releases it with the zones recorded at review. Metering releases nothing: the
 *   window is over, so its slots can no longer be booked.
 * Exits (reject, cancel, deny, expire, withdraw free bond or grid income, meter, settle) work while paused, so pausing
 * never traps funds or capacity.
 */
contract EnergyMarket is EnergyMarketPayments {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /**
     * @param authority The consortium's {GridAccessManager}.
     * @param credit_ The GridCredit token bonds and defaults are paid in.
     * @param review_ The {GridReview} that approves orders; it must name this market.
     */
    function initialize(address authority, IERC20 credit_, GridReview review_) external initializer {
        __AccessManaged_init(authority);
        MarketStorage storage $ = _getMarketStorage();
        $.credit = credit_;
        $.review = review_;
    }

    // ---------------------------------------------------------------- step A: release

    /**
     * @notice Publishes an offer; the seller's zone is the one the grid assigned at this moment.
     * @param defaultPerKwh What the seller owes per kWh not delivered, locked from its bond at confirm;
     * at least the grid's minimum ({GridReview-minDefault}), so that booking energy and not delivering
     * it always costs the seller something.
     * @param expiresAt Last moment (exclusive) an order on this offer may be requested or confirmed;
     * at most the delivery start.
     */
    function publish(
        EnergyType energyType,
        uint64 pricePerKwh,
        uint64 defaultPerKwh,
        uint64 quantityWh,
        uint40 deliveryStart,
        uint40 deliveryEnd,
        uint40 expiresAt
    ) external restricted whenNotPaused returns (uint256 offerId) {
        return _publish(energyType, pricePerKwh, defaultPerKwh, quantityWh, deliveryStart, deliveryEnd, expiresAt, false);
    }

    /**
     * @notice Publishes a standing offer: the seller accepts in advance every request within its terms,
     * so a consumer's {buy} establishes an order in one transaction (the paper's one on-chain
     * transaction per trade). Same terms and checks as {publish}.
     */
    function publishStanding(
        EnergyType energyType,
        uint64 pricePerKwh,
        uint64 defaultPerKwh,
        uint64 quantityWh,
        uint40 deliveryStart,
        uint40 deliveryEnd,
        uint40 expiresAt
    ) external restricted whenNotPaused returns (uint256 offerId) {
        offerId = _publish(energyType, pricePerKwh, defaultPerKwh, quantityWh, deliveryStart, deliveryEnd, expiresAt, true);
        emit StandingOfferPublished(offerId);
    }

    function _publish(
        EnergyType energyType,
        uint64 pricePerKwh,
        uint64 defaultPerKwh,
        uint64 quantityWh,
        uint40 deliveryStart,
        uint40 deliveryEnd,
        uint40 expiresAt,
        bool standing
    ) private returns (uint256 offerId) {
        if (quantityWh == 0) revert MarketQuantityZero();
        if (deliveryEnd <= deliveryStart) revert MarketWindowInvalid(deliveryStart, deliveryEnd);
        if (expiresAt <= block.timestamp || expiresAt > deliveryStart)
            revert MarketExpiryInvalid(expiresAt, block.timestamp, deliveryStart);
        MarketStorage storage $ = _getMarketStorage();
        (uint16 zone, uint32 minDefaultPerKwh) = $.review.publishTerms(msg.sender);
        if (defaultPerKwh < minDefaultPerKwh) revert MarketDefaultBelowMinimum(defaultPerKwh, minDefaultPerKwh);
        if ($.offerCount == type(uint32).max) revert MarketIdsExhausted();
        offerId = ++$.offerCount;
        $.offers[offerId] = Offer({
            seller: msg.sender,
            remainingWh: quantityWh,
            zone: zone,
            energyType: energyType,
            cancelled: false,
            deliveryStart: deliveryStart,
            deliveryEnd: deliveryEnd,
            expiresAt: expiresAt,
            pricePerKwh: pricePerKwh,
            defaultPerKwh: defaultPerKwh,
            standing: standing,
            quantityWh: quantityWh
        });
        emit OfferPublished(
            offerId,
            msg.sender,
            zone,
            energyType,
            pricePerKwh,
            defaultPerKwh,
            quantityWh,
            deliveryStart,
            deliveryEnd,
            expiresAt
        );
    }

    /// @notice Withdraws an offer; callable by its seller or the grid operator.
    function cancelOffer(uint256 offerId) external {
        Offer storage offer = _offer(offerId);
        if (offer.cancelled) revert MarketOfferCancelled(offerId);
        if (msg.sender != offer.seller && !_isGridOperator(msg.sender)) revert MarketNotSeller(offerId, msg.sender, offer.seller);
        offer.cancelled = true;
        emit OfferCancelled(offerId, msg.sender, offer.remainingWh);
    }

    // ---------------------------------------------------------------- step B: order

    /**
     * @notice Requests `quantityWh` of an open offer; nothing is reserved until the seller confirms.
     * The seller may confirm until the offer expires. Open to every trader: an account with a zone
     * ({EnergyMarketBase-_requireTrader}), whatever its roles.
     */
    function request(uint256 offerId, uint64 quantityWh) external whenNotPaused returns (uint256 orderId) {
        return _request(offerId, quantityWh, 0);
    }

    /**
     * @notice Requests `quantityWh` of an open offer and accepts a confirm only before `confirmBy`.
     * @dev Why a deadline rather than a better cancel: a buyer's cancel and the seller's confirm race
     * in the transaction pool, and the seller, who sees the cancel coming, can always get its confirm
     * in first. No cancel rule can win that race, so the buyer states up front how long its request
     * stands: a confirm at or after `confirmBy` reverts, and from then on anyone may expire the
     * request. A confirm that lands before it, even ahead of a pending cancel, is one the buyer agreed
     * to; the buyer never needs to race.
     */
    function requestBefore(
        uint256 offerId,
        uint64 quantityWh,
        uint40 confirmBy
    ) external whenNotPaused returns (uint256 orderId) {
        if (confirmBy <= block.timestamp) revert MarketConfirmDeadlineInvalid(confirmBy, block.timestamp);
        orderId = _request(offerId, quantityWh, confirmBy);
        emit OrderConfirmDeadlineSet(orderId, confirmBy);
    }

    function _request(uint256 offerId, uint64 quantityWh, uint40 confirmBy) private returns (uint256 orderId) {
        _requireTrader(msg.sender);
        Offer storage offer = _offer(offerId);
        _checkOpen(offerId, offer);
        if (quantityWh == 0) revert MarketQuantityZero();
        if (quantityWh > offer.remainingWh) revert MarketQuantityExceedsRemaining(offerId, quantityWh, offer.remainingWh);
        if (msg.sender == offer.seller) revert MarketSelfTrade(offerId, msg.sender);
        MarketStorage storage $ = _getMarketStorage();
        orderId = ++$.orderCount;
        OrderRecord storage order = $.orders[orderId];
        order.buyer = msg.sender;
        order.quantityWh = quantityWh;
        // offerId <= offerCount, a uint32.
        order.offerId = uint32(offerId);
        order.status = OrderStatus.Requested;
        if (confirmBy != 0) order.confirmBy = confirmBy;
        emit OrderRequested(orderId, offerId, msg.sender, quantityWh);
    }

    /**
     * @notice The seller accepts a request before the buyer's deadline. Runs the grid's review, then
     * locks the default amount and the grid charges the review quoted (tariff and capacity fee for the
     * whole quantity) from the seller's bond and takes the quantity off the offer, all in the same
     * transaction: approved (auto), awaiting the grid operator (manual), or denied (nothing locked,
     * nothing taken). The seller needs no role here, only its zone, like the buyer: a seller or buyer
     * whose zone was removed is refused ({GridNotTrader}).
     */
    function confirm(uint256 orderId) external whenNotPaused {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = _order(orderId);
        _expectStatus(orderId, order.status, OrderStatus.Requested);
        uint40 confirmBy = order.confirmBy;
        if (confirmBy != 0 && block.timestamp >= confirmBy) revert MarketConfirmDeadlinePassed(orderId, confirmBy);
        uint256 offerId = order.offerId;
        Offer storage offer = $.offers[offerId];
        address seller = offer.seller;
        if (msg.sender != seller) revert MarketNotSeller(orderId, msg.sender, seller);
        _checkOpen(offerId, offer);
        _confirm(orderId, order, offer, seller, false);
    }

    /**
     * @notice Steps B and C in one transaction on a standing offer: requests `quantityWh` and confirms
     * it on the seller's standing acceptance, then the review decides as in {confirm}. Returns the
     * order id; the outcome (established, awaiting review or denied) is in the events and {getOrder}.
     * The buyer's own bond holds the capacity fee of a cross-zone order ({GridReview-capacityFee}).
     * @dev Whose transaction reserves a line pays for holding it. In {confirm} the seller chooses to
     * accept a request and reserve, so the seller's bond holds the fee. Here the buyer reserves alone,
     * on an acceptance the seller gave in advance to anyone: if the seller paid, a buyer could book a
     * standing offer's whole line capacity (and block every other trade across those lines) at the
     * seller's cost and at none of its own. The fee comes back to the buyer for the energy delivered
     * and is kept by the grid for the rest, as for a seller; the seller's default still pays the buyer
     * for a shortfall, so an honest buyer who was not served is compensated from the seller's bond.
     */
    function buy(uint256 offerId, uint64 quantityWh) external whenNotPaused returns (uint256 orderId) {
        Offer storage offer = _offer(offerId);
        if (!offer.standing) revert MarketOfferNotStanding(offerId);
        orderId = _request(offerId, quantityWh, 0);
        _confirm(orderId, _getMarketStorage().orders[orderId], offer, offer.seller, true);
    }

    /**
     * @dev The acceptance, from a confirm or a standing offer: review, lock, take quantity. With
     * `buyerReserves` the capacity fee is locked from the buyer's bond instead of the seller's.
     */
    function _confirm(
        uint256 orderId,
        OrderRecord storage order,
        Offer storage offer,
        address seller,
        bool buyerReserves
    ) private {
        MarketStorage storage $ = _getMarketStorage();
        uint64 quantityWh = order.quantityWh;
        uint64 remainingWh = offer.remainingWh;
        if (quantityWh > remainingWh) revert MarketQuantityExceedsRemaining(order.offerId, quantityWh, remainingWh);
        uint96 defaultAmount = _defaultAmount(quantityWh, offer.defaultPerKwh);
        Bond storage bond = $.bonds[seller];
        uint128 free = bond.free;

        GridReview.Approval memory approval = $.review.review(_terms(orderId, order, offer, seller));
        if (approval.reason != GridReview.DenialReason.None) {
            order.reviewVersion = approval.version;
            order.status = OrderStatus.Denied;
            order.denialReason = approval.reason;
            emit OrderDenied(orderId, approval.reason, approval.version);
            return;
        }
        uint128 fee = _perKwh(quantityWh, approval.capacityFeePerKwh);
        uint128 locked = defaultAmount + _perKwh(quantityWh, approval.tariffPerKwh);
        if (buyerReserves && fee != 0) {
            _lockBuyerFee(order, fee);
        } else {
            locked += fee;
        }
        if (free < locked) revert MarketBondInsufficient(seller, free, locked);
        // free >= locked was checked above; locked + locked amounts <= total bond, a uint128; the
        // quantity was checked against remainingWh.
        unchecked {
            bond.free = free - locked;
            bond.locked += locked;
            remainingWh -= quantityWh;
        }
        offer.remainingWh = remainingWh;
        // One slot of the record, written together.
        order.reviewVersion = approval.version;
        order.buyerZone = approval.buyerZone;
        order.tariffPerKwh = approval.tariffPerKwh;
        order.capacityFeePerKwh = approval.capacityFeePerKwh;
        if (approval.manual) {
            order.status = OrderStatus.AwaitingReview;
            emit OrderAwaitingReview(orderId, seller, quantityWh, defaultAmount, approval.version, remainingWh);
        } else {
            order.status = OrderStatus.Established;
            _emitEstablished(orderId, order, offer, seller, quantityWh, defaultAmount, approval.version, remainingWh);
        }
    }

    /// @notice The seller declines a request. Works while paused: it closes business.
    function reject(uint256 orderId) external {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = _order(orderId);
        _expectStatus(orderId, order.status, OrderStatus.Requested);
        address seller = $.offers[order.offerId].seller;
        if (msg.sender != seller) revert MarketNotSeller(orderId, msg.sender, seller);
        order.status = OrderStatus.Rejected;
        emit OrderRejected(orderId, seller);
    }

    // ---------------------------------------------------------------- step C: manual review

    /**
     * @notice The grid operator approves an order awaiting review; its capacity is already reserved.
     * @dev Only before the delivery starts: from then on the order is stale ({expireOrder} returns
     * its capacity, bond and quantity). An approval after the start would bind a seller to energy it
     * could no longer plan, meter it short and charge it the default.
     */
    function approveOrder(uint256 orderId) external restricted whenNotPaused {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = _order(orderId);
        _expectStatus(orderId, order.status, OrderStatus.AwaitingReview);
        Offer storage offer = $.offers[order.offerId];
        uint40 deliveryStart = offer.deliveryStart;
        if (block.timestamp >= deliveryStart) revert MarketReviewDeadlinePassed(orderId, deliveryStart);
        order.status = OrderStatus.Established;
        uint64 quantityWh = order.quantityWh;
        _emitEstablished(
            orderId,
            order,
            offer,
            offer.seller,
            quantityWh,
            _defaultAmount(quantityWh, offer.defaultPerKwh),
            order.reviewVersion,
            offer.remainingWh
        );
    }

    /// @notice The grid operator denies an order awaiting review: capacity, bond and quantity come back.
    function denyOrder(uint256 orderId) external restricted {
        OrderRecord storage order = _order(orderId);
        _expectStatus(orderId, order.status, OrderStatus.AwaitingReview);
        order.status = OrderStatus.Denied;
        order.denialReason = GridReview.DenialReason.DeniedByOperator;
        _undoConfirm(orderId, order);
        emit OrderDenied(orderId, GridReview.DenialReason.DeniedByOperator, order.reviewVersion);
    }

    // ---------------------------------------------------------------- cancellation and expiry

    /**
     * @notice Cancels an order: the buyer while it is only requested; the grid operator while it is
     * requested, or awaiting review or established until its delivery starts (capacity, bond, grid
     * charges and offer quantity come back).
     * @dev Once delivery has started only the meter decides an established order: a cancel after the
     * start would free a seller who did not deliver from its default, and undo a window that is
     * already (partly) past.
     */
    function cancelOrder(uint256 orderId) external {
        OrderRecord storage order = _order(orderId);
        OrderStatus status = order.status;
        bool asBuyer = msg.sender == order.buyer && status == OrderStatus.Requested;
        if (!asBuyer) {
            bool open =
                status == OrderStatus.Requested || status == OrderStatus.AwaitingReview || status == OrderStatus.Established;
            if (!open || !_isGridOperator(msg.sender)) revert MarketCancelNotAllowed(orderId, msg.sender, status);
            if (status != OrderStatus.Requested) {
                uint40 deliveryStart = _getMarketStorage().offers[order.offerId].deliveryStart;
                if (block.timestamp >= deliveryStart) revert MarketOrderInDelivery(orderId, deliveryStart);
            }
        }
        order.status = OrderStatus.Cancelled;
        if (status != OrderStatus.Requested) _undoConfirm(orderId, order);
        emit OrderCancelled(orderId, msg.sender, status);
    }

    /**
     * @notice Closes a stale order; anyone may call. A request goes stale when its offer expires or is
     * cancelled, or at the buyer's confirm deadline; an order awaiting review goes stale when its
     * delivery starts (capacity, bond, grid charges and quantity come back); an established order
     * goes stale when its metering deadline passes unmetered (`METERING_GRACE`): it already counts as
     * final with nothing delivered, this only records it and returns the seller's bond.
     */
    function expireOrder(uint256 orderId) external {
        MarketStorage storage $ = _getMarketStorage();
        OrderRecord storage order = _order(orderId);
        OrderStatus status = order.status;
        Offer storage offer = $.offers[order.offerId];
        if (status == OrderStatus.Requested) {
            uint40 deadline = offer.expiresAt;
            uint40 confirmBy = order.confirmBy;
            if (confirmBy != 0 && confirmBy < deadline) deadline = confirmBy;
            if (!offer.cancelled && block.timestamp < deadline) revert MarketOrderNotExpired(orderId, deadline);
            order.status = OrderStatus.Expired;
        } else if (status == OrderStatus.AwaitingReview) {
            if (block.timestamp < offer.deliveryStart) revert MarketOrderNotExpired(orderId, offer.deliveryStart);
            order.status = OrderStatus.Expired;
            _undoConfirm(orderId, order);
        } else if (status == OrderStatus.Established) {
            uint40 closesAt = _meteringClosesAt(offer);
            if (block.timestamp <= closesAt) revert MarketOrderNotExpired(orderId, closesAt);
            order.status = OrderStatus.Expired;
            _undoConfirm(orderId, order);
        } else {
            revert MarketOrderNotExpirable(orderId, status);
        }
        emit OrderExpired(orderId, msg.sender, status);
    }

    /**
     * @notice The review tells the market which accounts are traders (zone != 0), in the same
     * transaction as {GridReview-setZones}, its only caller, once per account.
     */
    function setTrader(address account, bool trader) external {
        MarketStorage storage $ = _getMarketStorage();
        if (msg.sender != address($.review)) revert MarketCallerNotReview(msg.sender);
        $.traders[account] = trader;
    }

    // ---------------------------------------------------------------- pause

    /// @notice Stops new business (publish, request, confirm, approve); exits keep working.
    function pause() external restricted {
        MarketStorage storage $ = _getMarketStorage();
        if ($.paused) revert MarketPaused();
        $.paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Resumes new business.
    function unpause() external restricted {
        MarketStorage storage $ = _getMarketStorage();
        if (!$.paused) revert MarketNotPaused();
        $.paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Whether new business is stopped.
    function paused() external view returns (bool) {
        return _getMarketStorage().paused;
    }

    // ---------------------------------------------------------------- views

    /// @notice An offer's terms and what is left of it; reverts for an id never issued.
    function getOffer(uint256 offerId) external view returns (Offer memory) {
        return _offer(offerId);
    }

    /// @notice An order joined with its offer's seller, price and window; reverts for an id never issued.
    function getOrder(uint256 orderId) external view returns (Order memory) {
        OrderRecord storage order = _order(orderId);
        Offer storage offer = _getMarketStorage().offers[order.offerId];
        bool approved = order.buyerZone != 0;
        return
            Order({
                buyer: order.buyer,
                seller: offer.seller,
                offerId: order.offerId,
                quantityWh: order.quantityWh,
                pricePerKwh: offer.pricePerKwh,
                deliveryStart: offer.deliveryStart,
                deliveryEnd: offer.deliveryEnd,
                defaultAmount: approved ? _defaultAmount(order.quantityWh, offer.defaultPerKwh) : 0,
                status: order.status,
                denialReason: order.denialReason,
                reviewVersion: order.reviewVersion,
                sellerZone: approved ? offer.zone : 0,
                buyerZone: order.buyerZone,
                deliveredWh: order.deliveredWh,
                confirmBy: order.confirmBy,
                tariffPerKwh: order.tariffPerKwh,
                capacityFeePerKwh: order.capacityFeePerKwh,
                buyerPaysCapacityFee: order.buyerPaysCapacityFee
            });
    }

    /// @notice Offers published so far; ids run from 1 to this count.
    function offerCount() external view returns (uint256) {
        return _getMarketStorage().offerCount;
    }

    /// @notice Orders requested so far; ids run from 1 to this count.
    function orderCount() external view returns (uint256) {
        return _getMarketStorage().orderCount;
    }

    /// @notice An account's bond: what it may withdraw and what backs its open orders (a seller's
    /// defaults and grid charges, a buyer's capacity fees on {buy}).
    function bondOf(address account) external view returns (Bond memory) {
        return _getMarketStorage().bonds[account];
    }

    /// @notice The reading of a meter for the latest window recorded so far (0: none yet).
    function lastMeterReading(bytes32 meterId) external view returns (uint64) {
        return _getMarketStorage().lastReading[meterId].readingWh;
    }

    /// @notice A meter's reading recorded for the window ending at `windowEnd`, if any.
    function meterReadingAt(bytes32 meterId, uint40 windowEnd) external view returns (bool recorded, uint64 readingWh) {
        MeterPoint storage point = _getMarketStorage().meterPoints[meterId][windowEnd];
        return (point.recorded, point.readingWh);
    }

    /// @notice The end of the latest window a meter was read for (0: none yet).
    function lastMeterWindowEnd(bytes32 meterId) external view returns (uint40) {
        return _getMarketStorage().lastReading[meterId].windowEnd;
    }

    /// @notice The GridCredit token bonds and defaults are paid in.
    function credit() external view returns (IERC20) {
        return _getMarketStorage().credit;
    }

    /// @notice The grid's review contract.
    function review() external view returns (GridReview) {
        return _getMarketStorage().review;
    }

    // ---------------------------------------------------------------- internal

    function _authorizeUpgrade(address) internal override restricted {}
}
