// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title ValidatorSet
 * @notice The QBFT validator list Besu reads: with `validatorcontractaddress` in the genesis (or a
 * `transitions.qbft` entry in contract mode) Besu calls `getValidators()` on this contract for every
 * block (consensus/qbft/.../validator/ValidatorContractController.java at Besu 26.8.0 decodes the
 * result as `address[]`), so whatever the controller writes here is the next block's validator set.
 * @dev The contract is not a proxy and is not initialised by a transaction: the generator writes it
 * into the genesis `alloc` with its runtime code and its storage, so the layout below is an external
 * format (ops/besu/validator-contract.ts encodes it by Solidity's storage rules; a test decodes it
 * independently). It therefore uses plain slots, never reordered:
 *   slot 0  `address[] _validators` (length at slot 0, element i at keccak256(uint256(0)) + i),
 *   slot 1  `address _controller`.
 * Slot 0 is the layout of Besu's own test contract, so Besu's storage vectors apply unchanged.
 * Changing the code means a new contract at a new address and a QBFT transition to it.
 */
contract ValidatorSet {
    address[] private _validators;
    address private _controller;

    /// @dev Anyone but the controller tried to change the set.
    error ValidatorSetUnauthorized(address caller, address controller);
    /// @dev The address is already a validator (a duplicate would count twice in QBFT's quorum).
    error ValidatorSetAlreadyValidator(address validator);
    /// @dev The address is not a validator.
    error ValidatorSetNotValidator(address validator);
    /// @dev The zero address cannot validate and cannot control.
    error ValidatorSetZeroAddress();
    /// @dev The last validator cannot go: a chain with no validator makes no block, ever.
    error ValidatorSetLastValidator(address validator);

    event ValidatorAdded(address indexed validator);
    event ValidatorRemoved(address indexed validator);
    event ControllerChanged(address indexed previousController, address indexed newController);

    modifier onlyController() {
        _checkController();
        _;
    }

    /**
     * @notice For a chain that moves from block-header validators to this contract (a QBFT
     * transition): deployed by a transaction with the current validators. In a genesis `alloc` no
     * constructor runs; the generator writes the same storage directly.
     */
    constructor(address[] memory initialValidators, address initialController) {
        if (initialController == address(0)) revert ValidatorSetZeroAddress();
        for (uint256 i = 0; i < initialValidators.length; ++i) {
            address validator = initialValidators[i];
            if (validator == address(0)) revert ValidatorSetZeroAddress();
            if (_indexOf(validator) != type(uint256).max) revert ValidatorSetAlreadyValidator(validator);
            _validators.push(validator);
            emit ValidatorAdded(validator);
        }
        _controller = initialController;
        emit ControllerChanged(address(0), initialController);
    }

    /// @notice The validators of the next block, in the order they were added.
    function getValidators() external view returns (address[] memory) {
        return _validators;
    }

    /// @notice Who may change the set: the deployer at genesis, the members' governance after deploy.
    function controller() external view returns (address) {
        return _controller;
    }

    function isValidator(address account) external view returns (bool) {
        return _indexOf(account) != type(uint256).max;
    }

    /// @notice Hands control over (once, at deploy, from the genesis deployer to the governance).
    function setController(address newController) external onlyController {
        if (newController == address(0)) revert ValidatorSetZeroAddress();
        emit ControllerChanged(_controller, newController);
        _controller = newController;
    }

    function addValidator(address validator) external onlyController {
        if (validator == address(0)) revert ValidatorSetZeroAddress();
        if (_indexOf(validator) != type(uint256).max) revert ValidatorSetAlreadyValidator(validator);
        _validators.push(validator);
        emit ValidatorAdded(validator);
    }

    /**
     * @notice Removes a validator; the last element takes its place (order carries no meaning:
     * Besu sorts the list, qbft_getValidatorsByBlockNumber returns it sorted).
     */
    function removeValidator(address validator) external onlyController {
        uint256 index = _indexOf(validator);
        if (index == type(uint256).max) revert ValidatorSetNotValidator(validator);
        if (_validators.length == 1) revert ValidatorSetLastValidator(validator);
        _validators[index] = _validators[_validators.length - 1];
        _validators.pop();
        emit ValidatorRemoved(validator);
    }

    function _checkController() internal view {
        if (msg.sender != _controller) revert ValidatorSetUnauthorized(msg.sender, _controller);
    }

    /// @dev Linear: a consortium has tens of validators, and QBFT itself is quadratic in them.
    function _indexOf(address account) private view returns (uint256) {
        uint256 length = _validators.length;
        for (uint256 i = 0; i < length; ++i) {
            if (_validators[i] == account) return i;
        }
        return type(uint256).max;
    }
}
