// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManagedUpgradeable} from "@openzeppelin/contracts-upgradeable/access/manager/AccessManagedUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IAccessManager} from "@openzeppelin/contracts/access/manager/IAccessManager.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {GridRoles} from "../access/GridRoles.sol";
import {GridNotTrader, GridReview} from "../review/GridReview.sol";

/**
 * @title EnergyMarketBase
 * @notice The market's vocabulary and state: order and offer types, the ERC-7201 storage, errors,
 * events and the helpers every step shares. {EnergyMarket} holds the steps themselves; the split keeps
 * each file readable and changes nothing on chain (one namespaced storage struct, same layout).
 */
abstract contract EnergyMarketBase is Initializable, AccessManagedUpgradeable, UUPSUpgradeable {
    /// @notice Where the energy comes from; informative for buyers, not used by the review.
    enum EnergyType {
        Solar,
        Wind,
        Hydro,
        Biomass,
        Storage,
        Grid
    }

    /// @notice The life of an order. `None` marks an id that was never issued.
    enum OrderStatus {
        None,
        Requested,
        Rejected,
        Cancelled,
        Expired,
        Denied,
        AwaitingReview,
        Established,
        Delivered,
        Defaulted,
        DefaultSettled
    }

    /**
     * @notice An offer as stored. `remainingWh` is what is still unsold; the rest is immutable after
     * publishing. Everything a request or confirm reads sits in the first two slots; prices are uint64
     * (up to 1.8e13 credits per kWh at 6 decimals).
     */
    struct Offer {
        address seller;
        uint64 remainingWh;
        uint16 zone;
        EnergyType energyType;
        bool cancelled;
        uint40 deliveryStart;
        uint40 deliveryEnd;
        uint40 expiresAt;
        uint64 pricePerKwh;
        uint64 defaultPerKwh;
        bool standing;
        uint64 quantityWh;
    }

    /**
     * @notice An order as read by clients: the stored record joined with its offer's terms.
     * The approval reference is (`reviewVersion`, order id): the parameters version that approved it
     * and the id {GridReview} reserved capacity under. Built in memory only, so its layout costs nothing.
     */
    // solhint-disable-next-line gas-struct-packing
    struct Order {
        address buyer;
        address seller;
        uint256 offerId;
        uint64 quantityWh;
        uint64 pricePerKwh;
        uint40 deliveryStart;
        uint40 deliveryEnd;
        uint96 defaultAmount;
        OrderStatus status;
        GridReview.DenialReason denialReason;
        uint32 reviewVersion;
        uint16 sellerZone;
        uint16 buyerZone;
        uint64 deliveredWh;
        uint40 confirmBy;
        uint32 tariffPerKwh;
        uint32 capacityFeePerKwh;
        bool buyerPaysCapacityFee;
    }

    /// @notice An account's bond in GridCredit: `free` may be withdrawn, `locked` backs confirmed orders.
    struct Bond {
        uint128 free;
        uint128 locked;
    }

    /**
     * @dev An order as stored (two slots). Seller, seller zone, price, window and penalty rate live in
     * the offer, which never changes after publishing, so the default amount is recomputed from it
     * rather than stored. `buyerZone` is non-zero exactly when a review approved the order (zone 0 is
     * always denied). `confirmBy` is the buyer's deadline for the seller's confirm (0: the offer's
     * expiry). The grid charges per kWh are the ones the approving review quoted;
     * `buyerPaysCapacityFee` says whose bond holds the capacity fee (see {EnergyMarket-buy}).
     */
    struct OrderRecord {
        address buyer;
        uint64 quantityWh;
        uint32 offerId;
        OrderStatus status;
        GridReview.DenialReason denialReason;
        uint32 reviewVersion;
        uint16 buyerZone;
        uint40 confirmBy;
        uint32 tariffPerKwh;
        uint32 capacityFeePerKwh;
        uint64 deliveredWh;
        bool buyerPaysCapacityFee;
    }

    /// @dev The latest cumulative reading of a meter and the end of the window it was taken for.
    struct MeterReading {
        uint40 windowEnd;
        uint64 readingWh;
    }

    /**
     * @dev A meter's cumulative reading at one window end, linked to the closest earlier window end
     * recorded for the same meter (`previous`, 0: none): a meter's readings form a list sorted by
     * time, newest first, starting at its {MeterReading}.
     */
    struct MeterPoint {
        uint64 readingWh;
        uint40 previous;
        bool recorded;
    }

    /// @custom:storage-location erc7201:gridchain.storage.Market
    // Packed by hand: review + counters + paused fill one slot, credit + gridIncome the next.
    // solhint-disable-next-line gas-struct-packing
    struct MarketStorage {
        GridReview review;
        uint32 offerCount;
        uint56 orderCount;
        bool paused;
        IERC20 credit;
        uint96 gridIncome;
        mapping(uint256 offerId => Offer) offers;
        mapping(uint256 orderId => OrderRecord) orders;
        mapping(address account => Bond) bonds;
        mapping(bytes32 meterId => MeterReading) lastReading;
        mapping(bytes32 meterId => mapping(uint40 windowEnd => MeterPoint)) meterPoints;
        // Whether the account has a zone in the review; written only by {GridReview-setZones}.
        mapping(address account => bool) traders;
    }

    // keccak256(abi.encode(uint256(keccak256("gridchain.storage.Market")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 internal constant MARKET_STORAGE = 0xaf3a31c880fd87b13652d83a0e9a6966da7eba5d935952af5ca7382b01b9a600;

    /// @notice Wh per kWh: prices are per kWh, quantities in Wh.
    uint256 internal constant WH_PER_KWH = 1000;
    /**
     * @notice How long after its delivery window the meter may still read an order. After it, an
     * order that was never metered is final with nothing delivered: readings are refused, every
     * payment lock on it returns to its payer, and {EnergyMarket.expireOrder} gives the seller's
     * capacity, bond and grid charges back. Why the market keeps this deadline and not each payment
     * channel: an order's payment outcome must have one source, or locks on the same order read at
     * different times (a mediator's incoming and outgoing lock, an off-chain release and an on-chain
     * unlock) could resolve differently. Why nothing delivered: a lock pays for metered energy, and
     * without a reading there is none; the grid, which runs the meter, reads within hours, not weeks.
     */
    uint40 public constant METERING_GRACE = 14 days;

    error MarketUnknownOffer(uint256 offerId);
    error MarketUnknownOrder(uint256 orderId);
    error MarketQuantityZero();
    error MarketWindowInvalid(uint40 deliveryStart, uint40 deliveryEnd);
    error MarketExpiryInvalid(uint40 expiresAt, uint256 now_, uint40 deliveryStart);
    error MarketOfferExpired(uint256 offerId, uint40 expiredAt);
    error MarketOfferCancelled(uint256 offerId);
    error MarketQuantityExceedsRemaining(uint256 offerId, uint64 requestedWh, uint64 remainingWh);
    error MarketSelfTrade(uint256 offerId, address account);
    error MarketNotSeller(uint256 id, address caller, address seller);
    error MarketUnexpectedOrderStatus(uint256 orderId, OrderStatus actual, OrderStatus expected);
    error MarketCancelNotAllowed(uint256 orderId, address caller, OrderStatus status);
    error MarketOrderNotExpirable(uint256 orderId, OrderStatus status);
    error MarketOrderNotExpired(uint256 orderId, uint40 deadline);
    error MarketBondInsufficient(address account, uint128 free, uint256 needed);
    error MarketDeliveryNotOver(uint256 orderId, uint40 deliveryEnd);
    error MarketMeterReadingBelowEarlier(bytes32 meterId, uint64 readingWh, uint40 earlierWindowEnd, uint64 earlierReadingWh);
    error MarketMeterReadingAboveLater(bytes32 meterId, uint64 readingWh, uint40 laterWindowEnd, uint64 laterReadingWh);
    error MarketMeterReadingMismatch(bytes32 meterId, uint40 windowEnd, uint64 recordedWh, uint64 readingWh);
    error MarketReviewDeadlinePassed(uint256 orderId, uint40 deliveryStart);
    error MarketOrderInDelivery(uint256 orderId, uint40 deliveryStart);
    error MarketConfirmDeadlineInvalid(uint40 confirmBy, uint256 now_);
    error MarketConfirmDeadlinePassed(uint256 orderId, uint40 confirmBy);
    error MarketGridIncomeInsufficient(uint96 income, uint256 requested);
    error MarketOfferNotStanding(uint256 offerId);
    error MarketDefaultBelowMinimum(uint64 defaultPerKwh, uint32 minDefaultPerKwh);
    error MarketDefaultAlreadySettled(uint256 orderId);
    error MarketIdsExhausted();
    error MarketPaused();
    error MarketNotPaused();
    error MarketMeteringClosed(uint256 orderId, uint40 closedAt);
    /// @notice Only the review tells the market who trades.
    error MarketCallerNotReview(address caller);

    /// @notice Step A: an offer entered the order book with all its terms.
    event OfferPublished(
        uint256 indexed offerId,
        address indexed seller,
        uint16 zone,
        EnergyType energyType,
        uint64 pricePerKwh,
        uint64 defaultPerKwh,
        uint64 quantityWh,
        uint40 deliveryStart,
        uint40 deliveryEnd,
        uint40 expiresAt
    );
    /// @notice The offer is standing: a consumer's {EnergyMarket-buy} is confirmed without the seller.
    event StandingOfferPublished(uint256 indexed offerId);
    /// @notice The offer left the order book; `remainingWh` was unsold. Established orders stand.
    event OfferCancelled(uint256 indexed offerId, address indexed by, uint64 remainingWh);
    /// @notice Step B: a buyer asked for `quantityWh` of an offer.
    event OrderRequested(uint256 indexed orderId, uint256 indexed offerId, address indexed buyer, uint64 quantityWh);
    /// @notice The buyer of `orderId` accepts a confirm only before `confirmBy`.
    event OrderConfirmDeadlineSet(uint256 indexed orderId, uint40 confirmBy);
    /// @notice The seller declined the request.
    event OrderRejected(uint256 indexed orderId, address indexed seller);
    /// @notice The seller confirmed and the review reserved capacity; the grid operator must still decide.
    event OrderAwaitingReview(
        uint256 indexed orderId,
        address indexed seller,
        uint64 quantityWh,
        uint96 defaultAmount,
        uint32 reviewVersion,
        uint64 offerRemainingWh
    );
    /**
     * @notice Steps C and D: the order is approved and recorded. Carries the whole record so a trade
     * can be rebuilt from this event alone.
     */
    event OrderEstablished(
        uint256 indexed orderId,
        address indexed buyer,
        address indexed seller,
        uint256 offerId,
        uint64 quantityWh,
        uint64 pricePerKwh,
        uint40 deliveryStart,
        uint40 deliveryEnd,
        uint96 defaultAmount,
        uint32 reviewVersion,
        uint64 offerRemainingWh
    );
    /// @notice The review (or the grid operator) said no; `reviewVersion` is the parameters version used.
    event OrderDenied(uint256 indexed orderId, GridReview.DenialReason reason, uint32 reviewVersion);
    /// @notice The order was cancelled by `by` while in `previousStatus`.
    event OrderCancelled(uint256 indexed orderId, address indexed by, OrderStatus previousStatus);
    /// @notice A stale order was closed after its deadline while in `previousStatus`.
    event OrderExpired(uint256 indexed orderId, address indexed by, OrderStatus previousStatus);
    /// @notice The meter role recorded a cumulative reading and the energy it attributes to the order.
    event MeterReadingRecorded(
        uint256 indexed orderId,
        bytes32 indexed meterId,
        address indexed recordedBy,
        uint64 readingWh,
        uint64 deliveredWh,
        uint64 shortfallWh
    );
    /// @notice A shortfall was settled: `payout` went to the buyer, `returned` back to the seller's free bond.
    event DefaultSettled(
        uint256 indexed orderId,
        address indexed buyer,
        address indexed seller,
        uint64 shortfallWh,
        uint256 payout,
        uint256 returned
    );
    /**
     * @notice The meter closed an order's grid charges: `tariffPaid` (usage charge on the energy
     * carried) and `capacityFeeKept` (the fee for the line capacity not used) went to the grid's
     * income; `returned` went back to the seller's free bond.
     */
    event GridChargesSettled(
        uint256 indexed orderId,
        address indexed seller,
        uint256 tariffPaid,
        uint256 capacityFeeKept,
        uint256 returned
    );
    /**
     * @notice The buyer reserved the line of `orderId` ({EnergyMarket-buy}), so its bond held the
     * capacity fee: `kept` went to the grid's income (energy not delivered), `returned` back to the
     * buyer's free bond.
     */
    event BuyerCapacityFeeSettled(uint256 indexed orderId, address indexed buyer, uint256 kept, uint256 returned);
    /// @notice The grid operator `by` took `amount` of the grid's income to `to`.
    event GridIncomeWithdrawn(address indexed by, address indexed to, uint256 amount);
    /// @notice `amount` entered the account's free bond, now `free`.
    event BondDeposited(address indexed account, uint256 amount, uint128 free);
    /// @notice `amount` left the account's free bond, now `free`.
    event BondWithdrawn(address indexed account, uint256 amount, uint128 free);
    /// @notice New business stopped (`account` is the grid operator who paused).
    event Paused(address indexed account);
    /// @notice New business resumed.
    event Unpaused(address indexed account);

    /**
     * @dev The pause flag shares a slot with the review address and the id counters, which every
     * publish, request and confirm reads anyway: checking it costs no extra storage read.
     */
    modifier whenNotPaused() {
        _requireNotPaused();
        _;
    }

    function _requireNotPaused() internal view {
        if (_getMarketStorage().paused) revert MarketPaused();
    }

    function _offer(uint256 offerId) internal view returns (Offer storage offer) {
        offer = _getMarketStorage().offers[offerId];
        if (offer.seller == address(0)) revert MarketUnknownOffer(offerId);
    }

    function _order(uint256 orderId) internal view returns (OrderRecord storage order) {
        order = _getMarketStorage().orders[orderId];
        if (order.status == OrderStatus.None) revert MarketUnknownOrder(orderId);
    }

    function _checkOpen(uint256 offerId, Offer storage offer) internal view {
        if (offer.cancelled) revert MarketOfferCancelled(offerId);
        if (block.timestamp >= offer.expiresAt) revert MarketOfferExpired(offerId, offer.expiresAt);
    }

    /**
     * @dev The metering deadline of an order on `offer`: `METERING_GRACE` after its delivery window.
     * Until then (inclusive) the meter may read it; after it, an order never metered is final with
     * nothing delivered ({EnergyMarketPayments.paymentOutcome}).
     */
    function _meteringClosesAt(Offer storage offer) internal view returns (uint40) {
        return offer.deliveryEnd + METERING_GRACE;
    }

    function _expectStatus(uint256 orderId, OrderStatus actual, OrderStatus expected) internal pure {
        if (actual != expected) revert MarketUnexpectedOrderStatus(orderId, actual, expected);
    }

    /**
     * @dev A trader is an account the grid has given a zone ({GridReview-setZones}, grid operator
     * only). Requesting, buying and confirming ask for a zone instead of a role: the review reads the
     * zones of both parties anyway, so the hot path makes no call to the access manager (about 18k
     * gas a transaction: the manager's proxy and three of its slots). A request, which calls no
     * review, reads the market's own copy of "has a zone" ({EnergyMarket-setTrader}), which the
     * review writes in the same transaction as every zone change. Revocation stays immediate
     * and restricted: zone 0 refuses the account's next request, buy or confirm, and a review of an
     * order with a party without zone reverts naming it ({GridNotTrader}). Publishing still
     * needs the PRODUCER role: who may sell is a membership decision, who may trade on an offer a
     * grid one.
     */
    function _requireTrader(address account) internal view {
        if (!_getMarketStorage().traders[account]) revert GridNotTrader(account);
    }

    /// @dev Only an immediate grid operator: a member granted with an execution delay cannot schedule
    /// these unrestricted exits, so it gets no shortcut around its delay either.
    function _isGridOperator(address account) internal view returns (bool) {
        (bool isMember, uint32 delay) = IAccessManager(authority()).hasRole(GridRoles.GRID_OPERATOR, account);
        return isMember && delay == 0;
    }

    function _terms(
        uint256 orderId,
        OrderRecord storage order,
        Offer storage offer,
        address seller
    ) internal view returns (GridReview.OrderTerms memory) {
        return
            GridReview.OrderTerms({
                orderId: orderId,
                seller: seller,
                sellerZone: offer.zone,
                buyer: order.buyer,
                quantityWh: order.quantityWh,
                deliveryStart: offer.deliveryStart,
                deliveryEnd: offer.deliveryEnd
            });
    }

    /**
     * @dev Reverses a confirm: releases the reservation, frees everything the confirm locked (default
     * amount and grid charges: an order undone before delivery carried nothing and held its line only
     * by the grid operator's decision or inaction), restores quantity.
     */
    function _undoConfirm(uint256 orderId, OrderRecord storage order) internal {
        MarketStorage storage $ = _getMarketStorage();
        Offer storage offer = $.offers[order.offerId];
        address seller = offer.seller;
        uint16 sellerZone = offer.zone;
        $.review.release(_terms(orderId, order, offer, seller), sellerZone, order.buyerZone);
        _unlock($.bonds[seller], _lockedFor(order, offer));
        if (order.buyerPaysCapacityFee) _unlock($.bonds[order.buyer], _perKwh(order.quantityWh, order.capacityFeePerKwh));
        // The quantity was taken from remainingWh at confirm, so adding it back stays <= quantityWh.
        offer.remainingWh += order.quantityWh;
    }

    /// @dev Locks a buyer-reserved order's capacity fee from the buyer's free bond and marks the order.
    function _lockBuyerFee(OrderRecord storage order, uint128 fee) internal {
        address buyer = order.buyer;
        Bond storage bond = _getMarketStorage().bonds[buyer];
        uint128 free = bond.free;
        if (free < fee) revert MarketBondInsufficient(buyer, free, fee);
        // fee <= free, checked above; locked + fee <= the bond's total, a uint128.
        unchecked {
            bond.free = free - fee;
            bond.locked += fee;
        }
        order.buyerPaysCapacityFee = true;
    }

    /// @dev Moves `amount` of a bond from locked back to free.
    function _unlock(Bond storage bond, uint128 amount) internal {
        bond.locked -= amount;
        bond.free += amount;
    }

    /**
     * @dev Closes an order's grid charges at metering: the tariff on `carriedWh` and the capacity fee
     * on `shortfallWh` go to the grid's income. Returns what the confirm locked from the seller for
     * these charges minus that; the caller frees it. The capacity fee is taken from (and the rest of
     * it returned to) the bond that held it: the buyer's when the buyer reserved. Each part is a
     * ceiling of a smaller energy than the ceiling locked at confirm (carried and shortfall are both
     * <= quantity), so neither exceeds what was locked.
     */
    function _settleGridCharges(
        uint256 orderId,
        OrderRecord storage order,
        address seller,
        uint64 carriedWh,
        uint64 shortfallWh
    ) internal returns (uint128 released) {
        uint32 tariffPerKwh = order.tariffPerKwh;
        uint32 feePerKwh = order.capacityFeePerKwh;
        if (tariffPerKwh == 0 && feePerKwh == 0) return 0;
        uint64 quantityWh = order.quantityWh;
        uint128 tariffPaid = _perKwh(carriedWh, tariffPerKwh);
        uint128 feeKept = _perKwh(shortfallWh, feePerKwh);
        uint128 feeLocked = _perKwh(quantityWh, feePerKwh);
        MarketStorage storage $ = _getMarketStorage();
        $.gridIncome += SafeCast.toUint96(tariffPaid + feeKept);
        if (order.buyerPaysCapacityFee) {
            address buyer = order.buyer;
            Bond storage buyerBond = $.bonds[buyer];
            buyerBond.locked -= feeLocked;
            buyerBond.free += feeLocked - feeKept;
            released = _perKwh(quantityWh, tariffPerKwh) - tariffPaid;
            $.bonds[seller].locked -= tariffPaid;
            emit BuyerCapacityFeeSettled(orderId, buyer, feeKept, feeLocked - feeKept);
        } else {
            released = _perKwh(quantityWh, tariffPerKwh) + feeLocked - tariffPaid - feeKept;
            $.bonds[seller].locked -= tariffPaid + feeKept;
        }
        emit GridChargesSettled(orderId, seller, tariffPaid, feeKept, released);
    }

    /// @dev What a confirm locks from the seller's bond: the default amount, the tariff and, unless
    /// the buyer reserved, the capacity fee.
    function _lockedFor(OrderRecord storage order, Offer storage offer) internal view returns (uint128 locked) {
        uint64 quantityWh = order.quantityWh;
        locked = uint128(_defaultAmount(quantityWh, offer.defaultPerKwh)) + _perKwh(quantityWh, order.tariffPerKwh);
        if (!order.buyerPaysCapacityFee) locked += _perKwh(quantityWh, order.capacityFeePerKwh);
    }

    /**
     * @dev The default amount `ceil(quantityWh * defaultPerKwh / 1000)`: rounded up so the bond always
     * covers the full stated penalty. Offer terms never change, so this is the same at confirm and at
     * every later step; a value past uint96 reverts at confirm, so later steps never see one.
     */
    function _defaultAmount(uint64 quantityWh, uint64 defaultPerKwh) internal pure returns (uint96) {
        return SafeCast.toUint96((uint256(quantityWh) * defaultPerKwh + WH_PER_KWH - 1) / WH_PER_KWH);
    }

    /// @dev A grid charge `ceil(energyWh * perKwh / 1000)`; below 2^96, so it fits a bond's uint128.
    function _perKwh(uint64 energyWh, uint32 perKwh) internal pure returns (uint128) {
        return uint128((uint256(energyWh) * perKwh + WH_PER_KWH - 1) / WH_PER_KWH);
    }

    /// @dev `seller`, `quantityWh`, `defaultAmount` and `version` as the caller already holds them.
    function _emitEstablished(
        uint256 orderId,
        OrderRecord storage order,
        Offer storage offer,
        address seller,
        uint64 quantityWh,
        uint96 defaultAmount,
        uint32 version,
        uint64 remainingWh
    ) internal {
        emit OrderEstablished(
            orderId,
            order.buyer,
            seller,
            order.offerId,
            quantityWh,
            offer.pricePerKwh,
            offer.deliveryStart,
            offer.deliveryEnd,
            defaultAmount,
            version,
            remainingWh
        );
    }

    function _getMarketStorage() internal pure returns (MarketStorage storage $) {
        // ERC-7201: the namespace's fixed slot can only be assigned in assembly.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            $.slot := MARKET_STORAGE
        }
    }
}
