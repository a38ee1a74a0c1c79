"""spikerl environments: games as observations a spiking network can take, and tiny test environments.

Importing ``envs`` registers the ALE games and ``spikerl/PatternAction-v0`` and ``spikerl/Catch-v0`` with
Gymnasium. Image observations are uint8 ``(C, H, W)`` in ``[0, 255]`` throughout, except those of
:func:`make_standard_atari` (the deep-RL agents' standard preprocessing through SB3's wrappers: ``(84, 84, 4)``).
:mod:`envs.scores` holds the published random and human scores of the Atari 57 games.
"""

from envs.atari import DEFAULT_RESIZE, SCORE_CROPS, make_atari
from envs.make import make, make_vec
from envs.names import ale_games, close_matches, is_ale_id, resolve_id
from envs.pipeline import preprocess
from envs.protocol import describe_protocol
from envs.scores import REFERENCE_SCORES, human_normalized
from envs.standard_atari import make_standard_atari
from envs.toy import TOY_ENVS, CatchEnv, PatternActionEnv, register_toy_envs
from envs.wrappers import Binarize, ChannelFirst, Crop, CropMargins, FrameDifference

register_toy_envs()

__all__ = [
    "DEFAULT_RESIZE",
    "REFERENCE_SCORES",
    "SCORE_CROPS",
    "TOY_ENVS",
    "Binarize",
    "CatchEnv",
    "ChannelFirst",
    "Crop",
    "CropMargins",
    "FrameDifference",
    "PatternActionEnv",
    "ale_games",
    "close_matches",
    "describe_protocol",
    "human_normalized",
    "is_ale_id",
    "make",
    "make_atari",
    "make_standard_atari",
    "make_vec",
    "preprocess",
    "register_toy_envs",
    "resolve_id",
]
