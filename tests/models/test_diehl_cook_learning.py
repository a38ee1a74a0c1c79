"""The Diehl & Cook network learns MNIST digits from a few hundred images, well above chance (10 %).

Batched learning, 6000 training images shown once for 250 ms, 1000 test images; about 10 s on one core
(seeds 0 to 2 gave 75 % to 79 %; a full epoch of 60000 images gives about 87 %, see scripts/eth_mnist.py).
"""

import pytest
import torch

from spikerl.datasets import load_mnist, mnist_dir
from spikerl.models import DiehlAndCook2015
from spikerl.models.diehl_cook.training import collect_counts, evaluate_counts, train_unsupervised

HAVE_MNIST = all((mnist_dir() / f).exists() for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"))


@pytest.mark.skipif(not HAVE_MNIST, reason="MNIST files not found (set SPIKERL_MNIST_DIR)")
def test_6000_images_give_well_above_chance_accuracy():
    train_x, train_y = load_mnist("train", download=False)
    test_x, test_y = load_mnist("test", download=False)
    train_x, train_y, test_x, test_y = train_x[:6000], train_y[:6000], test_x[:1000], test_y[:1000]
    model = DiehlAndCook2015(n_neurons=100, time_ms=250.0, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(0)
    train_unsupervised(model, train_x, train_y, epochs=1, batch_size=8, mode="batched", update_interval=250,
                       seed=0, generator=generator, show_progress=False)
    result = evaluate_counts(collect_counts(model, train_x, 250, generator), train_y,
                             collect_counts(model, test_x, 200, generator), test_y)
    assert result["all_activity"] > 0.6 and result["proportion_weighting"] > 0.6 and result["linear"] > 0.6, result
