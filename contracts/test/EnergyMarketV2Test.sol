// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EnergyMarket} from "../market/EnergyMarket.sol";

/**
 * @title EnergyMarketV2Test
 * @notice A second market implementation for upgrade tests: same storage, one new function.
 * @dev It adds no state, so the inherited `initialize` is all a proxy ever needed.
 * @custom:oz-upgrades-unsafe-allow missing-initializer
 */
contract EnergyMarketV2Test is EnergyMarket {
    /// @notice Tells the upgraded implementation apart; reads the order count to prove state survived.
    function upgradeProbe() external view returns (string memory tag, uint256 orders) {
        return ("v2", this.orderCount());
    }
}
