// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title ModelRegistry
/// @notice What the councils approved: datasets (by the data council) and model versions
///         (by the model council), each keyed by the sha256 of its file.
/// @dev Each steward role is its own admin and has no other admin, so only the current
///      council timelock can hand its role on (e.g. to a new timelock) and nobody else, the
///      deployer included, holds anything. Revoking a dataset does not revoke the models
///      trained on it: that is the model council's decision, taken by its own proposal.
///      Once approved, a hash is remembered forever (`wasEverApproved`), which is what a
///      fraud proof against a provider relies on.
contract ModelRegistry is AccessControl {
    /// @notice May approve and revoke datasets: the data council's timelock.
    bytes32 public constant DATA_STEWARD_ROLE = keccak256("DATA_STEWARD_ROLE");
    /// @notice May approve and revoke model versions: the model council's timelock.
    bytes32 public constant MODEL_STEWARD_ROLE = keccak256("MODEL_STEWARD_ROLE");

    /// @notice Lifecycle of a dataset or model version.
    enum Status {
        None,
        Approved,
        Revoked
    }

    /// @notice An approved (or once approved) dataset.
    struct Dataset {
        string uri;
        string license;
        Status status;
    }

    /// @notice An approved (or once approved) model version.
    struct ModelVersion {
        string name;
        string version;
        string task;
        uint256 pricePerCall;
        bytes32 datasetHash;
        bytes32 evaluationReportHash;
        Status status;
    }

    mapping(bytes32 sha256Hash => Dataset) private _datasets;
    mapping(bytes32 sha256Hash => ModelVersion) private _models;
    mapping(bytes32 nameVersionKey => bytes32 sha256Hash) private _modelByNameVersion;

    /// @notice A hash of zero names nothing.
    error ModelRegistryZeroHash();
    /// @notice The dataset is already approved.
    error ModelRegistryDatasetAlreadyApproved(bytes32 datasetHash);
    /// @notice The dataset is not (or no longer) approved.
    error ModelRegistryDatasetNotApproved(bytes32 datasetHash);
    /// @notice The model version is already approved.
    error ModelRegistryModelAlreadyApproved(bytes32 modelHash);
    /// @notice The model version is not (or no longer) approved.
    error ModelRegistryModelNotApproved(bytes32 modelHash);
    /// @notice `name@version` already belongs to another file: versions are immutable.
    error ModelRegistryNameVersionTaken(string name, string version, bytes32 existingHash);
    /// @notice A model version needs a name, a version and a task.
    error ModelRegistryMissingField(string field);
    /// @notice A call must cost at least one ticket.
    error ModelRegistryZeroPrice();
    /// @notice A steward address must not be zero.
    error ModelRegistryZeroAddress();

    /// @notice Emitted after the data council approved a dataset.
    event DatasetApproved(bytes32 indexed datasetHash, string uri, string license);
    /// @notice Emitted after the data council revoked a dataset.
    event DatasetRevoked(bytes32 indexed datasetHash);
    /// @notice Emitted after the model council approved a model version.
    event ModelVersionApproved(
        bytes32 indexed modelHash,
        string name,
        string version,
        string task,
        uint256 pricePerCall,
        bytes32 indexed datasetHash,
        bytes32 evaluationReportHash
    );
    /// @notice Emitted after the model council revoked a model version.
    event ModelVersionRevoked(bytes32 indexed modelHash);

    /// @param dataSteward the data council's timelock
    /// @param modelSteward the model council's timelock
    constructor(address dataSteward, address modelSteward) {
        if (dataSteward == address(0) || modelSteward == address(0)) {
            revert ModelRegistryZeroAddress();
        }
        _setRoleAdmin(DATA_STEWARD_ROLE, DATA_STEWARD_ROLE);
        _setRoleAdmin(MODEL_STEWARD_ROLE, MODEL_STEWARD_ROLE);
        _grantRole(DATA_STEWARD_ROLE, dataSteward);
        _grantRole(MODEL_STEWARD_ROLE, modelSteward);
    }

    /// @notice Approve a dataset, or approve again one that was revoked (data council only).
    /// @param datasetHash sha256 of the dataset file
    /// @param uri where the dataset can be fetched
    /// @param license the dataset's license (SPDX id or URL)
    function approveDataset(bytes32 datasetHash, string calldata uri, string calldata license)
        external
        onlyRole(DATA_STEWARD_ROLE)
    {
        if (datasetHash == bytes32(0)) revert ModelRegistryZeroHash();
        Dataset storage dataset = _datasets[datasetHash];
        if (dataset.status == Status.Approved) {
            revert ModelRegistryDatasetAlreadyApproved(datasetHash);
        }
        dataset.uri = uri;
        dataset.license = license;
        dataset.status = Status.Approved;
        emit DatasetApproved(datasetHash, uri, license);
    }

    /// @notice Revoke an approved dataset (data council only).
    /// @param datasetHash sha256 of the dataset file
    function revokeDataset(bytes32 datasetHash) external onlyRole(DATA_STEWARD_ROLE) {
        Dataset storage dataset = _datasets[datasetHash];
        if (dataset.status != Status.Approved) revert ModelRegistryDatasetNotApproved(datasetHash);
        dataset.status = Status.Revoked;
        emit DatasetRevoked(datasetHash);
    }

    /// @notice Approve a model version trained on an approved dataset (model council only).
    ///         A revoked version may be approved again with the same name and version.
    /// @param modelHash sha256 of the model file
    /// @param name model name
    /// @param version version label, unique per name
    /// @param task what the model does (e.g. "text-embedding")
    /// @param pricePerCall tickets charged per call
    /// @param datasetHash sha256 of the (approved) training dataset
    /// @param evaluationReportHash sha256 of the evaluation report
    function approveModelVersion(
        bytes32 modelHash,
        string calldata name,
        string calldata version,
        string calldata task,
        uint256 pricePerCall,
        bytes32 datasetHash,
        bytes32 evaluationReportHash
    ) external onlyRole(MODEL_STEWARD_ROLE) {
        if (modelHash == bytes32(0)) revert ModelRegistryZeroHash();
        if (bytes(name).length == 0) revert ModelRegistryMissingField("name");
        if (bytes(version).length == 0) revert ModelRegistryMissingField("version");
        if (bytes(task).length == 0) revert ModelRegistryMissingField("task");
        if (pricePerCall == 0) revert ModelRegistryZeroPrice();
        if (_datasets[datasetHash].status != Status.Approved) {
            revert ModelRegistryDatasetNotApproved(datasetHash);
        }
        ModelVersion storage model = _models[modelHash];
        if (model.status == Status.Approved) revert ModelRegistryModelAlreadyApproved(modelHash);
        bytes32 key = nameVersionKey(name, version);
        bytes32 existing = _modelByNameVersion[key];
        if (existing != bytes32(0) && existing != modelHash) {
            revert ModelRegistryNameVersionTaken(name, version, existing);
        }
        _modelByNameVersion[key] = modelHash;
        model.name = name;
        model.version = version;
        model.task = task;
        model.pricePerCall = pricePerCall;
        model.datasetHash = datasetHash;
        model.evaluationReportHash = evaluationReportHash;
        model.status = Status.Approved;
        emit ModelVersionApproved(
            modelHash, name, version, task, pricePerCall, datasetHash, evaluationReportHash
        );
    }

    /// @notice Revoke an approved model version (model council only).
    /// @param modelHash sha256 of the model file
    function revokeModelVersion(bytes32 modelHash) external onlyRole(MODEL_STEWARD_ROLE) {
        ModelVersion storage model = _models[modelHash];
        if (model.status != Status.Approved) revert ModelRegistryModelNotApproved(modelHash);
        model.status = Status.Revoked;
        emit ModelVersionRevoked(modelHash);
    }

    /// @notice Whether the dataset is currently approved.
    /// @param datasetHash sha256 of the dataset file
    /// @return true when approved and not revoked
    function isDatasetApproved(bytes32 datasetHash) external view returns (bool) {
        return _datasets[datasetHash].status == Status.Approved;
    }

    /// @notice Whether the model version is currently approved.
    /// @param modelHash sha256 of the model file
    /// @return true when approved and not revoked
    function isModelApproved(bytes32 modelHash) external view returns (bool) {
        return _models[modelHash].status == Status.Approved;
    }

    /// @notice Whether the model version was ever approved, even if revoked since.
    /// @param modelHash sha256 of the model file
    /// @return true when the model council approved it at some point
    function wasEverApproved(bytes32 modelHash) external view returns (bool) {
        return _models[modelHash].status != Status.None;
    }

    /// @notice The dataset record (status None when unknown).
    /// @param datasetHash sha256 of the dataset file
    /// @return the record
    function getDataset(bytes32 datasetHash) external view returns (Dataset memory) {
        return _datasets[datasetHash];
    }

    /// @notice The model version record (status None when unknown).
    /// @param modelHash sha256 of the model file
    /// @return the record
    function getModelVersion(bytes32 modelHash) external view returns (ModelVersion memory) {
        return _models[modelHash];
    }

    /// @notice The model file that holds `name@version` (zero when none).
    /// @param name model name
    /// @param version version label
    /// @return sha256 of the model file
    function modelByNameVersion(string calldata name, string calldata version)
        external
        view
        returns (bytes32)
    {
        return _modelByNameVersion[nameVersionKey(name, version)];
    }

    /// @notice The key under which `name@version` is reserved.
    /// @param name model name
    /// @param version version label
    /// @return keccak256 of the ABI-encoded pair (unambiguous, unlike packed encoding)
    function nameVersionKey(string calldata name, string calldata version)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(name, version));
    }
}
