"""Transactions the user's own wallet sends for tickets: buy, deposit (ERC-2612 permit and
`depositWithPermit` in one signature, or approve + deposit), request and complete a
withdrawal, and a provider's claim.

The server checks each request against the chain first and refuses, in plain words, what the
contracts would refuse (or what would strand tickets the ledger still holds); then it builds
`to`, `data` and `value`, simulates the call from the user's address, and the browser hands
the result to the wallet unchanged. A revert (at simulation, or of a mined transaction) is
decoded by the chain app and said in words here (`explain_revert`).

Private to the tickets app: its views call these. Other apps reach them through the views'
URLs only.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address

from synod.chain import selectors as chain_selectors
from synod.chain.errors import (
    ArtifactMissing,
    ChainUnavailable,
    ContractNotDeployed,
    ContractRevert,
    as_contract_revert,
)
from synod.tickets import selectors
from synod.tickets.errors import (
    TicketAmountInvalid,
    TicketContractsMissing,
    TicketTransactionRefused,
)

if TYPE_CHECKING:
    from web3.contract import Contract

WEI_PER_ETH = 10**18
# How long a deposit permit stays usable after it is prepared (chain time).
PERMIT_LIFETIME_S = 60 * 60
SIGNATURE_PATTERN = re.compile(r"^0x[0-9a-fA-F]{130}$")
MAX_TICKETS = 2**128  # far beyond any real amount; keeps the arithmetic and the ABI sane


# --- What the wallet is handed --------------------------------------------------------------


@dataclass(frozen=True)
class WalletCall:
    to: str
    data: str
    value: str = "0x0"
    description: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Quote:
    """What a payment of `paid_wei` buys at `price_wei` per ticket."""

    paid_wei: int
    price_wei: int
    tickets: int
    cost_wei: int
    change_wei: int

    @property
    def paid_eth(self) -> str:
        return format_eth(self.paid_wei)

    @property
    def price_eth(self) -> str:
        return format_eth(self.price_wei)

    @property
    def cost_eth(self) -> str:
        return format_eth(self.cost_wei)

    @property
    def change_eth(self) -> str:
        return format_eth(self.change_wei)


@dataclass(frozen=True)
class PendingWithdrawal:
    amount: int
    available_at: datetime
    seconds_left: int  # by the chain's clock; 0 when it can be completed now

    @property
    def time_left(self) -> str:
        """As the page's countdown writes it: "59 min 58 s", "1 h 00 min 00 s"."""
        hours, rest = divmod(self.seconds_left, 3600)
        minutes, seconds = divmod(rest, 60)
        if hours:
            return f"{hours} h {minutes:02d} min {seconds:02d} s"
        if minutes:
            return f"{minutes} min {seconds:02d} s"
        return f"{seconds} s"


@dataclass(frozen=True)
class TicketBalances:
    """Everything the tickets page shows. The wallet, the price and a pending withdrawal are
    read from the chain now; the deposit and what it holds back come from the ledger (the
    escrow as last indexed, and calls reserved or charged but not settled yet)."""

    address: str
    price_wei: int | None  # None: PromptTicket is not deployed
    eth_wei: int
    summary: selectors.TicketSummary
    withdrawal: PendingWithdrawal | None
    withdrawal_delay_s: int | None  # None: TicketEscrow is not deployed
    chain_now: datetime

    @property
    def price_eth(self) -> str:
        return "" if self.price_wei is None else format_eth(self.price_wei)

    @property
    def eth(self) -> str:
        """The wallet's ETH, rounded down to 6 decimals (enough to read, never overstated)."""
        return format_eth(self.eth_wei - self.eth_wei % 10**12)


