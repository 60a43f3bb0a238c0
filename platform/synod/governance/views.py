"""Governance pages (htmx) and the small JSON endpoints governance.js calls: the server
validates and builds every transaction; the wallet only signs or sends it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from synod.chain.bindings import ContractNotDeployed
from synod.chain.errors import ContractRevert
from synod.governance import selectors, services, wallet_calls
from synod.governance.actions import BUILDERS, KIND_LABELS, PARAMETERS, ProposalInputError
from synod.governance.forms import FORMS, KIND_COUNCIL, RelayForm, VoteForm
from synod.governance.models import Council, Proposal, ProposalState, RelayedBallot

logger = logging.getLogger(__name__)


def _json_error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"detail": message, **extra}, status=status)


def chain_guard(view: Callable) -> Callable:
    """Chain trouble becomes a clear JSON error, never a 500."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ContractNotDeployed as exc:
            return _json_error(f"contracts are not deployed on this chain: {exc}", 503)
        except ContractRevert as exc:
            return _json_error(f"the contract would refuse: {exc}", 409)
        except (ConnectionError, TimeoutError, OSError) as exc:
            logger.warning("chain unreachable: %s", exc)
            return _json_error("the chain does not answer right now; try again shortly", 503)

    return wrapper


def _head_block() -> int | None:
    from synod.chain.selectors import chain_status

    status = chain_status()
    return status.block_number if status.reachable else None


def _proposal_or_404(council: str, proposal_id: str) -> Proposal:
    proposal = selectors.proposal(council, proposal_id)
    if proposal is None:
        raise Http404("No such proposal on this chain (it may not be indexed yet).")
    return proposal


def _user_badges(request: HttpRequest) -> dict[str, bool | None]:
    if not request.user.is_authenticated:
        return {}
    try:
        return selectors.badges_of(request.user.address)
    except ConnectionError:
        return {}


