// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title ChannelMath
 * @notice Arithmetic of channel settlement that can never revert: every step saturates instead, and
 * the final split is clamped into [0, TAD] so no proof, however large its amounts, can make a payout
 * overflow, underflow or exceed what the channel holds.
 */
library ChannelMath {
    /**
     * @dev Splits TAD by the participants' net balances, clamped into [0, TAD]:
     * `net1 = deposit1 - withdrawn1 + transferred2 - transferred1`, `net2 = TAD - net1`.
     * When both true nets lie in [0, TAD] (every proof honest clients exchange keeps them there),
     * `net1 + net2 == TAD` and each side gets exactly its net balance. When a side signed away more
     * than it held, the clamp caps the other side at TAD and the overspender gets 0: nobody is paid
     * more than the channel holds. The difference of the transferred amounts is taken first so no
     * intermediate result saturates before the final clamp; every step saturates instead of reverting.
     */
    function settlementAmounts(
        uint256 available,
        uint256 deposit1,
        uint256 withdrawn1,
        uint256 transferred1,
        uint256 transferred2
    ) internal pure returns (uint256 amount1, uint256 amount2) {
        uint256 net1;
        if (transferred2 >= transferred1) {
            net1 = saturatingAdd(deposit1, transferred2 - transferred1);
        } else {
            net1 = saturatingSub(deposit1, transferred1 - transferred2);
        }
        net1 = saturatingSub(net1, withdrawn1);
        amount1 = net1 < available ? net1 : available;
        unchecked {
            // amount1 <= available by the line above.
            amount2 = available - amount1;
        }
    }

    /**
     * @dev deposit1 + deposit2 - withdrawn1 - withdrawn2; withdrawals keep it non-negative. Deposits
     * were transferred in, so their sum is bounded by the token's supply and cannot overflow; the
     * withdrawals are bounded by the deposits.
     */
    function totalAvailableDeposit(
        uint256 deposit1,
        uint256 withdrawn1,
        uint256 deposit2,
        uint256 withdrawn2
    ) internal pure returns (uint256) {
        return saturatingSub(saturatingAdd(deposit1, deposit2), saturatingAdd(withdrawn1, withdrawn2));
    }

    function tryAdd(uint256 a, uint256 b) internal pure returns (bool, uint256) {
        unchecked {
            // Wrapping add; the comparison detects the wrap.
            uint256 c = a + b;
            return (c >= a, c);
        }
    }

    function saturatingAdd(uint256 a, uint256 b) internal pure returns (uint256) {
        (bool ok, uint256 c) = tryAdd(a, b);
        return ok ? c : type(uint256).max;
    }

    function saturatingSub(uint256 a, uint256 b) internal pure returns (uint256) {
        unchecked {
            // Guarded by the comparison.
            return a > b ? a - b : 0;
        }
    }
}
