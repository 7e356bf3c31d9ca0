"""Fine-tuning a policy on a task that reads more observations than it was trained with.

A course task can add a term to a group the teacher reads (the cave's ``ceiling_scan`` after the
``height_scan`` in ``extero``), or a whole group. ``--init-from`` then cannot copy the actor as it is:
its input layer is narrower. :func:`widen_state` copies every input column the checkpoint knows to the
column the same term (and history frame) has now, and starts each new column with zero weight (and a
normalizer of variance 1 whose mean is the new input's value on the env's first observations,
:func:`centre_new_columns`), so that the widened network computes exactly what the checkpoint computed
until training teaches it to use the new input.

Why the mean matters: a new input that is constant where training starts (the ceiling scan reads +1 m,
times its scale 5, wherever there is no ceiling) would enter the network at 5 after a zero-mean
normalizer; Adam moves each of its zero weights by about the learning rate per step whatever the
gradient's size, so 187 such inputs shift every first-layer unit by ~187 x 5 x lr per step, and the
first update wrecked the fine-tuned cave policy (value loss 0.46 -> 7.4, tracking error 0.38 -> 0.58 m/s
after one iteration; without the ceiling scan 0.15 -> 0.07 and 0.38 -> 0.24).

Columns are matched by term name through the observation configs stored in the checkpoint
(``config.env.observations``) and the sizes of the current env's terms; a term the checkpoint read but
the task dropped, a term whose size changed or a different history is refused with one sentence.
"""

from __future__ import annotations

from typing import Any

import torch

from stridelab.errors import CheckpointError


def input_columns(old_groups: dict[str, int], old_cfg: dict[str, Any], new_groups: dict[str, Any],
                  order: list[str]) -> tuple[torch.Tensor, int]:
    """Where each input column of a checkpoint's network goes in the widened input.

    Args:
        old_groups: the checkpoint's groups in its input order, with their sizes (``policy_obs_groups``).
        old_cfg: the checkpoint's observation configs, ``{group: {"terms": {name: ...}, "history": h}}``.
        new_groups: the current env's :class:`stridelab.managers.observation.ObservationGroup` by name
            (``term_names``, ``sizes``, ``cfg.history``; sizes known after the first observation).
        order: the groups the current network reads, in its input order.

    Returns:
        (index (D_old,) int64: the new column of every old column, D_new).
    """
    missing = [g for g in old_groups if g not in order]
    if missing:
        raise CheckpointError(f"the checkpoint's network reads observation group(s) {missing} that this task's does "
                              f"not; fine-tune on a task with the groups {list(old_groups)}.")
    starts, offset = {}, 0
    for g in order:
        starts[g] = offset
        offset += new_groups[g].frame_size * (new_groups[g].cfg.history + 1)
    index = []
    for g, old_size in old_groups.items():
        group, cfg = new_groups[g], old_cfg.get(g, {})
        old_terms, history = list(cfg.get("terms", {})), int(cfg.get("history", group.cfg.history))
        if history != group.cfg.history:
            raise CheckpointError(f"observation group {g!r} keeps {history} past frames in the checkpoint and "
                                  f"{group.cfg.history} here; fine-tune with --env.observations.{g}.history {history}.")
        new_offsets = dict(zip(group.term_names, [sum(group.sizes[:i]) for i in range(len(group.sizes))]))
        sizes = dict(zip(group.term_names, group.sizes))
        dropped = [t for t in old_terms if t not in sizes]
        if dropped:
            raise CheckpointError(f"the checkpoint reads {g}.{', '.join(dropped)}, which this task does not observe; "
                                  f"fine-tune on a task that keeps those terms.")
        frame = [(sizes[t], new_offsets[t]) for t in old_terms]
        if sum(s for s, _ in frame) * (history + 1) != old_size:
            raise CheckpointError(f"observation group {g!r} has {old_size} values in the checkpoint, but its terms "
                                  f"{old_terms} have {sum(s for s, _ in frame) * (history + 1)} here (a term's size "
                                  f"changed); fine-tune on a task with the same term sizes.")
        for k in range(history + 1):
            base = starts[g] + k * group.frame_size
            for size, off in frame:
                index.extend(range(base + off, base + off + size))
    return torch.tensor(index, dtype=torch.long), offset


def checkpoint_group_sizes(old_cfg: dict[str, Any], new_groups: dict[str, Any], names: list[str]) -> dict[str, int]:
    """The sizes a checkpoint's groups ``names`` had, from its term names and history (``old_cfg``, as in
    :func:`input_columns`) and the current env's term sizes: for a network whose group sizes the checkpoint does
    not store (the critic). A term the current env lacks raises CheckpointError."""
    sizes = {}
    for g in names:
        group, cfg = new_groups.get(g), old_cfg.get(g, {})
        terms = list(cfg.get("terms", {}))
        if group is None or any(t not in group.term_names for t in terms):
            raise CheckpointError(f"the checkpoint reads group {g!r} terms {terms} that this task does not all "
                                  f"observe.")
        frame = sum(group.sizes[group.term_names.index(t)] for t in terms)
        sizes[g] = frame * (int(cfg.get("history", 0)) + 1)
    return sizes


def widen_state(old: dict[str, torch.Tensor], new: dict[str, torch.Tensor], index: torch.Tensor,
                width: int) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``old`` (a checkpoint's state dict) shaped as ``new``: input-sized last axes widened through ``index``.

    A tensor whose shape differs only in its last axis (D_old -> ``width``) is widened: old columns go to
    ``index``, new ones are 0, or 1 for a normalizer's ``_var`` / ``_std``. Any other difference is refused.

    Returns:
        (the state dict, the names of the widened tensors).
    """
    out, widened = {}, []
    for key, target in new.items():
        if key not in old:
            raise CheckpointError(f"the checkpoint's network has no {key!r}; use the policy type and network sizes "
                                  f"it was trained with.")
        value = old[key]
        if value.shape == target.shape:
            out[key] = value
            continue
        if value.shape[:-1] != target.shape[:-1] or value.shape[-1] != len(index) or target.shape[-1] != width:
            raise CheckpointError(f"the checkpoint's {key} has shape {tuple(value.shape)}, this run's "
                                  f"{tuple(target.shape)}; use the policy type and network sizes it was trained with.")
        fill = 1.0 if key.endswith(("_var", "_std")) else 0.0
        grown = torch.full(target.shape, fill, dtype=value.dtype)
        grown[..., index] = value
        out[key] = grown
        widened.append(key)
    return out, widened


def centre_new_columns(state: dict[str, torch.Tensor], index: torch.Tensor, inputs: torch.Tensor,
                       key: str = "obs_normalizer._mean") -> dict[str, torch.Tensor]:
    """``state`` (widened by :func:`widen_state`) with its normalizer's mean on the new columns (those not in
    ``index``) set to their mean over ``inputs``, so that a new input reads 0 after normalization where it does
    not vary. The variance stays 1. A state without ``key`` (no normalizer) is returned as it is.

    Args:
        index: the new column of every old column. Shape: (D_old,).
        inputs: network inputs from the env (the groups concatenated in the network's order). Shape: (n, D_new).
    """
    if key not in state:
        return state
    new = torch.ones(inputs.shape[-1], dtype=torch.bool)
    new[index] = False
    mean = state[key].clone()
    mean[..., new] = inputs[:, new].mean(dim=0).to(mean.dtype)
    return {**state, key: mean}
