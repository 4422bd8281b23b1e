// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManagedUpgradeable} from "@openzeppelin/contracts-upgradeable/access/manager/AccessManagedUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IAccessManager} from "@openzeppelin/contracts/access/manager/IAccessManager.sol";
import {MemberRegistry} from "./MemberRegistry.sol";

/**
 * @title ConsortiumGovernance
 * @notice The members' vote. One vote per member organisation (cast by its voter account), a proposal
 * passes when the votes for it reach `approvalBps` of the members counted when it was made (default
 * 6667: more than two thirds), and then runs after an execution delay and before its execution
 * window closes. A passed proposal is a list of calls executed in one transaction: member changes
 * (this contract's own {addMember}, {removeMember}, {rotateValidator}, {setParameters}), grid
 * parameters and contract upgrades (calls to the consortium's access-managed contracts, allowed
 * because the deploy grants this contract the roles it must execute with). Either every call
 * succeeds and the safety rails hold afterwards, or nothing changes.
 *
 * Why not OpenZeppelin's Governor: Governor counts token weight at a snapshot (IVotes checkpoints),
 * so one vote per organisation would need a non-transferable votes token whose mint and burn happen
 * inside the very proposals that add and remove members, plus GovernorTimelockAccess to run through
 * the AccessManager, whose per-call delays would stack on top of the execution delay. The rails
 * below must see the state after all calls of a proposal (and once more, as a dry run, when it is
 * made), which Governor offers no hook for. The membership itself (voter, validators, accounts and
 * their roles) has to live in a registry either way; counting one vote per registry entry is the
 * smaller, auditable surface, so this contract keeps the Governor vocabulary (propose, castVote,
 * state, execute, proposal id over the calls) without its token machinery.
 *
 * Safety rails, checked after every execution and in a dry run at {propose} (reverting the
 * proposal's creation): at least 4 validators (QBFT tolerates a faulty one only from 4 on), no
 * member organisation holding a third or more of the validators (it could stall consensus alone),
 * and at least one grid-operator member (someone must run review, metering and credit). A proposal
 * overrides a rail only by saying so in its `allow` bits, which every voter sees.
 */
