"""The receipts Merkle tree: every leaf's proof leads to the root, nothing else does."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from synod_core.errors import InvalidReceipt
from synod_core.merkle import (
    MerkleTree,
    hash_pair,
    receipt_leaf,
    root_from_proof,
    verify_proof,
)

digests = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True)


@given(digests)
def test_every_leaf_proves_against_the_root(values: list[bytes]) -> None:
    leaves = [receipt_leaf(d) for d in values]
    tree = MerkleTree(leaves)
    for leaf in leaves:
        proof = tree.proof(leaf)
        assert verify_proof(leaf, proof, tree.root)
        # A complete tree in one array: a proof is at most ceil(log2(n)) + 1 siblings long.
        assert len(proof) <= len(leaves).bit_length()


@given(digests, st.data())
def test_a_changed_leaf_or_sibling_fails(values: list[bytes], data: st.DataObject) -> None:
    leaves = [receipt_leaf(d) for d in values]
    tree = MerkleTree(leaves)
    leaf = data.draw(st.sampled_from(leaves))
    proof = tree.proof(leaf)
    outsider = receipt_leaf(keccak(b"not in the batch" + leaf))
    assert not verify_proof(outsider, proof, tree.root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        tampered = [*proof]
        tampered[i] = keccak(tampered[i])
        assert not verify_proof(leaf, tampered, tree.root)


@given(digests)
def test_the_root_does_not_depend_on_the_order_of_the_leaves(values: list[bytes]) -> None:
    leaves = [receipt_leaf(d) for d in values]
    assert MerkleTree(leaves).root == MerkleTree(list(reversed(leaves))).root


def test_known_shapes() -> None:
    a, b, c = (receipt_leaf(bytes([n]) * 32) for n in (1, 2, 3))
    assert MerkleTree([a]).root == a and MerkleTree([a]).proof(a) == []
    assert MerkleTree([a, b]).root == hash_pair(a, b) == hash_pair(b, a)
    # Three leaves sorted ascending sit at the end of a five-slot array in reverse order:
    # [root, n1, x, y, z] with n1 = H(y, z) and x the largest leaf.
    low, mid, high = sorted([a, b, c])
    assert MerkleTree([a, b, c]).root == hash_pair(high, hash_pair(mid, low))
    # The leaf is the double keccak of the digest (OpenZeppelin's StandardMerkleTree).
    assert receipt_leaf(b"\x07" * 32) == keccak(keccak(b"\x07" * 32))
    assert root_from_proof(low, MerkleTree([a, b, c]).proof(low)) == MerkleTree([a, b, c]).root


def test_refusals() -> None:
    leaf = receipt_leaf(b"\x01" * 32)
    with pytest.raises(InvalidReceipt, match="at least one leaf"):
        MerkleTree([])
    with pytest.raises(InvalidReceipt, match="appears twice"):
        MerkleTree([leaf, leaf])
    with pytest.raises(InvalidReceipt, match="32 bytes"):
        receipt_leaf(b"short")
    with pytest.raises(InvalidReceipt, match="not in this tree"):
        MerkleTree([leaf]).proof(receipt_leaf(b"\x02" * 32))
