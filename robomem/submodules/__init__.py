"""The four memory submodules (spatial, temporal, episodic, semantic) behind one interface in base.py."""
