"""A deployable student with a belief encoder and decoder (Miki et al., "Learning robust perceptive locomotion
for quadrupedal robots in the wild", Science Robotics 2022), as an rsl-rl-lib model.

Per control step, for each env (normalized inputs; ``P`` proprioceptive values, ``E`` scan values, ``H`` the
belief state's size)::

    p = norm_p(proprioception)                          (P,)   the policy group, with its history
    e = norm_e(noisy height scan)                       (E,)   the exteroception the robot has
    h = GRU([phi_p(p), phi_e(e)], h_prev)               (H,)   phi_*: one ELU layer each (embeddings)
    alpha = sigmoid(W_a h + c_a)                        (E,)   the gate: how much of the scan to trust, per value
    belief = W_b h + c_b + alpha * e                    (E,)   what the student believes the (normalized) scan is
    action = MLP([p, belief])                           (A,)

The policy MLP has the teacher's shape (the teacher reads ``[p, clean scan]``), so a student starts from the
teacher: :meth:`BeliefStudent.init_from_teacher` copies the teacher's MLP and its input normalization, and the
belief starts as the noisy scan itself (``W_b = 0``, the gate open), i.e. as the teacher reading a noisy scan.

The decoder (training only) reconstructs from the same belief state, with a gate of its own::

    alpha_d = sigmoid(W_da h + c_da)                    (E,)
    scan_hat = W_ds h + c_ds + alpha_d * e              (E,)   the clean scan, normalized like e
    priv_hat = MLP_p(h)                                 (D,)   the privileged state, normalized by its running stats

:class:`stridelab.learn.distillation.BeliefDistillation` adds its error to the action-imitation loss.
"""

from __future__ import annotations

import torch
from rsl_rl.modules import MLP, RNN, EmpiricalNormalization, HiddenState
from tensordict import TensorDict
from torch import nn

from stridelab.errors import ConfigError

GATE_OPEN_BIAS = 3.0  # sigmoid(3) = 0.95: a new student's belief is (almost) the scan it reads


