// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./ControllerClient.sol";

/// @title RoundsManager (Tributary devnet)
/// @notice Rounds of `roundLength` blocks. `initializeRound()` records the hash of the previous block
/// for the current round (docs/spec/payments.md#controller-and-rounds). Unlike mainnet there is no round lock and no
/// LPT inflation; anyone may initialize a round.
contract RoundsManager is ControllerClient {
    uint256 public roundLength;
    uint256 public lastInitializedRound;
    uint256 public lastRoundLengthUpdateRound;
    uint256 public lastRoundLengthUpdateStartBlock;
    mapping(uint256 => bytes32) private roundBlockHashes;

    event NewRound(uint256 indexed round, bytes32 blockHash);

    constructor(address _controller, uint256 _roundLength) ControllerClient(_controller) {
        require(_roundLength > 0, "round length cannot be 0");
        roundLength = _roundLength;
        lastRoundLengthUpdateStartBlock = block.number;
        // Rounds start at 1 so that no real ticket has creationRound 0 (a Go-only auxData corner case).
        lastRoundLengthUpdateRound = 1;
    }

    /// @notice Changes the round length from the current round on.
    function setRoundLength(uint256 _roundLength) external onlyControllerOwner {
        require(_roundLength > 0, "round length cannot be 0");
        lastRoundLengthUpdateRound = currentRound();
        lastRoundLengthUpdateStartBlock = currentRoundStartBlock();
        roundLength = _roundLength;
        emit ParameterUpdate("roundLength");
    }

    /// @notice Initializes the current round: stores blockhash(blockNum() - 1) for it.
    function initializeRound() external whenSystemNotPaused {
        uint256 round = currentRound();
        require(lastInitializedRound < round, "round already initialized");
        bytes32 hash = blockhash(blockNum() - 1);
        lastInitializedRound = round;
        roundBlockHashes[round] = hash;
        emit NewRound(round, hash);
    }

    function blockNum() public view returns (uint256) {
        return block.number;
    }

    function blockHash(uint256 _block) public view returns (bytes32) {
        return blockhash(_block);
    }

    /// @notice Block hash stored when `_round` was initialized, or zero.
    function blockHashForRound(uint256 _round) public view returns (bytes32) {
        return roundBlockHashes[_round];
    }

    function currentRound() public view returns (uint256) {
        uint256 sinceUpdate = (blockNum() - lastRoundLengthUpdateStartBlock) / roundLength;
        return lastRoundLengthUpdateRound + sinceUpdate;
    }

    function currentRoundStartBlock() public view returns (uint256) {
        uint256 sinceUpdate = currentRound() - lastRoundLengthUpdateRound;
        return lastRoundLengthUpdateStartBlock + sinceUpdate * roundLength;
    }

    function currentRoundInitialized() public view returns (bool) {
        uint256 round = currentRound();
        return lastInitializedRound == round && roundBlockHashes[round] != bytes32(0);
    }

    function currentRoundLocked() public pure returns (bool) {
        return false;
    }
}
