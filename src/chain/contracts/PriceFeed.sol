// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title PriceFeed (Tributary devnet)
/// @notice A Chainlink-style aggregator with one answer that its owner sets: the read side has the
/// AggregatorV3 signatures an orchestrator reads to turn USD prices into wei (`decimals`,
/// `description`, `version`, `latestRoundData`, `getRoundData` of the latest round), and the owner
/// side is devnet-only administration for tests (`setAnswer`, `setRoundData`). On Arbitrum One the
/// orchestrator reads Chainlink's ETH/USD feed instead; never deploy this where real money depends on it.
contract PriceFeed {
    address public owner;
    uint8 public immutable decimals;
    string public description;

    uint80 private round;
    int256 private answer;
    uint256 private startedAt;
    uint256 private updatedAt;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    modifier onlyOwner() {
        require(msg.sender == owner, "caller must be the PriceFeed owner");
        _;
    }

    /// @param _decimals digits of the answer (Chainlink's ETH/USD: 8)
    /// @param _description the pair, base first (Chainlink's: "ETH / USD")
    /// @param _answer the first answer, timestamped with this block
    constructor(uint8 _decimals, string memory _description, int256 _answer) {
        owner = msg.sender;
        decimals = _decimals;
        description = _description;
        _record(_answer, block.timestamp);
    }

    /// @notice The aggregator interface version (Chainlink's current aggregators answer 4).
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @notice The latest round: its id, answer, start and update times (seconds), and the round that
    /// answered it (the same round here).
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (round, answer, startedAt, updatedAt, round);
    }

    /// @notice A round's data; only the latest round is kept, any other id reverts.
    function getRoundData(uint80 _roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        require(_roundId == round, "No data present");
        return (round, answer, startedAt, updatedAt, round);
    }

    /// @notice Devnet only: a new round with `_answer`, updated now.
    function setAnswer(int256 _answer) external onlyOwner {
        _record(_answer, block.timestamp);
    }

    /// @notice Devnet only: a new round with `_answer` and an explicit update time (tests of staleness).
    function setRoundData(int256 _answer, uint256 _updatedAt) external onlyOwner {
        _record(_answer, _updatedAt);
    }

    function _record(int256 _answer, uint256 _updatedAt) private {
        round += 1;
        answer = _answer;
        startedAt = _updatedAt;
        updatedAt = _updatedAt;
        emit AnswerUpdated(_answer, round, _updatedAt);
    }
}
