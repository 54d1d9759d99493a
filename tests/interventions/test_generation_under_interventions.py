"""Greedy generation under interventions."""

from __future__ import annotations

import pytest
import torch

from focus_interp import build_prompt
from focus_interp.data import gold_segment, load_multidoc_qa, long_parts
from focus_interp.interventions import FocusDirection, SplitSoftmax, apply_interventions
from focus_interp.interventions.generation import generate_with_interventions
from focus_interp.model.generation import greedy_response

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


ROWS = load_multidoc_qa("synthetic", n=3, gold_positions=(1, 2, 3), n_documents=3)


def _batch_prompts(loaded):
    """Three prompts of different lengths (one, two and three documents)."""
    return [build_prompt(loaded.tokenizer, long_parts({**row, "documents": row["documents"][: i + 1]})) for i, row in enumerate(ROWS)]


def test_left_padded_batch_equals_hugging_face_generate_on_the_same_batch(tiny_loaded, family):
    from focus_interp.model.generation import (
        cut_at_stop,
        greedy_kwargs,
        left_pad,
        stop_token_ids,
    )

    loaded = tiny_loaded(family, "sdpa")
    prompts = _batch_prompts(loaded)
    assert len({len(prompt) for prompt in prompts}) == 3
    ids, mask, _ = left_pad(loaded, prompts)
    with torch.no_grad():
        expected = loaded.hf_model.generate(ids, attention_mask=mask, **greedy_kwargs(loaded, 6))[:, ids.shape[1] :]
    expected = [cut_at_stop(row, stop_token_ids(loaded)) for row in expected.tolist()]
    assert generate_with_interventions(loaded, prompts, [], max_new_tokens=6) == expected


def test_batched_split_softmax_gives_each_prompt_its_own_span(tiny_loaded, family):
    """Row b of a padded batch under its own split softmax has the logits of prompt b alone under that edit."""
    from focus_interp.interventions.generation import batch_split_softmax
    from focus_interp.model.generation import left_pad

    loaded = tiny_loaded(family, "sdpa")
    prompts = _batch_prompts(loaded)
    heads = ((0, 1), (1, 3), (2, 2))
    edits = [
        [SplitSoftmax(heads, prompt.spans[gold_segment(row)], tau, len(prompt) - 1)]
        for prompt, row, tau in zip(prompts, ROWS, (0.05, 1.0, 4.0))
    ]
    ids, mask, offsets = left_pad(loaded, prompts)
    with torch.no_grad(), loaded.model.trace(ids, attention_mask=mask):
        apply_interventions(loaded, batch_split_softmax(edits, offsets))
        batched = loaded.model.output.logits[:, -1].save()
    for row, (prompt, edit) in enumerate(zip(prompts, edits)):
        with torch.no_grad(), loaded.model.trace(prompt.ids()):
            apply_interventions(loaded, edit)
            alone = loaded.model.output.logits[0, -1].save()
        torch.testing.assert_close(batched[row], alone, atol=1e-4, rtol=1e-4)
    with torch.no_grad(), loaded.model.trace(ids, attention_mask=mask):
        plain = loaded.model.output.logits[:, -1].save()
    assert torch.equal(batched[1], plain[1])


def test_split_softmax_rows_of_one_prompt_match_each_edit_alone(tiny_loaded, family):
    """A sweep batch (one prompt repeated, one (heads, tau) per row) equals each configuration traced alone."""
    from focus_interp.interventions import SplitSoftmaxRows

    loaded = tiny_loaded(family, "sdpa")
    prompt = _batch_prompts(loaded)[2]
    span, first = prompt.spans[gold_segment(ROWS[2])], len(prompt) - 1
    rows = (SplitSoftmax(((0, 0), (2, 1)), span, 0.1, first), None, SplitSoftmax(((1, 2),), span, 8.0, first))
    with torch.no_grad(), loaded.model.trace(prompt.ids().repeat(3, 1)):
        apply_interventions(loaded, [SplitSoftmaxRows(rows)])
        batched = loaded.model.output.logits[:, -1].save()
    for index, edit in enumerate(rows):
        with torch.no_grad(), loaded.model.trace(prompt.ids()):
            apply_interventions(loaded, [] if edit is None else [edit])
            alone = loaded.model.output.logits[0, -1].save()
        torch.testing.assert_close(batched[index], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("first_pass_tokens", [32, 2])
def test_sweep_sharing_the_prefill_equals_each_configuration_generated_alone(tiny_loaded, family, first_pass_tokens):
    """In one pass, or in a first pass of 2 tokens after which the rows still going decode on from their cache."""
    from focus_interp.interventions.generation import generate_split_softmax_sweep

    loaded = tiny_loaded(family, "sdpa")
    prompt = _batch_prompts(loaded)[2]
    span, first = prompt.spans[gold_segment(ROWS[2])], len(prompt) - 1
    rows = [
        SplitSoftmax(((0, 0), (1, 1), (2, 1)), span, 0.0, first),
        None,
        SplitSoftmax(((1, 2), (2, 3)), span, 50.0, first),
    ]
    swept = generate_split_softmax_sweep(loaded, prompt, rows, max_new_tokens=5, batch_size=2, first_pass_tokens=first_pass_tokens)
    alone = [generate_with_interventions(loaded, prompt, [] if row is None else [row], max_new_tokens=5) for row in rows]
    assert swept == alone


def test_sweep_rows_must_start_at_the_last_prompt_token(tiny_loaded):
    from focus_interp import FocusInterpError
    from focus_interp.interventions.generation import generate_split_softmax_sweep

    loaded = tiny_loaded("llama", "sdpa")
    prompt = _batch_prompts(loaded)[0]
    with pytest.raises(FocusInterpError, match="last prompt token"):
        generate_split_softmax_sweep(loaded, prompt, [SplitSoftmax(((0, 0),), (0, 2), 0.5, 3)], max_new_tokens=2)


def test_a_shared_split_softmax_in_a_batch_of_different_lengths_is_refused(tiny_loaded):
    from focus_interp import FocusInterpError

    loaded = tiny_loaded("llama", "sdpa")
    prompts = _batch_prompts(loaded)
    edit = SplitSoftmax(((0, 0),), (0, 3), 0.5, len(prompts[0]) - 1)
    with pytest.raises(FocusInterpError, match="pass it per prompt"):
        generate_with_interventions(loaded, prompts, [edit], max_new_tokens=2)


def test_two_split_softmaxes_of_one_head_are_refused(tiny_loaded):
    from focus_interp import FocusInterpError

    loaded = tiny_loaded("llama", "sdpa")
    prompt = _batch_prompts(loaded)[0]
    first = len(prompt) - 1
    edits = [SplitSoftmax(((1, 0), (1, 1)), (0, 3), 0.5, first), SplitSoftmax(((1, 1),), (0, 3), 2.0, first)]
    with pytest.raises(FocusInterpError, match=r"edit head\(s\) \[\(1, 1\)\]"):
        generate_with_interventions(loaded, prompt, edits, max_new_tokens=2)
