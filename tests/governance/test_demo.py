import pytest
from eth_utils import keccak

from synod.governance.demo import run_demo_round
from synod.governance.models import Proposal, ProposalState
from tests.governance.conftest import sync

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def test_demo_round_leaves_proposals_in_different_states_and_is_idempotent(suite):
    dataset = keccak(text="demo-iris.csv").hex()
    model = {
        "sha256": keccak(text="demo-iris-v2.onnx").hex(), "name": "iris-classifier",
        "version": "2", "task": "classification", "price_per_call": 2,
        "dataset_sha256": dataset, "report_sha256": keccak(text="demo-report").hex(),
    }  # fmt: skip
    steps: list[str] = []
    run_demo_round(dataset_sha256=dataset, model=model, progress=steps.append)
    sync()
    states = {p.kind: p.state for p in Proposal.objects.all()}
    assert states == {
        "approve_dataset": ProposalState.EXECUTED,
        "set_parameter": ProposalState.DEFEATED,
        "approve_model": ProposalState.ACTIVE,
        "grant_badge": ProposalState.ACTIVE,
    }
    assert suite["ModelRegistry"].functions.isDatasetApproved(bytes.fromhex(dataset)).call()
    model_proposal = Proposal.objects.get(kind="approve_model")
    assert model_proposal.for_votes == 1
    assert model_proposal.votes.get().reason.startswith("Accuracy")

    run_demo_round(dataset_sha256=dataset, model=model, progress=steps.append)
    sync()
    assert Proposal.objects.count() == 4
    assert sum(step.startswith("proposed:") for step in steps) == 4  # none proposed twice


def test_an_interrupted_demo_round_finishes_when_run_again(suite):
    from synod.governance import demo

    dataset = keccak(text="interrupted.csv").hex()
    # Interrupted after the first vote: proposed, voting open, one of two votes cast.
    plan = demo.iris_dataset_proposal(dataset)
    first = demo._holder_keys()[0]
    demo._open_and_vote(plan, first, [(first, 1, "")], lambda _: None)
    sync()
    assert Proposal.objects.get(kind="approve_dataset").state == ProposalState.ACTIVE

    run_demo_round(dataset_sha256=dataset)
    sync()
    assert Proposal.objects.get(kind="approve_dataset").state == ProposalState.EXECUTED
    assert suite["ModelRegistry"].functions.isDatasetApproved(bytes.fromhex(dataset)).call()