class BeliefStudent(nn.Module):
    """The student: belief encoder (GRU + gate) and policy MLP; optionally the decoder.

    Args (beyond rsl-rl's model arguments ``obs``, ``obs_groups``, ``obs_set``, ``output_dim``):
        proprio_groups: groups of proprioception, in order (e.g. ``("policy",)``).
        scan_groups: groups of exteroception (the noisy height scan, e.g. ``("extero",)``).
        hidden_dims, activation: the policy MLP (the teacher's, to start from its weights).
        rnn_hidden_dim: the belief state's size ``H``.
        embed_dim: size of each input embedding of the GRU.
        decoder_sizes: ``{"scan": E_clean, "privileged": D}`` of the decoder's targets, or ``{}`` for no decoder;
            ``E_clean`` must equal ``E``.
        scan_target_groups, privileged_groups: the groups of the decoder's targets (the clean scan, the
            privileged state); read only in training.
    Attributes:
        obs_groups: the groups the student reads, proprioception first (rsl-rl's ``obs_groups[obs_set]``).
    """

    is_recurrent = True

    def __init__(self, obs: TensorDict, obs_groups: dict[str, list[str]], obs_set: str, output_dim: int,
                 proprio_groups: tuple[str, ...] | list[str] = ("policy",),
                 scan_groups: tuple[str, ...] | list[str] = ("extero",),
                 hidden_dims: tuple[int, ...] | list[int] = (128, 128, 128), activation: str = "elu",
                 rnn_hidden_dim: int = 128, embed_dim: int = 64, decoder_sizes: dict[str, int] | None = None,
                 scan_target_groups: tuple[str, ...] | list[str] = ("teacher_extero",),
                 privileged_groups: tuple[str, ...] | list[str] = ("privileged",)) -> None:
        super().__init__()
        groups = list(obs_groups[obs_set])
        self.proprio_groups, self.scan_groups = list(proprio_groups), list(scan_groups)
        if sorted(groups) != sorted(self.proprio_groups + self.scan_groups):
            raise ConfigError(f"the student reads the groups {groups}, but its proprioception {self.proprio_groups} and "
                              f"exteroception {self.scan_groups} groups are not those; make them the same.")
        self.obs_groups = self.proprio_groups + self.scan_groups
        self.proprio_dim = int(sum(obs[g].shape[-1] for g in self.proprio_groups))
        self.scan_dim = int(sum(obs[g].shape[-1] for g in self.scan_groups))
        self.obs_dim = self.proprio_dim + self.scan_dim
        self.hidden_dims, self.activation = tuple(hidden_dims), activation
        self.norm_proprio = EmpiricalNormalization(self.proprio_dim)
        self.norm_scan = EmpiricalNormalization(self.scan_dim)
        self.embed_proprio = nn.Sequential(nn.Linear(self.proprio_dim, embed_dim), nn.ELU())
        self.embed_scan = nn.Sequential(nn.Linear(self.scan_dim, embed_dim), nn.ELU())
        self.rnn = RNN(2 * embed_dim, rnn_hidden_dim, 1, "gru")
        self.gate = nn.Linear(rnn_hidden_dim, self.scan_dim)
        self.belief_head = nn.Linear(rnn_hidden_dim, self.scan_dim)
        nn.init.constant_(self.gate.bias, GATE_OPEN_BIAS)
        nn.init.zeros_(self.belief_head.weight)
        nn.init.zeros_(self.belief_head.bias)
        self.mlp = MLP(self.obs_dim, output_dim, self.hidden_dims, activation)
        self.num_actions = int(output_dim)
        self.decoder_sizes = dict(decoder_sizes or {})
        self.scan_target_groups, self.privileged_groups = list(scan_target_groups), list(privileged_groups)
        self.decoder: BeliefDecoder | None = None
        if self.decoder_sizes:
            if int(self.decoder_sizes.get("scan", self.scan_dim)) != self.scan_dim:
                raise ConfigError(f"the decoder reconstructs a clean scan of {self.decoder_sizes['scan']} values but the "
                                  f"student reads {self.scan_dim}; give the clean and the noisy scan the same points.")
            self.decoder = BeliefDecoder(rnn_hidden_dim, self.scan_dim, int(self.decoder_sizes["privileged"]))
        self.last_gate: torch.Tensor | None = None

    # ---- the belief ----------------------------------------------------------------------------------
    def _inputs(self, obs: TensorDict) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.cat([obs[g] for g in self.proprio_groups], dim=-1)
        e = torch.cat([obs[g] for g in self.scan_groups], dim=-1)
        return self.norm_proprio(p), self.norm_scan(e)

    def encode(self, obs: TensorDict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step of the belief encoder (the GRU keeps its state). Returns (p, e, h, belief): (n, P), (n, E),
        (n, H), (n, E)."""
        p, e = self._inputs(obs)
        h = self.rnn(torch.cat([self.embed_proprio(p), self.embed_scan(e)], dim=-1)).squeeze(0)
        alpha = torch.sigmoid(self.gate(h))
        self.last_gate = alpha.detach()
        return p, e, h, self.belief_head(h) + alpha * e

    def forward(self, obs: TensorDict, masks: torch.Tensor | None = None, hidden_state: HiddenState = None,
                stochastic_output: bool = False) -> torch.Tensor:
        """Actions for one control step of every env (the student is deterministic). Shape: (n, A)."""
        if masks is not None:
            raise ConfigError("the belief student steps one control step at a time (rsl-rl's distillation); it "
                              "cannot be trained by PPO's padded-trajectory update.")
        p, _, _, belief = self.encode(obs)
        return self.mlp(torch.cat([p, belief], dim=-1))

    def forward_with_reconstruction(self, obs: TensorDict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Actions and the decoder's reconstructions: (n, A), scan (n, E) and privileged (n, D), both normalized."""
        if self.decoder is None:
            raise ConfigError("this student has no decoder (decoder_sizes is empty).")
        p, e, h, belief = self.encode(obs)
        scan, privileged = self.decoder(h, e)
        return self.mlp(torch.cat([p, belief], dim=-1)), scan, privileged

    # ---- rsl-rl's model interface --------------------------------------------------------------------
    def reset(self, dones: torch.Tensor | None = None, hidden_state: HiddenState = None) -> None:
        self.rnn.reset(dones, hidden_state)

    def get_hidden_state(self) -> HiddenState:
        return self.rnn.hidden_state

    def detach_hidden_state(self, dones: torch.Tensor | None = None) -> None:
        self.rnn.detach_hidden_state(dones)

    @property
    def output_std(self) -> torch.Tensor:
        """The student is deterministic: zero (what rsl-rl logs as the policy's std). Shape: (A,)."""
        return torch.zeros(self.num_actions)

    def update_normalization(self, obs: TensorDict) -> None:
        """The input normalization is the teacher's and is kept; the decoder's privileged targets' statistics
        follow the data (``obs``: a batch of every group)."""
        if self.decoder is not None:
            self.decoder.norm_privileged.update(torch.cat([obs[g] for g in self.privileged_groups], dim=-1))

    def reconstruction_targets(self, obs: TensorDict) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder's targets in its units: the clean scan normalized like the student's scan, and the
        privileged state by its running statistics. Shapes: (n, E), (n, D)."""
        scan = self.norm_scan(torch.cat([obs[g] for g in self.scan_target_groups], dim=-1))
        privileged = torch.cat([obs[g] for g in self.privileged_groups], dim=-1)
        return scan, self.decoder.norm_privileged(privileged)

    @property
    def obs_normalizer(self) -> nn.Module:
        """The input normalization as one module over ``[proprioception, scan]`` (for export)."""
        return _ConcatNormalizer(self.norm_proprio, self.norm_scan)

    def exportable(self) -> BeliefExport:
        """The student as one module for ONNX and TorchScript, its belief state as explicit input and output."""
        return BeliefExport(self)

    # ---- starting from the teacher -------------------------------------------------------------------
    def init_from_teacher(self, teacher: nn.Module) -> list[str]:
        """Copy the teacher's policy MLP and input normalization where the shapes allow (the teacher reads
        ``[proprioception, clean scan]`` of the same sizes). Returns what was copied."""
        copied = []
        norm = getattr(teacher, "obs_normalizer", None)
        if isinstance(norm, EmpiricalNormalization) and norm.mean.shape[-1] == self.obs_dim:
            with torch.no_grad():
                for name in ("_mean", "_var", "_std"):
                    src = getattr(norm, name)
                    getattr(self.norm_proprio, name).copy_(src[..., :self.proprio_dim])
                    getattr(self.norm_scan, name).copy_(src[..., self.proprio_dim:])
                self.norm_proprio.count.copy_(norm.count)
                self.norm_scan.count.copy_(norm.count)
            copied.append("input normalization")
        mlp = getattr(teacher, "mlp", None)
        if mlp is not None:
            mine, theirs = self.mlp.state_dict(), mlp.state_dict()
            if mine.keys() == theirs.keys() and all(mine[k].shape == theirs[k].shape for k in mine):
                self.mlp.load_state_dict(theirs)
                copied.append("policy MLP")
        return copied


class BeliefDecoder(nn.Module):
    """Reconstructs the clean scan (gated, from the belief state and the noisy scan) and the privileged state."""

    def __init__(self, rnn_hidden_dim: int, scan_dim: int, privileged_dim: int) -> None:
        super().__init__()
        self.gate = nn.Linear(rnn_hidden_dim, scan_dim)
        self.scan_head = nn.Linear(rnn_hidden_dim, scan_dim)
        self.privileged_head = nn.Sequential(nn.Linear(rnn_hidden_dim, 64), nn.ELU(), nn.Linear(64, privileged_dim))
        self.norm_privileged = EmpiricalNormalization(privileged_dim)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scan (n, E), privileged (n, D)), both in normalized units."""
        alpha = torch.sigmoid(self.gate(h))
        return self.scan_head(h) + alpha * e, self.privileged_head(h)


