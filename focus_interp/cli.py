"""The ``focus-interp`` command."""

from __future__ import annotations

import argparse
import sys

from focus_interp.errors import FocusInterpError
from focus_interp.models import DEFAULT_MODEL


def _demo(args: argparse.Namespace) -> None:
    from focus_interp.data import multidoc_parts, synthetic_multidoc_qa
    from focus_interp.generation import greedy_response
    from focus_interp.metrics import best_subspan_em
    from focus_interp.models import load_model
    from focus_interp.prompts import build_prompt

    loaded = load_model(args.model, device=args.device, dtype=args.dtype, cache_dir=args.cache_dir)
    print(loaded.describe())
    sample = synthetic_multidoc_qa(1, n_documents=args.documents, gold_position=args.gold_position, seed=args.seed)[0]
    prompt = build_prompt(loaded.tokenizer, multidoc_parts(sample["question"], sample["documents"]))
    answer = loaded.tokenizer.decode(greedy_response(loaded, prompt, max_new_tokens=args.max_new_tokens))
    gold = prompt.spans[f"doc_{sample['gold_position']}"]
    print(f"\ngenerated question ({args.documents} documents, {len(prompt)} tokens, gold document at tokens {gold}):")
    print(f"  question  {sample['question']}")
    print(f"  expected  {sample['answers'][0]}")
    print(f"  model     {answer.strip()}")
    print(f"  exact match {best_subspan_em(answer, sample['answers']):.0f}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="focus-interp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="load a model, show its attention sites, answer a generated question")
    demo.add_argument("--model", default=DEFAULT_MODEL, help="short name, .gguf file, model folder or hub id")
    demo.add_argument("--device", default="cpu")
    demo.add_argument("--dtype", default="float32")
    demo.add_argument("--cache-dir", default=None, help="where converted GGUF weights are kept")
    demo.add_argument("--documents", type=int, default=10, help="documents in the generated question")
    demo.add_argument("--gold-position", type=int, default=1, help="1-based position of the gold document")
    demo.add_argument("--max-new-tokens", type=int, default=24)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except FocusInterpError as error:
        print(f"focus-interp: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("focus-interp: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
