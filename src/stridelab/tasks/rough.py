"""Rough-terrain velocity tracking: the flat task's terms on a terrain grid, with a height scan and the
terrain curriculum (legged_gym's rough task).

The teacher (actor and critic) reads ``policy`` + ``extero`` (the height scan); the critic also reads
``privileged``. The default grid is small, to keep compile time and memory low: 5 rows of rising
difficulty x 6 columns (flat, rough, slopes up and down, stairs up and down) of 8 m tiles.
"""

from __future__ import annotations

from dataclasses import replace

from stridelab.config import EnvConfig, EventTermCfg, ObsGroupCfg, ObsTermCfg, RewardTermCfg, TermCfg
from stridelab.registry import TaskEntry, register_task
from stridelab.sim.terrain.config import TerrainConfig
from stridelab.tasks.velocity import flat_velocity_task

ROUGH_TYPES = {"flat": 1.0, "rough": 1.0, "slope_up": 1.0, "slope_down": 1.0, "stairs_up": 1.0, "stairs_down": 1.0}


def rough_terrain() -> TerrainConfig:
    """5 levels x 6 types of 8 m tiles (one column per type), 0.05 m samples, a 3 m flat border."""
    return TerrainConfig(num_rows=5, num_cols=6, tile_size=8.0, border=3.0, types=dict(ROUGH_TYPES))


def extero_group() -> ObsGroupCfg:
    """The height scan (legged_gym: 187 points, scale 5); noise-free (a teacher's input)."""
    return ObsGroupCfg(noise=0.0, clip=100.0, terms={
        "height_scan": ObsTermCfg("height_scan", scale=5.0, params={"offset": 0.0, "clip": 1.0}),
    })


def rough_velocity_task(task: str, robot: str, terrain: TerrainConfig | None = None) -> EnvConfig:
    """The flat velocity task on terrain: spawn on curriculum tiles, height scan, terrain curriculum."""
    base = flat_velocity_task(task, robot)
    events = {k: v for k, v in base.events.items() if k != "reset_robot"}
    events["reset_robot"] = EventTermCfg("reset_robot_on_terrain", params={"joint_noise": 0.1, "xy_noise": 0.5})
    return replace(
        base,
        terrain=terrain or rough_terrain(),
        observations={**base.observations, "extero": extero_group()},
        events=events,
        # legged_gym's feet_stumble, present but off as in legged_gym (--env.rewards.feet_stumble.weight -0.5);
        # thigh collisions are the flat task's undesired_contacts
        rewards={**base.rewards, "feet_stumble": RewardTermCfg("feet_stumble", weight=0.0)},
        curriculum={"terrain_levels": TermCfg("terrain_levels", params={"max_init_level": 1})},
    )


def _train_cfg():
    from stridelab.learn.config import TrainConfig

    return TrainConfig(actor_obs_groups=("policy", "extero"), critic_obs_groups=("policy", "privileged", "extero"),
                       actor_hidden_dims=(512, 256, 128), critic_hidden_dims=(512, 256, 128), max_minutes=60.0,
                       stop_when_walks=False)


register_task(TaskEntry(
    name="quadruped-rough",
    description="built-in quadruped on a terrain grid (slopes, stairs, rough) with a height scan and a curriculum",
    env_cfg=lambda: rough_velocity_task("quadruped-rough", "quadruped"),
    train_cfg=_train_cfg,
), replace_existing=True)