@require_GET
def proposal_list(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1" and request.user.is_authenticated

    def choice(name: str, allowed) -> str:
        value = request.GET.get(name, "")
        return value if value in allowed else ""

    filters = selectors.ProposalFilters(
        council=choice("council", Council.values),
        state=choice("state", ProposalState.values),
        kind=choice("kind", KIND_LABELS),
        proposer=request.user.address if mine else "",
        search=request.GET.get("q", "")[:200],
    )
    page = selectors.proposal_page(filters, request.GET.get("page", 1))
    head = _head_block()
    rows = [
        {"proposal": p, "tally": selectors.tally(p), "timing": selectors.timing(p, head)}
        for p in page.object_list
    ]
    context = {
        "page": page, "rows": rows, "filters": filters, "mine": mine,
        "councils": Council.choices, "states": ProposalState.choices,
        "kinds": KIND_LABELS, "badges": _user_badges(request),
        "query": request.GET.copy(),
    }  # fmt: skip
    template = "governance/_proposal_rows.html" if request.htmx else "governance/list.html"
    return render(request, template, context)


def _detail_context(request: HttpRequest, proposal: Proposal) -> dict:
    head = _head_block()
    badges = _user_badges(request)
    signed_in = request.user.is_authenticated
    my_vote = selectors.vote_by(proposal, request.user.address) if signed_in else None
    relay = selectors.relayed_ballot(proposal, request.user.address) if signed_in else None
    # A relayed vote still on its way (or confirmed, not yet indexed) is not voted again.
    relay_open = relay is not None and relay.status != RelayedBallot.Status.FAILED
    return {
        "proposal": proposal,
        "tally": selectors.tally(proposal),
        "timing": selectors.timing(proposal, head),
        "votes": selectors.votes_of(proposal),
        "my_vote": my_vote,
        "relay": relay,
        "relay_open": relay_open,
        "can_vote": bool(badges.get(proposal.council)) and my_vote is None and not relay_open
        and proposal.state == ProposalState.ACTIVE,
        "holds_badge": bool(badges.get(proposal.council)),
        "evidence": selectors.evidence_for(proposal),
        "head": head,
        "is_open": proposal.state in (ProposalState.PENDING, ProposalState.ACTIVE,
                                      ProposalState.SUCCEEDED, ProposalState.QUEUED),
    }  # fmt: skip


@require_GET
def proposal_detail(request: HttpRequest, council: str, proposal_id: str) -> HttpResponse:
    proposal = _proposal_or_404(council, proposal_id)
    return render(request, "governance/detail.html", _detail_context(request, proposal))


@require_GET
@never_cache
def proposal_live(request: HttpRequest, council: str, proposal_id: str) -> HttpResponse:
    """Tallies, state, timeline and votes, swapped in by htmx while the proposal is open."""
    proposal = _proposal_or_404(council, proposal_id)
    return render(request, "governance/_live.html", _detail_context(request, proposal))


@login_required
def proposal_new(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in FORMS:
        raise Http404("No such kind of proposal.")
    form_class = FORMS[kind]
    badges = _user_badges(request)
    if request.method == "POST":
        return _prepare_proposal(request, kind, form_class(request.POST), badges)
    context = {
        "kind": kind, "kind_label": KIND_LABELS[kind], "form": form_class(initial=request.GET),
        "council": KIND_COUNCIL[kind], "badges": badges, "kinds": FORMS.keys(),
        "kind_labels": KIND_LABELS, "parameters": PARAMETERS.values(),
    }  # fmt: skip
    return render(request, "governance/new.html", context)


@chain_guard
def _prepare_proposal(request: HttpRequest, kind: str, form, badges: dict) -> JsonResponse:
    if not form.is_valid():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return _json_error("please correct the highlighted fields", 400, errors=errors)
    data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    council = KIND_COUNCIL[kind] or data.get("council") or ""
    if kind == "set_parameter" and PARAMETERS[data["parameter"]].council:
        council = PARAMETERS[data["parameter"]].council
    if not badges.get(council):
        return _json_error(
            f"only holders of the {council or 'council'} badge can propose this", 403
        )
    try:
        plan = BUILDERS[kind](**data)
    except ProposalInputError as exc:
        field = exc.field or "__all__"
        return _json_error(str(exc), 400, errors={field: [str(exc)]})
    call = wallet_calls.propose(plan)
    return JsonResponse({
        "call": call.as_dict(), "council": plan.council, "title": plan.title,
        "proposalId": str(wallet_calls.proposal_id(plan)),
    })  # fmt: skip


def _vote_input(request: HttpRequest, form_class=VoteForm):
    form = form_class(request.POST)
    if not form.is_valid():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return None, _json_error("invalid vote: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in errors.items()), 400, errors=errors)  # fmt: skip
    return form.cleaned_data, None


def _checked_vote(request: HttpRequest, council: str, proposal_id: str):
    """(proposal, vote input, None) when this user may vote now, else (.., .., error)."""
    proposal = _proposal_or_404(council, proposal_id)
    data, error = _vote_input(request)
    if error:
        return proposal, None, error
    try:
        services.check_can_vote(proposal=proposal, voter=request.user.address)
    except services.VoteRefused as exc:
        return proposal, None, _json_error(str(exc), exc.status)
    return proposal, data, None


@login_required
@require_POST
@chain_guard
def vote_call(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    proposal, data, error = _checked_vote(request, council, proposal_id)
    if error:
        return error
    call = wallet_calls.cast_vote(proposal, support=data["support"], reason=data["reason"])
    return JsonResponse({"call": call.as_dict()})


@login_required
@require_POST
@chain_guard
def ballot(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    proposal, data, error = _checked_vote(request, council, proposal_id)
    if error:
        return error
    typed = services.ballot_typed_data(
        proposal=proposal,
        voter=request.user.address,
        support=data["support"],
        reason=data["reason"],
    )
    typed["message"]["proposalId"] = str(typed["message"]["proposalId"])  # beyond JS numbers
    return JsonResponse({"typedData": typed})


@login_required
@require_POST
@chain_guard
def relay(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    proposal = _proposal_or_404(council, proposal_id)
    data, error = _vote_input(request, RelayForm)
    if error:
        return error
    try:
        ballot_row = services.relay_vote(
            proposal=proposal, voter=request.user.address, support=data["support"],
            reason=data["reason"], nonce=data["nonce"], signature=data["signature"],
        )  # fmt: skip
    except services.VoteRefused as exc:
        return _json_error(str(exc), exc.status)
    # In flight, whether or not a node took it yet: it counts once mined, and the page
    # shows the outcome either way.
    return JsonResponse(
        {
            "status": ballot_row.status,
            "txHash": ballot_row.outgoing_tx_hash,
            "detail": "Your vote is pending: the platform sent your signed ballot; it counts "
            "once its transaction is mined.",
        },
        status=202,
    )


def _operation_call(request, council, proposal_id, *, allowed, build, verb) -> JsonResponse:
    proposal = _proposal_or_404(council, proposal_id)
    services.refresh_proposal_states()
    proposal.refresh_from_db()
    if proposal.state not in allowed:
        return _json_error(
            f"cannot {verb}: the proposal is {proposal.get_state_display().lower()}", 409
        )
    return JsonResponse({"call": build(proposal).as_dict()})


@login_required
@require_POST
@chain_guard
def queue_call(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    return _operation_call(request, council, proposal_id, allowed={ProposalState.SUCCEEDED},
                           build=wallet_calls.queue, verb="queue")  # fmt: skip


@login_required
@require_POST
@chain_guard
def execute_call(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    return _operation_call(request, council, proposal_id, allowed={ProposalState.QUEUED},
                           build=wallet_calls.execute, verb="execute")  # fmt: skip


@login_required
@require_POST
@chain_guard
def sync(request: HttpRequest) -> HttpResponse:
    """Index new blocks now (the beat does it every few seconds anyway), so a person who
    just sent a transaction sees it confirmed without waiting for the next tick."""
    from synod.chain.services import index_chain

    index_chain()
    services.refresh_proposal_states()
    services.settle_relayed_ballots()
    return HttpResponse(status=204)
