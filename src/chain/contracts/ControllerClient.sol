// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Controller.sol";

/// @title ControllerClient (Tributary devnet)
/// @notice Base for contracts that resolve their peers through the Controller and obey its pause switch.
abstract contract ControllerClient {
    Controller public controller;

    event ParameterUpdate(string param);

    constructor(address _controller) {
        controller = Controller(_controller);
    }

    modifier onlyControllerOwner() {
        require(msg.sender == controller.owner(), "caller must be Controller owner");
        _;
    }

    modifier whenSystemNotPaused() {
        require(!controller.paused(), "system is paused");
        _;
    }

    function resolve(string memory _name) internal view returns (address) {
        return controller.getContract(keccak256(bytes(_name)));
    }
}
