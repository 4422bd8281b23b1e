// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManagedUpgradeable} from "@openzeppelin/contracts-upgradeable/access/manager/AccessManagedUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {LineUsage} from "./LineUsage.sol";

/**
 * @notice `account` has no zone, so it is no trader: it may not request, buy or confirm. The market
 * raises it on a request, the review on a confirm or buy (either party), so zone 0 revokes at once.
 */
error GridNotTrader(address account);

/// @notice What {GridReview-setZones} tells the market: which accounts are traders (zone != 0).
interface ITraderRegistry {
    function setTrader(address account, bool trader) external;
}

/**
 * @title GridReview
 * @notice The grid's service agency (the paper's extension layer): holds the grid operator's security
 * parameters and reviews every order of the {EnergyMarket} against them, reserving line capacity.
 *
 * Units: energy in Wh, power in W, time in seconds. A zone's capacity is a power; the energy it can
 * carry in one delivery slot is `capacityW * slotSeconds / 3600` Wh. To keep that exact, capacity is
 * compared in watt-seconds (joules): an order fits when `reservedWh * 3600 <= capacityW * slotSeconds`,
 * so no rounding happens on the capacity side.
 *
 * An order delivers evenly over the slots its window covers: it reserves `ceil(quantityWh / slots)` Wh
 * in each slot (rounded up, so the reservation is never smaller than the energy that flows).
 *
 * Line capacity: an order between two zones reserves the seller zone's export and the buyer zone's
 * import in every slot of its window. An order inside one zone reserves no line capacity: its energy
 * never crosses the zone's boundary lines, and the zone's own distribution network is bounded by the
 * per-participant slot limit, which every order reserves for both parties.
 *
 * @dev Invariant: for every zone and slot, `exportWh * 3600 <= exportW * slotSeconds` and likewise for
 * import, as long as capacities are not lowered below what is already reserved. It holds because
 * {review} checks every slot of the window before it writes any, and only the market (one caller,
 * one transaction at a time) reserves or releases; two approvals in the same slot therefore see each
 * other's reservation. Lowering a capacity never cancels reservations; it only refuses new ones.
 *
 * The slot length is fixed at initialization: reservations are keyed by slot index, so changing the
 * length would silently re-map every existing reservation.
 *
 * Line counters are packed four zones to a storage word per slot ({LineUsage}); a total past a
 * counter's range is denied with the line's capacity reason, so a review always answers and never
 * reverts on arithmetic. Participant counters are uint64 and bounded by the uint64 participant limit.
 *
 * Grid charges, both versioned parameters like every other:
 * - the tariff: a network usage charge per kWh by (seller zone, buyer zone), paid to the grid
 *   operator on the energy the order carried when the meter records it;
 * - the capacity fee per kWh of line capacity a cross-zone order reserves. It is the price of
 *   holding a line: locked at confirm from the bond of the party whose transaction reserved it (the
 *   seller on a confirm, the buyer on a standing offer's buy), returned for the energy delivered and
 *   kept by the grid for the energy not delivered. A seller and a buyer working together could
 *   otherwise book a whole line at no cost (gas is free on this chain, and any default or bond they
 *   agree on flows from one of them to the other); the fee is the one cost of a booking that goes
 *   to neither of them. Same-zone orders hold no line, so they pay no capacity fee.
 * A third parameter, the least default per kWh an offer may state ({setMinDefault}), makes a
 * booking that is not delivered cost its seller something even when no buyer colludes.
 */
