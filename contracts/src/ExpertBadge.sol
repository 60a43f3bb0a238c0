// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Votes} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Votes.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @notice ERC-5192: minimal soulbound NFTs.
interface IERC5192 {
    /// @notice Emitted when the locking status is changed to locked.
    event Locked(uint256 tokenId);
    /// @notice Emitted when the locking status is changed to unlocked.
    event Unlocked(uint256 tokenId);

    /// @notice Whether `tokenId` is locked (cannot be transferred).
    function locked(uint256 tokenId) external view returns (bool);
}

/// @title ExpertBadge
/// @notice A soulbound membership badge of one council (data, model or compute). Each badge
///         is one vote in that council, held by its expert and never transferable.
/// @dev The token id of a holder's badge is their address as a number, which makes "one
///      badge per address" structural and lets anyone find a holder's badge without an index.
///      Votes are delegated to the holder on mint and cannot be delegated elsewhere: the badge
///      stands for a person's expertise, so its vote must not move any more than the badge.
///      Only the owner (the council's timelock) mints and revokes.
contract ExpertBadge is ERC721, EIP712, ERC721Votes, Ownable, IERC5192 {
    /// @notice The council this badge belongs to, e.g. "data", "model" or "compute".
    string public councilDomain;

    /// @notice Badges never move between holders, and cannot be approved for moving.
    error ExpertBadgeSoulbound();
    /// @notice `holder` already holds a badge of this council.
    error ExpertBadgeAlreadyHeld(address holder);
    /// @notice `holder` holds no badge of this council.
    error ExpertBadgeNotHeld(address holder);
    /// @notice A badge's vote can only be delegated to its own holder.
    error ExpertBadgeDelegationDisabled();
    /// @notice Badges cannot be minted to the zero address.
    error ExpertBadgeZeroAddress();

    /// @notice Emitted after `holder`'s badge was revoked (burned).
    event BadgeRevoked(address indexed holder, uint256 indexed tokenId);

    /// @param name_ ERC-721 name
    /// @param symbol_ ERC-721 symbol
    /// @param councilDomain_ the council this badge belongs to
    /// @param initialOwner who mints and revokes badges (the council's timelock)
    /// @param genesisHolders experts who receive a badge at deployment
    constructor(
        string memory name_,
        string memory symbol_,
        string memory councilDomain_,
        address initialOwner,
        address[] memory genesisHolders
    ) ERC721(name_, symbol_) EIP712(name_, "1") Ownable(initialOwner) {
        councilDomain = councilDomain_;
        for (uint256 i = 0; i < genesisHolders.length; i++) {
            _mintBadge(genesisHolders[i]);
        }
    }

    /// @notice Mint a badge to `holder` (council timelock only).
    /// @param holder the expert joining the council
    /// @return tokenId the new badge's id
    function mint(address holder) external onlyOwner returns (uint256 tokenId) {
        return _mintBadge(holder);
    }

    /// @notice Burn `holder`'s badge, removing their vote (council timelock only).
    /// @param holder the expert leaving the council
    function revoke(address holder) external onlyOwner {
        uint256 tokenId = tokenIdOf(holder);
        if (_ownerOf(tokenId) != holder) revert ExpertBadgeNotHeld(holder);
        _burn(tokenId);
        emit BadgeRevoked(holder, tokenId);
    }

    /// @notice The id a badge of `holder` has (whether or not it exists).
    /// @param holder any address
    /// @return the token id
    function tokenIdOf(address holder) public pure returns (uint256) {
        return uint256(uint160(holder));
    }

    /// @notice Whether `holder` currently holds a badge of this council.
    /// @param holder any address
    /// @return true when a badge exists for it
    function isMember(address holder) external view returns (bool) {
        return _ownerOf(tokenIdOf(holder)) == holder && holder != address(0);
    }

    /// @notice ERC-5192: every badge is locked, forever.
    /// @param tokenId an existing badge
    /// @return always true (reverts for a badge that does not exist)
    function locked(uint256 tokenId) external view returns (bool) {
        _requireOwned(tokenId);
        return true;
    }

    /// @notice Metadata as a data: URI holding JSON with the council and the holder.
    /// @param tokenId an existing badge
    /// @return the data: URI
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        address holder = _requireOwned(tokenId);
        string memory holderHex = Strings.toChecksumHexString(holder);
        bytes memory json = abi.encodePacked(
            '{"name":"Synod ',
            councilDomain,
            ' council badge","description":"Soulbound membership of the Synod ',
            councilDomain,
            ' council.","council":"',
            councilDomain,
            '","holder":"',
            holderHex,
            '","attributes":[{"trait_type":"council","value":"',
            councilDomain,
            '"},{"trait_type":"holder","value":"',
            holderHex,
            '"}]}'
        );
        return string.concat("data:application/json;base64,", Base64.encode(json));
    }

    /// @notice Badges cannot be approved for transfer.
    function approve(address, uint256) public pure override {
        revert ExpertBadgeSoulbound();
    }

    /// @notice Badges cannot be approved for transfer.
    function setApprovalForAll(address, bool) public pure override {
        revert ExpertBadgeSoulbound();
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IERC5192).interfaceId || super.supportsInterface(interfaceId);
    }

    function _mintBadge(address holder) private returns (uint256 tokenId) {
        if (holder == address(0)) revert ExpertBadgeZeroAddress();
        tokenId = tokenIdOf(holder);
        if (_ownerOf(tokenId) != address(0)) revert ExpertBadgeAlreadyHeld(holder);
        _mint(holder, tokenId);
        emit Locked(tokenId);
    }

    /// @dev Mint and burn pass; every transfer between two holders reverts. A new holder
    ///      delegates to themself, so the badge counts as a vote from its first block.
    function _update(address to, uint256 tokenId, address auth)
        internal
        override(ERC721, ERC721Votes)
        returns (address from)
    {
        from = _ownerOf(tokenId);
        if (from != address(0) && to != address(0)) revert ExpertBadgeSoulbound();
        super._update(to, tokenId, auth);
        if (from == address(0) && delegates(to) == address(0)) {
            _delegate(to, to);
        }
    }

    /// @dev Only self-delegation: see the contract's notes.
    function _delegate(address account, address delegatee) internal override {
        if (delegatee != account) revert ExpertBadgeDelegationDisabled();
        super._delegate(account, delegatee);
    }

    function _increaseBalance(address account, uint128 amount)
        internal
        override(ERC721, ERC721Votes)
    {
        super._increaseBalance(account, amount);
    }
}
