"""Check a downloaded receipts-with-proofs file against the root on chain, trusting only the
chain and the file (docs/settlement.md).

    synod-verify-receipts proofs-batch-7.json --rpc https://rpc.example

For every receipt in the file it checks that the provider named in it signed it (EIP-712 in
the ProviderRegistry domain the escrow itself names), that its leaf is the double hash of
that signature's digest, and that its Merkle proof leads to the receipts root carried by
the escrow's `BatchSettled` event for that batch, read from the node's logs. The platform's
database is never asked. Needs only the standard library, eth_account and eth_utils.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from synod_core.errors import InvalidReceipt
from synod_core.merkle import receipt_leaf, root_from_proof
from synod_core.receipts import ReceiptDomain, SignedReceipt, receipt_digest

PROOF_FORMAT = "synod-receipt-proofs/1"
BATCH_SETTLED_TOPIC = (
    "0x" + keccak(text="BatchSettled(uint256,bytes32,uint256,uint256,uint256)").hex()
)
PROVIDER_REGISTRY_SELECTOR = "0x" + keccak(text="providerRegistry()")[:4].hex()

Rpc = Callable[[str, list], Any]


def http_rpc(url: str, *, timeout: float = 10) -> Rpc:
    """A JSON-RPC caller for `url` (the standard library's HTTP client)."""

    def call(method: str, params: list) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        request = urllib.request.Request(
            url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise InvalidReceipt(f"the node refused {method}: {answer['error']}")
        return answer["result"]

    return call


@dataclass
class Verification:
    batch: int
    onchain_root: str = ""
    checked: list[tuple[str, bool, str]] = field(default_factory=list)  # call id, ok, why
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.checked) and all(ok for _, ok, _ in self.checked)


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def onchain_root(rpc: Rpc, escrow: str, batch: int, *, from_block: int = 0) -> str | None:
    """The receipts root of `batch` from the escrow's BatchSettled log; None if not settled."""
    logs = rpc(
        "eth_getLogs",
        [
            {
                "address": to_checksum_address(escrow),
                "topics": [BATCH_SETTLED_TOPIC, _word(batch)],
                "fromBlock": hex(from_block),
                "toBlock": "latest",
            }
        ],
    )
    live = [log for log in logs if not log.get("removed")]
    if len(live) != 1:
        return None
    return live[0]["topics"][2].lower()


def verify_bundle(bundle: dict[str, Any], rpc: Rpc, *, from_block: int = 0) -> Verification:
    """Check every receipt of `bundle` against the chain behind `rpc`."""
    if not isinstance(bundle, dict) or bundle.get("format") != PROOF_FORMAT:
        raise InvalidReceipt(f"not a {PROOF_FORMAT} file.")
    result = Verification(batch=int(bundle["batch"]))
    chain_id = int(rpc("eth_chainId", []), 16)
    if chain_id != int(bundle["chain_id"]):
        result.problems.append(f"the node serves chain {chain_id}, the file is for chain "
                               f"{bundle['chain_id']}")  # fmt: skip
        return result
    escrow = to_checksum_address(bundle["escrow"])
    answer = rpc("eth_call", [{"to": escrow, "data": PROVIDER_REGISTRY_SELECTOR}, "latest"])
    registry = to_checksum_address("0x" + answer[-40:])
    if registry != to_checksum_address(bundle["provider_registry"]):
        result.problems.append(
            f"the escrow names ProviderRegistry {registry}, not {bundle['provider_registry']}"
        )
        return result
    root = onchain_root(rpc, escrow, result.batch, from_block=from_block)
    if root is None:
        result.problems.append(f"no BatchSettled event for batch {result.batch} at {escrow}")
        return result
    result.onchain_root = root
    if root != str(bundle["receipts_root"]).lower():
        result.problems.append(f"the file's root {bundle['receipts_root']} is not the chain's")
    domain = ReceiptDomain(chain_id=chain_id, verifying_contract=registry)
    for entry in bundle.get("receipts", []):
        call_id = str(entry.get("call_id", "?"))
        result.checked.append((call_id, *_check_entry(entry, domain, root)))
    if not result.checked:
        result.problems.append("the file holds no receipts")
    return result


def _check_entry(entry: dict[str, Any], domain: ReceiptDomain, root: str) -> tuple[bool, str]:
    try:
        signed = SignedReceipt.from_json(entry["signed_receipt"])
        if not signed.verify(domain):
            return False, "the signature is not the provider's"
        leaf = receipt_leaf(receipt_digest(signed.receipt, domain))
        if "0x" + leaf.hex() != str(entry["leaf"]).lower():
            return False, "the leaf is not this receipt's"
        proof = [bytes.fromhex(str(node).removeprefix("0x")) for node in entry["proof"]]
        if "0x" + root_from_proof(leaf, proof).hex() != root:
            return False, "the proof does not lead to the root on chain"
    except (InvalidReceipt, KeyError, TypeError, ValueError) as exc:
        return False, f"malformed entry: {exc}"
    return True, "signed by the provider and in the settled batch"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="synod-verify-receipts",
        description="Check a Synod receipts-with-proofs file against the chain.",
    )
    parser.add_argument("file", type=Path, help="the JSON file downloaded from the usage page")
    parser.add_argument("--rpc", required=True, help="a JSON-RPC URL of the chain")
    parser.add_argument("--from-block", type=int, default=0, help="where to search for logs")
    args = parser.parse_args(argv)
    try:
        bundle = json.loads(args.file.read_text())
        result = verify_bundle(bundle, http_rpc(args.rpc), from_block=args.from_block)
    except (OSError, ValueError, InvalidReceipt) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"batch {result.batch}: root on chain {result.onchain_root or '(none)'}")
    for call_id, ok, why in result.checked:
        print(f"  {'OK  ' if ok else 'FAIL'} {call_id}: {why}")
    for problem in result.problems:
        print(f"  FAIL {problem}")
    passed = sum(ok for _, ok, _ in result.checked)
    print(
        f"{passed} of {len(result.checked)} receipts verified" + ("" if result.ok else "; FAILED")
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
