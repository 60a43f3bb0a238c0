// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Timelock
/// @notice A council's TimelockController, unchanged from OpenZeppelin. It is a named
///         contract here so the build emits an artifact the deployment can use.
contract Timelock is TimelockController {
    /// @param minDelay seconds between queueing and executing an operation
    /// @param proposers who may schedule (the council, granted after it is deployed)
    /// @param executors who may execute (address(0): anyone)
    /// @param admin temporary admin that wires the council in and then renounces
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
