"""Simulator adapters and gymnasium wrappers over the robomem core. Installed as robomem.envs.

Heavy imports (MuJoCo, habitat-sim) happen only in the subpackages that need them.
"""

from robomem.envs.wrappers import MemoryWrapper

__all__ = ["MemoryWrapper"]
