"""Governance pages (htmx) and the small JSON endpoints governance.js calls: the server
validates and builds every transaction; the wallet only signs or sends it.

Views parse the request, call a service or selector and render. Refusals are raised as
governance or chain errors (synod.governance.errors, synod.chain.errors) and answered by
ApplicationErrorMiddleware: JSON with their status for governance.js, an error page else.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from synod.chain import selectors as chain_selectors
from synod.chain import services as chain_services
from synod.chain.errors import ChainUnavailable
from synod.governance import selectors, services, wallet_calls
from synod.governance.actions import KIND_COUNCIL, KIND_LABELS, PARAMETERS
from synod.governance.apis import ProposalListApi
from synod.governance.errors import InvalidForm, UnknownProposalKind
from synod.governance.forms import FORMS, RelayForm, VoteForm
from synod.governance.models import Council, Proposal, ProposalState, RelayedBallot


def _head_block() -> int | None:
    status = chain_selectors.chain_status()
    return status.block_number if status.reachable else None


def _user_badges(request: HttpRequest) -> dict[str, bool | None]:
    """The signed-in user's badges, for what the page offers; none while the chain is away
    (the page still shows the mirror)."""
    if not request.user.is_authenticated:
        return {}
    try:
        return selectors.badges_of(request.user.address)
    except ChainUnavailable:
        return {}


def _cleaned(form: forms.Form, *, detail: str = "", prefix: str = "") -> dict[str, Any]:
    """The form's cleaned data; InvalidForm, with the messages per field, when it is not
    valid. `detail` is the sentence shown; by default `prefix` and every field's messages."""
    if form.is_valid():
        return form.cleaned_data
    errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    listed = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())
    raise InvalidForm(detail or prefix + listed, errors=errors)


# Only these query parameters filter the page ("mine" is the signed-in user's proposals).
_PAGE_FILTERS = ("council", "state", "kind", "q")


@require_GET
def proposal_list(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1" and request.user.is_authenticated
    # The API's parser, leniently: the page ignores what it cannot read.
    filters = ProposalListApi.FilterSerializer.parse(
        {name: request.GET[name] for name in _PAGE_FILTERS if name in request.GET}, lenient=True
    )
    if mine:
        filters = replace(filters, proposer=request.user.address)
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
        "is_open": proposal.state in selectors.OPEN_STATES,
    }  # fmt: skip


@require_GET
def proposal_detail(request: HttpRequest, council: str, proposal_id: str) -> HttpResponse:
    proposal = selectors.mirrored_proposal(council, proposal_id)
    return render(request, "governance/detail.html", _detail_context(request, proposal))


@require_GET
@never_cache
def proposal_live(request: HttpRequest, council: str, proposal_id: str) -> HttpResponse:
    """Tallies, state, timeline and votes, swapped in by htmx while the proposal is open."""
    proposal = selectors.mirrored_proposal(council, proposal_id)
    return render(request, "governance/_live.html", _detail_context(request, proposal))


@login_required
def proposal_new(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in FORMS:
        raise UnknownProposalKind("No such kind of proposal.")
    form_class = FORMS[kind]
    if request.method == "POST":
        return _prepare_proposal(request, kind, form_class(request.POST))
    context = {
        "kind": kind, "kind_label": KIND_LABELS[kind], "form": form_class(initial=request.GET),
        "council": KIND_COUNCIL[kind], "badges": _user_badges(request), "kinds": FORMS.keys(),
        "kind_labels": KIND_LABELS, "parameters": PARAMETERS.values(),
    }  # fmt: skip
    return render(request, "governance/new.html", context)


def _prepare_proposal(request: HttpRequest, kind: str, form: forms.Form) -> JsonResponse:
    data = _cleaned(form, detail="please correct the highlighted fields")
    prepared = services.prepare_proposal(
        kind=kind,
        data={k: v for k, v in data.items() if v not in (None, "")},
        proposer=request.user.address,
    )
    return JsonResponse({
        "call": prepared.call.as_dict(), "council": prepared.council, "title": prepared.title,
        "proposalId": prepared.proposal_id,
    })  # fmt: skip


def _vote(request: HttpRequest, council: str, proposal_id: str) -> tuple[Proposal, dict]:
    """The proposal and the vote input, once this user may vote on it now."""
    proposal = selectors.mirrored_proposal(council, proposal_id)
    data = _cleaned(VoteForm(request.POST), prefix="invalid vote: ")
    services.check_can_vote(proposal=proposal, voter=request.user.address)
    return proposal, data


@login_required
@require_POST
def vote_call(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    proposal, data = _vote(request, council, proposal_id)
    call = wallet_calls.cast_vote(proposal, support=data["support"], reason=data["reason"])
    return JsonResponse({"call": call.as_dict()})


@login_required
@require_POST
def ballot(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    proposal, data = _vote(request, council, proposal_id)
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
def relay(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    proposal = selectors.mirrored_proposal(council, proposal_id)
    data = _cleaned(RelayForm(request.POST), prefix="invalid vote: ")
    ballot_row = services.relay_vote(
        proposal=proposal, voter=request.user.address, support=data["support"],
        reason=data["reason"], nonce=data["nonce"], signature=data["signature"],
    )  # fmt: skip
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


@login_required
@require_POST
def queue_call(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    proposal = selectors.mirrored_proposal(council, proposal_id)
    return JsonResponse({"call": services.operation_call(proposal, "queue").as_dict()})


@login_required
@require_POST
def execute_call(request: HttpRequest, council: str, proposal_id: str) -> JsonResponse:
    proposal = selectors.mirrored_proposal(council, proposal_id)
    return JsonResponse({"call": services.operation_call(proposal, "execute").as_dict()})


@login_required
@require_POST
def sync(request: HttpRequest) -> JsonResponse:
    """Someone's transaction was just mined: ask a worker to index it now rather than at
    the next beat. Answers at once (202); the live parts of the pages poll and show it
    within seconds."""
    chain_services.request_indexing()
    return JsonResponse(
        {"detail": "The platform is indexing the latest blocks; the page updates shortly."},
        status=202,
    )
