"""rlrep: return-based contrastive auxiliary tasks (RCRL, CURL) inside Stable-Baselines3 agents.

Importing :mod:`rlrep` is cheap; the heavy pieces live in sub-modules:

- :mod:`rlrep.envs`: Atari-100k and DeepMind Control environments (gymnasium).
- :mod:`rlrep.buffers`: a segment-labelling n-step replay buffer.
- :mod:`rlrep.auxiliary`: the RCRL and CURL heads and losses.
- :mod:`rlrep.agents`: QR-DQN (Atari) and SAC (DMC) subclasses that add the auxiliary losses.
- :mod:`rlrep.training`, :mod:`rlrep.cli`: run directories, checkpoints, the ``rlrep`` command.
"""

__version__ = "0.1.0"
