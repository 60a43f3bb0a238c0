"""Proposal kinds: what each proposes on-chain, how its calldata is built from validated
input, and how any proposal's calldata reads back as a sentence.

The server builds every calldata; the browser only hands it to the wallet. A proposal's
kind is decoded from its calldata, never taken from its description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from eth_utils import is_address, to_checksum_address

from synod.chain import selectors as chain_selectors
from synod.governance.errors import ProposalInputError
from synod.governance.models import Council

SHA256_HEX = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Action:
    contract: str  # deployment record name, e.g. "ModelRegistry", "DataBadge"
    function: str
    args: list[Any]

    def target(self) -> str:
        return chain_selectors.deployed(self.contract).address

    def calldata(self) -> str:
        return chain_selectors.encode_call(self.contract, self.function, self.args)


@dataclass(frozen=True)
class ProposalPlan:
    council: str
    kind: str
    title: str
    body: str
    actions: list[Action] = field(default_factory=list)

    @property
    def description(self) -> str:
        return f"# {self.title}\n\n{self.body}".strip()

    def targets(self) -> list[str]:
        return [action.target() for action in self.actions]

    def values(self) -> list[int]:
        return [0 for _ in self.actions]

    def calldatas(self) -> list[str]:
        return [action.calldata() for action in self.actions]


def council_contract(council: str) -> str:
    return f"{council.capitalize()}Council"


def badge_contract(council: str) -> str:
    return f"{council.capitalize()}Badge"


def parse_sha256(value: str, *, field: str) -> bytes:
    value = (value or "").strip()
    if not SHA256_HEX.match(value):
        raise ProposalInputError("must be a sha256: 64 hexadecimal characters", field=field)
    return bytes.fromhex(value.removeprefix("0x"))


def parse_address(value: str, *, field: str) -> str:
    value = (value or "").strip()
    if not is_address(value):
        raise ProposalInputError(
            "must be an Ethereum address (0x and 40 hex characters)", field=field
        )
    return to_checksum_address(value)


def _view(contract: str, function: str, *args: Any) -> Any:
    return getattr(chain_selectors.contract(contract).functions, function)(*args).call()


# --- Parameters a council can change ------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    council: str | None  # None: the council is chosen by the proposer (council settings)
    contract: str  # for council settings, a format with {council}
    setter: str
    getter: str
    minimum: int
    maximum: int
    unit: str


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in [
        Parameter("ticket_price", "Ticket price", "compute", "PromptTicket", "setTicketPrice",
                  "ticketPrice", 1, 10**24, "wei per ticket"),
        Parameter("escrow_fee_bps", "Escrow protocol fee", "compute", "TicketEscrow", "setFeeBps",
                  "feeBps", 0, 1_000, "basis points"),
        Parameter("escrow_withdrawal_delay", "Escrow withdrawal delay", "compute", "TicketEscrow",
                  "setWithdrawalDelay", "withdrawalDelay", 3_600, 30 * 86_400, "seconds"),
        Parameter("provider_min_stake", "Provider minimum stake", "compute", "ProviderRegistry",
                  "setMinStake", "minStake", 1, 10**12, "tickets"),
        Parameter("voting_period", "Council voting period", None, "{council}Council",
                  "setVotingPeriod", "votingPeriod", 10, 1_000_000, "blocks"),
        Parameter("quorum_percent", "Council quorum", None, "{council}Council",
                  "updateQuorumNumerator", "quorumNumerator", 1, 100, "% of badges"),
    ]
}  # fmt: skip


# --- Builders, one per kind ---------------------------------------------------------------


def approve_dataset(
    *, sha256: str, uri: str, license: str, title: str = "", body: str = ""
) -> ProposalPlan:
    digest = parse_sha256(sha256, field="sha256")
    uri, license = (uri or "").strip(), (license or "").strip()
    if not uri:
        raise ProposalInputError("say where the dataset can be fetched", field="uri")
    if not license:
        raise ProposalInputError("name the dataset's license", field="license")
    if len(uri) > 500 or len(license) > 100:
        raise ProposalInputError("uri or license is too long", field="uri")
    if _view("ModelRegistry", "isDatasetApproved", digest):
        raise ProposalInputError("this dataset is already approved", field="sha256")
    return ProposalPlan(
        Council.DATA, "approve_dataset",
        title or f"Approve dataset {digest.hex()[:12]}",
        body or f"Approve dataset sha256 {digest.hex()} ({uri}, {license}).",
        [Action("ModelRegistry", "approveDataset", [digest, uri, license])],
    )  # fmt: skip


def revoke_dataset(*, sha256: str, title: str = "", body: str = "") -> ProposalPlan:
    digest = parse_sha256(sha256, field="sha256")
    if not _view("ModelRegistry", "isDatasetApproved", digest):
        raise ProposalInputError("this dataset is not approved now", field="sha256")
    return ProposalPlan(
        Council.DATA, "revoke_dataset",
        title or f"Revoke dataset {digest.hex()[:12]}",
        body or f"Revoke dataset sha256 {digest.hex()}.",
        [Action("ModelRegistry", "revokeDataset", [digest])],
    )  # fmt: skip


def approve_model(
    *, sha256: str, name: str, version: str, task: str, price_per_call: int,
    dataset_sha256: str, report_sha256: str, title: str = "", body: str = "",
) -> ProposalPlan:  # fmt: skip
    digest = parse_sha256(sha256, field="sha256")
    dataset = parse_sha256(dataset_sha256, field="dataset_sha256")
    report = parse_sha256(report_sha256, field="report_sha256")
    name, version, task = (name or "").strip(), (version or "").strip(), (task or "").strip()
    for value, field_name in ((name, "name"), (version, "version"), (task, "task")):
        if not value:
            raise ProposalInputError("required", field=field_name)
        if len(value) > 100:
            raise ProposalInputError("at most 100 characters", field=field_name)
    if not isinstance(price_per_call, int) or not 1 <= price_per_call <= 10**9:
        raise ProposalInputError("a whole number of tickets from 1", field="price_per_call")
    if not _view("ModelRegistry", "isDatasetApproved", dataset):
        raise ProposalInputError(
            "the dataset this model was evaluated on is not approved on-chain; "
            "propose the dataset to the data council first",
            field="dataset_sha256",
        )
    if _view("ModelRegistry", "isModelApproved", digest):
        raise ProposalInputError("this model version is already approved", field="sha256")
    return ProposalPlan(
        Council.MODEL, "approve_model",
        title or f"Approve model {name}@{version}",
        body or (f"Approve {name}@{version} ({task}), sha256 {digest.hex()}, "
                 f"{price_per_call} tickets per call, evaluated on dataset {dataset.hex()} "
                 f"(report {report.hex()})."),
        [Action("ModelRegistry", "approveModelVersion",
                [digest, name, version, task, price_per_call, dataset, report])],
    )  # fmt: skip


def revoke_model(*, sha256: str, title: str = "", body: str = "") -> ProposalPlan:
    digest = parse_sha256(sha256, field="sha256")
    if not _view("ModelRegistry", "isModelApproved", digest):
        raise ProposalInputError("this model version is not approved now", field="sha256")
    return ProposalPlan(
        Council.MODEL, "revoke_model",
        title or f"Revoke model {digest.hex()[:12]}",
        body or f"Revoke model version sha256 {digest.hex()}.",
        [Action("ModelRegistry", "revokeModelVersion", [digest])],
    )  # fmt: skip


def _check_council(council: str) -> str:
    if council not in Council.values:
        raise ProposalInputError(f"one of {', '.join(Council.values)}", field="council")
    return council


def grant_badge(*, council: str, holder: str, title: str = "", body: str = "") -> ProposalPlan:
    council = _check_council(council)
    holder = parse_address(holder, field="holder")
    if _view(badge_contract(council), "balanceOf", holder) > 0:
        raise ProposalInputError(f"{holder} already holds the {council} badge", field="holder")
    return ProposalPlan(
        council, "grant_badge",
        title or f"Grant the {council} badge to {holder[:10]}…",
        body or f"Make {holder} an expert of the {council} council.",
        [Action(badge_contract(council), "mint", [holder])],
    )  # fmt: skip


def revoke_badge(*, council: str, holder: str, title: str = "", body: str = "") -> ProposalPlan:
    council = _check_council(council)
    holder = parse_address(holder, field="holder")
    if _view(badge_contract(council), "balanceOf", holder) == 0:
        raise ProposalInputError(f"{holder} holds no {council} badge", field="holder")
    return ProposalPlan(
        council, "revoke_badge",
        title or f"Revoke the {council} badge of {holder[:10]}…",
        body or f"Remove {holder} from the {council} council.",
        [Action(badge_contract(council), "revoke", [holder])],
    )  # fmt: skip


def set_parameter(
    *, parameter: str, value: int, council: str = "", title: str = "", body: str = ""
) -> ProposalPlan:
    spec = PARAMETERS.get(parameter)
    if spec is None:
        raise ProposalInputError(f"one of {', '.join(PARAMETERS)}", field="parameter")
    owner = spec.council or _check_council(council)
    contract = spec.contract.format(council=owner.capitalize())
    if not isinstance(value, int) or not spec.minimum <= value <= spec.maximum:
        raise ProposalInputError(
            f"{spec.label} must be between {spec.minimum:,} and {spec.maximum:,} {spec.unit}",
            field="value",
        )
    current = _view(contract, spec.getter)
    if current == value:
        raise ProposalInputError(f"{spec.label} is already {value:,} {spec.unit}", field="value")
    return ProposalPlan(
        owner, "set_parameter",
        title or f"Set {spec.label.lower()} to {value:,} {spec.unit}",
        body or f"Change {spec.label.lower()} from {current:,} to {value:,} {spec.unit}.",
        [Action(contract, spec.setter, [value])],
    )  # fmt: skip


BUILDERS = {
    "approve_dataset": approve_dataset,
    "revoke_dataset": revoke_dataset,
    "approve_model": approve_model,
    "revoke_model": revoke_model,
    "grant_badge": grant_badge,
    "revoke_badge": revoke_badge,
    "set_parameter": set_parameter,
}
# The council that decides each kind; None where the proposer chooses (the form's "council").
KIND_COUNCIL = {
    "approve_dataset": "data",
    "revoke_dataset": "data",
    "approve_model": "model",
    "revoke_model": "model",
    "grant_badge": None,
    "revoke_badge": None,
    "set_parameter": None,
}


def deciding_council(kind: str, data: dict[str, Any]) -> str:
    """The council a proposal of `kind` with this input goes to ("" when none is named)."""
    if kind == "set_parameter" and data.get("parameter") in PARAMETERS:
        owner = PARAMETERS[data["parameter"]].council
        if owner:
            return owner
    return KIND_COUNCIL.get(kind) or data.get("council") or ""


KIND_LABELS = {
    "approve_dataset": "Approve dataset",
    "revoke_dataset": "Revoke dataset",
    "approve_model": "Approve model version",
    "revoke_model": "Revoke model version",
    "grant_badge": "Grant badge",
    "revoke_badge": "Revoke badge",
    "set_parameter": "Change parameter",
    "other": "Other",
}


# --- Reading calldata back ----------------------------------------------------------------


def _hex(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_hex(v) for v in value]
    return value


def _kind_and_summary(contract: str, function: str, args: dict[str, Any]) -> tuple[str, str]:
    setters = {(p.contract, p.setter): p for p in PARAMETERS.values()}
    if contract == "ModelRegistry" and function == "approveDataset":
        return "approve_dataset", (
            f"approve dataset sha256 {args['datasetHash']}, "
            f"{args['uri']}, license {args['license']}"
        )
    if contract == "ModelRegistry" and function == "revokeDataset":
        return "revoke_dataset", f"revoke dataset sha256 {args['datasetHash']}"
    if contract == "ModelRegistry" and function == "approveModelVersion":
        return "approve_model", (
            f"approve model {args['name']}@{args['version']} ({args['task']}), "
            f"sha256 {args['modelHash']}, price {args['pricePerCall']} tickets per call, "
            f"evaluated on dataset {args['datasetHash']}, report {args['evaluationReportHash']}"
        )
    if contract == "ModelRegistry" and function == "revokeModelVersion":
        return "revoke_model", f"revoke model version sha256 {args['modelHash']}"
    if contract.endswith("Badge") and function in ("mint", "revoke"):
        council = contract.removesuffix("Badge").lower()
        verb = "grant the" if function == "mint" else "revoke the"
        kind = "grant_badge" if function == "mint" else "revoke_badge"
        return (
            kind,
            f"{verb} {council} badge {'to' if function == 'mint' else 'of'} {args['holder']}",
        )
    generic = re.sub(r"^[A-Z][a-z]+Council$", "{council}Council", contract)
    parameter = setters.get((contract, function)) or setters.get((generic, function))
    if parameter is not None:
        value = next(iter(args.values()))
        return "set_parameter", f"set {parameter.label.lower()} to {value:,} {parameter.unit}"
    rendered = ", ".join(f"{k}={v}" for k, v in args.items())
    return "other", f"call {contract}.{function}({rendered})"  # fmt: skip


def describe_action(target: str, calldata: str) -> dict[str, Any]:
    """Decode one action for people: {contract, function, args, kind, summary}."""
    by_address = {
        c.address.lower(): name for name, c in chain_selectors.deployed_contracts().items()
    }
    contract = by_address.get(target.lower())
    if contract is None:
        summary = f"call unknown contract {target} with data {calldata[:74]}…"
        return {"contract": None, "function": None, "args": {}, "kind": "other",
                "summary": summary}  # fmt: skip
    try:
        function, decoded = chain_selectors.contract(contract).decode_function_input(calldata)
    except Exception:
        return {"contract": contract, "function": None, "args": {}, "kind": "other",
                "summary": f"call {contract} with undecodable data {calldata[:74]}…"}  # fmt: skip
    args = {name: _hex(value) for name, value in decoded.items()}
    kind, summary = _kind_and_summary(contract, function.fn_name, args)
    return {"contract": contract, "function": function.fn_name, "args": args, "kind": kind,
            "summary": summary}  # fmt: skip


def title_of(description: str) -> str:
    first = (description or "").strip().splitlines()[0] if description.strip() else ""
    return first.lstrip("# ").strip()[:300] or "(untitled)"