def format_eth(wei: int) -> str:
    """Wei as ETH without trailing zeros: 1500000000000000 -> "0.0015"."""
    text = format(Decimal(wei) / WEI_PER_ETH, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def eth_to_wei(eth: Decimal) -> int:
    wei = eth * WEI_PER_ETH
    if wei != wei.to_integral_value():
        raise TicketAmountInvalid(
            "Amounts below one wei (18 decimals) cannot be paid.", field="eth"
        )
    return int(wei)


# --- Chain reads ----------------------------------------------------------------------------


def _contract(name: str) -> Contract:
    try:
        return chain_selectors.contract(name)
    except (ContractNotDeployed, ArtifactMissing):
        raise TicketContractsMissing(
            f"{name} is not deployed on this chain yet; tickets cannot move until it is."
        ) from None


def _read(call: Any, **tx: Any) -> Any:
    """A view call; any failure other than a revert is the chain being away."""
    try:
        return call.call(tx) if tx else call.call()
    except ChainUnavailable:
        raise
    except Exception as exc:
        revert = as_contract_revert(exc)
        if revert is not None:
            raise revert from exc
        raise ChainUnavailable(reason=f"ticket read failed: {type(exc).__name__}") from exc


def chain_time(contract: Contract) -> int:
    """The time the next block will carry, as well as it can be told: the latest block's
    timestamp, or the wall clock when that is later (no block was mined for a while; the
    next one is stamped at least now). The contracts compare with the block's time."""
    try:
        latest = int(contract.w3.eth.get_block("latest")["timestamp"])
    except ChainUnavailable:
        raise
    except Exception as exc:
        raise ChainUnavailable(reason=f"block read failed: {type(exc).__name__}") from exc
    return max(latest, int(time.time()))


def ticket_price() -> int:
    return _read(_contract("PromptTicket").functions.ticketPrice())


def pending_withdrawal(escrow: Contract, holder: str, now: int) -> PendingWithdrawal | None:
    amount, available_at = _read(escrow.functions.withdrawals(holder))
    if not available_at:
        return None
    return PendingWithdrawal(
        amount=amount,
        available_at=datetime.fromtimestamp(available_at, tz=UTC),
        seconds_left=max(0, available_at - now),
    )


def balances(address: str) -> TicketBalances:
    """The tickets page's figures. Raises ChainUnavailable when the chain does not answer."""
    holder = to_checksum_address(address)
    summary = selectors.ticket_summary(holder)
    ticket = selectors.deployed_contract("PromptTicket")
    escrow = selectors.deployed_contract("TicketEscrow")
    clock = escrow or ticket
    now = chain_time(clock) if clock is not None else int(time.time())
    return TicketBalances(
        address=holder,
        price_wei=_read(ticket.functions.ticketPrice()) if ticket else None,
        eth_wei=_eth_balance(clock, holder) if clock is not None else 0,
        summary=summary,
        withdrawal=pending_withdrawal(escrow, holder, now) if escrow else None,
        withdrawal_delay_s=_read(escrow.functions.withdrawalDelay()) if escrow else None,
        chain_now=datetime.fromtimestamp(now, tz=UTC),
    )


# --- Building calls -------------------------------------------------------------------------


def quote(paid_wei: int) -> Quote:
    """The live quote: whole tickets for `paid_wei`, and the change `buy()` refunds."""
    price = ticket_price()
    tickets, change = divmod(paid_wei, price)
    return Quote(paid_wei, price, tickets, tickets * price, change)


def _checked_amount(amount: int, *, field: str = "amount") -> int:
    if amount < 1:
        raise TicketAmountInvalid("The amount must be at least one ticket.", field=field)
    if amount > MAX_TICKETS:
        raise TicketAmountInvalid("That amount is larger than any ticket balance.", field=field)
    return amount


def _simulate(
    contract: Contract, function: str, args: list, *, sender: str, value: int = 0
) -> None:
    """Run the call from `sender` against the latest block; refuse, in words, what reverts."""
    try:
        getattr(contract.functions, function)(*args).call({"from": sender, "value": value})
    except ChainUnavailable:
        raise
    except Exception as exc:
        revert = as_contract_revert(exc)
        if revert is None:
            raise TicketTransactionRefused(
                f"The chain would not run this transaction: {_plain_error(exc)}"
            ) from exc
        raise TicketTransactionRefused(explain_revert(revert)) from exc


def _plain_error(exc: Exception) -> str:
    message = str(exc).strip() or type(exc).__name__
    if "insufficient funds" in message.lower():
        return "your wallet does not hold enough ETH for this payment and its gas."
    return message[:300]


def _call(
    contract: Contract, function: str, args: list, description: str, *, sender: str,
    value: int = 0,
) -> WalletCall:  # fmt: skip
    _simulate(contract, function, args, sender=sender, value=value)
    return WalletCall(
        to=contract.address,
        data=contract.encode_abi(function, args=args),
        value=hex(value),
        description=description,
    )


def buy_call(address: str, paid_wei: int) -> tuple[WalletCall, Quote]:
    """`PromptTicket.buy()` paying `paid_wei`; refuses zero and dust (less than one ticket)."""
    holder = to_checksum_address(address)
    if paid_wei <= 0:
        raise TicketAmountInvalid("Enter how much ETH to pay: more than zero.", field="eth")
    offer = quote(paid_wei)
    if offer.tickets == 0:
        raise TicketAmountInvalid(
            f"{offer.paid_eth} ETH is dust: one ticket costs {offer.price_eth} ETH.", field="eth"
        )
    ticket = _contract("PromptTicket")
    eth_wei = _eth_balance(ticket, holder)
    if paid_wei > eth_wei:
        raise TicketTransactionRefused(
            f"Your wallet holds {format_eth(eth_wei)} ETH; you offered {offer.paid_eth} ETH.",
            field="eth",
        )
    tickets = "ticket" if offer.tickets == 1 else "tickets"
    description = f"Buy {offer.tickets} {tickets} for {offer.cost_eth} ETH"
    if offer.change_wei:
        description += f" ({offer.change_eth} ETH change refunded)"
    call = _call(ticket, "buy", [], description, sender=holder, value=paid_wei)
    return call, offer


def _eth_balance(contract: Contract, holder: str) -> int:
    try:
        return int(contract.w3.eth.get_balance(holder))
    except ChainUnavailable:
        raise
    except Exception as exc:
        raise ChainUnavailable(reason=f"balance read failed: {type(exc).__name__}") from exc


def _check_wallet_holds(ticket: Contract, holder: str, amount: int) -> None:
    held = _read(ticket.functions.balanceOf(holder))
    if amount > held:
        raise TicketTransactionRefused(
            f"Your wallet holds {held} ticket{'s' if held != 1 else ''}; you cannot deposit "
            f"{amount}. Buy more first.",
            field="amount",
        )


def deposit_permit(address: str, amount: int) -> dict[str, Any]:
    """The ERC-2612 permit (EIP-712 typed data) for `depositWithPermit`, deadline included.
    Checks the wallet holds the tickets first."""
    holder = to_checksum_address(address)
    amount = _checked_amount(amount)
    ticket = _contract("PromptTicket")
    escrow = _contract("TicketEscrow")
    _check_wallet_holds(ticket, holder, amount)
    deadline = chain_time(ticket) + PERMIT_LIFETIME_S
    return chain_selectors.permit_typed_data(
        ticket, owner=holder, spender=escrow.address, value=amount, deadline=deadline
    )


def _split_signature(signature: str) -> tuple[int, bytes, bytes]:
    if not SIGNATURE_PATTERN.match(signature or ""):
        raise TicketAmountInvalid("The signature must be 65 bytes as 0x-prefixed hex.")
    raw = bytes.fromhex(signature[2:])
    v = raw[64]
    return (v + 27 if v < 27 else v), raw[:32], raw[32:64]


def deposit_with_permit_call(
    address: str, amount: int, deadline: int, signature: str
) -> WalletCall:
    """`depositWithPermit(amount, deadline, v, r, s)` once the signature is the owner's."""
    holder = to_checksum_address(address)
    amount = _checked_amount(amount)
    ticket = _contract("PromptTicket")
    escrow = _contract("TicketEscrow")
    _check_wallet_holds(ticket, holder, amount)
    if deadline <= chain_time(ticket):
        raise TicketTransactionRefused("The signed permit has expired: sign a new one.")
    v, r, s = _split_signature(signature)
    typed = chain_selectors.permit_typed_data(
        ticket, owner=holder, spender=escrow.address, value=amount, deadline=deadline
    )
    try:
        signer = Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
    except Exception:
        signer = None
    if signer != holder:
        raise TicketTransactionRefused(
            "The permit was not signed by your account (or was signed for another amount, "
            "deadline or nonce): sign it again."
        )
    return _call(
        escrow, "depositWithPermit", [amount, deadline, v, r, s],
        f"Deposit {amount} ticket{'s' if amount != 1 else ''} into the escrow",
        sender=holder,
    )  # fmt: skip


def approve_call(address: str, amount: int) -> WalletCall:
    """The fallback's first step: let the escrow take `amount` tickets."""
    holder = to_checksum_address(address)
    amount = _checked_amount(amount)
    ticket = _contract("PromptTicket")
    escrow = _contract("TicketEscrow")
    _check_wallet_holds(ticket, holder, amount)
    return _call(
        ticket, "approve", [escrow.address, amount],
        f"Allow the escrow to take {amount} ticket{'s' if amount != 1 else ''}", sender=holder,
    )  # fmt: skip


def deposit_call(address: str, amount: int) -> WalletCall:
    """The fallback's second step, once the approval is mined: `deposit(amount)`."""
    holder = to_checksum_address(address)
    amount = _checked_amount(amount)
    ticket = _contract("PromptTicket")
    escrow = _contract("TicketEscrow")
    _check_wallet_holds(ticket, holder, amount)
    allowed = _read(ticket.functions.allowance(holder, escrow.address))
    if allowed < amount:
        raise TicketTransactionRefused(
            f"The escrow may take {allowed} of your tickets; approve {amount} first."
        )
    return _call(
        escrow, "deposit", [amount],
        f"Deposit {amount} ticket{'s' if amount != 1 else ''} into the escrow", sender=holder,
    )  # fmt: skip


def request_withdrawal_call(address: str, amount: int) -> WalletCall:
    """`requestWithdrawal(amount)`, refused above what is available: deposited tickets less
    those reserved for calls in flight and those spent but not settled yet."""
    holder = to_checksum_address(address)
    amount = _checked_amount(amount)
    escrow = _contract("TicketEscrow")
    summary = selectors.ticket_summary(holder)
    deposited, withdrawable = summary.deposited, summary.withdrawable
    if amount > deposited:
        raise TicketTransactionRefused(
            f"You have {_plural(deposited)} deposited; you cannot withdraw {amount}.",
            field="amount",
        )
    if amount > withdrawable:
        held = summary.reserved + summary.spent
        raise TicketTransactionRefused(
            f"Only {withdrawable} of your {_plural(deposited)} deposited can be withdrawn: "
            f"{held} {'is' if held == 1 else 'are'} reserved for calls in flight or spent and "
            f"not settled yet. Withdrawing {amount} would strand them; withdraw at most "
            f"{withdrawable}.",
            field="amount",
        )
    delay = _read(escrow.functions.withdrawalDelay())
    description = f"Request to withdraw {amount} ticket{'s' if amount != 1 else ''}"
    description += f" (can be completed {_duration(delay)} after it is mined)"
    return _call(escrow, "requestWithdrawal", [amount], description, sender=holder)


def complete_withdrawal_call(address: str) -> WalletCall:
    """`completeWithdrawal()`, refused without a request or before its time."""
    holder = to_checksum_address(address)
    escrow = _contract("TicketEscrow")
    now = chain_time(escrow)
    pending = pending_withdrawal(escrow, holder, now)
    if pending is None:
        raise TicketTransactionRefused("You have no withdrawal to complete: request one first.")
    if pending.seconds_left > 0:
        raise TicketTransactionRefused(
            f"Your withdrawal of {_plural(pending.amount)} can be completed in "
            f"{_duration(pending.seconds_left)}, from "
            f"{pending.available_at:%Y-%m-%d %H:%M:%S} UTC (chain time)."
        )
    return _call(
        escrow, "completeWithdrawal", [], f"Complete the withdrawal of {_plural(pending.amount)}",
        sender=holder,
    )  # fmt: skip


def claim_call(address: str) -> WalletCall:
    """A provider's `claim()` of every credited ticket; refused when there is none."""
    holder = to_checksum_address(address)
    escrow = _contract("TicketEscrow")
    credited = _read(escrow.functions.credits(holder))
    if credited == 0:
        raise TicketTransactionRefused("You have no credited tickets to claim yet.")
    return _call(
        escrow, "claim", [], f"Claim {credited} credited ticket{'s' if credited != 1 else ''}",
        sender=holder,
    )  # fmt: skip


# --- Reverts in words -----------------------------------------------------------------------

# The contracts that the tickets page's transactions go to, and the functions it builds.
CALLABLE = {
    "PromptTicket": {"buy", "approve"},
    "TicketEscrow": {
        "deposit", "depositWithPermit", "requestWithdrawal", "completeWithdrawal", "claim",
    },
}  # fmt: skip


def explain_transaction(address: str, *, to: str, data: str, value: int) -> tuple[bool, str]:
    """Why a transaction this page built reverted (once mined, or when the wallet estimated
    it): the same call is run again from the user's address at the latest block. Returns
    (whether it reverts now, the reason in words); when it would pass now, the chain changed
    in between, and the words say so."""
    holder = to_checksum_address(address)
    name = contract = None
    for candidate_name in CALLABLE:
        candidate = selectors.deployed_contract(candidate_name)
        if candidate is not None and candidate.address.lower() == (to or "").lower():
            name, contract = candidate_name, candidate
            break
    if contract is None:
        raise TicketAmountInvalid("That transaction was not one of the tickets page's.")
    try:
        function, arguments = contract.decode_function_input(data)
    except Exception:
        raise TicketAmountInvalid("That transaction's data is not a tickets call.") from None
    if function.fn_name not in CALLABLE[name]:
        raise TicketAmountInvalid("That transaction was not one of the tickets page's.")
    bound = getattr(contract.functions, function.fn_name)(*arguments.values())
    try:
        bound.call({"from": holder, "value": value})
    except ChainUnavailable:
        raise
    except Exception as exc:
        revert = as_contract_revert(exc)
        return True, explain_revert(revert) if revert else _plain_error(exc)
    return False, (
        "The transaction reverted, but the same call would pass now: something changed on "
        "the chain in between. Check your balances and try again."
    )


def _duration(seconds: int) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{round(hours / 24)} days"


def _when(timestamp: int) -> str:
    return f"{datetime.fromtimestamp(int(timestamp), tz=UTC):%Y-%m-%d %H:%M:%S} UTC"


def _plural(count: int, word: str = "ticket") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


_EXPLANATIONS = {
    "PromptTicketPaymentTooSmall": lambda a: (
        f"That pays for no ticket: one ticket costs {format_eth(a['price'])} ETH and "
        f"{format_eth(a['paid'])} ETH was offered."
    ),
    "TicketEscrowZeroAmount": lambda a: "The amount must be at least one ticket.",
    "TicketEscrowInsufficientDeposit": lambda a: (
        f"You have {_plural(a['available'])} deposited; {a['requested']} were asked for."
    ),
    "TicketEscrowNothingToClaim": lambda a: "You have no credited tickets to claim.",
    "TicketEscrowNoWithdrawalRequested": lambda a: (
        "You have no withdrawal to complete: request one first."
    ),
    "TicketEscrowWithdrawalNotReady": lambda a: (
        f"The withdrawal cannot be completed yet: it becomes available at "
        f"{_when(a['availableAt'])} (chain time)."
    ),
    "TicketEscrowDepositTooLarge": lambda a: (
        f"The escrow holds at most {_plural(2**128 - 1)} per user; this deposit would pass it."
    ),
    "TicketEscrowAllowanceExpired": lambda a: (
        f"Your spending allowance ended at {_when(a['validUntil'])}: sign a new one."
    ),
    "TicketEscrowAllowanceExceeded": lambda a: (
        f"Your spending allowance has {_plural(a['remaining'])} left; {a['requested']} were "
        "asked for."
    ),
    "TicketEscrowInvalidAllowanceSignature": lambda a: (
        "The spending allowance was not signed by your account (or for other values): sign "
        "it again."
    ),
    "TicketEscrowAllowanceExpiryInvalid": lambda a: "The allowance's end date is not valid.",
    "TicketEscrowAllowanceTooLarge": lambda a: "That allowance is larger than the escrow holds.",
    "ERC20InsufficientBalance": lambda a: (
        f"Your wallet holds {_plural(a['balance'])}; {a['needed']} are needed."
    ),
    "ERC20InsufficientAllowance": lambda a: (
        f"The escrow may take only {_plural(a['allowance'])} of yours; {a['needed']} are "
        "needed. Approve the amount first."
    ),
    "ERC2612ExpiredSignature": lambda a: "The signed permit has expired: sign a new one.",
    "ERC2612InvalidSigner": lambda a: "The permit was signed by another account.",
}


def explain_revert(revert: ContractRevert) -> str:
    """A decoded revert (chain.errors.ContractRevert) as a sentence a person can act on."""
    explain = _EXPLANATIONS.get(revert.name)
    if explain is not None:
        try:
            return explain(revert.arguments)
        except (KeyError, TypeError, ValueError):
            pass
    if revert.name == "Error":
        return f"The contract refused: {revert.arguments.get('message', '')}."
    if revert.name == "Panic":
        return f"The contract failed: {revert.arguments.get('reason', 'a panic')}."
    if not revert.name:
        return "The contract refused without saying why."
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", revert.name).lower()
    details = ", ".join(f"{key} {_arg(value)}" for key, value in revert.arguments.items())
    return f"The contract refused: {words}" + (f" ({details})." if details else ".")


def _arg(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
