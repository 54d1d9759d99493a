"""Greedy decoding of a prompt's response, stopping at the end of the assistant turn."""

from __future__ import annotations

import torch

from focus_interp.models import LoadedModel
from focus_interp.prompts import Prompt


def stop_token_ids(tokenizer) -> list[int]:
    """Token ids that end a response: EOS and the chat template's end-of-turn token when it has one."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for token in ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return sorted(ids)


@torch.no_grad()
def greedy_response(loaded: LoadedModel, prompt: Prompt, max_new_tokens: int = 32) -> list[int]:
    """The greedy response token ids to ``prompt``, without the stop token."""
    ids = prompt.ids().to(loaded.device)
    stops = stop_token_ids(loaded.tokenizer)
    output = loaded.hf_model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=stops,
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    response = output[0, ids.shape[1] :].tolist()
    while response and response[-1] in stops:
        response.pop()
    return response
