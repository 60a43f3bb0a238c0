"""The Merkle tree over a settlement batch's call receipts (docs/settlement.md).

The tree is OpenZeppelin's `StandardMerkleTree` for leaves of type `bytes32`, node for node,
so a proof from here verifies with OpenZeppelin's `MerkleProof.verify` on chain and with the
`@openzeppelin/merkle-tree` JavaScript library:

- a leaf is `keccak256(bytes.concat(keccak256(abi.encode(digest))))`, where `digest` is the
  receipt's EIP-712 digest (synod_core.receipts.receipt_digest). Hashing twice keeps a leaf
  from ever being read as an inner node (a second-preimage attack);
- an inner node is `keccak256(min(a, b) ++ max(a, b))`: sorted pairs, so a proof is just the
  list of siblings from the leaf up, with no left/right flags;
- leaves are sorted by hash and laid out as a complete binary tree in one array (the root at
  index 0, leaves at the end), exactly as `@openzeppelin/merkle-tree` builds it.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils import keccak

from synod_core.errors import InvalidReceipt

HASH_LENGTH = 32


def receipt_leaf(digest: bytes) -> bytes:
    """The leaf of one receipt: the double keccak256 of its 32-byte EIP-712 digest."""
    _check_hash(digest, "a receipt digest")
    # abi.encode(bytes32 digest) is the 32 bytes themselves.
    return keccak(keccak(digest))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """An inner node: OpenZeppelin's commutative keccak256 of two child hashes."""
    return keccak(a + b) if a <= b else keccak(b + a)


class MerkleTree:
    """A tree over leaf hashes (from `receipt_leaf`); duplicates are refused because each
    call has exactly one receipt, so a repeated leaf means a receipt was counted twice."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise InvalidReceipt("a Merkle tree needs at least one leaf.")
        for leaf in leaves:
            _check_hash(leaf, "a leaf")
        ordered = sorted(leaves)
        if len(set(ordered)) != len(ordered):
            raise InvalidReceipt("the same receipt leaf appears twice in one batch.")
        size = 2 * len(ordered) - 1
        tree: list[bytes] = [b""] * size
        for i, leaf in enumerate(ordered):
            tree[size - 1 - i] = leaf
        for i in range(size - 1 - len(ordered), -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        self._tree = tree
        self._position = {leaf: size - 1 - i for i, leaf in enumerate(ordered)}

    @property
    def root(self) -> bytes:
        return self._tree[0]

    def __len__(self) -> int:
        return len(self._position)

    def __contains__(self, leaf: bytes) -> bool:
        return leaf in self._position

    def proof(self, leaf: bytes) -> list[bytes]:
        """The sibling hashes from `leaf` up to the root."""
        try:
            index = self._position[leaf]
        except KeyError:
            raise InvalidReceipt(f"leaf 0x{leaf.hex()} is not in this tree.") from None
        siblings = []
        while index > 0:
            siblings.append(self._tree[index + 1 if index % 2 else index - 1])
            index = (index - 1) // 2
        return siblings


def root_from_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to (OpenZeppelin's MerkleProof.processProof)."""
    _check_hash(leaf, "a leaf")
    node = leaf
    for sibling in proof:
        _check_hash(sibling, "a proof element")
        node = hash_pair(node, sibling)
    return node


def verify_proof(leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """True when `proof` shows `leaf` is in the tree with `root`."""
    _check_hash(root, "a root")
    return root_from_proof(leaf, proof) == root


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_LENGTH:
        raise InvalidReceipt(f"{what} must be 32 bytes, not {value!r}.")
