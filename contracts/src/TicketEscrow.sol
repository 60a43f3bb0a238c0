// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title TicketEscrow
/// @notice Holds users' deposited tickets. The platform's settlement key (the operator)
///         settles numbered batches of metered usage: it debits users' deposits, never above
///         the spending allowance each user signed, and credits active providers (and the
///         protocol fee to the treasury); the Merkle root of the batch's call receipts is in
///         the batch's event, so a user can check each charge against a receipt the provider
///         signed. Providers and the treasury claim; users withdraw what is left after a
///         delay no shorter than settlement may take.
/// @dev Invariant: the escrow's ticket balance equals the sum of all deposits plus the sum
///      of all unclaimed credits (the treasury's fee credits included). A settlement moves
///      tickets from deposits to credits and never creates any; only `claim` and
///      `completeWithdrawal` send tickets out, each after lowering its sum by as much.
///      A user's deposit and spending allowance share one storage word, so a settlement
///      debit costs one SLOAD and one SSTORE per user; `nextBatch` shares the treasury's
///      slot, which a settlement reads anyway. The owner is the compute council's timelock
///      (two-step transfers).
contract TicketEscrow is Ownable2Step, EIP712, Nonces {
    using SafeERC20 for IERC20;

    /// @notice One line of a settlement: who is debited or credited, and by how much.
    struct Line {
        address account;
        uint256 amount;
    }

    /// @notice A pending withdrawal.
    struct Withdrawal {
        uint256 amount;
        uint64 availableAt;
    }

    /// @notice EIP-712 type hash of the spending allowance a user signs.
    bytes32 public constant SPENDING_ALLOWANCE_TYPEHASH = keccak256(
        "SpendingAllowance(address user,uint256 maxTickets,uint256 validUntil,uint256 nonce)"
    );
    /// @notice The highest protocol fee governance may set: 10%.
    uint16 public constant MAX_FEE_BPS = 1_000;
    /// @notice The longest time the platform may take to settle a charged call. Its
    ///         settlement job runs every minute or so; this bound leaves room for a node or
    ///         job outage without letting a user withdraw before paying.
    uint64 public constant MAX_SETTLEMENT_DELAY = 1 hours;
    /// @notice The shortest withdrawal delay governance may set: MAX_SETTLEMENT_DELAY, so
    ///         usage from before a withdrawal request is always settled before it completes.
    uint64 public constant MIN_WITHDRAWAL_DELAY = MAX_SETTLEMENT_DELAY;
    /// @notice The longest withdrawal delay governance may set.
    uint64 public constant MAX_WITHDRAWAL_DELAY = 30 days;

    uint256 private constant _REMAINING_SHIFT = 128;
    uint256 private constant _EXPIRY_SHIFT = 208;

    /// @notice The ticket token.
    IERC20 public immutable ticket;
    /// @notice Where providers' activity is checked before they are credited.
    IProviderRegistry public immutable providerRegistry;
    /// @notice Who may settle batches: the platform's settlement key.
    address public operator;
    /// @notice The protocol fee in basis points of each batch's debits (rounded down).
    uint16 public feeBps;
    /// @notice Seconds between requesting and completing a withdrawal.
    uint64 public withdrawalDelay;
    /// @notice Who is credited the protocol fees (and claims them with `claim`).
    address public treasury;
    // The number the next settled batch must carry (`nextBatch()`), in the treasury's slot.
    uint96 private _nextBatch;

    // Each user's account in one word: bits 0-127 the deposit, 128-207 what is left of the
    // spending allowance, 208-255 the allowance's expiry (a timestamp). A struct of those
    // three fields packs the same way, but solc (legacy code generation) then re-reads the
    // slot and writes it once per field assigned, which costs a settlement about 340 gas per user (measured).
    mapping(address user => uint256 packedAccount) private _accounts;
    /// @notice Tickets each provider (and the treasury) has earned and not yet claimed.
    mapping(address provider => uint256) public credits;
    /// @notice Each user's pending withdrawal, if any.
    mapping(address user => Withdrawal) public withdrawals;

    /// @notice Only the operator settles.
    error TicketEscrowNotOperator(address caller);
    /// @notice An address parameter must not be zero.
    error TicketEscrowZeroAddress();
    /// @notice An amount must be positive.
    error TicketEscrowZeroAmount();
    /// @notice The batch is not the next one in sequence (settled before, or one skipped).
    error TicketEscrowBatchOutOfOrder(uint256 expected, uint256 given);
    /// @notice A batch must name the Merkle root of its receipts.
    error TicketEscrowEmptyReceiptsRoot();
    /// @notice A batch has no debits.
    error TicketEscrowEmptyBatch();
    /// @notice A debit or withdrawal request exceeds what the user has deposited.
    error TicketEscrowInsufficientDeposit(address user, uint256 available, uint256 requested);
    /// @notice The user's spending allowance expired (or was never given: 0).
    error TicketEscrowAllowanceExpired(address user, uint256 validUntil);
    /// @notice A debit exceeds what is left of the user's spending allowance.
    error TicketEscrowAllowanceExceeded(address user, uint256 remaining, uint256 requested);
    /// @notice The spending allowance's signature is not the user's (or its nonce is used).
    error TicketEscrowInvalidAllowanceSignature(address user);
    /// @notice An allowance's expiry must be in the future and fit in 48 bits.
    error TicketEscrowAllowanceExpiryInvalid(uint256 validUntil);
    /// @notice An allowance's maximum must fit in 80 bits (about 1.2 * 10^24 tickets).
    error TicketEscrowAllowanceTooLarge(uint256 maxTickets);
    /// @notice A deposit must fit in 128 bits.
    error TicketEscrowDepositTooLarge(uint256 deposit);
    /// @notice A credited provider must be active in the ProviderRegistry.
    error TicketEscrowProviderNotActive(address provider);
    /// @notice Debits must equal credits plus the fee.
    error TicketEscrowUnbalancedBatch(uint256 debits, uint256 credits, uint256 fee);
    /// @notice The fee is not the current fee rate applied to the batch's debits.
    error TicketEscrowWrongFee(uint256 expected, uint256 given);
    /// @notice The caller has no credited tickets.
    error TicketEscrowNothingToClaim(address provider);
    /// @notice The user has no pending withdrawal.
    error TicketEscrowNoWithdrawalRequested(address user);
    /// @notice The withdrawal delay has not passed yet.
    error TicketEscrowWithdrawalNotReady(uint64 availableAt);
    /// @notice The fee is above MAX_FEE_BPS.
    error TicketEscrowFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice The delay is outside [MIN_WITHDRAWAL_DELAY, MAX_WITHDRAWAL_DELAY].
    error TicketEscrowDelayOutOfBounds(uint64 delay);

    /// @notice Emitted after `user` deposited `amount` tickets.
    event Deposited(address indexed user, uint256 amount, uint256 newDeposit);
    /// @notice Emitted after `user`'s spending allowance was replaced (nonce: the one used).
    event SpendingAllowanceSet(
        address indexed user, uint256 maxTickets, uint256 validUntil, uint256 nonce
    );
    /// @notice Emitted after batch `batch` settled; `receiptsRoot` is the Merkle root of the
    ///         receipts of the calls it charges (stored nowhere else on chain).
    event BatchSettled(
        uint256 indexed batch,
        bytes32 indexed receiptsRoot,
        uint256 totalDebited,
        uint256 totalCredited,
        uint256 fee
    );
    /// @notice Emitted after `provider` claimed `amount` tickets.
    event Claimed(address indexed provider, uint256 amount);
    /// @notice Emitted after `user` asked to withdraw `amount` (replacing any earlier request).
    event WithdrawalRequested(address indexed user, uint256 amount, uint64 availableAt);
    /// @notice Emitted after `user` withdrew `amount` tickets.
    event WithdrawalCompleted(address indexed user, uint256 amount);
    /// @notice Emitted after governance changed the operator.
    event OperatorChanged(address indexed previousOperator, address indexed newOperator);
    /// @notice Emitted after governance changed the treasury.
    event TreasuryChanged(address indexed previousTreasury, address indexed newTreasury);
    /// @notice Emitted after governance changed the fee.
    event FeeChanged(uint16 previousFeeBps, uint16 newFeeBps);
    /// @notice Emitted after governance changed the withdrawal delay.
    event WithdrawalDelayChanged(uint64 previousDelay, uint64 newDelay);

    modifier onlyOperator() {
        if (msg.sender != operator) revert TicketEscrowNotOperator(msg.sender);
        _;
    }

    /// @param ticket_ the PromptTicket token
    /// @param providerRegistry_ the ProviderRegistry that says which providers are active
    /// @param governance the owner: the compute council's timelock
    /// @param operator_ the platform's settlement key, which settles batches
    /// @param treasury_ who is credited the fees
    /// @param feeBps_ protocol fee in basis points
    /// @param withdrawalDelay_ seconds between requesting and completing a withdrawal
    constructor(
        IERC20 ticket_,
        IProviderRegistry providerRegistry_,
        address governance,
        address operator_,
        address treasury_,
        uint16 feeBps_,
        uint64 withdrawalDelay_
    ) Ownable(governance) EIP712("Synod TicketEscrow", "1") {
        if (
            address(ticket_) == address(0) || address(providerRegistry_) == address(0)
                || operator_ == address(0) || treasury_ == address(0)
        ) {
            revert TicketEscrowZeroAddress();
        }
        _checkFee(feeBps_);
        _checkDelay(withdrawalDelay_);
        ticket = ticket_;
        providerRegistry = providerRegistry_;
        operator = operator_;
        treasury = treasury_;
        feeBps = feeBps_;
        withdrawalDelay = withdrawalDelay_;
        // Batches count from 1 (and the slot never holds zero, as it holds the treasury too).
        _nextBatch = 1;
    }

    /// @notice Deposit `amount` tickets (approve this contract first).
    /// @param amount tickets to deposit
    function deposit(uint256 amount) external {
        _deposit(msg.sender, amount);
    }

    /// @notice Deposit with an ERC-2612 permit instead of a separate approval.
    /// @dev A permit already used by someone who saw it in the mempool makes `permit` revert;
    ///      the deposit then still succeeds if that front-run left the allowance in place.
    /// @param amount tickets to deposit (and the permit's value)
    /// @param deadline the permit's deadline
    /// @param v signature v
    /// @param r signature r
    /// @param s signature s
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
    {
        try IERC20Permit(address(ticket)).permit(msg.sender, address(this), amount, deadline, v, r, s)
        {} catch {}
        _deposit(msg.sender, amount);
    }

    /// @notice Set `user`'s spending allowance from the user's EIP-712 signature of
    ///         `SpendingAllowance(address user,uint256 maxTickets,uint256 validUntil,uint256 nonce)`
    ///         (domain "Synod TicketEscrow", version "1", this chain and address; nonce =
    ///         `nonces(user)`). Anyone may submit it: the platform relays the user's wallet
    ///         signature. Replaces the previous allowance and uses the nonce.
    /// @dev Checked with SignatureChecker, so ERC-1271 contract wallets can sign too.
    /// @param user whose allowance this is (the signer)
    /// @param maxTickets the most tickets settlement may debit from `user` from now on
    /// @param validUntil the last timestamp at which settlement may debit under it
    /// @param signature the user's signature of the typed data
    function setSpendingAllowance(
        address user,
        uint256 maxTickets,
        uint256 validUntil,
        bytes calldata signature
    ) external {
        _checkAllowance(maxTickets, validUntil);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SPENDING_ALLOWANCE_TYPEHASH, user, maxTickets, validUntil, nonces(user)
                )
            )
        );
        if (!SignatureChecker.isValidSignatureNow(user, digest, signature)) {
            revert TicketEscrowInvalidAllowanceSignature(user);
        }
        _setAllowance(user, maxTickets, validUntil, _useNonce(user));
    }

    /// @notice Set the caller's own spending allowance from their wallet. Replaces the
    ///         previous allowance and uses the caller's nonce, so a signed allowance not yet
    ///         submitted can no longer be used. `maxTickets` 0 revokes.
    /// @param maxTickets the most tickets settlement may debit from the caller from now on
    /// @param validUntil the last timestamp at which settlement may debit under it
    function approveSpending(uint256 maxTickets, uint256 validUntil) external {
        _checkAllowance(maxTickets, validUntil);
        _setAllowance(msg.sender, maxTickets, validUntil, _useNonce(msg.sender));
    }

    /// @notice Settle batch number `batch` of metered usage (operator only). Batches settle
    ///         in sequence from 1, so none settles twice. Each debit must fit the user's
    ///         deposit and what is left of the user's unexpired spending allowance, and
    ///         lowers both; each credit goes to a provider active in the ProviderRegistry.
    ///         The fee is credited to the treasury, which claims it with `claim` like a
    ///         provider (cheaper than a transfer in every batch).
    /// @dev The operator checks `providerRegistry.isActive` while building a batch: a
    ///      provider that turns inactive before the batch is mined reverts the whole batch.
    /// @param batch the batch's number: must equal `nextBatch`
    /// @param receiptsRoot Merkle root of the receipts of the calls this batch charges; only
    ///        emitted, so users check their charges against the event
    /// @param debits tickets taken from each user's deposit (a user may appear more than once)
    /// @param providerCredits tickets credited to each provider
    /// @param fee tickets credited to the treasury: must equal feeBps of the total debits,
    ///        rounded down (so a fee change racing a settlement reverts it instead of
    ///        silently charging another rate)
    function settle(
        uint256 batch,
        bytes32 receiptsRoot,
        Line[] calldata debits,
        Line[] calldata providerCredits,
        uint256 fee
    ) external onlyOperator {
        uint96 expected = _nextBatch;
        if (batch != expected) revert TicketEscrowBatchOutOfOrder(expected, batch);
        if (receiptsRoot == bytes32(0)) revert TicketEscrowEmptyReceiptsRoot();
        if (debits.length == 0) revert TicketEscrowEmptyBatch();
        _nextBatch = expected + 1;

        uint256 totalDebited = _debit(debits);
        uint256 totalCredited = _credit(providerCredits);
        if (totalDebited != totalCredited + fee) {
            revert TicketEscrowUnbalancedBatch(totalDebited, totalCredited, fee);
        }
        uint256 expectedFee = totalDebited * feeBps / 10_000;
        if (fee != expectedFee) revert TicketEscrowWrongFee(expectedFee, fee);
        if (fee > 0) credits[treasury] += fee;
        emit BatchSettled(batch, receiptsRoot, totalDebited, totalCredited, fee);
    }

    /// @notice Claim every ticket credited to the caller (a provider, or the treasury).
    /// @return amount tickets transferred to the caller
    function claim() external returns (uint256 amount) {
        amount = credits[msg.sender];
        if (amount == 0) revert TicketEscrowNothingToClaim(msg.sender);
        credits[msg.sender] = 0;
        emit Claimed(msg.sender, amount);
        ticket.safeTransfer(msg.sender, amount);
    }

    /// @notice Ask to withdraw `amount` deposited tickets after the withdrawal delay.
    ///         Replaces any earlier request and restarts the delay.
    /// @param amount tickets to withdraw
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert TicketEscrowZeroAmount();
        (uint256 available,,) = _unpack(_accounts[msg.sender]);
        if (amount > available) {
            revert TicketEscrowInsufficientDeposit(msg.sender, available, amount);
        }
        uint64 availableAt = uint64(block.timestamp) + withdrawalDelay;
        withdrawals[msg.sender] = Withdrawal(amount, availableAt);
        emit WithdrawalRequested(msg.sender, amount, availableAt);
    }

    /// @notice Complete the caller's pending withdrawal once its delay has passed. Pays the
    ///         requested amount, or what is left of the deposit if settlements used some.
    /// @return amount tickets transferred to the caller
    function completeWithdrawal() external returns (uint256 amount) {
        Withdrawal memory pending = withdrawals[msg.sender];
        // A zero time is the "no request" sentinel (a real one is always in the future of
        // block 0), not a comparison against the clock.
        // slither-disable-next-line incorrect-equality
        if (pending.availableAt == 0) revert TicketEscrowNoWithdrawalRequested(msg.sender);
        if (block.timestamp < pending.availableAt) {
            revert TicketEscrowWithdrawalNotReady(pending.availableAt);
        }
        (uint256 available, uint256 remaining, uint256 validUntil) =
            _unpack(_accounts[msg.sender]);
        amount = pending.amount < available ? pending.amount : available;
        delete withdrawals[msg.sender];
        _accounts[msg.sender] = _pack(available - amount, remaining, validUntil);
        emit WithdrawalCompleted(msg.sender, amount);
        if (amount > 0) ticket.safeTransfer(msg.sender, amount);
    }

    /// @notice Replace the operator (governance only).
    /// @param newOperator the new settlement key
    function setOperator(address newOperator) external onlyOwner {
        if (newOperator == address(0)) revert TicketEscrowZeroAddress();
        address previous = operator;
        operator = newOperator;
        emit OperatorChanged(previous, newOperator);
    }

    /// @notice Replace the treasury (governance only). Fees already credited to the previous
    ///         treasury stay claimable by it.
    /// @param newTreasury who is credited fees from now on
    function setTreasury(address newTreasury) external onlyOwner {
        if (newTreasury == address(0)) revert TicketEscrowZeroAddress();
        address previous = treasury;
        treasury = newTreasury;
        emit TreasuryChanged(previous, newTreasury);
    }

    /// @notice Change the protocol fee (governance only), at most MAX_FEE_BPS.
    /// @param newFeeBps the fee in basis points
    function setFeeBps(uint16 newFeeBps) external onlyOwner {
        _checkFee(newFeeBps);
        uint16 previous = feeBps;
        feeBps = newFeeBps;
        emit FeeChanged(previous, newFeeBps);
    }

    /// @notice Change the withdrawal delay (governance only), within the bounds. Pending
    ///         requests keep the time they were given.
    /// @param newDelay seconds
    function setWithdrawalDelay(uint64 newDelay) external onlyOwner {
        _checkDelay(newDelay);
        uint64 previous = withdrawalDelay;
        withdrawalDelay = newDelay;
        emit WithdrawalDelayChanged(previous, newDelay);
    }

    /// @notice The number the next settled batch must carry; batches settle in order from 1.
    /// @return the next batch number
    function nextBatch() external view returns (uint256) {
        return _nextBatch;
    }

    /// @notice Tickets `user` has deposited and not yet spent or withdrawn.
    /// @param user the user's address
    /// @return deposited the deposit
    function deposits(address user) external view returns (uint256 deposited) {
        (deposited,,) = _unpack(_accounts[user]);
    }

    /// @notice `user`'s spending allowance as stored: usable while block.timestamp <=
    ///         validUntil (0 when none was ever set).
    /// @param user the user's address
    /// @return remaining tickets settlement may still debit under it
    /// @return validUntil the last timestamp at which it may be used
    function spendingAllowance(address user)
        external
        view
        returns (uint256 remaining, uint256 validUntil)
    {
        (, remaining, validUntil) = _unpack(_accounts[user]);
    }

    function _debit(Line[] calldata debits) private returns (uint256 totalDebited) {
        for (uint256 i = 0; i < debits.length; i++) {
            Line calldata line = debits[i];
            (address user, uint256 amount) = (line.account, line.amount);
            uint256 account = _accounts[user];
            // _unpack written out: calling it costs about 60 gas a line in this loop.
            uint256 available = uint128(account);
            uint256 remaining = uint80(account >> _REMAINING_SHIFT);
            uint256 validUntil = account >> _EXPIRY_SHIFT;
            if (amount > available) {
                revert TicketEscrowInsufficientDeposit(user, available, amount);
            }
            if (block.timestamp > validUntil) revert TicketEscrowAllowanceExpired(user, validUntil);
            if (amount > remaining) {
                revert TicketEscrowAllowanceExceeded(user, remaining, amount);
            }
            _accounts[user] = _pack(available - amount, remaining - amount, validUntil);
            // Each amount is at most a deposit (< 2^128): the sum of any calldata-sized
            // number of them stays far below 2^256.
            unchecked {
                totalDebited += amount;
            }
        }
    }

    function _credit(Line[] calldata providerCredits) private returns (uint256 totalCredited) {
        for (uint256 i = 0; i < providerCredits.length; i++) {
            Line calldata line = providerCredits[i];
            (address provider, uint256 amount) = (line.account, line.amount);
            if (provider == address(0)) revert TicketEscrowZeroAddress();
            if (!providerRegistry.isActive(provider)) {
                revert TicketEscrowProviderNotActive(provider);
            }
            credits[provider] += amount;
            totalCredited += amount;
        }
    }

    function _deposit(address user, uint256 amount) private {
        if (amount == 0) revert TicketEscrowZeroAmount();
        (uint256 available, uint256 remaining, uint256 validUntil) = _unpack(_accounts[user]);
        uint256 newDeposit = available + amount;
        if (newDeposit > type(uint128).max) revert TicketEscrowDepositTooLarge(newDeposit);
        _accounts[user] = _pack(newDeposit, remaining, validUntil);
        emit Deposited(user, amount, newDeposit);
        // Our own token has no transfer hooks; the pull still comes last (checks-effects-
        // interactions) so a different token could not observe a half-done deposit.
        ticket.safeTransferFrom(user, address(this), amount);
    }

    function _setAllowance(address user, uint256 maxTickets, uint256 validUntil, uint256 nonce)
        private
    {
        (uint256 available,,) = _unpack(_accounts[user]);
        // _checkAllowance bounded both fields to their widths.
        _accounts[user] = _pack(available, maxTickets, validUntil);
        emit SpendingAllowanceSet(user, maxTickets, validUntil, nonce);
    }

    function _checkAllowance(uint256 maxTickets, uint256 validUntil) private view {
        if (validUntil <= block.timestamp || validUntil > type(uint48).max) {
            revert TicketEscrowAllowanceExpiryInvalid(validUntil);
        }
        if (maxTickets > type(uint80).max) revert TicketEscrowAllowanceTooLarge(maxTickets);
    }

    function _unpack(uint256 account)
        private
        pure
        returns (uint256 deposited, uint256 remaining, uint256 validUntil)
    {
        deposited = uint128(account);
        remaining = uint80(account >> _REMAINING_SHIFT);
        validUntil = account >> _EXPIRY_SHIFT;
    }

    /// @dev Callers keep each field within its width: deposited < 2^128 (checked on
    ///      deposit, and only ever lowered after), remaining < 2^80 and validUntil < 2^48
    ///      (checked when an allowance is set, and remaining only ever lowered after).
    function _pack(uint256 deposited, uint256 remaining, uint256 validUntil)
        private
        pure
        returns (uint256)
    {
        return deposited | (remaining << _REMAINING_SHIFT) | (validUntil << _EXPIRY_SHIFT);
    }

    function _checkFee(uint16 newFeeBps) private pure {
        if (newFeeBps > MAX_FEE_BPS) revert TicketEscrowFeeTooHigh(newFeeBps, MAX_FEE_BPS);
    }

    function _checkDelay(uint64 delay) private pure {
        if (delay < MIN_WITHDRAWAL_DELAY || delay > MAX_WITHDRAWAL_DELAY) {
            revert TicketEscrowDelayOutOfBounds(delay);
        }
    }
}