class _ConcatNormalizer(nn.Module):
    def __init__(self, first: nn.Module, second: nn.Module) -> None:
        super().__init__()
        self.first, self.second, self.split = first, second, int(first.mean.shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.first(x[..., :self.split]), self.second(x[..., self.split:])], dim=-1)


class BeliefExport(nn.Module):
    """The student for ONNX and TorchScript: ``actions, h_out = f(obs, h_in)``, the belief state carried explicitly.

    ``obs`` (1, P + E) is ``[proprioception, scan]`` (policy.json's ``observation`` then ``extero``); ``h_in``
    and ``h_out`` (1, 1, H) the GRU's state (zeros at an episode's start). The decoder is left out.
    """

    rnn_type = "gru"

    def __init__(self, student: BeliefStudent) -> None:
        super().__init__()
        import copy

        self.norm_proprio, self.norm_scan = copy.deepcopy(student.norm_proprio), copy.deepcopy(student.norm_scan)
        self.embed_proprio, self.embed_scan = copy.deepcopy(student.embed_proprio), copy.deepcopy(student.embed_scan)
        self.rnn = copy.deepcopy(student.rnn.rnn)
        self.gate, self.belief_head = copy.deepcopy(student.gate), copy.deepcopy(student.belief_head)
        self.mlp = copy.deepcopy(student.mlp)
        self.proprio_dim, self.obs_dim = student.proprio_dim, student.obs_dim

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.norm_proprio(obs[:, :self.proprio_dim])
        e = self.norm_scan(obs[:, self.proprio_dim:])
        y, h = self.rnn(torch.cat([self.embed_proprio(p), self.embed_scan(e)], dim=-1).unsqueeze(0), h_in)
        y = y.squeeze(0)
        belief = self.belief_head(y) + torch.sigmoid(self.gate(y)) * e
        return self.mlp(torch.cat([p, belief], dim=-1)), h

    def state_shape(self) -> tuple[int, int, int]:
        return (self.rnn.num_layers, 1, self.rnn.hidden_size)

    def state_shapes(self) -> list[tuple[int, int, int]]:
        return [self.state_shape()]

    def io_names(self, suffix: str = "") -> tuple[list[str], list[str]]:
        return ["obs", f"h_in{suffix}"], ["actions", f"h_out{suffix}"]

    def dummy_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(1, self.obs_dim), torch.zeros(self.state_shape())
