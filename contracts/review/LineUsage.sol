// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title LineUsage
 * @notice The line counters of one delivery slot, packed: the export and import energy of four zones
 * share one storage word (zone z in word `(z - 1) / 4`, 64 bits per zone: export in the low 32,
 * import in the high 32). The first cross-zone order in a slot between zones of the same word then
 * creates one storage slot instead of two, 22.1k gas less; every network of up to four zones (the
 * pilot has two) is in that case, larger ones for each pair of zones within a word.
 * @dev A lane holds up to 2^32 - 1 Wh (4.29 GWh) per slot. {fits} refuses any total past that, so
 * {move} never carries into (or borrows from) the next lane: adding follows a {fits} of the same
 * amount in the same transaction, taking back undoes an earlier addition of the same amount.
 */
library LineUsage {
    /// @notice Zones whose counters share one storage word.
    uint256 internal constant ZONES_PER_WORD = 4;
    /// @notice Largest energy one lane holds per slot, in Wh.
    uint256 internal constant LANE_MAX_WH = type(uint32).max;
    /// @notice Seconds per hour: a line fits when `Wh * 3600 <= W * slotSeconds`.
    uint256 private constant SECONDS_PER_HOUR = 3600;

    /// @dev Whether `perSlotWh` more fits the seller zone's export and the buyer zone's import.
    function fits(
        mapping(uint256 => uint256) storage lines,
        uint16 sellerZone,
        uint16 buyerZone,
        uint64 perSlotWh,
        uint256 exportJ,
        uint256 importJ
    ) internal view returns (bool exportFits, bool importFits) {
        (uint256 exportWord, uint256 exportShift) = lane(sellerZone);
        exportFits = _fits(uint256(uint32(lines[exportWord] >> exportShift)) + perSlotWh, exportJ);
        (uint256 importWord, uint256 importShift) = lane(buyerZone);
        importFits = _fits(uint256(uint32(lines[importWord] >> (importShift + 32))) + perSlotWh, importJ);
    }

    /**
     * @dev Adds (or takes back) `perSlotWh` on the seller zone's export lane and the buyer zone's
     * import lane, reading and writing a shared word once.
     */
    function move(
        mapping(uint256 => uint256) storage lines,
        uint16 sellerZone,
        uint16 buyerZone,
        uint64 perSlotWh,
        bool add
    ) internal {
        (uint256 exportWord, uint256 exportShift) = lane(sellerZone);
        (uint256 importWord, uint256 importShift) = lane(buyerZone);
        uint256 exportDelta = uint256(perSlotWh) << exportShift;
        uint256 importDelta = uint256(perSlotWh) << (importShift + 32);
        if (exportWord == importWord) {
            uint256 both = exportDelta + importDelta;
            lines[exportWord] = add ? lines[exportWord] + both : lines[exportWord] - both;
        } else {
            lines[exportWord] = add ? lines[exportWord] + exportDelta : lines[exportWord] - exportDelta;
            lines[importWord] = add ? lines[importWord] + importDelta : lines[importWord] - importDelta;
        }
    }

    /// @dev A zone's export and import energy in the slot, in Wh.
    function read(mapping(uint256 => uint256) storage lines, uint16 zone) internal view returns (uint64, uint64) {
        (uint256 word, uint256 shift) = lane(zone);
        uint256 packed = lines[word];
        return (uint32(packed >> shift), uint32(packed >> (shift + 32)));
    }

    /// @dev The storage word of a zone's counters and the bit offset of its export lane (import: +32).
    function lane(uint16 zone) internal pure returns (uint256 word, uint256 shift) {
        // zone >= 1: reviews deny zone 0 before any line is touched, and the view returns early.
        unchecked {
            uint256 index = uint256(zone) - 1;
            return (index / ZONES_PER_WORD, (index % ZONES_PER_WORD) * 64);
        }
    }

    function _fits(uint256 totalWh, uint256 capacityJ) private pure returns (bool) {
        return totalWh <= LANE_MAX_WH && totalWh * SECONDS_PER_HOUR <= capacityJ;
    }
}
