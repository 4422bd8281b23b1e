// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManagerUpgradeable} from "@openzeppelin/contracts-upgradeable/access/manager/AccessManagerUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/**
 * @title GridAccessManager
 * @notice The consortium's single authority: every gridchain contract is access-managed by it, and
 * every role of {GridRoles} is held here. Which role may call which function is configured on this
 * manager (`setTargetFunctionRole`) by the deploy module, not hard-coded in the targets.
 * @dev Upgrades of the manager itself go through `upgradeToAndCall`, which is `onlyAuthorized`: the
 * admin role (or a role the admin assigned to that selector) with that role's execution delay.
 */
contract GridAccessManager is Initializable, AccessManagerUpgradeable, UUPSUpgradeable {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    // `initialize(address initialAdmin)` is inherited from AccessManagerUpgradeable: the admin
    // holds ADMIN_ROLE at first (the consortium's deployer).

    function _authorizeUpgrade(address) internal override onlyAuthorized {}
}
