"""A seeded generator of multi-document QA about fictional places: needs no files, so it is the default data.

Each sample asks about one invented town; its gold document states the answer, every distractor describes
another invented town and never contains the answer string.
"""

from __future__ import annotations

import random

from focus_interp.errors import FocusInterpError

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr", "st", "tr"]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou"]
_CODAS = ["", "n", "r", "l", "s", "th", "m", "nd", "rk"]
_TOWN_ENDINGS = ["ora", "heim", "ford", "wick", "mar", "ven", "dale", "stead"]
_REGIONS = ["northern", "southern", "eastern", "western", "central", "coastal", "highland", "lowland"]
_PRODUCTS = ["copper", "wool", "salt", "glass", "amber", "cider", "timber", "silk", "pottery", "cheese", "lace", "honey"]
_RELATIONS = {
    "founder": ("Who founded the town of {town}?", "{town} is a small town in the {region} hills. It was founded by {founder} in {year}."),
    "year": ("In what year was {town} founded?", "{town} is a market town on the {region} plain, founded in {year} by {founder}."),
    "product": ("What is {town} known for?", "{town} is a village in the {region} valleys. It is known for its {product}, which has been traded there since {year}."),
    "river": ("Which river flows through {town}?", "{town} is a harbour town in the {region} lowlands. The river {river} flows through it on its way to the sea."),
}


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)).capitalize()


def _town(rng: random.Random) -> dict:
    """One invented town with every attribute a question can ask about."""
    return {
        "town": _word(rng, 1) + rng.choice(_TOWN_ENDINGS),
        "founder": f"{_word(rng, 2)} {_word(rng, 2)}",
        "year": str(rng.randint(1100, 1899)),
        "product": rng.choice(_PRODUCTS),
        "river": _word(rng, 2),
        "region": rng.choice(_REGIONS),
    }


def synthetic_multidoc_qa(
    n: int, n_documents: int = 20, gold_position: int = 1, seed: int = 0
) -> list[dict]:
    """``n`` samples: ``question``, ``answers``, ``documents`` (``title``, ``text``, ``is_gold``), ``gold_position``.

    ``gold_position`` is 1-based. The same seed always gives the same samples, and sample ``i`` is the same
    whatever ``n`` (one generator drawn from in order) and whatever ``gold_position`` (it only moves the gold).
    """
    if not 1 <= gold_position <= n_documents:
        raise FocusInterpError(f"gold_position {gold_position} must be between 1 and n_documents {n_documents}")
    rng = random.Random(seed)
    samples = []
    for _ in range(n):
        relation = rng.choice(sorted(_RELATIONS))
        question_template, document_template = _RELATIONS[relation]
        gold = _town(rng)
        answer = gold[relation]
        distractors = []
        while len(distractors) < n_documents - 1:
            other = _town(rng)
            text = _RELATIONS[rng.choice(sorted(_RELATIONS))][1].format(**other)
            if answer.lower() not in text.lower() and other["town"] != gold["town"]:
                distractors.append({"title": other["town"], "text": text, "is_gold": False})
        documents = distractors[: gold_position - 1]
        documents.append({"title": gold["town"], "text": document_template.format(**gold), "is_gold": True})
        documents += distractors[gold_position - 1 :]
        samples.append(
            {
                "question": question_template.format(**gold),
                "answers": [answer],
                "documents": documents,
                "gold_position": gold_position,
            }
        )
    return samples
