// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title PromptTicket
/// @notice The prompt-ticket token users buy with ETH and spend on inference calls.
/// @dev Whole tickets only (decimals 0). For a payment of `v` wei at price `p` wei per ticket,
///      `buy` mints `t = floor(v / p)` tickets, keeps `t * p` wei and refunds `v - t * p`
///      (`v mod p`, always `< p`) in the same call, so no ETH is ever kept without a
///      ticket for it. The owner (the compute council's timelock after deployment) sets
///      the price and withdraws the ETH proceeds.
contract PromptTicket is ERC20, ERC20Permit, Ownable {
    /// @notice Wei per whole ticket.
    uint256 public ticketPrice;

    /// @notice The payment was smaller than the price of one ticket.
    error PromptTicketPaymentTooSmall(uint256 paid, uint256 price);
    /// @notice The price must be positive.
    error PromptTicketZeroPrice();
    /// @notice A withdrawal must name a recipient.
    error PromptTicketZeroAddress();
    /// @notice The contract holds less ETH than the withdrawal asked for.
    error PromptTicketInsufficientProceeds(uint256 requested, uint256 available);

    /// @notice Emitted after `buyer` paid `paid` wei for `tickets` whole tickets.
    event TicketsBought(address indexed buyer, uint256 tickets, uint256 paid);
    /// @notice Emitted after the ticket price changed.
    event TicketPriceChanged(uint256 oldPrice, uint256 newPrice);
    /// @notice Emitted after governance withdrew `amount` wei of proceeds to `to`.
    event ProceedsWithdrawn(address indexed to, uint256 amount);

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
    /// @return always 0
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @notice Buy as many whole tickets as `msg.value` pays for; the remainder is refunded.
    /// @return tickets the number of tickets minted to the caller
    function buy() external payable returns (uint256 tickets) {
        uint256 price = ticketPrice;
        tickets = msg.value / price;
        if (tickets == 0) revert PromptTicketPaymentTooSmall(msg.value, price);
        // change = v mod p, so the kept cost v - change is exactly tickets * p.
        uint256 change = msg.value % price;
        uint256 cost = msg.value - change;
        _mint(msg.sender, tickets);
        emit TicketsBought(msg.sender, tickets, cost);
        if (change > 0) {
            Address.sendValue(payable(msg.sender), change);
        }
    }

    /// @notice Set the price of one ticket in wei (governance only).
    /// @param newPrice wei per whole ticket, positive
    function setTicketPrice(uint256 newPrice) external onlyOwner {
        if (newPrice == 0) revert PromptTicketZeroPrice();
        uint256 oldPrice = ticketPrice;
        ticketPrice = newPrice;
        emit TicketPriceChanged(oldPrice, newPrice);
    }

    /// @notice Send `amount` wei of ticket sales to `to` (governance only).
    /// @param to the recipient, typically the treasury
    /// @param amount wei to send
    function withdrawProceeds(address payable to, uint256 amount) external onlyOwner {
        if (to == address(0)) revert PromptTicketZeroAddress();
        uint256 available = address(this).balance;
        if (amount > available) revert PromptTicketInsufficientProceeds(amount, available);
        emit ProceedsWithdrawn(to, amount);
        Address.sendValue(to, amount);
    }
}
