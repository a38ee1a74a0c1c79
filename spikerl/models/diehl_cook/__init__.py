"""The Diehl & Cook (2015) network: unsupervised learning of MNIST digits with STDP.

* :class:`DiehlAndCook2015` (:mod:`~spikerl.models.diehl_cook.model`): the network, its presentation protocol,
  online and batched learning, checkpoints; parameters in :class:`DiehlAndCookParams`
  (:mod:`~spikerl.models.diehl_cook.params`).
* :mod:`~spikerl.models.diehl_cook.fused`: the same presentations fused into C calls (``diehl_cook.c``,
  ``diehl_cook_impl.h``), taking tensors and a :class:`~spikerl.models.diehl_cook.fused.FusedParams` struct.
* :mod:`~spikerl.models.diehl_cook.training`: unsupervised training on labelled images, the running accuracy and
  the final evaluation.

Dependencies run one way: ``params`` and ``fused`` import no other module of this package, ``model`` imports
both, ``training`` imports ``model``.
"""

from spikerl.models.diehl_cook.model import CHECKPOINT_FORMAT, DiehlAndCook2015, Mode, Presentation
from spikerl.models.diehl_cook.params import DiehlAndCookParams

__all__ = ["DiehlAndCook2015", "DiehlAndCookParams", "Presentation", "Mode", "CHECKPOINT_FORMAT"]
