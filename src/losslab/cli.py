"""The ``losslab`` command: list, explain, plot and recommend losses, and reproduce the papers' experiments."""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path

from . import registry


def _cmd_list(args: argparse.Namespace) -> int:
    specs = registry.all_specs()
    if args.task:
        specs = [s for s in specs if args.task in s.tasks]
    if args.family:
        specs = [s for s in specs if s.family == args.family]
    rows = [(s.name, s.family, s.input_kind, s.target_kind, ", ".join(s.tasks)) for s in specs]
    header = ("name", "family", "input", "target", "tasks")
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*header))
    print(fmt.format(*("-" * w for w in widths)))
    for r in rows:
        print(fmt.format(*r))
    print(f"\n{len(rows)} losses")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    try:
        spec = registry.get(args.name)
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    sig = inspect.signature(spec.function)
    doc = inspect.getdoc(spec.function) or ""
    args_section = _docstring_section(doc, "Args")
    print(f"{spec.name}  ({spec.family})")
    print(f"  {spec.summary}")
    print(f"\n  formula:     {spec.formula}")
    print(f"  input:       {spec.input_kind}")
    print(f"  target:      {spec.target_kind}")
    print(f"  activation:  {spec.activation}")
    print(f"  range:       {spec.value_range}")
    print(f"  tasks:       {', '.join(spec.tasks)}")
    if spec.module is not None:
        print(f"  module:      losslab.{spec.module.__name__}")
    print(f"  reference:   {spec.reference}")
    if spec.advice:
        print(f"  advice:      {spec.advice}")
    print(f"\n  losslab.{spec.name}{sig}")
    if args_section:
        print("\n  arguments:")
        for line in args_section:
            print(f"    {line}")
    return 0


def _docstring_section(doc: str, title: str) -> list[str]:
    lines = doc.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if line.strip() == f"{title}:":
            inside = True
            continue
        if inside:
            if line and not line.startswith(" "):
                break
            out.append(line.strip() if not line.startswith("        ") else "  " + line.strip())
    while out and not out[-1]:
        out.pop()
    return out


# ---------------------------------------------------------------------------------------------------------------
# plot


