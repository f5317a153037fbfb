"""The probe's protocols, one table: which poolings, how pairs are encoded, how the linear probes are fitted."""

from __future__ import annotations

from dataclasses import dataclass

from ..files import lookup


@dataclass(frozen=True)
class ProbeConfig:
    """How the linear probes are fitted.

    Attributes:
        standardize: z-score features with the train statistics (the standard protocol) or not (paper).
        cs: inverse regularisation strengths searched by stratified CV on train; one value means no search.
        alphas: ridge penalties searched by efficient leave-one-out CV (regression and bag-of-words probes).
        cv_folds: folds of the C search.
        max_iter: lbfgs iterations.
    """

    standardize: bool = True
    cs: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
    alphas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    cv_folds: int = 3
    max_iter: int = 1000


@dataclass(frozen=True)
class Protocol:
    """One way of probing.

    Attributes:
        name: the `--protocol` value.
        poolings: the default poolings (names of `probing.PROBE_POOLERS`).
        siamese: encode the two sentences of a pair apart (probe features `[u, v, |u-v|, u*v]`); False encodes
            a pair as one sequence `[CLS] a [SEP] b [SEP]`.
        probe: how the probes are fitted.
        note: what the protocol does, for the report.
    """

    name: str
    poolings: tuple[str, ...]
    siamese: bool
    probe: ProbeConfig
    note: str


PROTOCOLS: dict[str, Protocol] = {
    "standard": Protocol(
        "standard",
        ("mean", "max", "cls", "first_last_mean"),
        siamese=True,
        probe=ProbeConfig(),
        note="Siamese pairs (each sentence encoded alone, probe features `[u, v, |u-v|, u*v]`), "
        "standardised features, logistic regression with C chosen by 3-fold CV on the train sample (ridge with "
        "alpha by leave-one-out CV for regression tasks), scored once on the eval sample; lexical probes read "
        "the first sentence; the balance is measured on sentence-pair regression tasks (STS-B).",
    ),
    "paper": Protocol(
        "paper",
        ("mean", "max", "weighted", "attention"),
        siamese=False,
        # The paper's probe: raw features, scikit-learn's default logistic regression (C = 1) without search.
        probe=ProbeConfig(standardize=False, cs=(1.0,), alphas=(1.0,)),
        note="The paper's definitions: a pair is encoded as one sequence `[CLS] a [SEP] b [SEP]`; poolings "
        "mean, max, weighted (= mean) and attention (a seeded random query); probes on raw features with "
        "scikit-learn's default C = 1 (ridge alpha = 1 for regression tasks); the balance is the probe gap. The "
        "paper's exact example subsets are not published with its numbers: this run uses the same seeded "
        "train/eval samples as the standard protocol (`--max_train_samples`, `--max_eval_samples`).",
    ),
}


def get_protocol(name: str) -> Protocol:
    """Look up a protocol.

    Raises:
        ValueError: naming the unknown protocol and listing the valid ones.
    """
    return lookup(PROTOCOLS, name, "protocol")
