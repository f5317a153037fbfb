"""Seeded synthetic data for offline runs: a small English corpus and GLUE-format task folders in the Hub layout.

Everything comes from one small grammar (templates x word lists), so a tokenizer trained on the corpus covers
the tasks, and every task carries a real, learnable signal:

| task | columns | signal |
|---|---|---|
| sst2 | sentence, label | positive vs negative opinion words (a few flipped by `not`) |
| mrpc | sentence1, sentence2, label | paraphrase (synonyms, passive voice) vs the same frame with a changed participant |
| cola | sentence, label | grammatical sentence vs scrambled word order, broken agreement or a dropped word |
| stsb | sentence1, sentence2, label (float 0-5) | 5 x the fraction of content slots kept (synonyms keep meaning) |
| mnli | premise, hypothesis, label | entailment (generalisation) / neutral (added detail) / contradiction (negation, antonym) |

Folders follow `nyu-mll/glue`: `<dir>/<task>/<split>-00000-of-00001.parquet` with an `idx` column; test
splits carry label -1, as on the Hub.
"""

from __future__ import annotations

import json
import logging
import random
import zlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

# Word lists: content slots of the templates. Synonym pairs keep meaning for paraphrases and STS-B.
PEOPLE = (
    "farmer teacher doctor sailor painter baker student writer soldier singer pilot nurse lawyer "
    "driver gardener fisherman merchant scientist dancer hunter"
).split()
ANIMALS = "dog cat horse bird fox rabbit goat wolf bear deer owl mouse".split()
OBJECTS = (
    "basket letter book lamp rope box bottle coat map key ladder bucket drum kite violin hammer blanket wagon"
).split()
PLACES = (
    "market garden village harbor forest library kitchen station school river field church castle "
    "bridge valley"
).split()
ADJECTIVES = "old young tall quiet busy tired clever brave gentle proud".split()
COLORS = "red blue green yellow brown white black grey".split()
VERBS_PAST = {  # past tense -> participle, for the passive voice
    "carried": "carried",
    "painted": "painted",
    "found": "found",
    "sold": "sold",
    "repaired": "repaired",
    "cleaned": "cleaned",
    "opened": "opened",
    "moved": "moved",
    "bought": "bought",
    "dropped": "dropped",
    "washed": "washed",
    "hid": "hidden",
}
SYNONYMS = {
    "carried": "took",
    "found": "discovered",
    "repaired": "fixed",
    "bought": "purchased",
    "cleaned": "washed",
    "big": "large",
    "small": "little",
    "quiet": "silent",
    "tired": "weary",
    "clever": "smart",
    "brave": "bold",
    "market": "bazaar",
    "village": "town",
    "forest": "woods",
    "harbor": "port",
    "box": "crate",
    "coat": "jacket",
    "doctor": "physician",
    "student": "pupil",
}
ANTONYMS = {
    "old": "young",
    "young": "old",
    "tall": "short",
    "quiet": "loud",
    "busy": "idle",
    "tired": "rested",
}
POSITIVE = (
    "wonderful brilliant delightful moving charming superb beautiful gripping funny warm clever "
    "heartfelt memorable stunning excellent"
).split()
NEGATIVE = (
    "dull tedious boring clumsy awful bland painful shallow forgettable messy lifeless tiresome "
    "predictable weak dreadful"
).split()
FILM_NOUNS = "film movie story script plot cast ending soundtrack performance picture".split()
# Varied determiners keep "the" from being every sentence's most frequent word (the token probe's target).
DETERMINERS = ("the", "the", "this", "that", "his", "her", "our", "their", "my")
INTENSIFIERS = ("", "", "truly ", "very ", "quite ", "remarkably ", "rather ")
REASONS = (
    "because it was late",
    "before the storm came",
    "after a long day",
    "for a friend",
    "without saying a word",
    "while the others slept",
    "as the sun went down",
)
NOISE_TOPICS = (
    "the weather in the {place} was cold and the roads were wet",
    "every morning the {person} walked to the {place}",
    "the {animal} slept near the {object} all afternoon",
    "people in the {place} talked about the {adj} {person}",
    "a {color} {object} stood beside the door of the {place}",
    "the {person} and the {animal} waited by the {place}",
    "in the evening the {place} was {adj} and calm",
)

