"""PromptTicket: whole tickets for ETH, change refunded, price and proceeds governed."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3.logs import DISCARD

from synod.chain import typed_data
from tests.support.suite import DEV_KEYS

pytestmark = pytest.mark.chain


def test_buy_mints_whole_tickets_and_refunds_the_remainder(suite):
    ticket = suite["PromptTicket"]
    buyer = suite.accounts[5]
    price = ticket.functions.ticketPrice().call()
    before = suite.w3.eth.get_balance(buyer)
    receipt = suite.send(ticket.functions.buy(), buyer, value=price * 7 + price - 1)
    assert ticket.functions.balanceOf(buyer).call() == 7
    assert ticket.functions.decimals().call() == 0
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert before - suite.w3.eth.get_balance(buyer) == price * 7 + gas
    assert suite.w3.eth.get_balance(ticket.address) == price * 7
    (event,) = ticket.events.TicketsBought().process_receipt(receipt, errors=DISCARD)
    assert (event.args.buyer, event.args.tickets, event.args.paid) == (buyer, 7, price * 7)


def test_buy_below_one_ticket_reverts(suite):
    ticket = suite["PromptTicket"]
    price = ticket.functions.ticketPrice().call()
    args = suite.reverts(
        ticket.functions.buy(), suite.accounts[5], "PromptTicketPaymentTooSmall", value=price - 1
    )
    assert args == (price - 1, price)


def test_price_is_set_only_by_the_compute_timelock(suite):
    ticket = suite["PromptTicket"]
    assert ticket.functions.owner().call() == suite.timelock("compute").address
    suite.reverts(ticket.functions.setTicketPrice(5), suite.operator, "OwnableUnauthorizedAccount")
    suite.as_timelock("compute", ticket.functions.setTicketPrice(5))
    assert ticket.functions.ticketPrice().call() == 5
    suite.reverts(
        ticket.functions.setTicketPrice(0),
        suite.timelock("compute").address,
        "PromptTicketZeroPrice",
    )


def test_proceeds_are_withdrawn_only_by_governance(suite):
    ticket = suite["PromptTicket"]
    price = ticket.functions.ticketPrice().call()
    suite.buy_tickets(suite.accounts[5], 10)
    recipient = suite.accounts[8]
    suite.reverts(
        ticket.functions.withdrawProceeds(recipient, price),
        suite.operator,
        "OwnableUnauthorizedAccount",
    )
    before = suite.w3.eth.get_balance(recipient)
    suite.as_timelock("compute", ticket.functions.withdrawProceeds(recipient, price * 4))
    assert suite.w3.eth.get_balance(recipient) - before == price * 4
    assert suite.w3.eth.get_balance(ticket.address) == price * 6
    timelock = suite.timelock("compute").address
    args = suite.reverts(
        ticket.functions.withdrawProceeds(recipient, price * 7),
        timelock,
        "PromptTicketInsufficientProceeds",
    )
    assert args == (price * 7, price * 6)
    suite.reverts(
        ticket.functions.withdrawProceeds("0x" + "00" * 20, 1), timelock, "PromptTicketZeroAddress"
    )


def test_permit_signed_in_python_sets_the_allowance(suite):
    ticket = suite["PromptTicket"]
    owner = Account.from_key(DEV_KEYS[6])
    spender = suite["TicketEscrow"].address
    deadline = suite.w3.eth.get_block("latest")["timestamp"] + 3600
    signed = Account.sign_message(
        encode_typed_data(
            full_message=permit_message(suite, owner.address, spender, 9, 0, deadline)
        ),
        owner.key,
    )
    suite.send(
        ticket.functions.permit(
            owner.address,
            spender,
            9,
            deadline,
            signed.v,
            signed.r.to_bytes(32, "big"),
            signed.s.to_bytes(32, "big"),
        ),
        suite.accounts[9],
    )
    assert ticket.functions.allowance(owner.address, spender).call() == 9


def permit_message(suite, owner: str, spender: str, value: int, nonce: int, deadline: int):
    return typed_data.permit(
        suite["PromptTicket"], owner=owner, spender=spender, value=value, nonce=nonce,
        deadline=deadline,
    )  # fmt: skip
