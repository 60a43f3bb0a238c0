// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ModelRegistry} from "./ModelRegistry.sol";

/// @title ProviderRegistry
/// @notice Compute providers stake tickets and register the approved models they serve.
///         Stake leaves only through an unbonding delay, and stays slashable meanwhile:
///         by the compute council, or by anyone holding a receipt the provider signed for a
///         model the registry never approved (a fraud proof: the whole stake goes, a share
///         to the reporter, the rest to the treasury, and the provider is banned).
/// @dev Receipts are EIP-712 typed data in this contract's domain; `receiptDigest` gives
///      the exact digest so off-chain signers can check theirs. A receipt is used at most
///      once, keyed by its digest (not by its signature, which could be re-encoded).
contract ProviderRegistry is Ownable, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice What a provider signs for every job it serves.
    struct Receipt {
        address provider;
        bytes32 modelHash;
        bytes32 jobId;
        bytes32 requestHash;
        bytes32 outputHash;
        uint256 ticketsCharged;
        uint64 servedAt;
    }

    /// @notice A registered provider.
    struct Provider {
        bool registered;
        uint256 stake;
        string metadataURI;
        bytes32[] models;
        uint256 unbondingAmount;
        uint64 unbondingAvailableAt;
    }

    /// @notice EIP-712 type hash of {Receipt}.
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(address provider,bytes32 modelHash,bytes32 jobId,bytes32 requestHash,bytes32 outputHash,uint256 ticketsCharged,uint64 servedAt)"
    );
    /// @notice The largest reporter share governance may set: 50%.
    uint16 public constant MAX_REPORTER_SHARE_BPS = 5_000;
    /// @notice The shortest unbonding delay governance may set.
    uint64 public constant MIN_UNBONDING_DELAY = 1 minutes;
    /// @notice The longest unbonding delay governance may set.
    uint64 public constant MAX_UNBONDING_DELAY = 60 days;

    /// @notice The ticket token staked.
    IERC20 public immutable ticket;
    /// @notice Where approved models are looked up.
    ModelRegistry public immutable modelRegistry;
    /// @notice Where slashed stake goes.
    address public treasury;
    /// @notice The least stake a provider registers with.
    uint256 public minStake;
    /// @notice Seconds between requesting an unbond and withdrawing the stake.
    uint64 public unbondingDelay;
    /// @notice The reporter's share of a permissionless slash, in basis points.
    uint16 public reporterShareBps;

    mapping(address provider => Provider) private _providers;
    /// @notice Providers whose signed receipt proved they served an unapproved model.
    mapping(address provider => bool) public banned;
    /// @notice Receipt digests already used for a slash.
    mapping(bytes32 digest => bool) public receiptUsed;

    /// @notice The caller is already registered.
    error ProviderRegistryAlreadyRegistered(address provider);
    /// @notice The provider is not registered.
    error ProviderRegistryNotRegistered(address provider);
    /// @notice The provider was banned by a fraud proof.
    error ProviderRegistryBanned(address provider);
    /// @notice The stake is below the minimum.
    error ProviderRegistryStakeTooLow(uint256 stake, uint256 minStake);
    /// @notice A served model must be approved in the ModelRegistry.
    error ProviderRegistryModelNotApproved(bytes32 modelHash);
    /// @notice A provider serves at least one model.
    error ProviderRegistryNoModels();
    /// @notice An amount must be positive.
    error ProviderRegistryZeroAmount();
    /// @notice An address parameter must not be zero.
    error ProviderRegistryZeroAddress();
    /// @notice The unbond request exceeds the stake.
    error ProviderRegistryInsufficientStake(uint256 stake, uint256 requested);
    /// @notice There is no pending unbond.
    error ProviderRegistryNoUnbondRequested(address provider);
    /// @notice The unbonding delay has not passed yet.
    error ProviderRegistryUnbondingNotReady(uint64 availableAt);
    /// @notice The provider has no stake to slash.
    error ProviderRegistryNothingToSlash(address provider);
    /// @notice The receipt's signature is not the named provider's.
    error ProviderRegistryInvalidReceiptSignature(address provider, address signer);
    /// @notice The receipt names a model that was approved: it proves no fraud.
    error ProviderRegistryModelWasApproved(bytes32 modelHash);
    /// @notice This receipt was already used for a slash.
    error ProviderRegistryReceiptAlreadyUsed(bytes32 digest);
    /// @notice The reporter share is above MAX_REPORTER_SHARE_BPS.
    error ProviderRegistryShareTooHigh(uint16 shareBps, uint16 maxShareBps);
    /// @notice The delay is outside [MIN_UNBONDING_DELAY, MAX_UNBONDING_DELAY].
    error ProviderRegistryDelayOutOfBounds(uint64 delay);

    /// @notice Emitted after `provider` registered.
    event ProviderRegistered(
        address indexed provider, uint256 stake, string metadataURI, bytes32[] models
    );
    /// @notice Emitted after `provider` added stake.
    event StakeAdded(address indexed provider, uint256 amount, uint256 newStake);
    /// @notice Emitted after `provider` changed the models it serves.
    event ModelsUpdated(address indexed provider, bytes32[] models);
    /// @notice Emitted after `provider` changed its metadata URI.
    event MetadataUpdated(address indexed provider, string metadataURI);
    /// @notice Emitted after `provider` asked to unbond `amount`.
    event UnbondRequested(address indexed provider, uint256 amount, uint64 availableAt);
    /// @notice Emitted after `provider` withdrew `amount` of stake.
    event StakeWithdrawn(address indexed provider, uint256 amount, uint256 remainingStake);
    /// @notice Emitted after a provider that withdrew all its stake left the registry.
    event ProviderDeregistered(address indexed provider);
    /// @notice Emitted after the compute council slashed `provider`.
    event Slashed(address indexed provider, uint256 amount, string reason);
    /// @notice Emitted after a fraud proof slashed `provider`'s whole stake.
    event SlashedByReceipt(
        address indexed provider,
        address indexed reporter,
        bytes32 indexed modelHash,
        bytes32 receiptDigest,
        uint256 amount,
        uint256 reporterReward
    );
    /// @notice Emitted after governance changed the minimum stake.
    event MinStakeChanged(uint256 previousMinStake, uint256 newMinStake);
    /// @notice Emitted after governance changed the unbonding delay.
    event UnbondingDelayChanged(uint64 previousDelay, uint64 newDelay);
    /// @notice Emitted after governance changed the reporter share.
    event ReporterShareChanged(uint16 previousShareBps, uint16 newShareBps);
    /// @notice Emitted after governance changed the treasury.
    event TreasuryChanged(address indexed previousTreasury, address indexed newTreasury);

    /// @param ticket_ the PromptTicket token
    /// @param modelRegistry_ the ModelRegistry
    /// @param governance the owner: the compute council's timelock
    /// @param treasury_ where slashed stake goes
    /// @param minStake_ the least stake to register with
    /// @param unbondingDelay_ seconds between requesting an unbond and withdrawing
    /// @param reporterShareBps_ the reporter's share of a permissionless slash
    constructor(
        IERC20 ticket_,
        ModelRegistry modelRegistry_,
        address governance,
        address treasury_,
        uint256 minStake_,
        uint64 unbondingDelay_,
        uint16 reporterShareBps_
    ) Ownable(governance) EIP712("Synod ProviderRegistry", "1") {
        if (
            address(ticket_) == address(0) || address(modelRegistry_) == address(0)
                || treasury_ == address(0)
        ) revert ProviderRegistryZeroAddress();
        if (minStake_ == 0) revert ProviderRegistryZeroAmount();
        _checkDelay(unbondingDelay_);
        _checkShare(reporterShareBps_);
        ticket = ticket_;
        modelRegistry = modelRegistry_;
        treasury = treasury_;
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        reporterShareBps = reporterShareBps_;
    }

    /// @notice Stake `stakeAmount` tickets (approve first) and register as a provider.
    /// @param stakeAmount tickets to stake, at least `minStake`
    /// @param metadataURI where the provider describes its endpoint and hardware
    /// @param modelHashes the approved model versions it serves
    function register(uint256 stakeAmount, string calldata metadataURI, bytes32[] calldata modelHashes)
        external
    {
        if (banned[msg.sender]) revert ProviderRegistryBanned(msg.sender);
        Provider storage provider = _providers[msg.sender];
        if (provider.registered) revert ProviderRegistryAlreadyRegistered(msg.sender);
        if (stakeAmount < minStake) revert ProviderRegistryStakeTooLow(stakeAmount, minStake);
        _checkModels(modelHashes);
        provider.registered = true;
        provider.stake = stakeAmount;
        provider.metadataURI = metadataURI;
        provider.models = modelHashes;
        emit ProviderRegistered(msg.sender, stakeAmount, metadataURI, modelHashes);
        ticket.safeTransferFrom(msg.sender, address(this), stakeAmount);
    }

    /// @notice Add `amount` tickets to the caller's stake (approve first).
    /// @param amount tickets to add
    function addStake(uint256 amount) external {
        if (amount == 0) revert ProviderRegistryZeroAmount();
        Provider storage provider = _registered(msg.sender);
        uint256 newStake = provider.stake + amount;
        provider.stake = newStake;
        emit StakeAdded(msg.sender, amount, newStake);
        ticket.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Replace the models the caller serves; each must be approved now.
    /// @param modelHashes the approved model versions it serves
    function updateModels(bytes32[] calldata modelHashes) external {
        Provider storage provider = _registered(msg.sender);
        _checkModels(modelHashes);
        provider.models = modelHashes;
        emit ModelsUpdated(msg.sender, modelHashes);
    }

    /// @notice Replace the caller's metadata URI.
    /// @param metadataURI where the provider describes its endpoint and hardware
    function updateMetadata(string calldata metadataURI) external {
        Provider storage provider = _registered(msg.sender);
        provider.metadataURI = metadataURI;
        emit MetadataUpdated(msg.sender, metadataURI);
    }

    /// @notice Start unbonding `amount` of the caller's stake (replacing an earlier request).
    ///         The stake stays slashable until withdrawn.
    /// @param amount tickets to unbond
    function requestUnbond(uint256 amount) external {
        if (amount == 0) revert ProviderRegistryZeroAmount();
        Provider storage provider = _registered(msg.sender);
        if (amount > provider.stake) {
            revert ProviderRegistryInsufficientStake(provider.stake, amount);
        }
        uint64 availableAt = uint64(block.timestamp) + unbondingDelay;
        provider.unbondingAmount = amount;
        provider.unbondingAvailableAt = availableAt;
        emit UnbondRequested(msg.sender, amount, availableAt);
    }

    /// @notice Withdraw unbonded stake once the delay has passed: the requested amount, or
    ///         what is left of the stake after slashes. A provider left with no stake leaves
    ///         the registry.
    /// @return amount tickets transferred to the caller
    function withdrawStake() external returns (uint256 amount) {
        Provider storage provider = _registered(msg.sender);
        uint64 availableAt = provider.unbondingAvailableAt;
        if (availableAt == 0) revert ProviderRegistryNoUnbondRequested(msg.sender);
        if (block.timestamp < availableAt) revert ProviderRegistryUnbondingNotReady(availableAt);
        uint256 stake = provider.stake;
        amount = provider.unbondingAmount < stake ? provider.unbondingAmount : stake;
        uint256 remaining = stake - amount;
        provider.unbondingAmount = 0;
        provider.unbondingAvailableAt = 0;
        provider.stake = remaining;
        emit StakeWithdrawn(msg.sender, amount, remaining);
        if (remaining == 0) {
            delete _providers[msg.sender];
            emit ProviderDeregistered(msg.sender);
        }
        if (amount > 0) ticket.safeTransfer(msg.sender, amount);
    }

    /// @notice Slash up to `amount` of `provider`'s stake to the treasury (governance only).
    ///         Takes the whole stake when it is smaller than `amount`.
    /// @param provider the provider to slash
    /// @param amount tickets to slash at most
    /// @param reason why, for the record
    /// @return slashed tickets actually taken
    function slash(address provider, uint256 amount, string calldata reason)
        external
        onlyOwner
        returns (uint256 slashed)
    {
        if (amount == 0) revert ProviderRegistryZeroAmount();
        Provider storage record = _providers[provider];
        uint256 stake = record.stake;
        if (stake == 0) revert ProviderRegistryNothingToSlash(provider);
        slashed = amount < stake ? amount : stake;
        record.stake = stake - slashed;
        emit Slashed(provider, slashed, reason);
        ticket.safeTransfer(treasury, slashed);
    }

    /// @notice Slash a provider's whole stake with a receipt it signed for a model the
    ///         registry never approved. Anyone may call; the caller gets the reporter share.
    /// @param receipt the receipt as signed
    /// @param signature the provider's EIP-712 signature over it
    /// @return slashed tickets taken from the provider
    function slashWithReceipt(Receipt calldata receipt, bytes calldata signature)
        external
        returns (uint256 slashed)
    {
        bytes32 digest = receiptDigest(receipt);
        if (receiptUsed[digest]) revert ProviderRegistryReceiptAlreadyUsed(digest);
        address signer = ECDSA.recover(digest, signature);
        if (signer != receipt.provider) {
            revert ProviderRegistryInvalidReceiptSignature(receipt.provider, signer);
        }
        if (modelRegistry.wasEverApproved(receipt.modelHash)) {
            revert ProviderRegistryModelWasApproved(receipt.modelHash);
        }
        Provider storage record = _providers[receipt.provider];
        slashed = record.stake;
        if (slashed == 0) revert ProviderRegistryNothingToSlash(receipt.provider);
        uint256 reward = slashed * reporterShareBps / 10_000;
        receiptUsed[digest] = true;
        banned[receipt.provider] = true;
        delete _providers[receipt.provider];
        emit SlashedByReceipt(
            receipt.provider, msg.sender, receipt.modelHash, digest, slashed, reward
        );
        if (reward > 0) ticket.safeTransfer(msg.sender, reward);
        ticket.safeTransfer(treasury, slashed - reward);
    }

    /// @notice Change the minimum stake (governance only). Registered providers keep theirs.
    /// @param newMinStake tickets, positive
    function setMinStake(uint256 newMinStake) external onlyOwner {
        if (newMinStake == 0) revert ProviderRegistryZeroAmount();
        uint256 previous = minStake;
        minStake = newMinStake;
        emit MinStakeChanged(previous, newMinStake);
    }

    /// @notice Change the unbonding delay (governance only), within the bounds.
    /// @param newDelay seconds
    function setUnbondingDelay(uint64 newDelay) external onlyOwner {
        _checkDelay(newDelay);
        uint64 previous = unbondingDelay;
        unbondingDelay = newDelay;
        emit UnbondingDelayChanged(previous, newDelay);
    }

    /// @notice Change the reporter's share of a permissionless slash (governance only).
    /// @param newShareBps basis points, at most MAX_REPORTER_SHARE_BPS
    function setReporterShareBps(uint16 newShareBps) external onlyOwner {
        _checkShare(newShareBps);
        uint16 previous = reporterShareBps;
        reporterShareBps = newShareBps;
        emit ReporterShareChanged(previous, newShareBps);
    }

    /// @notice Replace the treasury (governance only).
    /// @param newTreasury where slashed stake goes from now on
    function setTreasury(address newTreasury) external onlyOwner {
        if (newTreasury == address(0)) revert ProviderRegistryZeroAddress();
        address previous = treasury;
        treasury = newTreasury;
        emit TreasuryChanged(previous, newTreasury);
    }

    /// @notice The EIP-712 digest a provider signs for `receipt`.
    /// @param receipt the receipt
    /// @return the digest (domain "Synod ProviderRegistry", version "1", this chain and address)
    function receiptDigest(Receipt calldata receipt) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    RECEIPT_TYPEHASH,
                    receipt.provider,
                    receipt.modelHash,
                    receipt.jobId,
                    receipt.requestHash,
                    receipt.outputHash,
                    receipt.ticketsCharged,
                    receipt.servedAt
                )
            )
        );
    }

    /// @notice The provider's record (registered false when unknown).
    /// @param provider the provider's address
    /// @return the record
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @notice Whether the provider may be routed jobs: registered, and its stake net of a
    ///         pending unbond is at least the minimum.
    /// @param provider the provider's address
    /// @return true when active
    function isActive(address provider) external view returns (bool) {
        Provider storage record = _providers[provider];
        uint256 stake = record.stake;
        uint256 unbonding = record.unbondingAmount;
        // A slash may have left less stake than the pending unbond.
        return record.registered && stake > unbonding && stake - unbonding >= minStake;
    }

    /// @notice Whether the provider currently lists `modelHash` among the models it serves.
    /// @param provider the provider's address
    /// @param modelHash sha256 of the model file
    /// @return true when listed
    function servesModel(address provider, bytes32 modelHash) external view returns (bool) {
        bytes32[] storage models = _providers[provider].models;
        for (uint256 i = 0; i < models.length; i++) {
            if (models[i] == modelHash) return true;
        }
        return false;
    }

    function _registered(address account) private view returns (Provider storage provider) {
        provider = _providers[account];
        if (!provider.registered) revert ProviderRegistryNotRegistered(account);
    }

    function _checkModels(bytes32[] calldata modelHashes) private view {
        if (modelHashes.length == 0) revert ProviderRegistryNoModels();
        for (uint256 i = 0; i < modelHashes.length; i++) {
            if (!modelRegistry.isModelApproved(modelHashes[i])) {
                revert ProviderRegistryModelNotApproved(modelHashes[i]);
            }
        }
    }

    function _checkDelay(uint64 delay) private pure {
        if (delay < MIN_UNBONDING_DELAY || delay > MAX_UNBONDING_DELAY) {
            revert ProviderRegistryDelayOutOfBounds(delay);
        }
    }

    function _checkShare(uint16 shareBps) private pure {
        if (shareBps > MAX_REPORTER_SHARE_BPS) {
            revert ProviderRegistryShareTooHigh(shareBps, MAX_REPORTER_SHARE_BPS);
        }
    }
}
