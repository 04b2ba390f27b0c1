// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title ServiceRegistry (Tributary devnet)
/// @notice Maps an account to the service URI it advertises. No access control: each account sets its
/// own record (docs/spec/payments.md#serviceregistry). The devnet also deploys a second instance as the
/// AI Service Registry, which has the same ABI.
contract ServiceRegistry {
    struct Record {
        string serviceURI;
    }

    mapping(address => Record) private records;

    event ServiceURIUpdate(address indexed addr, string serviceURI);

    /// @notice Stores the caller's service URI.
    function setServiceURI(string calldata _serviceURI) external {
        records[msg.sender].serviceURI = _serviceURI;
        emit ServiceURIUpdate(msg.sender, _serviceURI);
    }

    /// @notice The service URI `_addr` advertised, or the empty string.
    function getServiceURI(address _addr) public view returns (string memory) {
        return records[_addr].serviceURI;
    }
}
