// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title TicketEscrow
/// @notice Holds users' deposited tickets; the platform operator settles batches of metered
///         usage from users' deposits to providers' credits (plus a protocol fee to the
///         treasury); providers claim; users withdraw what is left after a delay.
/// @dev Invariant: the escrow's ticket balance equals the sum of all deposits plus the sum
///      of all unclaimed credits. A settlement moves tickets between the two sums (and the
///      fee out) and never creates any. The delay between requesting and completing a
///      withdrawal lets the operator settle usage incurred before the request; the
///      completed withdrawal pays min(requested, deposit left). The owner is the compute
///      council's timelock.
contract TicketEscrow is Ownable {
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

    /// @notice The highest protocol fee governance may set: 10%.
    uint16 public constant MAX_FEE_BPS = 1_000;
    /// @notice The shortest withdrawal delay governance may set.
    uint64 public constant MIN_WITHDRAWAL_DELAY = 1 minutes;
    /// @notice The longest withdrawal delay governance may set.
    uint64 public constant MAX_WITHDRAWAL_DELAY = 30 days;

    /// @notice The ticket token.
    IERC20 public immutable ticket;
    /// @notice Who may settle batches: the platform operator key.
    address public operator;
    /// @notice Where protocol fees go.
    address public treasury;
    /// @notice The protocol fee in basis points of each batch's debits (rounded down).
    uint16 public feeBps;
    /// @notice Seconds between requesting and completing a withdrawal.
    uint64 public withdrawalDelay;

    /// @notice Tickets each user has deposited and not yet spent or withdrawn.
    mapping(address user => uint256) public deposits;
    /// @notice Tickets each provider has earned and not yet claimed.
    mapping(address provider => uint256) public credits;
    /// @notice Each user's pending withdrawal, if any.
    mapping(address user => Withdrawal) public withdrawals;
    /// @notice Batches already settled.
    mapping(bytes32 batchId => bool) public settled;

    /// @notice Only the operator settles.
    error TicketEscrowNotOperator(address caller);
    /// @notice An address parameter must not be zero.
    error TicketEscrowZeroAddress();
    /// @notice An amount must be positive.
    error TicketEscrowZeroAmount();
    /// @notice The batch id was settled before.
    error TicketEscrowBatchAlreadySettled(bytes32 batchId);
    /// @notice A batch has no debits.
    error TicketEscrowEmptyBatch();
    /// @notice A debit or withdrawal request exceeds what the user has deposited.
    error TicketEscrowInsufficientDeposit(address user, uint256 available, uint256 requested);
    /// @notice Debits must equal credits plus the fee.
    error TicketEscrowUnbalancedBatch(uint256 debits, uint256 credits, uint256 fee);
    /// @notice The fee is not the current fee rate applied to the batch's debits.
    error TicketEscrowWrongFee(uint256 expected, uint256 given);
    /// @notice The provider has no credited tickets.
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
    /// @notice Emitted after a batch settled.
    event BatchSettled(
        bytes32 indexed batchId, uint256 totalDebited, uint256 totalCredited, uint256 fee
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
    /// @param governance the owner: the compute council's timelock
    /// @param operator_ the platform operator key that settles batches
    /// @param treasury_ where fees go
    /// @param feeBps_ protocol fee in basis points
    /// @param withdrawalDelay_ seconds between requesting and completing a withdrawal
    constructor(
        IERC20 ticket_,
        address governance,
        address operator_,
        address treasury_,
        uint16 feeBps_,
        uint64 withdrawalDelay_
    ) Ownable(governance) {
        if (address(ticket_) == address(0) || operator_ == address(0) || treasury_ == address(0))
        {
            revert TicketEscrowZeroAddress();
        }
        _checkFee(feeBps_);
        _checkDelay(withdrawalDelay_);
        ticket = ticket_;
        operator = operator_;
        treasury = treasury_;
        feeBps = feeBps_;
        withdrawalDelay = withdrawalDelay_;
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

    /// @notice Settle one batch of metered usage (operator only). Each batch id settles once.
    /// @param batchId the off-chain batch's unique id
    /// @param debits tickets taken from each user's deposit
    /// @param providerCredits tickets credited to each provider
    /// @param fee tickets sent to the treasury: must equal feeBps of the total debits,
    ///        rounded down (so a fee change racing a settlement reverts it instead of
    ///        silently charging another rate)
    function settle(
        bytes32 batchId,
        Line[] calldata debits,
        Line[] calldata providerCredits,
        uint256 fee
    ) external onlyOperator {
        if (settled[batchId]) revert TicketEscrowBatchAlreadySettled(batchId);
        if (debits.length == 0) revert TicketEscrowEmptyBatch();
        settled[batchId] = true;

        uint256 totalDebited = 0;
        for (uint256 i = 0; i < debits.length; i++) {
            Line calldata line = debits[i];
            uint256 available = deposits[line.account];
            if (line.amount > available) {
                revert TicketEscrowInsufficientDeposit(line.account, available, line.amount);
            }
            deposits[line.account] = available - line.amount;
            totalDebited += line.amount;
        }
        uint256 totalCredited = 0;
        for (uint256 i = 0; i < providerCredits.length; i++) {
            Line calldata line = providerCredits[i];
            if (line.account == address(0)) revert TicketEscrowZeroAddress();
            credits[line.account] += line.amount;
            totalCredited += line.amount;
        }
        if (totalDebited != totalCredited + fee) {
            revert TicketEscrowUnbalancedBatch(totalDebited, totalCredited, fee);
        }
        uint256 expectedFee = totalDebited * feeBps / 10_000;
        if (fee != expectedFee) revert TicketEscrowWrongFee(expectedFee, fee);
        emit BatchSettled(batchId, totalDebited, totalCredited, fee);
        if (fee > 0) ticket.safeTransfer(treasury, fee);
    }

    /// @notice Claim every ticket credited to the caller.
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
        uint256 available = deposits[msg.sender];
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
        uint256 available = deposits[msg.sender];
        amount = pending.amount < available ? pending.amount : available;
        delete withdrawals[msg.sender];
        deposits[msg.sender] = available - amount;
        emit WithdrawalCompleted(msg.sender, amount);
        if (amount > 0) ticket.safeTransfer(msg.sender, amount);
    }

    /// @notice Replace the operator (governance only).
    /// @param newOperator the new operator key
    function setOperator(address newOperator) external onlyOwner {
        if (newOperator == address(0)) revert TicketEscrowZeroAddress();
        address previous = operator;
        operator = newOperator;
        emit OperatorChanged(previous, newOperator);
    }

    /// @notice Replace the treasury (governance only).
    /// @param newTreasury where fees go from now on
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

    function _deposit(address user, uint256 amount) private {
        if (amount == 0) revert TicketEscrowZeroAmount();
        uint256 newDeposit = deposits[user] + amount;
        deposits[user] = newDeposit;
        emit Deposited(user, amount, newDeposit);
        // Our own token has no transfer hooks; the pull still comes last (checks-effects-
        // interactions) so a different token could not observe a half-done deposit.
        ticket.safeTransferFrom(user, address(this), amount);
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