contract ConsortiumGovernance is Initializable, AccessManagedUpgradeable, UUPSUpgradeable, MemberRegistry {
    enum ProposalState {
        Active,
        Defeated,
        Queued,
        Executable,
        Expired,
        Executed,
        Canceled
    }

    struct Proposal {
        bytes32 callsHash;
        bytes32 proposer;
        uint64 votingEndsAt;
        uint64 executableAt;
        uint64 expiresAt;
        uint32 memberCount;
        uint32 forVotes;
        uint32 againstVotes;
        uint8 allow;
        bool executed;
        bool canceled;
    }

    /// @custom:storage-location erc7201:gridchain.storage.Governance
    struct GovernanceStorage {
        uint256 proposalCount;
        mapping(uint256 proposalId => Proposal) proposals;
        mapping(uint256 proposalId => mapping(bytes32 member => bool)) voted;
    }

    // keccak256(abi.encode(uint256(keccak256("gridchain.storage.Governance")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant GOVERNANCE_STORAGE = 0xa40ef6dc55a3b5993357d0c7d782a9aad9bc92ce3fedffee842418cff07f2d00;

    /// @notice `allow` bit: the proposal may leave fewer than {MIN_VALIDATORS} validators.
    uint8 public constant ALLOW_FEW_VALIDATORS = 1;
    /// @notice `allow` bit: one organisation may hold a third or more of the validators.
    uint8 public constant ALLOW_CONCENTRATION = 2;
    /// @notice `allow` bit: the consortium may be left without a grid-operator member.
    uint8 public constant ALLOW_NO_GRID_OPERATOR = 4;
    uint256 public constant MIN_VALIDATORS = 4;

    error GovernanceNotVoter(address caller);
    error GovernanceEmptyProposal();
    error GovernanceLengthMismatch(uint256 targets, uint256 values, uint256 calldatas);
    error GovernanceUnknownProposal(uint256 proposalId);
    error GovernanceWrongState(uint256 proposalId, ProposalState state);
    error GovernanceAlreadyVoted(uint256 proposalId, bytes32 member);
    error GovernanceJoinedAfterProposal(uint256 proposalId, bytes32 member);
    error GovernanceCallsMismatch(uint256 proposalId);
    error GovernanceCallFailed(uint256 proposalId, uint256 index, bytes reason);
    error GovernanceNotProposer(uint256 proposalId, bytes32 member);
    /// @dev A dry run got to the end: every call succeeded and every rail held.
    error GovernanceDryRunPassed();
    error GovernanceTooFewValidators(uint256 validators, uint256 minimum);
    error GovernanceValidatorConcentration(bytes32 member, uint256 held, uint256 total);
    error GovernanceNoGridOperator();

    event ProposalCreated(
        uint256 indexed proposalId,
        bytes32 indexed proposer,
        address[] targets,
        uint256[] values,
        bytes[] calldatas,
        uint8 allow,
        string description
    );
    /// @notice When a proposal's vote closes, from when it may run and when it expires.
    event ProposalScheduled(uint256 indexed proposalId, uint64 votingEndsAt, uint64 executableAt, uint64 expiresAt);
    event VoteCast(uint256 indexed proposalId, bytes32 indexed member, address indexed voter, bool support);
    event ProposalExecuted(uint256 indexed proposalId);
    event ProposalCanceled(uint256 indexed proposalId);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /**
     * @param authority The consortium's GridAccessManager (it also executes role grants for members).
     * @param validatorSet The genesis ValidatorSet whose controller this contract becomes.
     * @param review GridReview, where added members' accounts are given their zones.
     * @param initialMembers The members at deploy; their validators must already be in the set and
     * their roles already granted (the genesis and the deploy did that). The deploy passes them
     * without accounts, so that this call's size does not grow with the consortium, and adds the
     * accounts with {addMemberAccounts} before it hands ADMIN over.
     */
    function initialize(
        address authority,
        address validatorSet,
        address review,
        Parameters calldata parameters,
        MemberInput[] calldata initialMembers
    ) external initializer {
        __AccessManaged_init(authority);
        _initRegistry(IAccessManager(authority), validatorSet, review, parameters, initialMembers);
    }

    /**
     * @notice Appends accounts to an existing member, grants their roles and sets their zones. The
     * deploy adds the members' accounts this way, in bounded batches after {initialize}: a proxy
     * whose creation carried every account would outgrow the initcode limit (EIP-3860, 49,152
     * bytes) at about a thousand accounts. Restricted by the AccessManager to ADMIN (no function
     * role is set for it): the deployer before it renounces ADMIN, and this contract itself, as the
     * call of a passed proposal. Nobody else can make an account a member's.
     */
    function addMemberAccounts(
        bytes32 id,
        address[] calldata accounts,
        uint64[] calldata roles,
        uint16[] calldata zones
    ) external restricted {
        _addAccounts(id, accounts, roles, zones);
    }

    /**
     * @notice Makes a proposal; only a member's voter may. Refused at once when a dry run of its calls
     * fails or breaks a rail it does not allow, so members never vote on what could not execute now.
     */
    function propose(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        uint8 allow,
        string calldata description
    ) external returns (uint256 proposalId) {
        bytes32 member = _voterMember(msg.sender);
        if (targets.length == 0) revert GovernanceEmptyProposal();
        if (targets.length != values.length || targets.length != calldatas.length) {
            revert GovernanceLengthMismatch(targets.length, values.length, calldatas.length);
        }
        _dryRunOrRevert(targets, values, calldatas, allow);
        proposalId = _create(member, keccak256(abi.encode(targets, values, calldatas)), allow);
        emit ProposalCreated(proposalId, member, targets, values, calldatas, allow, description);
    }

    /// @notice One vote per member organisation, cast by its voter while the proposal is active.
    function castVote(uint256 proposalId, bool support) external {
        bytes32 member = _voterMember(msg.sender);
        ProposalState current = state(proposalId);
        if (current != ProposalState.Active) revert GovernanceWrongState(proposalId, current);
        // A member that joined after the proposal was made is not in its member count.
        if (_joinedAfter(member, proposalId)) revert GovernanceJoinedAfterProposal(proposalId, member);
        GovernanceStorage storage $ = _getGovernanceStorage();
        if ($.voted[proposalId][member]) revert GovernanceAlreadyVoted(proposalId, member);
        $.voted[proposalId][member] = true;
        Proposal storage record = $.proposals[proposalId];
        // Cannot overflow: at most memberCount (a uint32) members vote once each.
        unchecked {
            if (support) record.forVotes += 1;
            else record.againstVotes += 1;
        }
        emit VoteCast(proposalId, member, msg.sender, support);
    }

    /**
     * @notice Runs a passed proposal's calls, all or nothing, once its delay has passed and before
     * it expires; anyone may send it (the vote already decided). Rails are checked afterwards.
     */
    function execute(
        uint256 proposalId,
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas
    ) external payable {
        ProposalState current = state(proposalId);
        if (current != ProposalState.Executable) revert GovernanceWrongState(proposalId, current);
        Proposal storage record = _getGovernanceStorage().proposals[proposalId];
        if (record.callsHash != keccak256(abi.encode(targets, values, calldatas))) {
            revert GovernanceCallsMismatch(proposalId);
        }
        // Marked first: a call that re-enters execute finds the proposal executed.
        record.executed = true;
        _runCalls(proposalId, targets, values, calldatas);
        _checkRails(record.allow);
        emit ProposalExecuted(proposalId);
    }

    /// @notice The proposer's member withdraws a proposal that has not run.
    function cancel(uint256 proposalId) external {
        bytes32 member = _voterMember(msg.sender);
        Proposal storage record = _proposal(proposalId);
        if (record.proposer != member) revert GovernanceNotProposer(proposalId, member);
        ProposalState current = state(proposalId);
        if (current == ProposalState.Executed || current == ProposalState.Canceled) {
            revert GovernanceWrongState(proposalId, current);
        }
        record.canceled = true;
        emit ProposalCanceled(proposalId);
    }

    /**
     * @notice Runs calls and checks the rails, then always reverts, so nothing it did remains: only
     * this contract may call it (from {propose}). It reverts {GovernanceDryRunPassed} when all is well.
     */
    function dryRun(address[] calldata targets, uint256[] calldata values, bytes[] calldata calldatas, uint8 allow) external {
        _checkSelf();
        _runCalls(0, targets, values, calldatas);
        _checkRails(allow);
        revert GovernanceDryRunPassed();
    }

    function state(uint256 proposalId) public view returns (ProposalState) {
        Proposal storage record = _proposal(proposalId);
        if (record.executed) return ProposalState.Executed;
        if (record.canceled) return ProposalState.Canceled;
        if (block.timestamp < record.votingEndsAt) return ProposalState.Active;
        if (!_passed(record)) return ProposalState.Defeated;
        if (block.timestamp < record.executableAt) return ProposalState.Queued;
        if (block.timestamp >= record.expiresAt) return ProposalState.Expired;
        return ProposalState.Executable;
    }

    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        return _proposal(proposalId);
    }

    function proposalCount() external view returns (uint256) {
        return _getGovernanceStorage().proposalCount;
    }

    function hasVoted(uint256 proposalId, bytes32 member) external view returns (bool) {
        return _getGovernanceStorage().voted[proposalId][member];
    }

    /**
     * @dev Passed when `forVotes / memberCount >= approvalBps / 10000`, in integers. With the default
     * 6667 that is "more than two thirds" for every member count up to 10,000 (3 of 4, 3 of 3, 4 of 5).
     */
    function _passed(Proposal storage p) private view returns (bool) {
        return uint256(p.forVotes) * 10_000 >= uint256(_parameters().approvalBps) * p.memberCount;
    }

    function _dryRunOrRevert(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        uint8 allow
    ) private {
        try this.dryRun(targets, values, calldatas, allow) {
            // dryRun always reverts; reaching here is impossible.
        } catch (bytes memory reason) {
            if (bytes4(reason) != GovernanceDryRunPassed.selector) _bubble(reason);
        }
    }

    function _create(bytes32 member, bytes32 callsHash, uint8 allow) private returns (uint256 proposalId) {
        GovernanceStorage storage $ = _getGovernanceStorage();
        Parameters memory p = _parameters();
        proposalId = ++$.proposalCount;
        uint64 votingEndsAt = uint64(block.timestamp) + p.votingPeriodSeconds;
        uint64 executableAt = votingEndsAt + p.executionDelaySeconds;
        uint64 expiresAt = executableAt + p.executionWindowSeconds;
        $.proposals[proposalId] = Proposal({
            callsHash: callsHash,
            proposer: member,
            votingEndsAt: votingEndsAt,
            executableAt: executableAt,
            expiresAt: expiresAt,
            memberCount: uint32(memberCount()),
            forVotes: 0,
            againstVotes: 0,
            allow: allow,
            executed: false,
            canceled: false
        });
        _markProposalCreated(proposalId);
        emit ProposalScheduled(proposalId, votingEndsAt, executableAt, expiresAt);
    }

    function _runCalls(
        uint256 proposalId,
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas
    ) private {
        for (uint256 i = 0; i < targets.length; ++i) {
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, bytes memory reason) = targets[i].call{value: values[i]}(calldatas[i]);
            if (!ok) revert GovernanceCallFailed(proposalId, i, reason);
        }
    }

    function _checkRails(uint8 allow) private view {
        (uint256 total, bytes32 largest, uint256 held, uint256 gridOperators) = _railFacts();
        if (allow & ALLOW_FEW_VALIDATORS == 0 && total < MIN_VALIDATORS) {
            revert GovernanceTooFewValidators(total, MIN_VALIDATORS);
        }
        if (allow & ALLOW_CONCENTRATION == 0 && held * 3 >= total && held > 0) {
            revert GovernanceValidatorConcentration(largest, held, total);
        }
        if (allow & ALLOW_NO_GRID_OPERATOR == 0 && gridOperators == 0) revert GovernanceNoGridOperator();
    }

    function _proposal(uint256 proposalId) private view returns (Proposal storage p) {
        p = _getGovernanceStorage().proposals[proposalId];
        if (p.votingEndsAt == 0) revert GovernanceUnknownProposal(proposalId);
    }

    function _voterMember(address voter) private view returns (bytes32 member) {
        member = memberOfVoter(voter);
        if (member == bytes32(0)) revert GovernanceNotVoter(voter);
    }

    function _bubble(bytes memory reason) private pure {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            revert(add(reason, 0x20), mload(reason))
        }
    }

    function _authorizeUpgrade(address) internal override restricted {}

    function _getGovernanceStorage() private pure returns (GovernanceStorage storage $) {
        // solhint-disable-next-line no-inline-assembly
        assembly {
            $.slot := GOVERNANCE_STORAGE
        }
    }
}
