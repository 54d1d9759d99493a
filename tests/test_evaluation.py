"""Greedy generation under interventions."""

from __future__ import annotations

import torch

from focus_interp import build_prompt
from focus_interp.data import gold_segment, load_multidoc_qa, long_parts
from focus_interp.evaluation import generate_with_interventions
from focus_interp.generation import greedy_response
from focus_interp.interventions import FocusDirection, SplitSoftmax, apply_interventions

ROW = load_multidoc_qa("synthetic", n=1, gold_positions=(2,), n_documents=3)[0]


def test_no_intervention_equals_hugging_face_generate(tiny_loaded, family):
    loaded = tiny_loaded(family, "sdpa")
    prompt = build_prompt(loaded.tokenizer, long_parts(ROW))
    assert generate_with_interventions(loaded, prompt, [], max_new_tokens=6) == greedy_response(loaded, prompt, 6)


def test_every_step_is_edited_like_a_step_by_step_trace(tiny_loaded):
    """Each generated token is the argmax of a trace over [prompt, tokens so far] under the same edits."""
    loaded = tiny_loaded("llama", "sdpa")
    prompt = build_prompt(loaded.tokenizer, long_parts(ROW))
    directions = torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(0))
    edits = [
        SplitSoftmax(((0, 1), (2, 2)), prompt.spans[gold_segment(ROW)], 0.05, len(prompt) - 1),
        FocusDirection(tuple((layer, head) for layer in range(3) for head in range(4)), directions, directions, 20.0),
    ]
    generated = generate_with_interventions(loaded, prompt, edits, max_new_tokens=5)
    assert generated != greedy_response(loaded, prompt, 5)
    tokens = list(prompt.input_ids)
    for expected in generated:
        with torch.no_grad(), loaded.model.trace(torch.tensor([tokens])):
            apply_interventions(loaded, edits)
            logits = loaded.model.output.logits[0, -1].save()
        assert int(logits.argmax()) == expected
        tokens.append(expected)
