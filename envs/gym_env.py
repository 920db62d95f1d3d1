"""Gymnasium environments of robomem; importing this registers ``robomem/Household-v0``."""

from robomem.envs.household.gym_env import ENV_ID, HouseholdEnv, register_envs

__all__ = ["ENV_ID", "HouseholdEnv", "register_envs"]
