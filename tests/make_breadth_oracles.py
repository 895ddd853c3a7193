"""Regenerate tests/data/breadth.json: oracle values from live peers for the issue-15 breadth losses.

Run once, by hand, where the peers are installed (they are in the dev extra)::

    KERAS_BACKEND=torch python tests/make_breadth_oracles.py

It calls the peers' public functions on fixed fixtures (binary fractions, exact in float32 and float64) and
stores inputs and outputs only. The tests (tests/test_noisy.py, test_imbalance.py, test_margin.py) read the JSON,
so they neither import the peers nor pay their start-up time.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "data", "breadth.json")


def fractions(rng: np.random.Generator, shape: tuple[int, ...], low: int, high: int, den: int = 64) -> np.ndarray:
    return rng.integers(low, high, size=shape).astype(np.float64) / den


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def keras_np(fn, *args, **kwargs) -> list:
    out = fn(*(keras.ops.convert_to_tensor(a) for a in args), **kwargs)
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float64).tolist()


def main() -> None:
    rng = np.random.default_rng(15)
    n, c = 12, 5
    logits = fractions(rng, (n, c), -256, 256)  # in [-4, 4)
    index = rng.integers(0, c, size=n)
    soft = softmax(fractions(rng, (n, c), -192, 192))
    probs = softmax(logits)
    one_hot = np.eye(c)[index]
    scores = fractions(rng, (n, c), -192, 192)
    scores[3] = -np.abs(scores[3]) - 0.25  # a row of all-negative scores, where Keras' max includes 0
    reg_true = fractions(rng, (n, 4), -256, 256)
    reg_true[0, 0] = 0.0  # Keras floors |y| at epsilon = 1e-7
    reg_pred = fractions(rng, (n, 4), -256, 256)
    vec_pred = fractions(rng, (n, 6), -128, 128)
    vec_true = fractions(rng, (n, 6), -128, 128)
    vec_true[2] = 0.0  # a zero target vector

    data: dict = {
        "family": "issue 15 breadth losses",
        "source": {
            "keras": f"Keras {keras.__version__}, torch backend, float64 inputs (per-sample outputs, no reduction)",
            "optax": f"optax {optax.__version__} on jax {jax.__version__}, jax_enable_x64=True, float64",
        },
        "conventions": {
            "gce": "keras.losses.categorical_generalized_cross_entropy(y_true=index, y_pred=softmax(logits), q): "
            "Keras takes probabilities; losslab takes the logits and applies the softmax inside.",
            "mape": "keras.losses.mean_absolute_percentage_error(reg_true, reg_pred): mean over the last axis per row; "
            "losslab's reduction='none' is element-wise, so compare its row means.",
            "categorical_hinge": "keras.losses.categorical_hinge(one_hot, y_pred): Keras' max over (1 - y) * s "
            "includes the 0 at the target class; row 3 of 'scores' is all negative, so Keras and the paper differ "
            "there (Keras' best other score is 0).",
            "cosine": "keras.losses.cosine_similarity(vec_true, vec_pred, axis=-1) = -cos; optax.losses."
            "cosine_distance(vec_pred, vec_true, epsilon=1e-16) = 1 - cos (norms floored at 1e-8).",
            "poly1": "optax.losses.poly_loss_cross_entropy(logits, labels, epsilon): "
            "CE + epsilon * sum(labels * (1 - p)).",
        },
        "inputs": {
            "logits": logits.tolist(), "index": index.tolist(), "soft": soft.tolist(), "scores": scores.tolist(),
            "reg_true": reg_true.tolist(), "reg_pred": reg_pred.tolist(),
            "vec_pred": vec_pred.tolist(), "vec_true": vec_true.tolist(),
        },
        "keras": {
            "gce": {str(q): keras_np(keras.losses.categorical_generalized_cross_entropy, index, probs, q=q)
                    for q in (0.1, 0.3, 0.5, 0.7, 0.9)},
            "mape": keras_np(keras.losses.mean_absolute_percentage_error, reg_true, reg_pred),
            "categorical_hinge_probs": keras_np(keras.losses.categorical_hinge, one_hot, probs),
            "categorical_hinge_scores": keras_np(keras.losses.categorical_hinge, one_hot, scores),
            "cosine_similarity": keras_np(keras.losses.cosine_similarity, vec_true, vec_pred),
        },
        "optax": {
            "poly1_one_hot": {str(e): np.asarray(optax.losses.poly_loss_cross_entropy(
                jnp.asarray(logits), jnp.asarray(one_hot), epsilon=e)).tolist() for e in (-1.0, 0.0, 1.0, 2.0)},
            "poly1_soft": {str(e): np.asarray(optax.losses.poly_loss_cross_entropy(
                jnp.asarray(logits), jnp.asarray(soft), epsilon=e)).tolist() for e in (-1.0, 0.0, 1.0, 2.0)},
            "cosine_distance": np.asarray(optax.losses.cosine_distance(
                jnp.asarray(vec_pred), jnp.asarray(vec_true), epsilon=1e-16)).tolist(),
        },
        "tolerance_advice": "float64 throughout. optax: rtol 1e-12. Keras: its torch backend computes some float64 ops "
        "through float32 (ops.mean, normalize) and takes GCE's q as float32 in ops.power, so expect up to ~7e-8 "
        "relative: rtol 1e-7.",
    }
    with open(OUT, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
