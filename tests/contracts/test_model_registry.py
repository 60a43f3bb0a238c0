"""ModelRegistry: datasets by the data council, model versions by the model council."""

import pytest
from eth_utils import keccak

from tests.support.suite import DATASET, MODEL

pytestmark = pytest.mark.chain

APPROVED, REVOKED = 1, 2
EVAL = keccak(text="eval")


def approve_model(registry, model=MODEL, name="minilm", version="1.0", price=2, dataset=DATASET):
    return registry.functions.approveModelVersion(
        model, name, version, "text-embedding", price, dataset, EVAL
    )


def test_dataset_life_cycle(suite):
    registry = suite["ModelRegistry"]
    f = registry.functions
    receipt = suite.as_timelock("data", f.approveDataset(DATASET, "s3://d", "CC-BY-4.0"))
    (event,) = registry.events.DatasetApproved().process_receipt(receipt)
    assert (event.args.datasetHash, event.args.uri) == (DATASET, "s3://d")
    assert f.isDatasetApproved(DATASET).call()
    assert f.getDataset(DATASET).call() == ("s3://d", "CC-BY-4.0", APPROVED)
    timelock = suite.timelock("data").address
    suite.reverts(
        f.approveDataset(DATASET, "s3://d", "x"), timelock, "ModelRegistryDatasetAlreadyApproved"
    )
    suite.reverts(f.approveDataset(b"\0" * 32, "u", "l"), timelock, "ModelRegistryZeroHash")
    receipt = suite.as_timelock("data", f.revokeDataset(DATASET))
    assert registry.events.DatasetRevoked().process_receipt(receipt)[0].args.datasetHash == DATASET
    assert not f.isDatasetApproved(DATASET).call()
    assert f.getDataset(DATASET).call()[2] == REVOKED
    suite.reverts(f.revokeDataset(DATASET), timelock, "ModelRegistryDatasetNotApproved")
    suite.as_timelock("data", f.approveDataset(DATASET, "s3://d2", "MIT"))  # approved again
    assert f.getDataset(DATASET).call() == ("s3://d2", "MIT", APPROVED)


def test_model_version_life_cycle(suite):
    registry = suite["ModelRegistry"]
    f = registry.functions
    timelock = suite.timelock("model").address
    args = suite.reverts(approve_model(registry), timelock, "ModelRegistryDatasetNotApproved")
    assert args == (DATASET,)
    suite.as_timelock("data", f.approveDataset(DATASET, "s3://d", "MIT"))
    assert not f.wasEverApproved(MODEL).call()
    receipt = suite.as_timelock("model", approve_model(registry))
    (event,) = registry.events.ModelVersionApproved().process_receipt(receipt)
    assert (event.args.modelHash, event.args.name, event.args.pricePerCall) == (MODEL, "minilm", 2)
    assert f.isModelApproved(MODEL).call() and f.wasEverApproved(MODEL).call()
    assert f.getModelVersion(MODEL).call() == (
        "minilm",
        "1.0",
        "text-embedding",
        2,
        DATASET,
        EVAL,
        APPROVED,
    )
    assert f.modelByNameVersion("minilm", "1.0").call() == MODEL
    suite.reverts(approve_model(registry), timelock, "ModelRegistryModelAlreadyApproved")
    other = keccak(text="other.onnx")
    args = suite.reverts(
        approve_model(registry, model=other), timelock, "ModelRegistryNameVersionTaken"
    )
    assert args == ("minilm", "1.0", MODEL)

    receipt = suite.as_timelock("model", f.revokeModelVersion(MODEL))
    assert registry.events.ModelVersionRevoked().process_receipt(receipt)[0].args.modelHash == MODEL
    assert not f.isModelApproved(MODEL).call()
    assert f.wasEverApproved(MODEL).call()  # remembered forever, for fraud proofs
    suite.reverts(f.revokeModelVersion(MODEL), timelock, "ModelRegistryModelNotApproved")
    suite.as_timelock("model", approve_model(registry, price=5))  # approved again
    assert f.getModelVersion(MODEL).call()[3] == 5


def test_model_version_field_checks(suite):
    registry = suite["ModelRegistry"]
    suite.as_timelock("data", registry.functions.approveDataset(DATASET, "s3://d", "MIT"))
    timelock = suite.timelock("model").address
    suite.reverts(approve_model(registry, model=b"\0" * 32), timelock, "ModelRegistryZeroHash")
    assert suite.reverts(
        approve_model(registry, name=""), timelock, "ModelRegistryMissingField"
    ) == ("name",)
    assert suite.reverts(
        approve_model(registry, version=""), timelock, "ModelRegistryMissingField"
    ) == ("version",)
    suite.reverts(
        registry.functions.approveModelVersion(MODEL, "n", "v", "", 1, DATASET, EVAL),
        timelock,
        "ModelRegistryMissingField",
    )
    suite.reverts(approve_model(registry, price=0), timelock, "ModelRegistryZeroPrice")


def test_each_council_governs_only_its_own_records(suite):
    registry = suite["ModelRegistry"]
    f = registry.functions
    data, model = suite.timelock("data").address, suite.timelock("model").address
    suite.reverts(f.approveDataset(DATASET, "u", "l"), model, "AccessControlUnauthorizedAccount")
    suite.reverts(
        f.approveDataset(DATASET, "u", "l"), suite.operator, "AccessControlUnauthorizedAccount"
    )
    suite.as_timelock("data", f.approveDataset(DATASET, "u", "l"))
    suite.reverts(approve_model(registry), data, "AccessControlUnauthorizedAccount")
    suite.reverts(f.revokeModelVersion(MODEL), data, "AccessControlUnauthorizedAccount")
    suite.reverts(f.revokeDataset(DATASET), model, "AccessControlUnauthorizedAccount")
    # The deployer kept nothing.
    for role in (f.DATA_STEWARD_ROLE().call(), f.MODEL_STEWARD_ROLE().call(), b"\0" * 32):
        assert not f.hasRole(role, suite.operator).call()
