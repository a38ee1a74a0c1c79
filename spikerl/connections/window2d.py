"""Geometry of a sliding 2-D window (kernel, stride, zero padding), shared by the 2-D connections.

For an input map of height ``H`` with kernel ``k``, stride ``s`` and padding ``p`` on both sides, the
window visits ``H_out = (H + 2 p - k) // s + 1`` positions along that axis (the same for the width).
"""

from __future__ import annotations

from dataclasses import dataclass

from spikerl.neurons.base import Shape, as_shape

Pair = tuple[int, int]


def as_pair(value: int | tuple[int, int] | list[int], name: str, minimum: int) -> Pair:
    """Normalise ``3`` or ``(3, 5)`` to a pair of ints ``>= minimum``, or raise ``ValueError``."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in pair):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return pair  # type: ignore[return-value]


def as_image_shape(shape: int | tuple[int, ...], what: str) -> Shape:
    """Check that ``shape`` is a ``(channels, height, width)`` triple."""
    dims = as_shape(shape)
    if len(dims) != 3:
        raise ValueError(f"{what} must be (channels, height, width), got {shape!r}")
    return dims


@dataclass(frozen=True)
class Window2d:
    """A sliding window: ``kernel``, ``stride`` and zero ``padding`` as (height, width) pairs."""

    kernel: Pair
    stride: Pair
    padding: Pair

    @classmethod
    def create(cls, kernel_size: int | tuple[int, int], stride: int | tuple[int, int],
               padding: int | tuple[int, int]) -> "Window2d":
        return cls(as_pair(kernel_size, "kernel_size", 1), as_pair(stride, "stride", 1),
                   as_pair(padding, "padding", 0))

    def output_size(self, height: int, width: int, what: str) -> Pair:
        """``(H_out, W_out)`` for an input map of ``height x width``; ``ValueError`` if the kernel does not fit."""
        padded = (height + 2 * self.padding[0], width + 2 * self.padding[1])
        if self.kernel[0] > padded[0] or self.kernel[1] > padded[1]:
            raise ValueError(f"{what}: kernel {self.kernel} is larger than the padded input "
                             f"{padded} (input {(height, width)}, padding {self.padding})")
        return tuple((padded[i] - self.kernel[i]) // self.stride[i] + 1 for i in range(2))  # type: ignore

    def config(self) -> dict[str, list[int]]:
        return {"kernel_size": list(self.kernel), "stride": list(self.stride), "padding": list(self.padding)}
