// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessManager} from "@openzeppelin/contracts/access/manager/IAccessManager.sol";
import {GridRoles} from "../access/GridRoles.sol";
import {ValidatorSet} from "./ValidatorSet.sol";

interface IZoneRegistry {
    function setZones(address[] calldata accounts, uint16[] calldata zones) external;
}

/**
 * @title MemberRegistry
 * @notice The consortium's member organisations as the governance sees them: each has one voter
 * account (its one vote), whether it is a grid operator, its validators (node-key addresses in the
 * {ValidatorSet}) and its accounts with their roles. The member changes ({addMember},
 * {removeMember}, {rotateValidator}, {setParameters}) can only be called by the governance contract
 * itself, that is, as a call of a passed proposal: they apply the change everywhere at once
 * (validator set, AccessManager roles, GridReview zones) so the registry never disagrees with them.
 * @dev Abstract base of {ConsortiumGovernance}; state in its own ERC-7201 namespace.
 */
abstract contract MemberRegistry {
    /// @notice Voting rules, in seconds and basis points of the member count.
    struct Parameters {
        uint16 approvalBps;
        uint32 votingPeriodSeconds;
        uint32 executionDelaySeconds;
        uint32 executionWindowSeconds;
    }

    /// @notice A member as a proposal (or the deploy) describes it; `roles[i]` and `zones[i]` belong
    /// to `accounts[i]` (zone 0: no market zone, e.g. a meter). `enodes` are its nodes' enode URLs:
    /// kept on chain so every member's `gridchain members sync` can allowlist them.
    struct MemberInput {
        bytes32 id;
        address voter;
        bool gridOperator;
        string[] enodes;
        address[] validators;
        address[] accounts;
        uint64[] roles;
        uint16[] zones;
    }

    struct Member {
        address voter;
        bool gridOperator;
        bool active;
        /// @dev Proposals with an id at or below this were made before the member joined.
        uint256 joinedAfterProposal;
        string[] enodes;
        address[] validators;
        address[] accounts;
        uint64[] roles;
    }

    /// @custom:storage-location erc7201:gridchain.storage.Members
    struct MembersStorage {
        IAccessManager manager;
        ValidatorSet validatorSet;
        IZoneRegistry review;
        Parameters parameters;
        bytes32[] memberIds;
        uint256 activeMembers;
        uint256 proposalsMade;
        mapping(bytes32 id => Member) members;
        mapping(address voter => bytes32 id) voterOf;
    }

    // keccak256(abi.encode(uint256(keccak256("gridchain.storage.Members")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant MEMBERS_STORAGE = 0xc88a7dea5ba9c25cc0ec2034e1793dfc8a1bd0982d1f90222ec5dee680dff300;

    error MembersOnlyGovernance(address caller);
    error MembersInvalidMember(bytes32 id);
    error MembersAlreadyMember(bytes32 id);
    error MembersUnknownMember(bytes32 id);
    error MembersVoterTaken(address voter, bytes32 holder);
    error MembersLengthMismatch(uint256 accounts, uint256 roles, uint256 zones);
    /// @dev Only trading and operating roles are given to members; ADMIN and UPGRADER stay with governance.
    error MembersRoleNotAllowed(uint64 role);
    error MembersNotValidatorOf(bytes32 id, address validator);
    error MembersUnknownValidator(address validator);
    error MembersInvalidParameters(Parameters parameters);

    event MemberAdded(
        bytes32 indexed id,
        address indexed voter,
        bool gridOperator,
        address[] validators,
        address[] accounts,
        uint64[] roles
    );
    event MemberRemoved(bytes32 indexed id, address indexed voter);
    event ValidatorRotated(bytes32 indexed id, address indexed previousValidator, address indexed newValidator);
    event ParametersChanged(Parameters parameters);
    /// @notice More accounts of an existing member, with their roles (added after its {MemberAdded}).
    event MemberAccountsAdded(bytes32 indexed id, address[] accounts, uint64[] roles);

    /// @notice The member whose voter is `voter` (zero when none).
    function memberOfVoter(address voter) public view returns (bytes32) {
        return _getMembersStorage().voterOf[voter];
    }

    function memberCount() public view returns (uint256) {
        return _getMembersStorage().activeMembers;
    }

    /// @notice Every member id ever registered, removed ones included (see {member}.active).
    function memberIds() external view returns (bytes32[] memory) {
        return _getMembersStorage().memberIds;
    }

    function member(bytes32 id) external view returns (Member memory) {
        return _getMembersStorage().members[id];
    }

    function parameters() external view returns (Parameters memory) {
        return _parameters();
    }

    function validatorSet() external view returns (address) {
        return address(_getMembersStorage().validatorSet);
    }

    /// @notice Adds a member: its validators join the set, its accounts get their roles and zones.
    function addMember(MemberInput calldata input) external {
        _checkSelf();
        MembersStorage storage $ = _getMembersStorage();
        _record($, input);
        for (uint256 i = 0; i < input.validators.length; ++i) $.validatorSet.addValidator(input.validators[i]);
        for (uint256 i = 0; i < input.accounts.length; ++i) {
            $.manager.grantRole(input.roles[i], input.accounts[i], 0);
        }
        if (input.accounts.length > 0) $.review.setZones(input.accounts, input.zones);
    }

    /**
     * @notice Removes a member: its validators leave the set, its accounts lose their roles and their
     * zones. The zone goes too because the market admits traders by zone, not by role
     * ({EnergyMarketBase-_requireTrader}): an account of a removed member must not request, buy or
     * confirm from the next block on.
     */
    function removeMember(bytes32 id) external {
        _checkSelf();
        MembersStorage storage $ = _getMembersStorage();
        Member storage m = $.members[id];
        if (!m.active) revert MembersUnknownMember(id);
        m.active = false;
        delete $.voterOf[m.voter];
        $.activeMembers -= 1;
        for (uint256 i = 0; i < m.validators.length; ++i) $.validatorSet.removeValidator(m.validators[i]);
        for (uint256 i = 0; i < m.accounts.length; ++i) $.manager.revokeRole(m.roles[i], m.accounts[i]);
        if (m.accounts.length > 0) $.review.setZones(m.accounts, new uint16[](m.accounts.length));
        emit MemberRemoved(id, m.voter);
    }

    /// @notice Replaces one of a member's validator keys (a compromised or lost node key).
    function rotateValidator(bytes32 id, address previousValidator, address newValidator) external {
        _checkSelf();
        MembersStorage storage $ = _getMembersStorage();
        Member storage m = $.members[id];
        if (!m.active) revert MembersUnknownMember(id);
        uint256 length = m.validators.length;
        uint256 index = length;
        for (uint256 i = 0; i < length; ++i) {
            if (m.validators[i] == previousValidator) index = i;
        }
        if (index == length) revert MembersNotValidatorOf(id, previousValidator);
        m.validators[index] = newValidator;
        // Add first: removing first could empty a one-validator set, which the set refuses.
        $.validatorSet.addValidator(newValidator);
        $.validatorSet.removeValidator(previousValidator);
        emit ValidatorRotated(id, previousValidator, newValidator);
    }

    function setParameters(Parameters calldata newParameters) external {
        _checkSelf();
        _setParameters(_getMembersStorage(), newParameters);
    }

    function _initRegistry(
        IAccessManager manager,
        address validatorSet_,
        address review,
        Parameters calldata initialParameters,
        MemberInput[] calldata initialMembers
    ) internal {
        MembersStorage storage $ = _getMembersStorage();
        $.manager = manager;
        $.validatorSet = ValidatorSet(validatorSet_);
        $.review = IZoneRegistry(review);
        _setParameters($, initialParameters);
        for (uint256 i = 0; i < initialMembers.length; ++i) {
            for (uint256 j = 0; j < initialMembers[i].validators.length; ++j) {
                address validator = initialMembers[i].validators[j];
                if (!$.validatorSet.isValidator(validator)) revert MembersUnknownValidator(validator);
            }
            _record($, initialMembers[i]);
        }
    }

    /**
     * @dev Appends accounts to an active member, grants their roles and sets their zones, like
     * {addMember} does for the accounts it brings: the registry, the AccessManager and GridReview
     * agree after every batch. Its caller checks who may call it ({ConsortiumGovernance-addMemberAccounts}).
     * Accounts are not checked against those already listed (that would read every one of them per
     * account added); the deploy sends only the accounts the chain does not list yet.
     */
    function _addAccounts(bytes32 id, address[] calldata accounts, uint64[] calldata roles, uint16[] calldata zones) internal {
        MembersStorage storage $ = _getMembersStorage();
        Member storage m = $.members[id];
        if (!m.active) revert MembersUnknownMember(id);
        if (accounts.length != roles.length || accounts.length != zones.length) {
            revert MembersLengthMismatch(accounts.length, roles.length, zones.length);
        }
        _checkRoles(roles);
        for (uint256 i = 0; i < accounts.length; ++i) {
            m.accounts.push(accounts[i]);
            m.roles.push(roles[i]);
            $.manager.grantRole(roles[i], accounts[i], 0);
        }
        if (accounts.length > 0) $.review.setZones(accounts, zones);
        emit MemberAccountsAdded(id, accounts, roles);
    }

    function _markProposalCreated(uint256 proposalId) internal {
        _getMembersStorage().proposalsMade = proposalId;
    }

    function _joinedAfter(bytes32 id, uint256 proposalId) internal view returns (bool) {
        return proposalId <= _getMembersStorage().members[id].joinedAfterProposal;
    }

    function _parameters() internal view returns (Parameters memory) {
        return _getMembersStorage().parameters;
    }

    /**
     * @dev Facts the rails need: validators in the set, the member holding most of them and how
     * many, and the number of grid-operator members.
     */
    function _railFacts() internal view returns (uint256 total, bytes32 largest, uint256 held, uint256 gridOperators) {
        MembersStorage storage $ = _getMembersStorage();
        total = $.validatorSet.getValidators().length;
        for (uint256 i = 0; i < $.memberIds.length; ++i) {
            Member storage m = $.members[$.memberIds[i]];
            if (!m.active) continue;
            if (m.gridOperator) gridOperators += 1;
            if (m.validators.length > held) {
                held = m.validators.length;
                largest = $.memberIds[i];
            }
        }
    }

    function _checkSelf() internal view {
        if (msg.sender != address(this)) revert MembersOnlyGovernance(msg.sender);
    }

    function _record(MembersStorage storage $, MemberInput calldata input) private {
        if (input.id == bytes32(0) || input.voter == address(0)) revert MembersInvalidMember(input.id);
        Member storage m = $.members[input.id];
        if (m.active) revert MembersAlreadyMember(input.id);
        bytes32 holder = $.voterOf[input.voter];
        if (holder != bytes32(0)) revert MembersVoterTaken(input.voter, holder);
        if (input.accounts.length != input.roles.length || input.accounts.length != input.zones.length) {
            revert MembersLengthMismatch(input.accounts.length, input.roles.length, input.zones.length);
        }
        _checkRoles(input.roles);
        if (m.voter == address(0)) $.memberIds.push(input.id);
        m.voter = input.voter;
        m.gridOperator = input.gridOperator;
        m.active = true;
        m.joinedAfterProposal = $.proposalsMade;
        delete m.enodes;
        for (uint256 i = 0; i < input.enodes.length; ++i) m.enodes.push(input.enodes[i]);
        m.validators = input.validators;
        m.accounts = input.accounts;
        m.roles = input.roles;
        $.voterOf[input.voter] = input.id;
        $.activeMembers += 1;
        emit MemberAdded(input.id, input.voter, input.gridOperator, input.validators, input.accounts, input.roles);
    }

    function _checkRoles(uint64[] calldata roles) private pure {
        for (uint256 i = 0; i < roles.length; ++i) {
            uint64 role = roles[i];
            if (
                role != GridRoles.GRID_OPERATOR &&
                role != GridRoles.METER &&
                role != GridRoles.PRODUCER &&
                role != GridRoles.CONSUMER
            ) revert MembersRoleNotAllowed(role);
        }
    }

    function _setParameters(MembersStorage storage $, Parameters calldata p) private {
        if (p.approvalBps == 0 || p.approvalBps > 10_000 || p.votingPeriodSeconds == 0 || p.executionWindowSeconds == 0) {
            revert MembersInvalidParameters(p);
        }
        $.parameters = p;
        emit ParametersChanged(p);
    }

    function _getMembersStorage() private pure returns (MembersStorage storage $) {
        // solhint-disable-next-line no-inline-assembly
        assembly {
            $.slot := MEMBERS_STORAGE
        }
    }
}
