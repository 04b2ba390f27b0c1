// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./ControllerClient.sol";

interface IDevnetRoundsManager {
    function currentRound() external view returns (uint256);
    function currentRoundInitialized() external view returns (bool);
    function blockHashForRound(uint256 _round) external view returns (bytes32);
}

interface IDevnetBondingManager {
    function isActiveTranscoder(address _transcoder) external view returns (bool);
    function getTranscoderPoolSize() external view returns (uint256);
    function updateTranscoderWithFees(address _transcoder, uint256 _fees, uint256 _round) external payable;
}

/// @title TicketBroker (Tributary devnet)
/// @notice Probabilistic micropayment settlement written from docs/spec/payments.md#ticketbroker: sender
/// deposits and reserves, winning-ticket redemption with the mainnet check order and revert strings,
/// per-round reserve claims split over the active pool, and unlock/withdraw. Differences from mainnet:
/// the ETH stays in this contract (there is no Minter) and is forwarded to the BondingManager with
/// `updateTranscoderWithFees`.
contract TicketBroker is ControllerClient {
    struct Ticket {
        address recipient;
        address sender;
        uint256 faceValue;
        uint256 winProb;
        uint256 senderNonce;
        bytes32 recipientRandHash;
        bytes auxData;
    }

    struct Sender {
        uint256 deposit;
        uint256 withdrawRound;
    }

    struct ReserveInfo {
        uint256 fundsRemaining;
        uint256 claimedInCurrentRound;
    }

    struct Reserve {
        uint256 funds;
        mapping(uint256 => uint256) claimedForRound;
        mapping(uint256 => mapping(address => uint256)) claimedByAddress;
    }

    // secp256k1n / 2: signatures with a larger s are malleable and rejected.
    uint256 private constant HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    uint256 public unlockPeriod;
    uint256 public ticketValidityPeriod;
    mapping(bytes32 => bool) public usedTickets;
    mapping(address => Sender) internal senders;
    mapping(address => Reserve) internal reserves;

    event DepositFunded(address indexed sender, uint256 amount);
    event ReserveFunded(address indexed reserveHolder, uint256 amount);
    event ReserveClaimed(address indexed reserveHolder, address claimant, uint256 amount);
    event WinningTicketRedeemed(
        address indexed sender,
        address indexed recipient,
        uint256 faceValue,
        uint256 winProb,
        uint256 senderNonce,
        uint256 recipientRand,
        bytes auxData
    );
    event WinningTicketTransfer(address indexed sender, address indexed recipient, uint256 amount);
    event Unlock(address indexed sender, uint256 startRound, uint256 endRound);
    event UnlockCancelled(address indexed sender);
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);

    modifier currentRoundInitialized() {
        require(roundsManager().currentRoundInitialized(), "current round is not initialized");
        _;
    }

    constructor(address _controller, uint256 _unlockPeriod, uint256 _ticketValidityPeriod)
        ControllerClient(_controller)
    {
        require(_ticketValidityPeriod > 0, "ticketValidityPeriod must be greater than 0");
        unlockPeriod = _unlockPeriod;
        ticketValidityPeriod = _ticketValidityPeriod;
    }

    // ---------------------------------------------------------------- parameters

    function setUnlockPeriod(uint256 _unlockPeriod) external onlyControllerOwner {
        unlockPeriod = _unlockPeriod;
        emit ParameterUpdate("unlockPeriod");
    }

    function setTicketValidityPeriod(uint256 _ticketValidityPeriod) external onlyControllerOwner {
        require(_ticketValidityPeriod > 0, "ticketValidityPeriod must be greater than 0");
        ticketValidityPeriod = _ticketValidityPeriod;
        emit ParameterUpdate("ticketValidityPeriod");
    }

    // ---------------------------------------------------------------- funding

    function fundDeposit() external payable whenSystemNotPaused {
        _processFunding(msg.sender, msg.value, 0);
    }

    function fundReserve() external payable whenSystemNotPaused {
        _processFunding(msg.sender, 0, msg.value);
    }

    function fundDepositAndReserve(uint256 _depositAmount, uint256 _reserveAmount) external payable whenSystemNotPaused {
        _fundFor(msg.sender, _depositAmount, _reserveAmount);
    }

    function fundDepositAndReserveFor(address _addr, uint256 _depositAmount, uint256 _reserveAmount)
        external
        payable
        whenSystemNotPaused
    {
        _fundFor(_addr, _depositAmount, _reserveAmount);
    }

    function _fundFor(address _addr, uint256 _depositAmount, uint256 _reserveAmount) internal {
        require(
            msg.value == _depositAmount + _reserveAmount,
            "msg.value does not equal sum of deposit amount and reserve amount"
        );
        _processFunding(_addr, _depositAmount, _reserveAmount);
    }

    function _processFunding(address _addr, uint256 _depositAmount, uint256 _reserveAmount) internal {
        Sender storage sender = senders[_addr];
        // Funding by the sender itself cancels an unlock in progress.
        if (_addr == msg.sender && sender.withdrawRound > 0) {
            sender.withdrawRound = 0;
            emit UnlockCancelled(_addr);
        }
        if (_depositAmount > 0) {
            sender.deposit += _depositAmount;
            emit DepositFunded(_addr, _depositAmount);
        }
        if (_reserveAmount > 0) {
            reserves[_addr].funds += _reserveAmount;
            emit ReserveFunded(_addr, _reserveAmount);
        }
    }

    // ---------------------------------------------------------------- redemption

    /// @notice Redeems one winning ticket; the face value goes to the recipient's fees.
    function redeemWinningTicket(Ticket memory _ticket, bytes memory _sig, uint256 _recipientRand)
        public
        whenSystemNotPaused
        currentRoundInitialized
    {
        bytes32 ticketHash = getTicketHash(_ticket);

        _requireValidWinningTicket(_ticket, ticketHash, _sig, _recipientRand);

        Sender storage sender = senders[_ticket.sender];
        uint256 round = roundsManager().currentRound();
        require(sender.withdrawRound == 0 || round < sender.withdrawRound, "sender is unlocked");
        require(sender.deposit > 0 || reserves[_ticket.sender].funds > 0, "sender deposit and reserve are zero");

        usedTickets[ticketHash] = true;

        uint256 amount;
        if (_ticket.faceValue > sender.deposit) {
            uint256 fromReserve = _claimFromReserve(_ticket.sender, _ticket.recipient, _ticket.faceValue - sender.deposit);
            amount = sender.deposit + fromReserve;
            sender.deposit = 0;
        } else {
            sender.deposit -= _ticket.faceValue;
            amount = _ticket.faceValue;
        }

        if (amount > 0) {
            (uint256 creationRound,) = getCreationRoundAndBlockHash(_ticket.auxData);
            bondingManager().updateTranscoderWithFees{value: amount}(_ticket.recipient, amount, creationRound);
            emit WinningTicketTransfer(_ticket.sender, _ticket.recipient, amount);
        }

        emit WinningTicketRedeemed(
            _ticket.sender,
            _ticket.recipient,
            _ticket.faceValue,
            _ticket.winProb,
            _ticket.senderNonce,
            _recipientRand,
            _ticket.auxData
        );
    }

    /// @notice Redeems several tickets; a failing ticket does not revert the others.
    function batchRedeemWinningTickets(Ticket[] memory _tickets, bytes[] memory _sigs, uint256[] memory _recipientRands)
        public
        whenSystemNotPaused
        currentRoundInitialized
    {
        for (uint256 i = 0; i < _tickets.length; i++) {
            try this.redeemWinningTicket(_tickets[i], _sigs[i], _recipientRands[i]) {} catch {}
        }
    }

    // ---------------------------------------------------------------- unlock / withdraw

    function unlock() public whenSystemNotPaused {
        Sender storage sender = senders[msg.sender];
        require(sender.deposit > 0 || reserves[msg.sender].funds > 0, "sender deposit and reserve are zero");
        require(!_isUnlockInProgress(sender), "unlock already initiated");
        uint256 round = roundsManager().currentRound();
        sender.withdrawRound = round + unlockPeriod;
        emit Unlock(msg.sender, round, sender.withdrawRound);
    }

    function cancelUnlock() public whenSystemNotPaused {
        Sender storage sender = senders[msg.sender];
        require(_isUnlockInProgress(sender), "no unlock request in progress");
        sender.withdrawRound = 0;
        emit UnlockCancelled(msg.sender);
    }

    function withdraw() public whenSystemNotPaused {
        Sender storage sender = senders[msg.sender];
        uint256 deposit = sender.deposit;
        uint256 reserve = reserves[msg.sender].funds;
        require(deposit > 0 || reserve > 0, "sender deposit and reserve are zero");
        require(_isUnlockInProgress(sender), "no unlock request in progress");
        require(roundsManager().currentRound() >= sender.withdrawRound, "account is locked");

        sender.deposit = 0;
        sender.withdrawRound = 0;
        reserves[msg.sender].funds = 0;

        (bool ok,) = payable(msg.sender).call{value: deposit + reserve}("");
        require(ok, "withdrawal transfer failed");
        emit Withdrawal(msg.sender, deposit, reserve);
    }

    // ---------------------------------------------------------------- views

    function isUnlockInProgress(address _sender) public view returns (bool) {
        return _isUnlockInProgress(senders[_sender]);
    }

    function getSenderInfo(address _sender) public view returns (Sender memory sender, ReserveInfo memory reserve) {
        sender = senders[_sender];
        Reserve storage r = reserves[_sender];
        reserve = ReserveInfo(r.funds, r.claimedForRound[roundsManager().currentRound()]);
    }

    function claimableReserve(address _reserveHolder, address _claimant) public view returns (uint256) {
        return _claimableReserve(_reserveHolder, _claimant, roundsManager().currentRound());
    }

    function claimedReserve(address _reserveHolder, address _claimant) public view returns (uint256) {
        return reserves[_reserveHolder].claimedByAddress[roundsManager().currentRound()][_claimant];
    }

    /// @notice keccak256(abi.encodePacked(recipient, sender, faceValue, winProb, senderNonce,
    /// recipientRandHash, auxData)).
    function getTicketHash(Ticket memory _ticket) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                _ticket.recipient,
                _ticket.sender,
                _ticket.faceValue,
                _ticket.winProb,
                _ticket.senderNonce,
                _ticket.recipientRandHash,
                _ticket.auxData
            )
        );
    }

    /// @notice Decodes auxData = abi.encode(uint256 creationRound, bytes32 creationRoundBlockHash).
    function getCreationRoundAndBlockHash(bytes memory _auxData)
        public
        pure
        returns (uint256 creationRound, bytes32 creationRoundBlockHash)
    {
        require(_auxData.length == 64, "invalid length for ticket auxData: must be 64 bytes");
        (creationRound, creationRoundBlockHash) = abi.decode(_auxData, (uint256, bytes32));
    }

    // ---------------------------------------------------------------- internals

    function _requireValidWinningTicket(
        Ticket memory _ticket,
        bytes32 _ticketHash,
        bytes memory _sig,
        uint256 _recipientRand
    ) internal view {
        require(_ticket.recipient != address(0), "ticket recipient is null address");
        require(_ticket.sender != address(0), "ticket sender is null address");

        (uint256 creationRound, bytes32 creationRoundBlockHash) = getCreationRoundAndBlockHash(_ticket.auxData);
        IDevnetRoundsManager rm = roundsManager();
        bytes32 storedHash = rm.blockHashForRound(creationRound);
        require(storedHash != bytes32(0), "ticket creationRound does not have a block hash");
        require(storedHash == creationRoundBlockHash, "ticket creationRoundBlockHash invalid for creationRound");
        require(creationRound + ticketValidityPeriod > rm.currentRound(), "ticket is expired");

        require(
            keccak256(abi.encodePacked(_recipientRand)) == _ticket.recipientRandHash,
            "recipientRand does not match recipientRandHash"
        );
        require(!usedTickets[_ticketHash], "ticket is used");
        require(_isValidTicketSig(_ticket.sender, _sig, _ticketHash), "invalid signature over ticket hash");
        require(uint256(keccak256(abi.encodePacked(_sig, _recipientRand))) < _ticket.winProb, "ticket did not win");
    }

    function _isValidTicketSig(address _sender, bytes memory _sig, bytes32 _ticketHash) internal pure returns (bool) {
        require(_sig.length == 65, "INVALID_SIGNATURE_LENGTH");
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(_sig, 32))
            s := mload(add(_sig, 64))
            v := byte(0, mload(add(_sig, 96)))
        }
        require(uint256(s) <= HALF_CURVE_ORDER, "ECDSA: invalid signature 's' value");
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", _ticketHash));
        address signer = ecrecover(digest, v, r, s);
        require(signer != address(0), "ECDSA: invalid signature");
        return signer == _sender;
    }

    function _claimableReserve(address _holder, address _claimant, uint256 _round) internal view returns (uint256) {
        IDevnetBondingManager bm = bondingManager();
        if (!bm.isActiveTranscoder(_claimant)) return 0;
        uint256 poolSize = bm.getTranscoderPoolSize();
        if (poolSize == 0) return 0;
        Reserve storage r = reserves[_holder];
        uint256 share = (r.funds + r.claimedForRound[_round]) / poolSize;
        uint256 claimed = r.claimedByAddress[_round][_claimant];
        return share > claimed ? share - claimed : 0;
    }

    function _claimFromReserve(address _holder, address _claimant, uint256 _amount) internal returns (uint256) {
        uint256 round = roundsManager().currentRound();
        uint256 claimable = _claimableReserve(_holder, _claimant, round);
        uint256 claimAmount = _amount > claimable ? claimable : _amount;
        if (claimAmount == 0) return 0;
        Reserve storage r = reserves[_holder];
        r.claimedForRound[round] += claimAmount;
        r.claimedByAddress[round][_claimant] += claimAmount;
        r.funds -= claimAmount;
        emit ReserveClaimed(_holder, _claimant, claimAmount);
        return claimAmount;
    }

    function _isUnlockInProgress(Sender storage _sender) internal view returns (bool) {
        return _sender.withdrawRound > 0;
    }

    function roundsManager() internal view returns (IDevnetRoundsManager) {
        return IDevnetRoundsManager(resolve("RoundsManager"));
    }

    function bondingManager() internal view returns (IDevnetBondingManager) {
        return IDevnetBondingManager(resolve("BondingManager"));
    }
}
