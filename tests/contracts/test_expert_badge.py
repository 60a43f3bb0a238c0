"""ExpertBadge: soulbound, one per address, self-delegated votes, minted and revoked only by
its council's timelock."""

import base64
import json

import pytest
from web3.logs import DISCARD

from synod.chain.deployment import COUNCILS

pytestmark = pytest.mark.chain

ERC5192_INTERFACE_ID = bytes.fromhex("b45a3c0e")
ERC721_INTERFACE_ID = bytes.fromhex("80ac58cd")


@pytest.mark.parametrize("council", COUNCILS)
def test_genesis_holders_hold_one_self_delegated_vote_each(suite, council):
    badge = suite.badge(council)
    for holder in suite.holders:
        assert badge.functions.balanceOf(holder).call() == 1
        assert badge.functions.getVotes(holder).call() == 1
        assert badge.functions.delegates(holder).call() == holder
        assert badge.functions.isMember(holder).call()
    assert badge.functions.owner().call() == suite.timelock(council).address
    assert badge.functions.councilDomain().call() == council
    assert not badge.functions.isMember(suite.operator).call()


def test_badge_is_erc5192_locked_and_describes_itself(suite):
    badge = suite.badge("model")
    holder = suite.holders[0]
    token_id = badge.functions.tokenIdOf(holder).call()
    assert badge.functions.ownerOf(token_id).call() == holder
    assert badge.functions.locked(token_id).call() is True
    assert badge.functions.supportsInterface(ERC5192_INTERFACE_ID).call()
    assert badge.functions.supportsInterface(ERC721_INTERFACE_ID).call()
    uri = badge.functions.tokenURI(token_id).call()
    prefix = "data:application/json;base64,"
    assert uri.startswith(prefix)
    metadata = json.loads(base64.b64decode(uri.removeprefix(prefix)))
    assert metadata["council"] == "model"
    assert metadata["holder"] == holder
    assert {"trait_type": "council", "value": "model"} in metadata["attributes"]
    missing = badge.functions.tokenIdOf(suite.operator).call()
    suite.reverts(badge.functions.locked(missing), suite.operator, "ERC721NonexistentToken")
    suite.reverts(badge.functions.tokenURI(missing), suite.operator, "ERC721NonexistentToken")


def test_every_transfer_and_approval_reverts(suite):
    badge = suite.badge("data")
    holder, other = suite.holders[0], suite.accounts[7]
    token_id = badge.functions.tokenIdOf(holder).call()
    f = badge.functions
    suite.reverts(f.transferFrom(holder, other, token_id), holder, "ExpertBadgeSoulbound")
    suite.reverts(f.safeTransferFrom(holder, other, token_id), holder, "ExpertBadgeSoulbound")
    suite.reverts(f.approve(other, token_id), holder, "ExpertBadgeSoulbound")
    suite.reverts(f.setApprovalForAll(other, True), holder, "ExpertBadgeSoulbound")
    # Even the owner (the timelock) cannot move a badge.
    suite.reverts(
        f.transferFrom(holder, other, token_id),
        suite.timelock("data").address,
        "ExpertBadgeSoulbound",
    )
    assert f.ownerOf(token_id).call() == holder


def test_votes_cannot_be_delegated_away(suite):
    badge = suite.badge("data")
    holder = suite.holders[0]
    suite.reverts(
        badge.functions.delegate(suite.accounts[7]), holder, "ExpertBadgeDelegationDisabled"
    )
    suite.send(badge.functions.delegate(holder), holder)  # self-delegation stays allowed
    assert badge.functions.getVotes(holder).call() == 1


def test_timelock_mints_and_revokes(suite):
    badge = suite.badge("compute")
    newcomer = suite.accounts[7]
    receipt = suite.as_timelock("compute", badge.functions.mint(newcomer))
    token_id = badge.functions.tokenIdOf(newcomer).call()
    (locked,) = badge.events.Locked().process_receipt(receipt, errors=DISCARD)
    assert locked.args.tokenId == token_id
    suite.node.mine()
    assert badge.functions.getVotes(newcomer).call() == 1
    assert badge.functions.delegates(newcomer).call() == newcomer

    timelock = suite.timelock("compute").address
    args = suite.reverts(badge.functions.mint(newcomer), timelock, "ExpertBadgeAlreadyHeld")
    assert args == (newcomer,)
    suite.reverts(badge.functions.mint("0x" + "00" * 20), timelock, "ExpertBadgeZeroAddress")

    receipt = suite.as_timelock("compute", badge.functions.revoke(newcomer))
    (revoked,) = badge.events.BadgeRevoked().process_receipt(receipt, errors=DISCARD)
    assert revoked.args.holder == newcomer
    assert badge.functions.getVotes(newcomer).call() == 0
    assert not badge.functions.isMember(newcomer).call()
    suite.reverts(badge.functions.revoke(newcomer), timelock, "ExpertBadgeNotHeld")


def test_nobody_but_the_timelock_mints_or_revokes(suite):
    badge = suite.badge("data")
    for caller in (suite.operator, suite.holders[0], suite.timelock("model").address):
        suite.reverts(badge.functions.mint(caller), caller, "OwnableUnauthorizedAccount")
        suite.reverts(
            badge.functions.revoke(suite.holders[1]), caller, "OwnableUnauthorizedAccount"
        )
