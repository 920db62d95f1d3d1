"""Simulator adapters and gymnasium wrappers over the robomem core. Installed as robomem.envs."""