def _cmd_plot(args: argparse.Namespace) -> int:
    from . import plot as plotting

    for name in args.names:
        if name in plotting.SPECIAL:
            continue
        try:
            registry.get(name)
        except KeyError as e:
            print(e.args[0], file=sys.stderr)
            return 2
    try:
        path = plotting.plot(args.names, target=args.target, out=args.out)
    except ValueError as e:
        print(f"losslab plot: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


# ---------------------------------------------------------------------------------------------------------------
# recommend

RECOMMEND_TASKS = tuple(t for t in registry.TASKS if t not in ("imbalanced", "noisy-labels"))

# The rules table: for a task (and the flags that apply), losses in order of preference with the reason.
# ``when`` is a set of flags that must all be given; entries for unregistered losses are skipped.
_RULES: dict[str, list[tuple[frozenset[str], str, str]]] = {
    "single-label": [
        (frozenset({"noisy"}), "bi_tempered_logistic_loss",
         "bounded for t1 < 1 and heavy-tailed for t2 > 1, so mislabeled examples cannot dominate the gradient"),
        (frozenset({"imbalanced"}), "softmax_focal_loss",
         "down-weights the many easy examples so the rare classes keep receiving gradient"),
        (frozenset(), "softmax_cross_entropy",
         "the default for one label per example: softmax + cross-entropy computed from logits, fused and stable"),
        (frozenset(), "categorical_cross_entropy",
         "the same loss when the network already ends in a softmax (probabilities in, clipped like Keras)"),
        (frozenset({"noisy"}), "softmax_cross_entropy",
         "with label_smoothing=0.1 it also softens the pull of wrong labels"),
    ],
    "multi-label": [
        (frozenset({"noisy"}), "bi_tempered_binary_logistic_loss",
         "the binary bi-tempered loss: bounded, so noisy positive/negative labels pull less"),
        (frozenset({"imbalanced"}), "sigmoid_focal_loss",
         "each label is its own yes/no question and most answers are an easy 'no'; focal keeps those from dominating"),
        (frozenset(), "sigmoid_binary_cross_entropy",
         "the default: one independent sigmoid per label, cross-entropy from logits; soft targets allowed"),
        (frozenset(), "binary_cross_entropy",
         "the same loss when the network already ends in sigmoids (probabilities in)"),
        (frozenset(), "squared_hinge_loss",
         "a margin loss for yes/no decisions when calibrated probabilities do not matter (targets in {-1, 1})"),
        (frozenset(), "hinge_loss", "the plain margin loss; sparser gradients than the squared hinge"),
    ],
    "regression": [
        (frozenset({"outliers"}), "huber_loss",
         "quadratic for small residuals, linear beyond delta: outliers count, but only linearly"),
        (frozenset({"outliers"}), "mae_loss",
         "every unit of error costs the same, so outliers weigh little; estimates the conditional median"),
        (frozenset({"outliers"}), "log_cosh_loss", "a smooth Huber-like loss without a delta to tune"),
        (frozenset(), "mse_loss",
         "the default when the noise around the target is roughly Gaussian; large errors weigh quadratically"),
        (frozenset(), "msle_loss",
         "for non-negative targets that span orders of magnitude: penalizes ratios, and under-prediction more"),
        (frozenset(), "huber_loss", "a safe middle ground if you are unsure about outliers"),
        (frozenset(), "mae_loss", "robust to outliers; in image reconstruction, less blurry than MSE"),
        (frozenset(), "smooth_l1_loss", "Huber's shape with a quadratic zone of width beta (Fast R-CNN)"),
    ],
    "counts": [
        (frozenset(), "poisson_loss",
         "the negative log-likelihood of a Poisson rate: the natural loss for event counts"),
        (frozenset({"outliers"}), "huber_loss", "if a few huge counts should not drive the fit"),
        (frozenset(), "msle_loss", "if the counts span orders of magnitude and relative error is what matters"),
    ],
    "segmentation": [
        (frozenset({"imbalanced"}), "generalized_dice_loss",
         "region overlap with each class weighted by 1/volume^2, so a tiny foreground counts as much as the rest"),
        (frozenset({"imbalanced"}), "boundary_loss",
         "adds a distance-to-contour term (with a regional loss, on a rebalancing schedule) for very small structures"),
        (frozenset(), "softmax_cross_entropy", "per-pixel cross-entropy: the stable default to start from"),
        (frozenset(), "dice_loss", "optimizes region overlap directly; robust to foreground/background imbalance"),
        (frozenset(), "generalized_dice_loss", "Dice with class weights; for several classes of different sizes"),
        (frozenset(), "image_gradient_loss",
         "added to cross-entropy it sharpens thin structures and edges (matches the image gradients)"),
        (frozenset(), "sigmoid_binary_cross_entropy", "per-pixel binary cross-entropy for binary masks"),
    ],
    "detection": [
        (frozenset(), "sigmoid_focal_loss",
         "the classification head of a dense detector: tens of thousands of easy background anchors per image"),
        (frozenset({"imbalanced"}), "iou_balanced_sigmoid_focal_loss",
         "weights positives by their IoU, so well-localized anchors score higher"),
        (frozenset(), "complete_box_iou_loss",
         "box regression: overlap, centre distance and aspect ratio in one loss; converges fastest"),
        (frozenset(), "distance_box_iou_loss", "box regression: IoU plus the normalized centre distance"),
        (frozenset(), "generalized_box_iou_loss", "box regression: IoU that still has a gradient for disjoint boxes"),
        (frozenset(), "iou_loss", "box regression on the overlap itself; no gradient when boxes do not overlap"),
        (frozenset(), "smooth_l1_loss", "box regression on coordinates (Fast R-CNN); scale-dependent"),
    ],
    "gan": [
        (frozenset(), "non_saturating_generator_loss",
         "the usual generator loss: strong gradients early, when the discriminator wins easily"),
        (frozenset(), "minimax_discriminator_loss", "the standard discriminator loss (binary cross-entropy)"),
        (frozenset(), "hinge_discriminator_loss", "hinge GAN (used by SAGAN/BigGAN); pair with hinge_generator_loss"),
        (frozenset(), "hinge_generator_loss", "the generator side of the hinge GAN"),
        (frozenset(), "wasserstein_critic_loss", "WGAN critic; needs a gradient penalty (gradient_penalty)"),
        (frozenset(), "wasserstein_generator_loss", "the generator side of WGAN"),
        (frozenset(), "least_squares_discriminator_loss", "LSGAN: squared-error targets, smoother gradients"),
        (frozenset(), "least_squares_generator_loss", "the generator side of LSGAN"),
    ],
    "image-transformation": [
        (frozenset(), "feature_reconstruction_loss",
         "compares deep features (VGG16) rather than pixels: sharper results than per-pixel losses"),
        (frozenset(), "style_loss", "matches Gram matrices of features: texture and style transfer"),
        (frozenset(), "total_variation_loss", "a small smoothness prior that removes high-frequency artefacts"),
        (frozenset(), "mae_loss", "a per-pixel term: less blurry than MSE"),
        (frozenset(), "mse_loss", "the per-pixel baseline (PSNR); tends to blur"),
    ],
}

# What each activation outputs, for the fit check.
ACTIVATIONS = {
    "softmax": "probabilities over classes that sum to 1",
    "sigmoid": "values in (0, 1)",
    "tanh": "values in [-1, 1]",
    "linear": "any real value",
    "relu": "values in [0, inf)",
    "softplus": "values in (0, inf)",
    "exp": "values in (0, inf)",
}
_ACTIVATION_ALIASES = {"none": "linear", "identity": "linear", "logits": "linear", "exponential": "exp"}


def _wants(spec: registry.LossSpec) -> str:
    """The activation a loss expects before it: softmax, sigmoid, tanh, positive, or linear."""
    a = spec.activation.lower()
    for key in ("softmax", "sigmoid", "tanh"):
        if key in a and spec.input_kind == "probabilities":
            return key
    if spec.input_kind == "probabilities":
        return "softmax" if "categorical" in spec.name else "sigmoid"
    if "tanh" in a:
        return "tanh"
    if any(k in a for k in ("exp", "softplus", "positive")):
        return "positive"
    return "linear"


def _human(name: str) -> str:
    return name.replace("cross_entropy", "cross-entropy").replace("_", " ")


def activation_warning(spec: registry.LossSpec, activation: str) -> str | None:
    """A one-line warning when ``activation`` does not fit what ``spec`` expects, else ``None``."""
    act = _ACTIVATION_ALIASES.get(activation, activation)
    wants = _wants(spec)
    name = _human(spec.name)
    if wants == "softmax" and act != "softmax":
        return f"{act} outputs lie in {_range(act)}; {name} needs softmax probabilities"
    if wants == "sigmoid" and act not in ("sigmoid",):
        if act == "softmax":
            return f"softmax couples the outputs (they sum to 1); {name} needs an independent sigmoid per output"
        return f"{act} outputs lie in {_range(act)}; {name} needs sigmoid probabilities in (0, 1)"
    if wants == "linear" and spec.input_kind in ("logits", "activations") and act in ("softmax", "sigmoid"):
        return (f"{name} takes raw scores (logits) and applies its own link; a {act} before it squashes them "
                f"twice — use a linear output layer")
    if wants == "linear" and spec.input_kind in ("logits", "activations") and act != "linear":
        return (f"{act} outputs lie in {_range(act)}; {name} needs unbounded raw scores (logits), so its loss "
                f"cannot approach 0 — use a linear output layer")
    if wants == "linear" and spec.input_kind == "real values" and act in ("sigmoid", "tanh", "softmax"):
        return f"{act} outputs lie in {_range(act)}; {name} can only fit targets inside that range (rescale them)"
    if wants == "tanh" and act in ("sigmoid", "softmax", "relu", "softplus", "exp"):
        return f"{act} outputs lie in {_range(act)}; {name} expects signed scores (targets in {{-1, 1}}), e.g. tanh"
    if wants == "positive" and act in ("linear", "tanh"):
        return f"{act} outputs can be negative; {name} needs positive predictions (use exp or softplus)"
    return None


def _range(act: str) -> str:
    return {"softmax": "[0, 1] and sum to 1", "sigmoid": "(0, 1)", "tanh": "[-1, 1]", "linear": "(-inf, inf)",
            "relu": "[0, inf)", "softplus": "(0, inf)", "exp": "(0, inf)"}.get(act, "an unknown range")


def recommend(
    task: str, *, imbalanced: bool = False, noisy_labels: bool = False, outliers: bool = False
) -> list[tuple[registry.LossSpec, str]]:
    """Ranked ``(spec, reason)`` for a task: the rules table first, then any other registered loss for the task."""
    flags = {f for f, on in (("imbalanced", imbalanced), ("noisy", noisy_labels), ("outliers", outliers)) if on}
    known = {s.name: s for s in registry.all_specs()}
    ranked: list[tuple[registry.LossSpec, str]] = []
    seen: set[str] = set()
    rules = _RULES.get(task, [])
    # flagged rules first (in table order), then the unconditional ones
    for pass_flagged in (True, False):
        for when, name, reason in rules:
            if bool(when) != pass_flagged or not when <= flags or name not in known or name in seen:
                continue
            ranked.append((known[name], reason))
            seen.add(name)
    extra_tasks = {task} | ({"imbalanced"} if imbalanced else set()) | ({"noisy-labels"} if noisy_labels else set())
    for spec in known.values():
        if spec.name in seen or task not in spec.tasks:
            continue
        reason = spec.summary
        if extra_tasks & set(spec.tasks) - {task}:
            reason += " (suited to " + ", ".join(sorted(extra_tasks & set(spec.tasks) - {task})) + ")"
        ranked.append((spec, reason))
        seen.add(spec.name)
    return ranked


def _cmd_recommend(args: argparse.Namespace) -> int:
    ranked = recommend(args.task, imbalanced=args.imbalanced, noisy_labels=args.noisy_labels, outliers=args.outliers)
    flags = [f for f, on in (("imbalanced", args.imbalanced), ("noisy labels", args.noisy_labels),
                             ("outliers", args.outliers)) if on]
    print(f"task: {args.task}" + (f" ({', '.join(flags)})" if flags else ""))
    if not ranked:
        print("  no registered loss covers this task yet; `losslab list` shows what is installed")
        return 1
    activation = args.activation.lower() if args.activation else None
    if activation is not None:
        activation = _ACTIVATION_ALIASES.get(activation, activation)
        if activation not in ACTIVATIONS:
            print(f"unknown activation {args.activation!r}; expected one of {sorted(ACTIVATIONS)}", file=sys.stderr)
            return 2
    for i, (spec, reason) in enumerate(ranked, 1):
        print(f"{i:>2}. {spec.name:<34} {reason}")
        print(f"    {'':<34} pairs with: {spec.activation}")
        if activation is not None:
            warning = activation_warning(spec, activation)
            if warning:
                print(f"    {'':<34} warning: {warning}")
    if activation is not None:
        top = activation_warning(ranked[0][0], activation)
        if top:
            print(f"\nwarning: {top}")
            fits = next((i for i, (s, _) in enumerate(ranked, 1) if activation_warning(s, activation) is None), None)
            if fits is not None:
                print(f"with a {activation} output, {ranked[fits - 1][0].name} (#{fits}) fits as it is")
    return 0


# ---------------------------------------------------------------------------------------------------------------
# reproduce


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .experiments import available
    from .experiments.runner import default_jobs, reproduce

    known = available()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        import difflib

        for n in unknown:
            close = difflib.get_close_matches(n, list(known), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {sorted(known)}"
            print(f"unknown experiment {n!r}{hint}", file=sys.stderr)
        return 2
    if not known:
        print("no experiments are installed", file=sys.stderr)
        return 2
    jobs = args.jobs or default_jobs()
    names = args.names or list(known)
    print(f"losslab reproduce: {len(names)} experiment(s), profile {args.profile}, seed {args.seed}, "
          f"{jobs} job(s) -> {args.out}", file=sys.stderr)
    results = reproduce(names, profile=args.profile, seed=args.seed, out_dir=args.out, jobs=jobs,
                        show_progress=not args.no_progress)
    records = results["experiments"]
    width = max(len(n) for n in records)
    for name, r in records.items():
        state = "ERROR" if r.get("error") else ("holds" if r["holds"] else "does not hold")
        print(f"{name:<{width}}  {state:<13}  {r['seconds']:6.1f} s")
    out = Path(args.out)
    print(f"total {results['total_seconds']:.1f} s")
    print(f"report: {(out / 'report.html').resolve()}")
    failed = [n for n, r in records.items() if r.get("error")]
    if failed:
        print(f"{len(failed)} experiment(s) failed: {', '.join(failed)} (see results.json)", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="losslab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="table of every loss in the catalogue")
    p.add_argument("--task", choices=registry.TASKS, help="only losses for this task")
    p.add_argument("--family", help="only losses of this family (module)")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="formula, arguments, paper and activation of one loss")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "plot",
        help="draw losses against the prediction for a fixed target (or the plates 'tempered', 'bce-soft')",
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="registered losses, or 'tempered' / 'bce-soft'")
    p.add_argument("--target", type=float, default=None, help="the fixed target (default 1 for classification, 0 else)")
    p.add_argument("--out", default=None, help="PNG to write (default NAME.png or losses.png)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("recommend", help="ranked losses for a task, with reasons and an activation check")
    p.add_argument("--task", required=True, choices=RECOMMEND_TASKS)
    p.add_argument("--imbalanced", action="store_true", help="rare classes / mostly background")
    p.add_argument("--noisy-labels", action="store_true", help="a share of the labels is wrong")
    p.add_argument("--outliers", action="store_true", help="targets contain outliers")
    p.add_argument("--activation", help=f"the network's last activation ({', '.join(ACTIVATIONS)})")
    p.set_defaults(func=_cmd_recommend)

    p = sub.add_parser("reproduce", help="run the experiments and write the report (results.json, report.md/html)")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all)")
    p.add_argument("--profile", choices=("smoke", "quick", "full"), default="quick")
    p.add_argument("--out", default="report", help="report folder (default: report)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=None, help="parallel single-threaded jobs (default: cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``losslab`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
