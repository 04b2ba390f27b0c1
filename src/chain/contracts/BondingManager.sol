// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./ControllerClient.sol";

/// @title BondingManager (Tributary devnet)
/// @notice A stake-ordered pool of transcoders (orchestrators) with the views that discovery and ticket
/// redemption use (docs/spec/payments.md#ticketbroker, #abi-signatures). There is no LPT token on the devnet: the Controller
/// owner assigns stake with `setTranscoderStake`, and an account registers itself with
/// `transcoder(rewardCut, feeShare)`. Registered accounts with stake > 0 form the active pool, ordered
/// by stake (largest first), capped at `numActiveTranscoders`; membership changes take effect at once.
/// Winning-ticket fees arrive as ETH with `updateTranscoderWithFees` (payable here, unlike mainnet where
/// the Minter holds the ETH) and are paid out with `withdrawFees`.
contract BondingManager is ControllerClient {
    enum TranscoderStatus {
        NotRegistered,
        Registered
    }

    struct Transcoder {
        bool registered;
        uint256 stake;
        uint256 rewardCut;
        uint256 feeShare;
        uint256 activationRound;
        uint256 cumulativeFees;
        uint256 pendingFees;
        uint256 lastFeeRound;
    }

    uint256 public numActiveTranscoders;
    mapping(address => Transcoder) private transcoders;
    // Pool as a singly linked list ordered by stake, largest first.
    address private poolHead;
    mapping(address => address) private poolNext;
    mapping(address => bool) private inPool;
    uint256 private poolSize;

    event TranscoderUpdate(address indexed transcoder, uint256 rewardCut, uint256 feeShare);
    event TranscoderActivated(address indexed transcoder, uint256 activationRound);
    event TranscoderDeactivated(address indexed transcoder, uint256 deactivationRound);
    event StakeUpdate(address indexed transcoder, uint256 stake);
    event WithdrawFees(address indexed delegator, address recipient, uint256 amount);

    constructor(address _controller, uint256 _numActiveTranscoders) ControllerClient(_controller) {
        numActiveTranscoders = _numActiveTranscoders;
    }

    function setNumActiveTranscoders(uint256 _numActiveTranscoders) external onlyControllerOwner {
        require(_numActiveTranscoders >= poolSize, "cannot shrink below the current pool size");
        numActiveTranscoders = _numActiveTranscoders;
        emit ParameterUpdate("numActiveTranscoders");
    }

    /// @notice Registers the caller as a transcoder (or updates its cut and share, in millionths).
    function transcoder(uint256 _rewardCut, uint256 _feeShare) external whenSystemNotPaused {
        require(_rewardCut <= 1000000, "invalid rewardCut percentage");
        require(_feeShare <= 1000000, "invalid feeShare percentage");
        Transcoder storage t = transcoders[msg.sender];
        t.registered = true;
        t.rewardCut = _rewardCut;
        t.feeShare = _feeShare;
        emit TranscoderUpdate(msg.sender, _rewardCut, _feeShare);
        _reposition(msg.sender);
    }

    /// @notice Devnet only: sets a transcoder's stake (there is no token to bond).
    function setTranscoderStake(address _transcoder, uint256 _stake) external onlyControllerOwner {
        transcoders[_transcoder].stake = _stake;
        emit StakeUpdate(_transcoder, _stake);
        _reposition(_transcoder);
    }

    /// @notice Credits winning-ticket fees to a registered transcoder; only the TicketBroker may call.
    function updateTranscoderWithFees(address _transcoder, uint256 _fees, uint256 /* _round */ ) external payable {
        require(msg.sender == resolve("TicketBroker"), "caller must be TicketBroker");
        require(msg.value == _fees, "fees must equal the ETH sent");
        Transcoder storage t = transcoders[_transcoder];
        require(t.registered, "transcoder must be registered");
        t.cumulativeFees += _fees;
        t.pendingFees += _fees;
        t.lastFeeRound = _currentRound();
        // The devnet keeps no delegators: all fees belong to the transcoder.
    }

    /// @notice Pays `_amount` of the caller's accumulated fees to `_recipient`.
    function withdrawFees(address payable _recipient, uint256 _amount) external whenSystemNotPaused {
        Transcoder storage t = transcoders[msg.sender];
        require(_amount <= t.pendingFees, "insufficient fees to withdraw");
        t.pendingFees -= _amount;
        (bool ok,) = _recipient.call{value: _amount}("");
        require(ok, "fee transfer failed");
        emit WithdrawFees(msg.sender, _recipient, _amount);
    }

    /// @notice Fees credited to `_delegator` and not yet withdrawn.
    function pendingFees(address _delegator, uint256) external view returns (uint256) {
        return transcoders[_delegator].pendingFees;
    }

    function getFirstTranscoderInPool() public view returns (address) {
        return poolHead;
    }

    function getNextTranscoderInPool(address _transcoder) public view returns (address) {
        return poolNext[_transcoder];
    }

    function getTranscoderPoolSize() public view returns (uint256) {
        return poolSize;
    }

    function getTranscoderPoolMaxSize() public view returns (uint256) {
        return numActiveTranscoders;
    }

    function isActiveTranscoder(address _transcoder) public view returns (bool) {
        return inPool[_transcoder];
    }

    function isRegisteredTranscoder(address _transcoder) public view returns (bool) {
        return transcoders[_transcoder].registered;
    }

    function transcoderStatus(address _transcoder) public view returns (TranscoderStatus) {
        return transcoders[_transcoder].registered ? TranscoderStatus.Registered : TranscoderStatus.NotRegistered;
    }

    function transcoderTotalStake(address _transcoder) public view returns (uint256) {
        return transcoders[_transcoder].stake;
    }

    function getTranscoder(address _transcoder)
        public
        view
        returns (
            uint256 lastRewardRound,
            uint256 rewardCut,
            uint256 feeShare,
            uint256 lastActiveStakeUpdateRound,
            uint256 activationRound,
            uint256 deactivationRound,
            uint256 activeCumulativeRewards,
            uint256 cumulativeRewards,
            uint256 cumulativeFees,
            uint256 lastFeeRound
        )
    {
        Transcoder storage t = transcoders[_transcoder];
        rewardCut = t.rewardCut;
        feeShare = t.feeShare;
        activationRound = t.activationRound;
        lastActiveStakeUpdateRound = t.activationRound;
        deactivationRound = inPool[_transcoder] ? type(uint256).max : 0;
        cumulativeFees = t.cumulativeFees;
        lastFeeRound = t.lastFeeRound;
        lastRewardRound = 0;
        activeCumulativeRewards = 0;
        cumulativeRewards = 0;
    }

    function getTranscoderEarningsPoolForRound(address _transcoder, uint256)
        public
        view
        returns (
            uint256 totalStake,
            uint256 transcoderRewardCut,
            uint256 transcoderFeeShare,
            uint256 cumulativeRewardFactor,
            uint256 cumulativeFeeFactor
        )
    {
        Transcoder storage t = transcoders[_transcoder];
        return (t.stake, t.rewardCut, t.feeShare, 0, 0);
    }

    function _currentRound() internal view returns (uint256) {
        address rm = resolve("RoundsManager");
        if (rm == address(0)) return 0;
        (bool ok, bytes memory data) = rm.staticcall(abi.encodeWithSignature("currentRound()"));
        return ok && data.length == 32 ? abi.decode(data, (uint256)) : 0;
    }

    /// Removes `_addr` from the pool and re-inserts it at its stake position if it qualifies.
    function _reposition(address _addr) internal {
        if (inPool[_addr]) _remove(_addr);
        Transcoder storage t = transcoders[_addr];
        if (!t.registered || t.stake == 0) return;
        if (poolSize >= numActiveTranscoders) {
            address last = _last();
            if (last == address(0) || transcoders[last].stake >= t.stake) return;
            _remove(last);
            emit TranscoderDeactivated(last, _currentRound());
        }
        _insertSorted(_addr);
        t.activationRound = _currentRound();
        emit TranscoderActivated(_addr, t.activationRound);
    }

    function _insertSorted(address _addr) internal {
        uint256 stake = transcoders[_addr].stake;
        if (poolHead == address(0) || transcoders[poolHead].stake < stake) {
            poolNext[_addr] = poolHead;
            poolHead = _addr;
        } else {
            address cur = poolHead;
            while (poolNext[cur] != address(0) && transcoders[poolNext[cur]].stake >= stake) {
                cur = poolNext[cur];
            }
            poolNext[_addr] = poolNext[cur];
            poolNext[cur] = _addr;
        }
        inPool[_addr] = true;
        poolSize += 1;
    }

    function _remove(address _addr) internal {
        if (poolHead == _addr) {
            poolHead = poolNext[_addr];
        } else {
            address cur = poolHead;
            while (poolNext[cur] != _addr) cur = poolNext[cur];
            poolNext[cur] = poolNext[_addr];
        }
        poolNext[_addr] = address(0);
        inPool[_addr] = false;
        poolSize -= 1;
    }

    function _last() internal view returns (address) {
        address cur = poolHead;
        if (cur == address(0)) return address(0);
        while (poolNext[cur] != address(0)) cur = poolNext[cur];
        return cur;
    }
}
