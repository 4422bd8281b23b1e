// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManagedUpgradeable} from "@openzeppelin/contracts-upgradeable/access/manager/AccessManagedUpgradeable.sol";
import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";
import {ERC20PermitUpgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20PermitUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

/**
 * @title GridCredit
 * @notice The ERC-20 the market settles in: the paper's "energy fund account". One credit stands for
 * money held by the grid company; the grid operator mints against a deposit and burns on withdrawal.
 * @dev `mint`, `burn` and `upgradeToAndCall` are `restricted`: the {GridAccessManager} decides who may
 * call them (GRID_OPERATOR for mint/burn, UPGRADER for upgrades).
 */
contract GridCredit is Initializable, ERC20Upgradeable, ERC20PermitUpgradeable, AccessManagedUpgradeable, UUPSUpgradeable {
    /// @notice Credits have 6 decimals, like the fiat money they stand for.
    uint8 public constant DECIMALS = 6;

    /// @notice Credits were issued against a deposit made off chain (`ref` identifies it).
    event CreditsMinted(address indexed to, uint256 amount, bytes32 indexed ref);
    /// @notice Credits were redeemed for a withdrawal paid off chain (`ref` identifies it).
    event CreditsBurned(address indexed from, uint256 amount, bytes32 indexed ref);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(address authority) external initializer {
        __ERC20_init("GridCredit", "GRID");
        __ERC20Permit_init("GridCredit");
        __AccessManaged_init(authority);
    }

    /// @notice Issues `amount` credits to `to` against the off-chain deposit `ref`.
    function mint(address to, uint256 amount, bytes32 ref) external restricted {
        _mint(to, amount);
        emit CreditsMinted(to, amount, ref);
    }

    /**
     * @notice Redeems `amount` of `from`'s credits for the off-chain withdrawal `ref`.
     * @dev Spends `from`'s allowance to the caller: the grid can burn only what the holder handed over.
     */
    function burn(address from, uint256 amount, bytes32 ref) external restricted {
        _spendAllowance(from, _msgSender(), amount);
        _burn(from, amount);
        emit CreditsBurned(from, amount, ref);
    }

    function decimals() public pure override returns (uint8) {
        return DECIMALS;
    }

    function _authorizeUpgrade(address) internal override restricted {}
}
