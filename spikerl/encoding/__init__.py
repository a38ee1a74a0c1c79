"""Encoders: turn frames, pixels or numbers into spike trains ``[T, B, *shape]``."""

from spikerl.encoding.poisson import PoissonEncoder, poisson

__all__ = ["PoissonEncoder", "poisson"]
