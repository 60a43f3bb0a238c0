"""A test wallet: an EIP-1193 provider injected into the page whose requests Python answers.

`personal_sign` is signed here with eth_account, the way a real wallet signs it (EIP-191).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

PROVIDER_SCRIPT = """
(() => {
  const listeners = {};
  window.ethereum = {
    isSynodTestWallet: true,
    request: async ({ method, params }) => {
      const answer = await window.__synodWallet(method, params || []);
      if (answer.error) {
        const err = new Error(answer.error.message);
        err.code = answer.error.code;
        throw err;
      }
      return answer.result;
    },
    on: (name, fn) => { (listeners[name] = listeners[name] || []).push(fn); },
    removeListener: () => {},
  };
})();
"""


@dataclass
class ScriptedWallet:
    account: LocalAccount
    chain_id: int = 31337
    reject: set[str] = field(default_factory=set)  # methods the "user" refuses (4001)
    calls: list[str] = field(default_factory=list)
    signed_messages: list[str] = field(default_factory=list)

    def install(self, page) -> None:
        page.expose_function("__synodWallet", self.handle)
        page.add_init_script(PROVIDER_SCRIPT)

    def handle(self, method: str, params: list) -> dict:
        self.calls.append(method)
        if method in self.reject:
            return {"error": {"code": 4001, "message": "User rejected the request."}}
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.account.address.lower()]}
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "wallet_switchEthereumChain":
            self.chain_id = int(params[0]["chainId"], 16)
            return {"result": None}
        if method == "personal_sign":
            data, address = params
            if address.lower() != self.account.address.lower():
                return {"error": {"code": 4100, "message": "Unknown account."}}
            message = bytes.fromhex(data.removeprefix("0x")).decode()
            self.signed_messages.append(message)
            signed = self.account.sign_message(encode_defunct(text=message))
            return {"result": "0x" + bytes(signed.signature).hex()}
        return {"error": {"code": 4200, "message": f"Unsupported method {method}."}}


@dataclass
class ChainWallet(ScriptedWallet):
    """A ScriptedWallet that also sends transactions and signs EIP-712 data, as a real
    wallet does: it signs locally and hands raw transactions to the chain node."""

    w3: object = None  # web3.Web3 connected to the test node
    typed_data_signed: list[dict] = field(default_factory=list)

    def handle(self, method: str, params: list) -> dict:
        if method == "eth_sendTransaction":
            return self._send(params[0])
        if method == "eth_signTypedData_v4":
            import json

            address, payload = params
            if address.lower() != self.account.address.lower():
                return {"error": {"code": 4100, "message": "Unknown account."}}
            typed = json.loads(payload)
            self.calls.append(method)
            self.typed_data_signed.append(typed)
            signed = self.account.sign_typed_data(full_message=typed)
            return {"result": "0x" + bytes(signed.signature).hex().removeprefix("0x")}
        if method == "eth_getTransactionReceipt":
            self.calls.append(method)
            receipt = (
                self.w3.eth.get_transaction_receipt(params[0]) if self._mined(params[0]) else None
            )
            if receipt is None:
                return {"result": None}
            return {"result": {"status": hex(receipt["status"]),
                               "blockNumber": hex(receipt["blockNumber"])}}  # fmt: skip
        return super().handle(method, params)

    def _mined(self, tx_hash: str) -> bool:
        from web3.exceptions import TransactionNotFound

        try:
            self.w3.eth.get_transaction_receipt(tx_hash)
            return True
        except TransactionNotFound:
            return False

    def _send(self, tx: dict) -> dict:
        self.calls.append("eth_sendTransaction")
        if "eth_sendTransaction" in self.reject:
            return {"error": {"code": 4001, "message": "User rejected the request."}}
        w3 = self.w3
        sender = self.account.address
        request = {
            "from": sender,
            "to": w3.to_checksum_address(tx["to"]),
            "data": tx.get("data", "0x"),
            "value": int(tx.get("value", "0x0"), 16),
            "nonce": w3.eth.get_transaction_count(sender, "pending"),
            "chainId": self.chain_id,
        }
        request["gas"] = int(w3.eth.estimate_gas(request) * 1.3)
        fees = w3.eth.fee_history(1, "latest")
        base = fees["baseFeePerGas"][-1]
        request["maxFeePerGas"] = base * 2 + 10**9
        request["maxPriorityFeePerGas"] = 10**9
        signed = self.account.sign_transaction(request)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        return {"result": "0x" + bytes(tx_hash).hex().removeprefix("0x")}
