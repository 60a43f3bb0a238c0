// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IProviderRegistry
/// @notice What TicketEscrow asks the ProviderRegistry: whether a provider may be credited.
interface IProviderRegistry {
    /// @notice Whether the provider is registered and its stake, net of a pending unbond, is
    ///         at least the registry's minimum.
    /// @param provider the provider's address
    /// @return true when active
    function isActive(address provider) external view returns (bool);
}
