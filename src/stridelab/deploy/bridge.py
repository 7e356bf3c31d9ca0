"""A UDP bridge between the control loop and a robot process on localhost (LCM/SDK-style worked example).

Robot side (``serve``): owns the robot (here a :class:`SimBackend` stepping in real time), sends a
state packet every ``state_period`` and applies the newest target packet. Controller side
(:class:`UdpBackend`): a :class:`RobotBackend` whose ``read_state`` returns the newest state packet.
A real robot SDK replaces ``serve`` and keeps the packet format; both sides use CLOCK_MONOTONIC.

Both sides pin their peer: the controller accepts state only from the robot's address, and the robot
obeys only the controller that said hello first (until it says bye). Packets from anyone else,
malformed packets and packets older than the newest one seen (sequence numbers) are dropped and
counted (:class:`PacketFilter`; the controller's counts appear in the loop's stats).

Packets are little-endian float64 arrays:
  state  : [magic=1, seq, stamp, q(j), dq(j), quat(4), gyro(3), lin_vel(3), base_pos(3), tau(j)]
  target : [magic=2, seq, q(j), kp(j), kd(j)]
"""

from __future__ import annotations

import logging
import socket
import time

import numpy as np

from stridelab.deploy.backend import RobotBackend, RobotSignals

log = logging.getLogger(__name__)
STATE, TARGET = 1.0, 2.0


def pack_state(seq: int, s: RobotSignals) -> bytes:
    pos = s.extra.get("base_pos", np.zeros(3)) if s.extra else np.zeros(3)
    lin = s.base_lin_vel if s.base_lin_vel is not None else np.zeros(3)
    tau = s.joint_torque if s.joint_torque is not None else np.zeros_like(s.joint_pos)
    return np.concatenate([[STATE, seq, s.stamp], s.joint_pos, s.joint_vel, s.base_quat, s.base_ang_vel, lin, pos,
                           tau]).astype("<f8").tobytes()


def unpack_state(buf: bytes, j: int) -> tuple[int, RobotSignals]:
    a = np.frombuffer(buf, dtype="<f8")
    if len(a) != 3 + 3 * j + 13 or a[0] != STATE:
        raise ValueError("not a state packet")
    o = 3
    q, dq = a[o:o + j], a[o + j:o + 2 * j]
    o += 2 * j
    quat, gyro, lin, pos = a[o:o + 4], a[o + 4:o + 7], a[o + 7:o + 10], a[o + 10:o + 13]
    tau = a[o + 13:o + 13 + j]
    return int(a[1]), RobotSignals(float(a[2]), q.copy(), dq.copy(), quat.copy(), gyro.copy(), lin.copy(), tau.copy(),
                                 extra={"base_pos": pos.copy()})


