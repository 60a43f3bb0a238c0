// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {ExpertBadge} from "./ExpertBadge.sol";
import {Council} from "./Council.sol";
import {Timelock} from "./Timelock.sol";

// The three councils as named contracts, so that every deployed contract has an artifact
// (ABI) of its own name and a fixed identity (badge name, governor name) in its bytecode.
// They add no behaviour to ExpertBadge, Council and Timelock.

/// @title DataBadge
/// @notice Membership of the data council, which approves and revokes datasets.
contract DataBadge is ExpertBadge {
    /// @param timelock the data council's timelock (mints and revokes)
    /// @param genesisHolders experts who receive a badge at deployment
    constructor(address timelock, address[] memory genesisHolders)
        ExpertBadge("Synod Data Council Badge", "SYN-DATA", "data", timelock, genesisHolders)
    {}
}

/// @title ModelBadge
/// @notice Membership of the model council, which approves and revokes model versions.
contract ModelBadge is ExpertBadge {
    /// @param timelock the model council's timelock (mints and revokes)
    /// @param genesisHolders experts who receive a badge at deployment
    constructor(address timelock, address[] memory genesisHolders)
        ExpertBadge("Synod Model Council Badge", "SYN-MODEL", "model", timelock, genesisHolders)
    {}
}

/// @title ComputeBadge
/// @notice Membership of the compute council, which governs tickets, escrow and providers.
contract ComputeBadge is ExpertBadge {
    /// @param timelock the compute council's timelock (mints and revokes)
    /// @param genesisHolders experts who receive a badge at deployment
    constructor(address timelock, address[] memory genesisHolders)
        ExpertBadge(
            "Synod Compute Council Badge", "SYN-COMPUTE", "compute", timelock, genesisHolders
        )
    {}
}

/// @title DataTimelock
/// @notice The data council's timelock: anyone executes, the council proposes and cancels.
contract DataTimelock is Timelock {
    /// @param minDelay seconds between queueing and executing
    /// @param admin temporary admin that wires the council in and then renounces
    constructor(uint256 minDelay, address admin)
        Timelock(minDelay, new address[](0), _anyone(), admin)
    {}
}

/// @title ModelTimelock
/// @notice The model council's timelock: anyone executes, the council proposes and cancels.
contract ModelTimelock is Timelock {
    /// @param minDelay seconds between queueing and executing
    /// @param admin temporary admin that wires the council in and then renounces
    constructor(uint256 minDelay, address admin)
        Timelock(minDelay, new address[](0), _anyone(), admin)
    {}
}

/// @title ComputeTimelock
/// @notice The compute council's timelock, which also holds the treasury by default.
contract ComputeTimelock is Timelock {
    /// @param minDelay seconds between queueing and executing
    /// @param admin temporary admin that wires the council in and then renounces
    constructor(uint256 minDelay, address admin)
        Timelock(minDelay, new address[](0), _anyone(), admin)
    {}
}

/// @dev The executor list meaning "anyone": TimelockController's open role is address(0).
function _anyone() pure returns (address[] memory executors) {
    executors = new address[](1);
    executors[0] = address(0);
}

/// @title DataCouncil
/// @notice The data council's governor.
contract DataCouncil is Council {
    /// @param badge the DataBadge
    /// @param timelock_ the DataTimelock
    /// @param votingDelay_ blocks before voting starts
    /// @param votingPeriod_ blocks of voting
    /// @param quorumPercent_ percent of badges needed, rounded up
    /// @param lateQuorumExtension_ blocks voting stays open after a late quorum
    constructor(
        IVotes badge,
        TimelockController timelock_,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint256 quorumPercent_,
        uint48 lateQuorumExtension_
    )
        Council(
            "Synod Data Council",
            badge,
            timelock_,
            votingDelay_,
            votingPeriod_,
            quorumPercent_,
            lateQuorumExtension_
        )
    {}
}

/// @title ModelCouncil
/// @notice The model council's governor.
contract ModelCouncil is Council {
    /// @param badge the ModelBadge
    /// @param timelock_ the ModelTimelock
    /// @param votingDelay_ blocks before voting starts
    /// @param votingPeriod_ blocks of voting
    /// @param quorumPercent_ percent of badges needed, rounded up
    /// @param lateQuorumExtension_ blocks voting stays open after a late quorum
    constructor(
        IVotes badge,
        TimelockController timelock_,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint256 quorumPercent_,
        uint48 lateQuorumExtension_
    )
        Council(
            "Synod Model Council",
            badge,
            timelock_,
            votingDelay_,
            votingPeriod_,
            quorumPercent_,
            lateQuorumExtension_
        )
    {}
}

/// @title ComputeCouncil
/// @notice The compute council's governor.
contract ComputeCouncil is Council {
    /// @param badge the ComputeBadge
    /// @param timelock_ the ComputeTimelock
    /// @param votingDelay_ blocks before voting starts
    /// @param votingPeriod_ blocks of voting
    /// @param quorumPercent_ percent of badges needed, rounded up
    /// @param lateQuorumExtension_ blocks voting stays open after a late quorum
    constructor(
        IVotes badge,
        TimelockController timelock_,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint256 quorumPercent_,
        uint48 lateQuorumExtension_
    )
        Council(
            "Synod Compute Council",
            badge,
            timelock_,
            votingDelay_,
            votingPeriod_,
            quorumPercent_,
            lateQuorumExtension_
        )
    {}
}
