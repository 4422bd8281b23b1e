// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title MockEnergyMarket
 * @notice Test double of the market's order read side: `getOrder` returns the fields the payment
 * channel client needs, in the order the market's Order struct declares them.
 */
contract MockEnergyMarket {
    // Mirrors the market's field order, not the tightest packing.
    // solhint-disable-next-line gas-struct-packing
    struct Order {
        address buyer;
        address seller;
        uint256 offerId;
        uint256 quantityWh;
        uint256 pricePerKwh;
        uint64 deliveryStart;
        uint64 deliveryEnd;
        uint256 defaultAmount;
        uint8 status;
    }

    error MockEnergyMarketUnknownOrder(uint256 orderId);

    mapping(uint256 orderId => Order) private _orders;

    function setOrder(uint256 orderId, Order calldata order) external {
        _orders[orderId] = order;
    }

    function getOrder(uint256 orderId) external view returns (Order memory) {
        Order memory order = _orders[orderId];
        if (order.buyer == address(0)) revert MockEnergyMarketUnknownOrder(orderId);
        return order;
    }
}