contract GridReview is Initializable, AccessManagedUpgradeable, UUPSUpgradeable {
    /// @notice How orders are approved: inside the seller's confirm, by the grid operator, or by the
    /// grid operator only above `manualThresholdWh`.
    enum ReviewMode {
        Auto,
        Manual,
        ManualAbove
    }

    /// @notice Why a review said no. `None` means approved.
    enum DenialReason {
        None,
        // Kept for the numbering: a party without zone now reverts with {GridNotTrader}.
        ZoneUnknown,
        WindowNotAligned,
        WindowTooLong,
        OrderTooLarge,
        ParticipantSlotLimit,
        ExportCapacity,
        ImportCapacity,
        DeniedByOperator
    }

    /// @notice A zone's line capacity in W, for energy leaving (export) and entering (import) it.
    struct ZoneCapacity {
        uint64 exportW;
        uint64 importW;
    }

    /// @notice Energy reserved on a zone's lines in one slot, in Wh.
    struct ZoneUsage {
        uint64 exportWh;
        uint64 importWh;
    }

    /**
     * @notice What the market passes for a review or a release; the same values for both.
     * `sellerZone` is the zone the offer was published from: an offer keeps its zone, so a seller the
     * grid operator moves to another zone publishes new offers from there.
     */
    struct OrderTerms {
        uint256 orderId;
        address seller;
        uint16 sellerZone;
        address buyer;
        uint64 quantityWh;
        uint40 deliveryStart;
        uint40 deliveryEnd;
    }

    /// @notice The zones and parameters version an approval used; the market stores it with the order
    /// and hands the zones back on release, so a later zone change cannot release the wrong lines.
    struct Approval {
        DenialReason reason;
        bool manual;
        uint32 version;
        uint16 sellerZone;
        uint16 buyerZone;
        uint32 tariffPerKwh;
        uint32 capacityFeePerKwh;
    }

    /// @custom:storage-location erc7201:gridchain.storage.Review
    struct ReviewStorage {
        address market;
        uint32 parametersVersion;
        uint32 slotSeconds;
        ReviewMode mode;
        uint64 maxOrderWh;
        uint64 maxParticipantSlotWh;
        uint64 manualThresholdWh;
        uint32 capacityFeePerKwh;
        // Fills the free end of the limits' slot: no later member moves.
        uint32 minDefaultPerKwh;
        mapping(address account => uint16) zoneOf;
        mapping(uint16 zone => ZoneCapacity) capacity;
        mapping(uint64 slot => mapping(uint256 word => uint256)) lineUsage;
        mapping(address account => mapping(uint64 slot => uint64)) participantUsage;
        mapping(uint16 sellerZone => mapping(uint16 buyerZone => uint32)) tariffPerKwh;
    }

    // keccak256(abi.encode(uint256(keccak256("gridchain.storage.Review")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant REVIEW_STORAGE = 0x66ea9da53fa508168a681b0a6a5860067d74270f2202b76b2615ac5585d20900;

    /// @notice The longest delivery window, in slots: bounds the gas of one review.
    uint64 public constant MAX_WINDOW_SLOTS = 96;

    /// @notice Only the market may reserve and release capacity.
    error ReviewCallerNotMarket(address caller, address market);
    /// @notice The market address is set once.
    error ReviewMarketAlreadySet(address market);
    /// @notice Zone 0 means "no zone"; real zones start at 1.
    error ReviewZoneInvalid(uint16 zone);
    /// @notice Batch inputs must be of equal length.
    error ReviewLengthMismatch(uint256 accounts, uint256 zones);
    /// @notice A slot must be at least one second long.
    error ReviewSlotSecondsInvalid(uint32 slotSeconds);
    /// @notice Zones are set only once the market is named: it must see every change.
    error ReviewMarketNotSet();

    /// @notice A parameter changed; `version` is the new parameters version.
    event ParametersVersionBumped(uint32 indexed version);
    /// @notice The market that may call {review} and {release} was set.
    event MarketSet(address indexed market);
    /// @notice `account` now belongs to `zone` (0: no zone).
    event ZoneAssigned(address indexed account, uint16 indexed zone, uint32 version);
    /// @notice A zone's line capacity changed.
    event ZoneCapacitySet(uint16 indexed zone, uint64 exportW, uint64 importW, uint32 version);
    /// @notice Per-order and per-participant limits changed.
    event LimitsSet(uint64 maxOrderWh, uint64 maxParticipantSlotWh, uint32 version);
    /// @notice The network usage charge from `sellerZone` to `buyerZone` changed (credits per kWh).
    event TariffSet(uint16 indexed sellerZone, uint16 indexed buyerZone, uint32 perKwh, uint32 version);
    /// @notice The capacity fee per kWh of reserved line capacity changed.
    event CapacityFeeSet(uint32 perKwh, uint32 version);
    /// @notice The least default per kWh an offer may state changed.
    event MinDefaultSet(uint32 perKwh, uint32 version);
    /// @notice The review mode changed.
    event ReviewModeSet(ReviewMode mode, uint64 manualThresholdWh, uint32 version);
    /// @notice An order was approved and its capacity reserved, `perSlotWh` in each of `slotCount` slots.
    event CapacityReserved(
        uint256 indexed orderId,
        uint32 version,
        uint16 sellerZone,
        uint16 buyerZone,
        uint64 firstSlot,
        uint64 slotCount,
        uint64 perSlotWh
    );
    /// @notice A review said no; nothing was reserved.
    event ReviewDenied(uint256 indexed orderId, DenialReason reason, uint32 version);
    /// @notice An order's reservation was given back.
    event CapacityReleased(uint256 indexed orderId, uint16 sellerZone, uint16 buyerZone, uint64 firstSlot, uint64 slotCount);

    modifier onlyMarket() {
        _checkMarket();
        _;
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /**
     * @param authority The consortium's {GridAccessManager}.
     * @param slotSeconds_ Length of a delivery slot (e.g. 900 for quarter hours); fixed for the proxy's life.
     */
    function initialize(
        address authority,
        uint32 slotSeconds_,
        uint64 maxOrderWh,
        uint64 maxParticipantSlotWh,
        ReviewMode mode,
        uint64 manualThresholdWh
    ) external initializer {
        if (slotSeconds_ == 0) revert ReviewSlotSecondsInvalid(slotSeconds_);
        __AccessManaged_init(authority);
        ReviewStorage storage $ = _getReviewStorage();
        $.slotSeconds = slotSeconds_;
        $.maxOrderWh = maxOrderWh;
        $.maxParticipantSlotWh = maxParticipantSlotWh;
        $.mode = mode;
        $.manualThresholdWh = manualThresholdWh;
        $.parametersVersion = 1;
        emit ParametersVersionBumped(1);
    }

    /// @notice Sets the market allowed to reserve capacity; once, since reservations belong to it.
    function setMarket(address market_) external restricted {
        ReviewStorage storage $ = _getReviewStorage();
        if ($.market != address(0)) revert ReviewMarketAlreadySet($.market);
        $.market = market_;
        emit MarketSet(market_);
    }

    /**
     * @notice Assigns each account to a zone (0 removes it from every zone, which also stops it
     * trading at once).
     * @dev The market admits a request by whether its sender has a zone; it keeps that bit itself
     * (one warm-able slot instead of a call here, about 8k gas a request) and this is the only
     * function that changes it, in the same transaction: the two never disagree. Zones therefore
     * wait for {setMarket}.
     */
    function setZones(address[] calldata accounts, uint16[] calldata zones) external restricted {
        if (accounts.length != zones.length) revert ReviewLengthMismatch(accounts.length, zones.length);
        ReviewStorage storage $ = _getReviewStorage();
        address market_ = $.market;
        if (market_ == address(0)) revert ReviewMarketNotSet();
        uint32 version = _bumpVersion($);
        for (uint256 i = 0; i < accounts.length; ++i) {
            $.zoneOf[accounts[i]] = zones[i];
            ITraderRegistry(market_).setTrader(accounts[i], zones[i] != 0);
            emit ZoneAssigned(accounts[i], zones[i], version);
        }
    }

    /// @notice Sets a zone's export and import line capacity in W.
    function setZoneCapacity(uint16 zone, uint64 exportW, uint64 importW) external restricted {
        if (zone == 0) revert ReviewZoneInvalid(zone);
        ReviewStorage storage $ = _getReviewStorage();
        $.capacity[zone] = ZoneCapacity(exportW, importW);
        emit ZoneCapacitySet(zone, exportW, importW, _bumpVersion($));
    }

    /// @notice Sets the largest order and the most energy one participant may trade in one slot.
    function setLimits(uint64 maxOrderWh, uint64 maxParticipantSlotWh) external restricted {
        ReviewStorage storage $ = _getReviewStorage();
        $.maxOrderWh = maxOrderWh;
        $.maxParticipantSlotWh = maxParticipantSlotWh;
        emit LimitsSet(maxOrderWh, maxParticipantSlotWh, _bumpVersion($));
    }

    /// @notice Sets the review mode; `manualThresholdWh` is used by `ManualAbove` only.
    function setReviewMode(ReviewMode mode, uint64 manualThresholdWh) external restricted {
        ReviewStorage storage $ = _getReviewStorage();
        $.mode = mode;
        $.manualThresholdWh = manualThresholdWh;
        emit ReviewModeSet(mode, manualThresholdWh, _bumpVersion($));
    }

    /// @notice Sets the network usage charge per kWh delivered from `sellerZone` to `buyerZone`.
    function setTariff(uint16 sellerZone, uint16 buyerZone, uint32 perKwh) external restricted {
        if (sellerZone == 0) revert ReviewZoneInvalid(sellerZone);
        if (buyerZone == 0) revert ReviewZoneInvalid(buyerZone);
        ReviewStorage storage $ = _getReviewStorage();
        $.tariffPerKwh[sellerZone][buyerZone] = perKwh;
        emit TariffSet(sellerZone, buyerZone, perKwh, _bumpVersion($));
    }

    /// @notice Sets the capacity fee per kWh of line capacity a cross-zone order reserves. It starts at 0,
    /// which leaves a line free to hold: the grid operator sets it before opening the market.
    function setCapacityFee(uint32 perKwh) external restricted {
        ReviewStorage storage $ = _getReviewStorage();
        $.capacityFeePerKwh = perKwh;
        emit CapacityFeeSet(perKwh, _bumpVersion($));
    }

    /**
     * @notice Sets the least default per kWh an offer may state, in GridCredit base units: what a
     * seller owes the buyer for each kWh it books and does not deliver. 0 lets a seller book at no
     * risk to itself; the grid operator sets it before opening the market.
     * @dev It binds offers published from the next block on; an offer keeps the terms it was
     * published with, as an order keeps the grid charges its review quoted.
     */
    function setMinDefault(uint32 perKwh) external restricted {
        ReviewStorage storage $ = _getReviewStorage();
        $.minDefaultPerKwh = perKwh;
        emit MinDefaultSet(perKwh, _bumpVersion($));
    }

    /**
     * @notice Checks an order against the current parameters and, when it passes, reserves its
     * capacity in every slot of its window. Returns the outcome instead of reverting so the market
     * can record a denial.
     * @dev All-or-nothing: every slot is checked before any is written. Reverts with {GridNotTrader}
     * when either party has no zone ({DenialReason-ZoneUnknown} is no longer returned).
     * @return approval The reason (None when approved), whether the grid operator must still decide,
     * the parameters version used, the zones reserved and the grid charges per kWh that apply.
     */
    function review(OrderTerms calldata terms) external onlyMarket returns (Approval memory approval) {
        ReviewStorage storage $ = _getReviewStorage();
        approval.version = $.parametersVersion;
        approval.sellerZone = terms.sellerZone;
        approval.buyerZone = $.zoneOf[terms.buyer];
        // A party without zone is no trader: refused, not recorded as a denial. The seller must hold
        // a zone now, not only when it published.
        if (approval.buyerZone == 0) revert GridNotTrader(terms.buyer);
        if (approval.sellerZone == 0 || $.zoneOf[terms.seller] == 0) revert GridNotTrader(terms.seller);
        (DenialReason reason, uint64 firstSlot, uint64 slotCount, uint64 perSlotWh) = _check($, terms, approval);
        if (reason != DenialReason.None) {
            approval.reason = reason;
            emit ReviewDenied(terms.orderId, reason, approval.version);
            return approval;
        }
        _reserve($, terms, approval.sellerZone, approval.buyerZone, firstSlot, slotCount, perSlotWh);
        approval.tariffPerKwh = $.tariffPerKwh[approval.sellerZone][approval.buyerZone];
        if (approval.sellerZone != approval.buyerZone) approval.capacityFeePerKwh = $.capacityFeePerKwh;
        ReviewMode mode = $.mode;
        approval.manual = mode == ReviewMode.Manual || (mode == ReviewMode.ManualAbove && terms.quantityWh > $.manualThresholdWh);
        emit CapacityReserved(
            terms.orderId,
            approval.version,
            approval.sellerZone,
            approval.buyerZone,
            firstSlot,
            slotCount,
            perSlotWh
        );
    }

    /**
     * @notice Gives back what {review} reserved for an order that will not be delivered.
     * @dev The market passes the same terms and the zones {review} returned, so the subtraction undoes
     * exactly the earlier addition and cannot underflow.
     */
    function release(OrderTerms calldata terms, uint16 sellerZone, uint16 buyerZone) external onlyMarket {
        ReviewStorage storage $ = _getReviewStorage();
        uint64 slotLength = $.slotSeconds;
        uint64 firstSlot = terms.deliveryStart / slotLength;
        uint64 slotCount = (terms.deliveryEnd - terms.deliveryStart) / slotLength;
        uint64 perSlotWh = _perSlot(terms.quantityWh, slotCount);
        bool crossZone = sellerZone != buyerZone;
        for (uint64 slot = firstSlot; slot < firstSlot + slotCount; ++slot) {
            $.participantUsage[terms.seller][slot] -= perSlotWh;
            $.participantUsage[terms.buyer][slot] -= perSlotWh;
            if (crossZone) LineUsage.move($.lineUsage[slot], sellerZone, buyerZone, perSlotWh, false);
        }
        emit CapacityReleased(terms.orderId, sellerZone, buyerZone, firstSlot, slotCount);
    }

    /// @notice The market allowed to reserve capacity.
    function market() external view returns (address) {
        return _getReviewStorage().market;
    }

    /// @notice Bumped by every parameter change; orders record the version that approved them.
    function parametersVersion() external view returns (uint32) {
        return _getReviewStorage().parametersVersion;
    }

    /// @notice Length of a delivery slot in seconds.
    function slotSeconds() external view returns (uint32) {
        return _getReviewStorage().slotSeconds;
    }

    /// @notice The current review mode and its threshold.
    function reviewMode() external view returns (ReviewMode mode, uint64 manualThresholdWh) {
        ReviewStorage storage $ = _getReviewStorage();
        return ($.mode, $.manualThresholdWh);
    }

    /// @notice The per-order and per-participant-per-slot limits in Wh.
    function limits() external view returns (uint64 maxOrderWh, uint64 maxParticipantSlotWh) {
        ReviewStorage storage $ = _getReviewStorage();
        return ($.maxOrderWh, $.maxParticipantSlotWh);
    }

    /// @notice The network usage charge per kWh delivered from `sellerZone` to `buyerZone`.
    function tariff(uint16 sellerZone, uint16 buyerZone) external view returns (uint32) {
        return _getReviewStorage().tariffPerKwh[sellerZone][buyerZone];
    }

    /// @notice The capacity fee per kWh of reserved line capacity (cross-zone orders only).
    function capacityFee() external view returns (uint32) {
        return _getReviewStorage().capacityFeePerKwh;
    }

    /// @notice The least default per kWh an offer may state (GridCredit base units).
    function minDefault() external view returns (uint32) {
        return _getReviewStorage().minDefaultPerKwh;
    }

    /// @notice What the market needs to publish an offer: the seller's zone and the least default per kWh.
    function publishTerms(address seller) external view returns (uint16 zone, uint32 minDefaultPerKwh) {
        ReviewStorage storage $ = _getReviewStorage();
        return ($.zoneOf[seller], $.minDefaultPerKwh);
    }

    /// @notice The zone of `account` (0: none).
    function zoneOf(address account) external view returns (uint16) {
        return _getReviewStorage().zoneOf[account];
    }

    /// @notice A zone's line capacity in W.
    function zoneCapacity(uint16 zone) external view returns (ZoneCapacity memory) {
        return _getReviewStorage().capacity[zone];
    }

    /// @notice Energy reserved on a zone's lines in slot `slot` (index = timestamp / slotSeconds).
    function zoneUsage(uint16 zone, uint64 slot) external view returns (ZoneUsage memory usage) {
        if (zone == 0) return usage;
        (usage.exportWh, usage.importWh) = LineUsage.read(_getReviewStorage().lineUsage[slot], zone);
    }

    /// @notice Energy `account` has traded (bought or sold) in slot `slot`, in Wh.
    function participantUsage(address account, uint64 slot) external view returns (uint64) {
        return _getReviewStorage().participantUsage[account][slot];
    }

    function _authorizeUpgrade(address) internal override restricted {}

    function _checkMarket() internal view {
        address market_ = _getReviewStorage().market;
        if (msg.sender != market_) revert ReviewCallerNotMarket(msg.sender, market_);
    }

    function _bumpVersion(ReviewStorage storage $) private returns (uint32 version) {
        version = ++$.parametersVersion;
        emit ParametersVersionBumped(version);
    }

    /// @dev Every rule, in a fixed order so a denial names the first rule broken; writes nothing.
    function _check(
        ReviewStorage storage $,
        OrderTerms calldata terms,
        Approval memory approval
    ) private view returns (DenialReason reason, uint64 firstSlot, uint64 slotCount, uint64 perSlotWh) {
        uint64 slotLength = $.slotSeconds;
        if (
            terms.deliveryEnd <= terms.deliveryStart ||
            terms.deliveryStart % slotLength != 0 ||
            terms.deliveryEnd % slotLength != 0
        ) return (DenialReason.WindowNotAligned, 0, 0, 0);
        firstSlot = terms.deliveryStart / slotLength;
        slotCount = (terms.deliveryEnd - terms.deliveryStart) / slotLength;
        if (slotCount > MAX_WINDOW_SLOTS) return (DenialReason.WindowTooLong, firstSlot, slotCount, 0);
        if (terms.quantityWh > $.maxOrderWh) return (DenialReason.OrderTooLarge, firstSlot, slotCount, 0);
        perSlotWh = _perSlot(terms.quantityWh, slotCount);
        uint256 participantLimit = $.maxParticipantSlotWh;
        bool crossZone = approval.sellerZone != approval.buyerZone;
        // Joules (W*s) a zone may export/import per slot; compared with Wh*3600 so no rounding occurs.
        uint256 exportJ;
        uint256 importJ;
        if (crossZone) {
            exportJ = uint256($.capacity[approval.sellerZone].exportW) * slotLength;
            importJ = uint256($.capacity[approval.buyerZone].importW) * slotLength;
        }
        for (uint64 slot = firstSlot; slot < firstSlot + slotCount; ++slot) {
            if (
                uint256($.participantUsage[terms.seller][slot]) + perSlotWh > participantLimit ||
                uint256($.participantUsage[terms.buyer][slot]) + perSlotWh > participantLimit
            ) return (DenialReason.ParticipantSlotLimit, firstSlot, slotCount, perSlotWh);
            if (crossZone) {
                (bool exportFits, bool importFits) = LineUsage.fits(
                    $.lineUsage[slot],
                    approval.sellerZone,
                    approval.buyerZone,
                    perSlotWh,
                    exportJ,
                    importJ
                );
                if (!exportFits) return (DenialReason.ExportCapacity, firstSlot, slotCount, perSlotWh);
                if (!importFits) return (DenialReason.ImportCapacity, firstSlot, slotCount, perSlotWh);
            }
        }
    }

    /// @dev Adds the order's share to every slot; {_check} proved each sum stays within a uint64 limit.
    function _reserve(
        ReviewStorage storage $,
        OrderTerms calldata terms,
        uint16 sellerZone,
        uint16 buyerZone,
        uint64 firstSlot,
        uint64 slotCount,
        uint64 perSlotWh
    ) private {
        bool crossZone = sellerZone != buyerZone;
        mapping(uint64 => uint64) storage sellerUsage = $.participantUsage[terms.seller];
        mapping(uint64 => uint64) storage buyerUsage = $.participantUsage[terms.buyer];
        uint64 lastSlot = firstSlot + slotCount;
        for (uint64 slot = firstSlot; slot < lastSlot;) {
            // {_check} proved each sum <= the uint64 participant limit; the slot index is bounded there.
            unchecked {
                sellerUsage[slot] += perSlotWh;
                buyerUsage[slot] += perSlotWh;
            }
            if (crossZone) LineUsage.move($.lineUsage[slot], sellerZone, buyerZone, perSlotWh, true);
            unchecked {
                ++slot;
            }
        }
    }

    /// @dev ceil(quantityWh / slotCount): the reservation never falls short of the energy that flows.
    function _perSlot(uint64 quantityWh, uint64 slotCount) private pure returns (uint64) {
        // Computed in 256 bits so the rounding term cannot overflow; the result is <= quantityWh.
        return uint64((uint256(quantityWh) + slotCount - 1) / slotCount);
    }

    function _getReviewStorage() private pure returns (ReviewStorage storage $) {
        // ERC-7201: the namespace's fixed slot can only be assigned in assembly.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            $.slot := REVIEW_STORAGE
        }
    }
}