def pack_target(seq: int, q: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> bytes:
    return np.concatenate([[TARGET, seq], q, kp, kd]).astype("<f8").tobytes()


def unpack_target(buf: bytes, j: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    a = np.frombuffer(buf, dtype="<f8")
    if len(a) != 2 + 3 * j or a[0] != TARGET:
        raise ValueError("not a target packet")
    return int(a[1]), a[2:2 + j].copy(), a[2 + j:2 + 2 * j].copy(), a[2 + 2 * j:].copy()


class PacketFilter:
    """Accepts packets from one pinned peer with rising sequence numbers; counts what it drops."""

    def __init__(self, peer: tuple[str, int] | None = None) -> None:
        self.peer = peer
        self.last_seq = -1
        self.dropped = {"foreign": 0, "malformed": 0, "out_of_order": 0}

    def from_peer(self, addr: tuple[str, int]) -> bool:
        if self.peer is not None and addr != self.peer:
            self.dropped["foreign"] += 1
            return False
        return True

    def in_order(self, seq: int) -> bool:
        if seq <= self.last_seq:
            self.dropped["out_of_order"] += 1
            return False
        self.last_seq = seq
        return True

    def malformed(self) -> None:
        self.dropped["malformed"] += 1


class UdpBackend(RobotBackend):
    """Controller side of the bridge: talks to a robot process at ``(host, port)`` on localhost."""

    def __init__(self, num_joints: int, port: int, host: str = "127.0.0.1", timeout_s: float = 2.0) -> None:
        self.j = num_joints
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.seq = 0
        self.received = 0
        self.filter = PacketFilter(peer=self.addr)
        self._state: RobotSignals | None = None
        self.sock.sendto(b"hello", self.addr)  # the robot replies to whoever says hello
        deadline = time.monotonic() + timeout_s
        while self._state is None:
            if time.monotonic() > deadline:
                raise ConnectionError(f"no state from the robot at {host}:{port} within {timeout_s} s")
            self.sock.sendto(b"hello", self.addr)
            time.sleep(0.01)
            self._drain()

    def _drain(self) -> None:
        while True:
            try:
                buf, addr = self.sock.recvfrom(65536)
            except BlockingIOError:
                return
            if not self.filter.from_peer(addr):
                continue
            try:
                seq, state = unpack_state(buf, self.j)
            except ValueError:
                self.filter.malformed()
                continue
            if self.filter.in_order(seq):
                self._state = state
                self.received += 1

    def packet_stats(self) -> dict[str, int]:
        """Packets dropped, by reason (foreign sender, malformed, out of order), and state packets used."""
        return {"received": self.received, **{f"dropped_{k}": v for k, v in self.filter.dropped.items()}}

    def time(self) -> float:
        return time.monotonic()

    def read_state(self) -> RobotSignals:
        self._drain()
        return self._state

    def write_targets(self, joint_pos: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        self.seq += 1
        self.sock.sendto(pack_target(self.seq, joint_pos, kp, kd), self.addr)

    def wait_until(self, t: float) -> None:
        while True:
            delay = t - time.monotonic()
            if delay <= 0:
                return
            time.sleep(min(delay, 0.002))

    def close(self) -> None:
        try:
            self.sock.sendto(b"bye", self.addr)
        finally:
            self.sock.close()


def serve(robot_name: str, port: int, duration_s: float, state_period: float = 0.005, host: str = "127.0.0.1") -> dict:
    """Robot side: a real-time SimBackend behind UDP, for ``duration_s`` or until the controller says bye."""
    from stridelab.deploy.backend import SimBackend, SimBackendConfig
    from stridelab.robots import get_robot, load_robot

    robot = load_robot(get_robot(robot_name))
    sim = SimBackend(robot, SimBackendConfig(latency_s=0.0))
    j = robot.spec.num_joints
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    sock.setblocking(False)
    seq, targets = 0, 0
    accept = PacketFilter()
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < duration_s:
        while True:
            try:
                buf, addr = sock.recvfrom(65536)
            except BlockingIOError:
                break
            if buf == b"hello" and accept.peer is None:
                accept.peer = addr  # the first controller to say hello is the one obeyed
                continue
            if not accept.from_peer(addr) or buf == b"hello":
                continue
            if buf == b"bye":
                sock.close()
                return {"targets": targets, "states": seq, **accept.dropped}
            try:
                target_seq, q, kp, kd = unpack_target(buf, j)
            except ValueError:
                accept.malformed()
                continue
            if accept.in_order(target_seq):
                sim.write_targets(q, kp, kd)
                targets += 1
        k += 1
        sim.wait_until(k * state_period)  # physics to the next state period
        if accept.peer is not None:
            seq += 1
            state = sim.read_state()
            state.stamp = time.monotonic()  # the shared clock, for the controller's watchdog
            sock.sendto(pack_state(seq, state), accept.peer)
        delay = start + k * state_period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    sock.close()
    return {"targets": targets, "states": seq, **accept.dropped}


if __name__ == "__main__":  # python -m stridelab.deploy.bridge ROBOT PORT DURATION
    import sys

    logging.basicConfig(level=logging.INFO)
    print(serve(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])), flush=True)
