"""`import stridelab` makes torch's OpenMP threads sleep between parallel regions (they would otherwise spin on
the cores MuJoCo's physics threads need, docs/benchmarks.md section 2), unless the user chose a policy."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = "import os, stridelab, torch; print(os.environ.get('OMP_WAIT_POLICY'))"


def _wait_policy(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_import_sets_passive_openmp_waiting() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _wait_policy(env) == "PASSIVE"


def test_users_choice_is_kept() -> None:
    assert _wait_policy({**os.environ, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
