// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessManager} from "@openzeppelin/contracts/access/manager/IAccessManager.sol";

/**
 * @title GridRoles
 * @notice The consortium's role ids, held by one {GridAccessManager}. Role 0 is the manager's own
 * ADMIN_ROLE (grants roles, configures targets); every other role is granted by it.
 * @dev The ids are part of the deployed state: never renumber, only append.
 */
library GridRoles {
    /// @dev The AccessManager's built-in admin role (the consortium; the grid company at first).
    uint64 internal constant ADMIN = 0;
    /// @dev May call `upgradeToAndCall` on every gridchain proxy; granted with an execution delay.
    uint64 internal constant UPGRADER = 1;
    /// @dev Sets review parameters, reviews orders manually, mints/burns GridCredit, pauses.
    uint64 internal constant GRID_OPERATOR = 2;
    /// @dev The grid's metering service: records delivered energy.
    uint64 internal constant METER = 3;
    /// @dev Energy producers (and the grid company when it sells): publish offers, confirm orders.
    uint64 internal constant PRODUCER = 4;
    /// @dev Energy users: request orders.
    uint64 internal constant CONSUMER = 5;

    /**
     * @notice Whether `account` is a trading member of the consortium (grid operator, producer or
     * consumer) right now. Used where a contract admits members rather than one role.
     */
    function isMember(IAccessManager manager, address account) internal view returns (bool) {
        (bool grid, ) = manager.hasRole(GRID_OPERATOR, account);
        if (grid) return true;
        (bool producer, ) = manager.hasRole(PRODUCER, account);
        if (producer) return true;
        (bool consumer, ) = manager.hasRole(CONSUMER, account);
        return consumer;
    }
}
