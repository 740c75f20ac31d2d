"""Stateless random numbers for the sampling loop: a counter-based hash, the same on every backend.

The loop needs random numbers that depend only on ``(seed of the row, decoder step, slot)``:
then a row's events never depend on the other rows of the batch (a batched rollout equals
the single rollouts), a seed replays a window exactly, and the loop needs no random state
(it compiles into one XLA / jit function and into the SavedModel). ``keras.random`` with a
seed tensor is stateless too, but draws one stream for the whole batch.

The hash is MurmurHash3's 32-bit finaliser (``fmix32``) computed in ``int32`` with
wrap-around multiplication (what TensorFlow, XLA, JAX and PyTorch all do on overflow) and
logical shifts emulated by masking; ``int64`` is avoided because JAX disables it by
default. ``tests/generation/test_counter_rng.py`` checks it against NumPy ``uint32``
arithmetic on each backend.
"""

from __future__ import annotations

import numpy as np
from keras import ops

SLOTS = 64
"""Random numbers per row and decoder step (``uniforms(keys, step, n)`` takes ``n <= SLOTS``)."""


def _i32(c):
    """A 32-bit constant as the int32 with the same bits."""
    c &= 0xFFFFFFFF
    return c - (1 << 32) if c >= (1 << 31) else c


_C1, _C2, _GOLDEN, _STEP = _i32(0x85EBCA6B), _i32(0xC2B2AE35), _i32(0x9E3779B9), _i32(0x7F4A7C15)


def _shr(x, s):
    """Logical right shift of int32 ``x`` by ``s`` bits (arithmetic shift, then mask)."""
    return ops.bitwise_and(ops.right_shift(x, s), (1 << (32 - s)) - 1)


def fmix32(x):
    """MurmurHash3's finaliser of int32 ``x`` (bits as uint32), elementwise, int32."""
    x = ops.cast(x, "int32")
    x = ops.multiply(ops.bitwise_xor(x, _shr(x, 16)), _C1)
    x = ops.multiply(ops.bitwise_xor(x, _shr(x, 13)), _C2)
    return ops.bitwise_xor(x, _shr(x, 16))


def row_keys(seed):
    """Per-row keys (int32 ``[B]``) from integer seeds ``[B]`` (their low 32 bits)."""
    return fmix32(ops.add(fmix32(ops.cast(seed, "int32")), _GOLDEN))


def uniforms(keys, step, n):
    """U(0, 1) float32 ``[B, n]`` (never 0 or 1) of row ``keys [B]`` at decoder ``step`` (a
    scalar), slots ``0 .. n-1``: 24 bits of ``fmix32(key ^ fmix32(step * SLOTS + slot + c))``."""
    if n > SLOTS:
        raise ValueError(f"uniforms: at most {SLOTS} per step, asked for {n}")
    counter = ops.cast(step, "int32") * SLOTS + ops.arange(n, dtype="int32") + _STEP
    h = fmix32(ops.bitwise_xor(ops.cast(keys, "int32")[:, None], fmix32(counter)[None, :]))
    return (ops.cast(_shr(h, 8), "float32") + 0.5) / float(1 << 24)


def uniforms_np(seed, step, n):
    """NumPy ``uint32`` reference of :func:`uniforms` for one row (tests)."""
    M = np.uint64(0xFFFFFFFF)

    def mix(x):
        x = np.uint64(x) & M
        x ^= x >> np.uint64(16)
        x = (x * np.uint64(0x85EBCA6B)) & M
        x ^= x >> np.uint64(13)
        x = (x * np.uint64(0xC2B2AE35)) & M
        return x ^ (x >> np.uint64(16))

    key = mix((int(mix(int(seed) & 0xFFFFFFFF)) + 0x9E3779B9) & 0xFFFFFFFF)
    out = []
    for slot in range(n):
        c = mix((int(step) * SLOTS + slot + 0x7F4A7C15) & 0xFFFFFFFF)
        h = mix(int(key) ^ int(c))
        out.append((float(h >> np.uint64(8)) + 0.5) / float(1 << 24))
    return np.array(out, np.float32)


__all__ = ["SLOTS", "fmix32", "row_keys", "uniforms", "uniforms_np"]
