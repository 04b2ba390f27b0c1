// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Controller (Tributary devnet)
/// @notice Registry of protocol contracts keyed by keccak256(name), plus a global pause switch.
/// Written for the Tributary devnet from the interface described in docs/spec/payments.md#controller-and-rounds;
/// like the mainnet Controller it is deployed paused and must be unpaused by its owner.
contract Controller {
    struct ContractInfo {
        address contractAddress;
        bytes20 gitCommitHash;
    }

    address public owner;
    bool public paused;
    mapping(bytes32 => ContractInfo) private registry;

    event SetContractInfo(bytes32 id, address contractAddress, bytes20 gitCommitHash);
    event Pause();
    event Unpause();
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    modifier onlyOwner() {
        require(msg.sender == owner, "caller must be Controller owner");
        _;
    }

    constructor() {
        owner = msg.sender;
        paused = true;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    /// @notice Registers (or replaces) the contract stored under `_id`.
    function setContractInfo(bytes32 _id, address _contractAddress, bytes20 _gitCommitHash) external onlyOwner {
        registry[_id] = ContractInfo(_contractAddress, _gitCommitHash);
        emit SetContractInfo(_id, _contractAddress, _gitCommitHash);
    }

    /// @notice Address registered under `_id`, or the zero address.
    function getContract(bytes32 _id) external view returns (address) {
        return registry[_id].contractAddress;
    }

    /// @notice Address and git commit hash registered under `_id`.
    function getContractInfo(bytes32 _id) external view returns (address, bytes20) {
        ContractInfo storage info = registry[_id];
        return (info.contractAddress, info.gitCommitHash);
    }

    function pause() external onlyOwner {
        paused = true;
        emit Pause();
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpause();
    }

    function transferOwnership(address _newOwner) external onlyOwner {
        require(_newOwner != address(0), "new owner is the null address");
        emit OwnershipTransferred(owner, _newOwner);
        owner = _newOwner;
    }
}