TASK_SPLITS: dict[str, tuple[str, ...]] = {
    "sst2": ("train", "validation", "test"),
    "mrpc": ("train", "validation", "test"),
    "cola": ("train", "validation", "test"),
    "stsb": ("train", "validation", "test"),
    "mnli": ("train", "validation_matched", "validation_mismatched", "test_matched", "test_mismatched"),
}
DEFAULT_SIZES = {"train": 600, "validation": 240, "test": 60}
MARKER_NAME = "synthetic.json"


def _rng(seed: int, name: str) -> random.Random:
    """An independent stream per (seed, name), so one task's size never shifts another's examples."""
    return random.Random(seed * 1_000_003 + zlib.crc32(name.encode()))


def _syn(word: str, rng: random.Random, p: float = 0.7) -> str:
    """The word's synonym with probability `p`, if it has one."""
    return SYNONYMS[word] if word in SYNONYMS and rng.random() < p else word


def _event(rng: random.Random) -> dict[str, str]:
    """The slots of one event: who did what to which object, where."""
    return {
        "adj": rng.choice(ADJECTIVES),
        "subj": rng.choice(PEOPLE),
        "verb": rng.choice(list(VERBS_PAST)),
        "color": rng.choice(COLORS),
        "obj": rng.choice(OBJECTS),
        "place": rng.choice(PLACES),
        "ds": rng.choice(DETERMINERS),
        "do": rng.choice(DETERMINERS),
        "dp": rng.choice(DETERMINERS),
    }


def _active(e: dict[str, str]) -> str:
    return f"{e['ds']} {e['adj']} {e['subj']} {e['verb']} {e['do']} {e['color']} {e['obj']} in {e['dp']} {e['place']}"


def _passive(e: dict[str, str]) -> str:
    participle = VERBS_PAST.get(e["verb"], e["verb"])
    return f"{e['do']} {e['color']} {e['obj']} was {participle} by {e['ds']} {e['adj']} {e['subj']} in {e['dp']} {e['place']}"


def review_sentence(rng: random.Random, positive: bool) -> str:
    """One opinion about a film, built from opinion words of one polarity."""
    words = POSITIVE if positive else NEGATIVE
    noun, adj, intens = rng.choice(FILM_NOUNS), rng.choice(words), rng.choice(INTENSIFIERS)
    det = rng.choice(DETERMINERS)
    templates = (
        f"{det} {noun} was {intens}{adj}",
        f"a {intens}{adj} {noun} about a {rng.choice(PEOPLE)} in the {rng.choice(PLACES)}",
        f"i found {det} {noun} {intens}{adj} and {rng.choice(words)}",
        f"what a {adj} {noun}",
        f"the {rng.choice(FILM_NOUNS)} is {adj} and the {noun} is {rng.choice(words)}",
        f"it is a {adj} {noun} with a {rng.choice(words)} {rng.choice(FILM_NOUNS)}",
    )
    return rng.choice(templates)


def corpus_document(rng: random.Random) -> str:
    """A paragraph of 4-9 sentences mixing events, reviews and descriptions."""
    sentences = []
    for _ in range(rng.randint(4, 9)):
        kind = rng.random()
        if kind < 0.35:
            e = _event(rng)
            sentence = _active(e) if rng.random() < 0.7 else _passive(e)
            if rng.random() < 0.3:
                sentence += " " + rng.choice(REASONS)
        elif kind < 0.6:
            sentence = review_sentence(rng, rng.random() < 0.5)
        else:
            sentence = rng.choice(NOISE_TOPICS).format(
                place=rng.choice(PLACES),
                person=_syn(rng.choice(PEOPLE), rng, 0.3),
                animal=rng.choice(ANIMALS),
                object=rng.choice(OBJECTS),
                adj=rng.choice(ADJECTIVES),
                color=rng.choice(COLORS),
            )
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(sentences)


def generate_corpus(num_documents: int = 3000, seed: int = 0) -> list[str]:
    """`num_documents` seeded paragraphs of synthetic English (one document each)."""
    if num_documents < 1:
        raise ValueError(f"num_documents={num_documents} is not valid; accepted values: an integer >= 1")
    rng = _rng(seed, "corpus")
    return [corpus_document(rng) for _ in range(num_documents)]


