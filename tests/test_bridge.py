"""The UDP bridge pins its peer and drops spoofed, malformed and out-of-order packets, counting them."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import numpy as np

from stridelab.deploy.backend import RobotSignals
from stridelab.deploy.bridge import UdpBackend, pack_state, pack_target

J = 12


def _state(stamp: float, q: float) -> RobotSignals:
    return RobotSignals(stamp, np.full(J, q), np.zeros(J), np.array([1.0, 0, 0, 0]), np.zeros(3))


def test_controller_accepts_state_only_from_the_robot_in_order():
    robot = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    robot.bind(("127.0.0.1", 0))
    port = robot.getsockname()[1]

    def robot_side():
        _, controller = robot.recvfrom(64)  # hello
        robot.sendto(pack_state(5, _state(1.0, 0.5)), controller)

    threading.Thread(target=robot_side, daemon=True).start()
    backend = UdpBackend(J, port, timeout_s=5.0)
    controller = backend.sock.getsockname()
    assert backend.read_state().joint_pos[0] == 0.5
    spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoofer.sendto(pack_state(99, _state(2.0, -1.0)), controller)  # a stranger's state
    spoofer.sendto(b"\x00garbage", controller)
    robot.sendto(pack_state(3, _state(3.0, 0.9)), controller)  # older than seq 5
    robot.sendto(b"123", controller)  # the robot's address, but not a state packet
    robot.sendto(pack_state(6, _state(4.0, 0.7)), controller)
    time.sleep(0.2)
    state = backend.read_state()
    assert state.joint_pos[0] == 0.7 and state.stamp == 4.0
    stats = backend.packet_stats()
    assert stats == {"received": 2, "dropped_foreign": 2, "dropped_malformed": 1, "dropped_out_of_order": 1}
    backend.sock.close()
    robot.close()
    spoofer.close()


def test_robot_obeys_only_the_first_controller(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    robot = subprocess.Popen([sys.executable, "-m", "stridelab.deploy.bridge", "quadruped", str(port), "20"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        backend = UdpBackend(J, port, timeout_s=20.0)
        kp, kd = np.full(J, 20.0), np.full(J, 0.5)
        backend.write_targets(np.zeros(J), kp, kd)  # seq 1
        intruder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        intruder.sendto(b"hello", ("127.0.0.1", port))  # a second controller cannot take over
        intruder.sendto(pack_target(100, np.ones(J), kp, kd), ("127.0.0.1", port))
        backend.sock.sendto(b"not a target", ("127.0.0.1", port))
        backend.sock.sendto(pack_target(0, np.ones(J), kp, kd), ("127.0.0.1", port))  # older than seq 1
        backend.write_targets(np.zeros(J), kp, kd)  # seq 2
        time.sleep(0.3)
        # the intruder receives no state: the robot still talks to the first controller only
        intruder.settimeout(0.3)
        try:
            intruder.recv(65536)
            got_state = True
        except socket.timeout:
            got_state = False
        assert not got_state
        assert backend.read_state() is not None
        backend.close()
        out, _ = robot.communicate(timeout=20)
        intruder.close()
    finally:
        robot.kill()
    served = eval(out.strip().splitlines()[-1])
    assert served["targets"] == 2
    assert served["foreign"] == 2 and served["malformed"] == 1 and served["out_of_order"] == 1
