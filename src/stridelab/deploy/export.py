"""Export a trained policy as ONNX and TorchScript with its observation normalizer, plus policy.json and
robot.xml (the robot as trained, for plain MuJoCo).

Inputs and outputs (both formats):
  MLP policy:  actions = f(obs)
  LSTM policy: actions, h_out, c_out = f(obs, h_in, c_in)    h, c: (layers, 1, hidden)
  GRU policy:  actions, h_out = f(obs, h_in)
  ensemble:    actions, <states out> = f(obs, <states in>): the mean of the members' deterministic actions;
               recurrent member i takes h_in_i (and c_in_i) and returns h_out_i (and c_out_i)
``obs`` is the policy observation vector described by ``policy.json["observation"]`` (batch first), followed
by the height scan of ``policy.json["extero"]`` for a policy that reads one (a terrain teacher; on the cave
course the ceiling scan follows it in the same group);
``policy.json["recurrent"]`` lists the state inputs and outputs with their shapes (``state_shapes``),
``policy.json["ensemble"]`` the members of an ensemble.
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

import stridelab
from stridelab.config import override, to_dict
from stridelab.errors import CheckpointError
from stridelab.files import atomic_path, write_atomic
from stridelab.learn.checkpoint import run_dir_of
from stridelab.learn.ensemble import check_members, policy_interface
from stridelab.envs import make_env
from stridelab.deploy.observation import input_size
from stridelab.deploy.robot_xml import write_robot_xml
from stridelab.learn.policy import LoadedPolicy, load_policy
from stridelab.mdp.lookup import resolve
from stridelab.mdp.describe import resolved_params
from stridelab.mdp.randomization import randomize_action_latency

log = logging.getLogger(__name__)


class ExportablePolicy(nn.Module):
    """Normalizer + (RNN) + MLP + deterministic output of an rsl-rl-lib actor, with explicit recurrent state."""

    def __init__(self, actor: nn.Module) -> None:
        super().__init__()
        self.obs_normalizer = copy.deepcopy(actor.obs_normalizer)
        self.mlp = copy.deepcopy(actor.mlp)
        self.out = (actor.distribution.as_deterministic_output_module() if actor.distribution is not None
                    else nn.Identity())
        self.rnn = copy.deepcopy(actor.rnn.rnn) if getattr(actor, "is_recurrent", False) else None
        self.rnn_type = "none" if self.rnn is None else ("lstm" if isinstance(self.rnn, nn.LSTM) else "gru")
        self.obs_dim = int(actor.obs_dim)

    def state_shape(self) -> tuple[int, int, int] | None:
        """(layers, 1, hidden) of each recurrent state tensor, or None for an MLP."""
        return None if self.rnn is None else (self.rnn.num_layers, 1, self.rnn.hidden_size)

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor | None = None, c_in: torch.Tensor | None = None):
        x = self.obs_normalizer(obs)
        if self.rnn is None:
            return self.out(self.mlp(x))
        if self.rnn_type == "lstm":
            y, (h, c) = self.rnn(x.unsqueeze(0), (h_in, c_in))
            return self.out(self.mlp(y.squeeze(0))), h, c
        y, h = self.rnn(x.unsqueeze(0), h_in)
        return self.out(self.mlp(y.squeeze(0))), h

    def dummy_inputs(self) -> tuple[torch.Tensor, ...]:
        obs = torch.zeros(1, self.obs_dim)
        if self.rnn is None:
            return (obs,)
        state = torch.zeros(self.state_shape())
        return (obs, state, state.clone()) if self.rnn_type == "lstm" else (obs, state)

    def io_names(self, suffix: str = "") -> tuple[list[str], list[str]]:
        """Input and output names; ``suffix`` is appended to the state names (an ensemble member's index)."""
        if self.rnn is None:
            return ["obs"], ["actions"]
        names = ["h", "c"] if self.rnn_type == "lstm" else ["h"]
        return ["obs", *(f"{n}_in{suffix}" for n in names)], ["actions", *(f"{n}_out{suffix}" for n in names)]

    def state_shapes(self) -> list[tuple[int, int, int]]:
        """The shape of each state input, in order (none for an MLP)."""
        return [] if self.rnn is None else [self.state_shape()] * (2 if self.rnn_type == "lstm" else 1)


def exportable(actor: nn.Module) -> nn.Module:
    """The module exported for a trained model: its own (``actor.exportable()``, e.g. the belief student) or
    :class:`ExportablePolicy` around an rsl-rl-lib MLP or RNN model."""
    own = getattr(actor, "exportable", None)
    return own() if own is not None else ExportablePolicy(actor)


class EnsembleExport(nn.Module):
    """The mean of several exported policies' deterministic actions; recurrent members carry their own state.

    ``forward(obs, *states_in) -> actions`` or ``(actions, *states_out)``: ``obs`` (1, obs_dim) feeds every
    member; the states are those of the recurrent members in member order (LSTM: h, c; GRU: h), each
    (layers, 1, hidden).
    """

    def __init__(self, members: Sequence[ExportablePolicy]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.obs_dim = members[0].obs_dim
        self.rnn_type = "ensemble"
        self._counts = [len(m.state_shapes()) for m in members]

    def forward(self, obs: torch.Tensor, *states: torch.Tensor):
        actions, states_out, k = [], [], 0
        for member, n in zip(self.members, self._counts):
            out = member(obs, *states[k:k + n])
            k += n
            if n:
                actions.append(out[0])
                states_out.extend(out[1:])
            else:
                actions.append(out)
        mean = torch.stack(actions).mean(dim=0)
        return (mean, *states_out) if states_out else mean

    def state_shapes(self) -> list[tuple[int, int, int]]:
        return [shape for m in self.members for shape in m.state_shapes()]

    def io_names(self) -> tuple[list[str], list[str]]:
        inputs, outputs = ["obs"], ["actions"]
        for i, member in enumerate(self.members):
            ins, outs = member.io_names(f"_{i}")
            inputs += ins[1:]
            outputs += outs[1:]
        return inputs, outputs

    def dummy_inputs(self) -> tuple[torch.Tensor, ...]:
        return (torch.zeros(1, self.obs_dim), *(torch.zeros(s) for s in self.state_shapes()))


def recurrent_metadata(module: ExportablePolicy | EnsembleExport) -> dict | None:
    """``policy.json["recurrent"]``: the state inputs and outputs with their shapes (None without state)."""
    shapes = module.state_shapes()
    if not shapes:
        return None
    inputs, outputs = module.io_names()
    return {"type": module.rnn_type, "state_shape": list(shapes[0]), "state_shapes": [list(s) for s in shapes],
            "inputs": inputs[1:], "outputs": outputs[1:]}


def git_sha() -> str:
    """The source tree's commit (with -dirty), or 'unknown' outside a checkout."""
    root = Path(stridelab.__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def latency_metadata(env) -> dict:
    """``policy.json["latency"]``: the actuation delay the policy was trained with, at full randomization strength.

    Training delays every PD target by a whole number of physics substeps, drawn per env at each reset uniformly
    over ``substeps`` (the ``randomize_action_latency`` event term's ``delay_s``, docs/design.md "Action latency");
    ``range_s`` is that range in seconds and ``middle_s`` its middle, the deploy simulation's default latency. A
    task without the term, or with its neutral range (0, 0), trained without delay: range [0, 0].
    """
    substep = float(env.sim.model.opt.timestep)
    source, delay = None, (0.0, 0.0)
    for name, cfg in env.cfg.events.items():  # the last one wins, as its draws are written last at a reset
        if resolve(cfg.func, "events") is randomize_action_latency:
            source = f"events.{name}"
            delay = tuple(float(v) for v in resolved_params(randomize_action_latency, cfg.params)["delay_s"])
    low, high = randomize_action_latency.whole_substeps(delay, substep) if delay != (0.0, 0.0) else (0, 0)
    return {"range_s": [low * substep, high * substep], "middle_s": 0.5 * (low + high) * substep,
            "substeps": [low, high], "substep_s": substep, "configured_s": list(delay), "source": source,
            "rule": "each episode draws a whole number of physics substeps uniformly in substeps (both ends included); "
                    "every PD target then takes effect that many substeps after the action that set it (the "
                    "previous target holds meanwhile)"}


def friction_metadata(env) -> dict:
    """``policy.json["foot_friction"]``: the foot friction coefficients the policy was trained with, and the one
    ``robot.xml``'s feet carry: the middle of the ``randomize_friction`` event's range (one draw per episode for
    all feet), or the robot file's own value without the event."""
    from stridelab.mdp.randomization import randomize_friction

    source, trained = None, None
    for name, cfg in env.cfg.events.items():  # the last one wins, as its draws are written last at a reset
        if resolve(cfg.func, "events") is randomize_friction:
            source = f"events.{name}"
            trained = [float(v) for v in resolved_params(randomize_friction, cfg.params)["range"]]
    if trained is None:
        nominal = float(env.sim.model.geom_friction[env.robot.foot_geom_ids, 0].mean())
        trained = [nominal, nominal]
    return {"range": trained, "robot_xml": 0.5 * (trained[0] + trained[1]), "source": source,
            "rule": "each episode draws one sliding friction coefficient uniformly in range for all feet (MuJoCo "
                    "geom friction[0]; the contact's coefficient when the foot geoms have a higher priority than the "
                    "ground, as in the built-in robots and Menagerie's Go2); robot.xml's foot geoms carry robot_xml"}


def metadata(loaded: LoadedPolicy, module: ExportablePolicy | EnsembleExport, env) -> dict:
    """Everything a robot needs to run the policy without stridelab's task code.

    The ``observation`` and ``action`` sections are the env's own descriptions of its policy group
    and action term (the deploy runtime rebuilds both from them); ``privileged`` lists what the critic
    saw, for the record.
    """
    cfg = env.cfg
    spec = env.robot.spec
    groups = list(loaded.obs_groups)
    unsupported = [g for g in groups if g not in ("policy", "extero")]
    if unsupported or "policy" not in groups:
        raise CheckpointError(f"the checkpoint's policy reads the observation groups {groups}; a deployed policy "
                              f"reads 'policy' and optionally 'extero' (the height scan), so export a policy (or a "
                              f"student) trained on those.")
    observation = env.observations.groups["policy"].describe()
    extero = env.observations.groups["extero"].describe() if "extero" in groups else None
    size = observation["size"] + (extero["size"] if extero else 0)
    if size != module.obs_dim:
        raise CheckpointError(f"the checkpoint's policy reads {module.obs_dim} observation values but the task "
                              f"builds {size}; export with the stridelab version that trained it.")
    inputs, outputs = module.io_names()
    velocity = env.commands.velocity
    clock = [t["params"]["min_command"] for t in observation["terms"]
             if t["func"] == "stridelab.mdp.observations:gait_clock"]  # its standing threshold, for the gait section
    gait = env.commands.gait.describe(clock[0] if clock else None) if env.commands.gait is not None else None
    return {
        "format": "stridelab-policy/3",
        "stridelab_version": stridelab.__version__,
        "git_sha": git_sha(),
        "task": cfg.task,
        "robot": {"name": spec.name, "registry": cfg.robot, "source": spec.source, "base_body": spec.base_body,
                  "feet": list(spec.feet)},
        "joint_names": list(spec.joint_names),
        "default_joint_pos": [float(v) for v in spec.default_pose],
        "kp": [float(v) for v in spec.kp],
        "kd": [float(v) for v in spec.kd],
        "torque_limits": [float(v) for v in env.robot.torque_limits],
        "joint_limits": env.robot.joint_range.tolist(),
        "action": env.action_term.describe(),
        "control_dt": env.dt,
        "control_hz": 1.0 / env.dt,
        "physics_dt": float(env.robot.model.opt.timestep),
        "observation": observation,
        "extero": extero,  # the height (and ceiling) scan of a teacher, None for a proprioceptive policy
        "observation_groups": groups,  # the order in which the groups are concatenated into ``obs``
        "privileged": env.observations.groups["privileged"].describe() if "privileged" in env.observations.groups
        else None,
        "commands": velocity.ranges() if velocity is not None else {},
        "gait": gait,
        # the training terrain (a TerrainConfig as data: stridelab.sim.terrain.build_terrain rebuilds it), for a
        # simulator that runs the policy where it was trained; a robot does not need it
        "terrain": to_dict(cfg.terrain) if cfg.terrain is not None else None,
        "latency": latency_metadata(env),
        "foot_friction": friction_metadata(env),
        "normalizer": "included in the model",
        "recurrent": recurrent_metadata(module),
        "inputs": inputs,
        "outputs": outputs,
        "checkpoint": str(loaded.checkpoint),
        "iteration": int(loaded.data.get("iteration", 0)),
    }


def _export_onnx(module: ExportablePolicy | EnsembleExport, path: Path) -> int:
    inputs, outputs = module.io_names()
    dynamic = {"obs": {0: "batch"}, "actions": {0: "batch"}} if not module.state_shapes() else None
    last_error = None
    for opset in (20, 18, 17):
        try:
            torch.onnx.export(module, module.dummy_inputs(), str(path), input_names=inputs, output_names=outputs,
                              opset_version=opset, dynamic_axes=dynamic, dynamo=False)
            return opset
        except Exception as exc:  # the legacy exporter refuses opsets it does not know
            last_error = exc
    raise RuntimeError(f"ONNX export failed: {last_error}")


def export_policy(target: Path | str | Sequence[Path | str], out_dir: Path | str | None = None) -> Path:
    """Write policy.onnx, policy.pt and policy.json (and the run's eval.json) to ``out_dir``.

    ``target``: a run directory or checkpoint, or several: their ensemble (:class:`EnsembleExport`; default
    ``out_dir``: the first run's ``export_ensemble``), whose members must read the same observations
    (:func:`stridelab.learn.ensemble.check_members`).
    """
    targets = [target] if isinstance(target, (str, Path)) else list(target)
    members = [load_policy(t) for t in targets]
    loaded = members[0]
    run_dir = run_dir_of(loaded.checkpoint)
    ensemble = len(members) > 1
    out = Path(out_dir) if out_dir else run_dir / ("export_ensemble" if ensemble else "export")
    env = make_env(override(loaded.env_cfg, num_envs=1, num_threads=1))
    if ensemble:
        check_members(members, [policy_interface(loaded, env), *(policy_interface(m) for m in members[1:])])
    parts = [exportable(m.actor).eval() for m in members]
    module = EnsembleExport(parts).eval() if ensemble else parts[0]
    meta = metadata(loaded, module, env)
    if ensemble:
        meta["ensemble"] = {"combine": "mean of the members' deterministic actions", "members": [
            {"checkpoint": str(m.checkpoint), "iteration": int(m.data.get("iteration", 0)), "task": m.env_cfg.task,
             "policy": part.rnn_type if part.rnn is not None else "mlp", "recurrent": recurrent_metadata(part)}
            for m, part in zip(members, parts)]}
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        with atomic_path(out / "policy.onnx") as tmp:
            opset = _export_onnx(module, tmp)
        scripted = torch.jit.trace(module, module.dummy_inputs(), check_trace=False)
        with atomic_path(out / "policy.pt") as tmp:
            scripted.save(str(tmp))
    meta["onnx_opset"] = opset
    write_robot_xml(env.robot.spec, out, foot_friction=meta["foot_friction"]["robot_xml"])
    if hasattr(env.action_term, "export_files"):  # files its description names (ETG's lookup table)
        for path in env.action_term.export_files(out):
            log.info("wrote %s", path)
    meta["robot"]["model_file"] = "robot.xml"
    write_atomic(out / "policy.json", lambda f: f.write(json.dumps(meta, indent=2)), binary=False)
    if not ensemble and (run_dir / "eval.json").exists():
        data = (run_dir / "eval.json").read_bytes()
        write_atomic(out / "train_eval.json", lambda f: f.write(data))
    log.info("exported %s (ONNX opset %d) to %s", ", ".join(m.checkpoint.name for m in members), opset, out)
    return out


def check_parity(out_dir: Path, num_samples: int = 64, seed: int = 0) -> float:
    """Max |torch - onnxruntime| over random observations (recurrent: over a short sequence)."""
    import onnxruntime as ort

    out_dir = Path(out_dir)
    meta = json.loads((out_dir / "policy.json").read_text())
    sess = ort.InferenceSession(str(out_dir / "policy.onnx"), providers=["CPUExecutionProvider"])
    ts = torch.jit.load(str(out_dir / "policy.pt"))
    rng = np.random.default_rng(seed)
    size = input_size(meta)
    worst = 0.0
    if meta["recurrent"] is None:
        obs = rng.normal(0, 1, size=(num_samples, size)).astype(np.float32)
        a_onnx = sess.run(None, {"obs": obs})[0]
        a_ts = ts(torch.from_numpy(obs)).detach().numpy()
        return float(np.abs(a_onnx - a_ts).max())
    shapes = state_shapes(meta)
    state = [np.zeros(shape, np.float32) for shape in shapes]
    state_t = [torch.zeros(shape) for shape in shapes]
    for _ in range(num_samples):
        obs = rng.normal(0, 1, size=(1, size)).astype(np.float32)
        res = sess.run(None, {"obs": obs, **dict(zip(meta["recurrent"]["inputs"], state))})
        res_t = ts(torch.from_numpy(obs), *state_t)
        worst = max(worst, float(np.abs(res[0] - res_t[0].detach().numpy()).max()))
        state, state_t = res[1:], [r.detach() for r in res_t[1:]]
    return worst


def state_shapes(meta: dict) -> list[list[int]]:
    """The shape of each recurrent state input of an exported policy (``policy.json``), in input order."""
    rec = meta.get("recurrent")
    if not rec:
        return []
    return rec.get("state_shapes") or [rec["state_shape"]] * len(rec["inputs"])
