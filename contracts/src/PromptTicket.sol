// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title PromptTicket
/// @notice The prompt-ticket token users buy with ETH and spend on inference calls.
/// @dev Whole tickets only: `buy` mints floor(msg.value / price) tickets and refunds the
///      remainder in the same call, so no ETH is ever kept without a ticket for it.
contract PromptTicket is ERC20, ERC20Permit, Ownable {
    /// @notice Wei per whole ticket.
    uint256 public ticketPrice;

    /// @notice The payment was smaller than the price of one ticket.
    error PromptTicketPaymentTooSmall(uint256 paid, uint256 price);
    /// @notice The price must be positive.
    error PromptTicketZeroPrice();
    /// @notice Returning change or withdrawing ETH failed.
    error PromptTicketTransferFailed(address to, uint256 amount);

    /// @notice Emitted after `buyer` paid `paid` wei for `tickets` whole tickets.
    event TicketsBought(address indexed buyer, uint256 tickets, uint256 paid);
    /// @notice Emitted after the ticket price changed.
    event TicketPriceChanged(uint256 oldPrice, uint256 newPrice);

    /// @param initialPrice wei per whole ticket
    /// @param initialOwner who may change the price and withdraw proceeds (governance)
    constructor(uint256 initialPrice, address initialOwner)
        ERC20("Synod Prompt Ticket", "TICKET")
        ERC20Permit("Synod Prompt Ticket")
        Ownable(initialOwner)
    {
        if (initialPrice == 0) revert PromptTicketZeroPrice();
        ticketPrice = initialPrice;
    }

    /// @notice Tickets are indivisible.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @notice Buy as many whole tickets as `msg.value` pays for; the remainder is refunded.
    /// @return tickets the number of tickets minted to the caller
    function buy() external payable returns (uint256 tickets) {
        uint256 price = ticketPrice;
        tickets = msg.value / price;
        if (tickets == 0) revert PromptTicketPaymentTooSmall(msg.value, price);
        uint256 cost = tickets * price;
        _mint(msg.sender, tickets);
        emit TicketsBought(msg.sender, tickets, cost);
        uint256 change = msg.value - cost;
        if (change > 0) {
            (bool sent,) = msg.sender.call{value: change}("");
            if (!sent) revert PromptTicketTransferFailed(msg.sender, change);
        }
    }

    /// @notice Set the price of one ticket in wei.
    function setTicketPrice(uint256 newPrice) external onlyOwner {
        if (newPrice == 0) revert PromptTicketZeroPrice();
        uint256 oldPrice = ticketPrice;
        ticketPrice = newPrice;
        emit TicketPriceChanged(oldPrice, newPrice);
    }
}