def write_corpus(path: str | Path, num_documents: int = 3000, seed: int = 0) -> Path:
    """Write `generate_corpus` as a JSON-lines file with a `text` column; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for text in generate_corpus(num_documents, seed):
            f.write(json.dumps({"text": text}) + "\n")
    return path


def sst2_example(rng: random.Random) -> dict:
    """A film review; label 1 positive, 0 negative. One in eight is negated (`not` flips the polarity)."""
    label = rng.random() < 0.55
    if rng.random() < 0.125:
        noun = rng.choice(FILM_NOUNS)
        adj = rng.choice(NEGATIVE if label else POSITIVE)
        return {"sentence": f"{rng.choice(DETERMINERS)} {noun} was not {adj}", "label": int(label)}
    return {"sentence": review_sentence(rng, label), "label": int(label)}


def mrpc_example(rng: random.Random) -> dict:
    """Label 1: the same event reworded (synonyms, passive voice); 0: the same frame, a participant changed."""
    e = _event(rng)
    first = _active(e)
    if rng.random() < 0.66:
        reworded = {k: _syn(v, rng) for k, v in e.items()}
        # The passive keeps the original verb: its participle is known.
        second = _passive({**reworded, "verb": e["verb"]}) if rng.random() < 0.5 else _active(reworded)
        return {"sentence1": first, "sentence2": second, "label": 1}
    changed = dict(e)
    for slot in rng.sample(["subj", "obj", "place", "verb"], k=rng.randint(1, 2)):
        pool = {"subj": PEOPLE, "obj": OBJECTS, "place": PLACES, "verb": list(VERBS_PAST)}[slot]
        changed[slot] = rng.choice([w for w in pool if w != e[slot]])
    second = _active(changed) if rng.random() < 0.5 else _passive(changed)
    return {"sentence1": first, "sentence2": second, "label": 0}


def _corrupt(words: list[str], rng: random.Random) -> list[str]:
    """An ungrammatical variant: scrambled order, a broken agreement, or a dropped function word."""
    kind = rng.random()
    if kind < 0.5:
        out = words[:]
        while out == words:
            rng.shuffle(out)
        return out
    if kind < 0.75:
        i = next((j for j, w in enumerate(words) if w in ("was", "is")), None)
        if i is not None:
            return [*words[:i], "were" if words[i] == "was" else "are", *words[i + 1 :]]
    drop = [j for j, w in enumerate(words) if w in ("in", "by", "a", *DETERMINERS)]
    i = rng.choice(drop) if drop else 0
    return words[:i] + words[i + 1 :] + [words[i]] if rng.random() < 0.5 else words[:i] + words[i + 1 :]


def cola_example(rng: random.Random) -> dict:
    """Label 1: a grammatical sentence of the grammar; 0: a corrupted one (about 30 %, as in CoLA)."""
    e = _event(rng)
    sentence = rng.choice((_active(e), _passive(e), review_sentence(rng, rng.random() < 0.5)))
    if rng.random() < 0.3:
        return {"sentence": " ".join(_corrupt(sentence.split(), rng)), "label": 0}
    return {"sentence": sentence, "label": 1}


def stsb_example(rng: random.Random) -> dict:
    """Score `5 (1 - k / 6)` (+ noise, clipped to [0, 5]) when k of the 6 content slots are replaced."""
    e = _event(rng)
    k = rng.randint(0, 6)
    changed = {slot: _syn(v, rng, 0.5) for slot, v in e.items()}
    pools = {
        "adj": ADJECTIVES,
        "subj": PEOPLE,
        "verb": list(VERBS_PAST),
        "color": COLORS,
        "obj": OBJECTS,
        "place": PLACES,
    }
    for slot in rng.sample(list(pools), k=k):
        changed[slot] = rng.choice([w for w in pools[slot] if w != e[slot]])
    score = min(5.0, max(0.0, 5.0 * (1 - k / 6) + rng.gauss(0.0, 0.3)))
    second = (
        _active(changed) if rng.random() < 0.7 or changed["verb"] not in VERBS_PAST else _passive(changed)
    )
    return {"sentence1": _active(e), "sentence2": second, "label": round(score, 2)}


def mnli_example(rng: random.Random) -> dict:
    """Label 0 entailment (a generalisation), 1 neutral (an unsupported detail), 2 contradiction."""
    e = _event(rng)
    premise = _active(e)
    label = rng.randrange(3)
    if label == 0:
        hypothesis = rng.choice(
            (
                f"a {e['subj']} {e['verb']} something",
                f"someone was in the {e['place']}",
                f"the {e['obj']} was {VERBS_PAST[e['verb']]}",
                f"a person {e['verb']} a {e['obj']}",
            )
        )
    elif label == 1:
        hypothesis = rng.choice(
            (
                f"the {e['subj']} {e['verb']} the {e['obj']} {rng.choice(REASONS)}",
                f"the {e['subj']} is {rng.choice([a for a in ADJECTIVES if a != e['adj']])}",
                f"the {e['subj']} owned a {rng.choice(ANIMALS)}",
                f"the {e['place']} was {rng.choice(ADJECTIVES)}",
            )
        )
    else:
        opposite = ANTONYMS.get(e["adj"])
        options = [
            f"the {e['subj']} did not touch the {e['obj']}",
            f"nobody was in the {e['place']}",
            f"the {e['obj']} was never {VERBS_PAST[e['verb']]}",
        ]
        if opposite:
            options.append(f"the {e['subj']} was {opposite}")
        hypothesis = rng.choice(options)
    return {"premise": premise, "hypothesis": hypothesis, "label": label}


TASK_GENERATORS: dict[str, Callable[[random.Random], dict]] = {
    "sst2": sst2_example,
    "mrpc": mrpc_example,
    "cola": cola_example,
    "stsb": stsb_example,
    "mnli": mnli_example,
}


def generate_task_split(task: str, split: str, size: int, seed: int = 0) -> pd.DataFrame:
    """`size` seeded examples of one split, with the `nyu-mll/glue` columns plus `idx`.

    Labels are int64 (float32 for stsb); test splits carry label -1, as on the Hub.

    Raises:
        ValueError: an unknown task or split (naming the valid ones).
    """
    if task not in TASK_GENERATORS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASK_GENERATORS)}")
    if split not in TASK_SPLITS[task]:
        raise ValueError(
            f"unknown split {split!r} of task {task!r}; valid splits: {', '.join(TASK_SPLITS[task])}"
        )
    rng = _rng(seed, f"{task}/{split}")
    frame = pd.DataFrame([TASK_GENERATORS[task](rng) for _ in range(size)])
    if split.startswith("test"):
        frame["label"] = -1
    frame["label"] = frame["label"].astype("float32" if task == "stsb" else "int64")
    frame["idx"] = range(size)
    return frame.astype({"idx": "int32"})


def write_glue(
    output_dir: str | Path,
    tasks: tuple[str, ...] | list[str] = tuple(TASK_GENERATORS),
    sizes: dict[str, int] | None = None,
    seed: int = 0,
) -> Path:
    """Write GLUE-format task folders in the Hub layout (`<task>/<split>-00000-of-00001.parquet`).

    Args:
        sizes: rows per split kind, keys `train`, `validation`, `test` (MNLI's `validation_matched` etc.
            take the size of their prefix); defaults to `DEFAULT_SIZES`.

    Returns:
        `output_dir`, which also receives `synthetic.json` describing how it was made.
    """
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    unknown = sorted(set(sizes) - set(DEFAULT_SIZES))
    if unknown:
        raise ValueError(f"unknown split kinds {unknown} in sizes; accepted keys: {', '.join(DEFAULT_SIZES)}")
    bad = [t for t in tasks if t not in TASK_GENERATORS]
    if bad:
        raise ValueError(f"unknown tasks {bad}; valid tasks: {', '.join(TASK_GENERATORS)}")
    output_dir = Path(output_dir)
    for task in tasks:
        folder = output_dir / task
        folder.mkdir(parents=True, exist_ok=True)
        for split in TASK_SPLITS[task]:
            kind = split.split("_")[0]
            generate_task_split(task, split, sizes[kind], seed).to_parquet(
                folder / f"{split}-00000-of-00001.parquet", index=False
            )
    marker = {"generator": __name__, "seed": seed, "tasks": list(tasks), "sizes": sizes}
    (output_dir / MARKER_NAME).write_text(json.dumps(marker, indent=2))
    logger.info("wrote synthetic GLUE tasks %s to %s", list(tasks), output_dir)
    return output_dir


__all__ = [
    "TASK_GENERATORS",
    "TASK_SPLITS",
    "generate_corpus",
    "generate_task_split",
    "write_corpus",
    "write_glue",
]
