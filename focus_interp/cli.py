"""The ``focus-interp`` command."""

from __future__ import annotations

import argparse
import errno
import sys

from focus_interp.data.multidoc.protocols import DEFAULT_PROTOCOL, PROTOCOLS
from focus_interp.errors import FocusInterpError
from focus_interp.model.loading import DEFAULT_MODEL

EXIT_USAGE, EXIT_BAD_INPUT, EXIT_SYSTEM, EXIT_INTERRUPTED = 2, 3, 4, 130
EXIT_HELP = f"""exit status: 0 done; {EXIT_USAGE} a usage error (an unknown option, a missing argument); {EXIT_BAD_INPUT} bad input
(a file, setting or run folder the command refuses, said in one line); {EXIT_SYSTEM} the system refused (a full disk,
a read-only folder); {EXIT_INTERRUPTED} interrupted (finished work is kept: rerun to resume)."""
RANKING_COLUMNS = ("R", "IR", "IR_max", "sink", "R_gold", "sink_gold", "R_correct", "R_wrong", "retrieval")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default after its help (an option whose help says its default keeps its own words); the exit
    statuses kept as written."""

    def _get_help_string(self, action):
        if action.default is None and "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _load(args: argparse.Namespace):
    from focus_interp.model.loading import load_model

    return load_model(args.model, device=args.device, dtype=args.dtype, cache_dir=args.cache_dir)


def _dataset(args: argparse.Namespace):
    """The rows to score and the description of their source kept in the run's meta.json."""
    from focus_interp.data import (
        default_gold_positions,
        dropped_answers,
        load_multidoc_qa,
    )
    from focus_interp.data.multidoc.protocols import protocol_named

    rules = protocol_named(args.protocol)
    args.seed = rules.seed if args.seed is None else args.seed
    args.max_new_tokens = rules.max_new_tokens if args.max_new_tokens is None else args.max_new_tokens
    options = {
        "split": args.split,
        "n": args.n,
        "gold_positions": tuple(args.gold_positions or default_gold_positions(args.documents)),
        "n_documents": args.documents,
        "distractors": args.distractors,
        "seed": args.seed,
        "protocol": args.protocol,
    }
    rows = load_multidoc_qa(args.data, **options)
    return rows, {"source": args.data, **options, "dropped_answers": dropped_answers(rows)}


class _PromptShown(Exception):
    """``--show-prompt`` printed the first prompt: the command ends there, with success."""


def _inputs(args: argparse.Namespace):
    """The rows, their description for meta.json, and the loaded model; with ``--show-prompt``, the first row's
    prompt with its segments marked is printed and the command ends."""
    from focus_interp.data.samples import sample_prompts

    rows, data = _dataset(args)
    loaded = _load(args)
    if args.show_prompt:
        prompt = sample_prompts(loaded.tokenizer, rows[0], getattr(args, "sink_tokens", 2)).long
        print(f"{rows[0]['id']}: {len(prompt)} tokens, spans {prompt.spans}\n\n{prompt.marked(loaded.tokenizer)}")
        raise _PromptShown
    return rows, data, loaded


def _score(args: argparse.Namespace, loaded, rows, data: dict) -> None:
    from focus_interp.heads import rank_heads
    from focus_interp.scoring.contextual_run import score_heads
    from focus_interp.scoring.head_score_files import read_head_scores

    interventions, settings = _directions_intervention(args, loaded)
    summary = score_heads(
        loaded, rows, args.out, data, args.max_new_tokens, args.sink_tokens,
        interventions=interventions, interventions_settings=settings, span_search=args.span_search,
    ).summary
    if summary["n_skipped"]:
        reasons = sorted({item["reason"] for item in summary["skipped"]})
        print(f"skipped {summary['n_skipped']} samples (listed in meta.json), e.g.: {reasons[0]}")
    if not summary["n_scored"]:
        print(f"no sample was scored: {args.out}/head_scores.csv has no scores to rank heads by")
        return
    path = f"{args.out}/head_scores.csv"
    print(f"\nEM {summary['em'] or 0:.3f} with all documents, {summary['em_gold'] or 0:.3f} with the gold document alone")
    print(f"top {args.top} contextual heads (mean attention on the gold document over response tokens):")
    print(f"  {'layer':>5} {'head':>4} {'R':>7} {'IR':>7} {'IR_max':>7} {'sink':>7} {'R_gold':>7}")
    for row in rank_heads(read_head_scores(path))[: args.top]:
        print(
            f"  {row['layer']:>5} {row['head']:>4} {row['R']:7.3f} {row['IR']:7.3f} {row['IR_max']:7.3f} "
            f"{row['sink']:7.3f} {row['R_gold']:7.3f}"
        )
    print(f"written: {path}")


def _directions_intervention(args: argparse.Namespace, loaded) -> tuple[list, dict | None]:
    """The focus direction a scoring run is asked to apply (``--directions``), and its description."""
    if getattr(args, "directions", None) is None:
        return [], None
    from focus_interp.directions import read_directions
    from focus_interp.evaluation.configurations import Configuration, HeadSets
    from focus_interp.evaluation.rankings import ranking_from

    if args.direction_heads is None:
        raise FocusInterpError("--directions needs --direction-heads (a scoring run folder or a JSON head list)")
    if args.direction_k < 1:
        raise FocusInterpError(f"--direction-k must be at least 1, got {args.direction_k}")
    directions = read_directions(args.directions, loaded.architecture)
    ranking = HeadSets(tuple(ranking_from(args.direction_heads, loaded.architecture)), str(args.direction_heads), loaded.architecture)
    configuration = Configuration("focus_direction", "top", min(args.direction_k, len(ranking.ranking)), alpha=args.alpha)
    edit = configuration.build(ranking, directions)
    heads = edit.heads
    settings = {
        "directions": str(args.directions), "fingerprint": directions.fingerprint(), "site": directions.site, "heads_source": str(args.direction_heads),
        "k": args.direction_k, "heads": [list(head) for head in heads], "alpha": args.alpha,
    }
    return [edit], settings


def _describe(args: argparse.Namespace) -> None:
    print(_load(args).describe())


def _tasks(args: argparse.Namespace) -> None:
    from focus_interp.data.long_context import TASKS, available_tasks

    for task, reason in available_tasks(args.helmet).items():
        info = TASKS[task]
        print(f"{task:<36} {info.category:<7} {info.metric:<26} {'available' if reason is None else 'unavailable: ' + reason}")


def _heads(args: argparse.Namespace) -> None:
    rows, data_settings, loaded = _inputs(args)
    _score(args, loaded, rows, data_settings)


def _demo(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from focus_interp.demo import (
        DEFAULT_SIZES,
        QUICK_SIZES,
        configuration_label,
        run_demo,
    )
    from focus_interp.evaluation.result_cells import difference_cell, em_cell

    sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    sizes = replace(sizes, **{name: value for name in ("n_train", "n_test") if (value := getattr(args, name)) is not None})
    out = args.out or ("runs/demo-quick" if args.quick else "runs/demo")
    loaded = _load(args)
    print(loaded.describe())
    numbers = run_demo(loaded, out, sizes, args.seed)
    top = ", ".join(f"L{row['layer']}H{row['head']} {row['R']:.3f}" for row in numbers["heads"]["top"][:5])
    print(f"\ntop 5 contextual heads (R = mean attention on the gold document): {top}")
    evaluation = numbers["evaluation"]
    print(f"EM on {evaluation['n']} test samples of {evaluation['n_questions']} question(s) [95% interval by question], "
          f"and the difference to no intervention on the same samples:")
    width = max(len(configuration_label(row)) for row in evaluation["em"])
    for row in evaluation["em"]:
        print(f"  {configuration_label(row):<{width}} {em_cell(row):<20} {difference_cell(row)}")
    print(f"written: {out}/report.md (figures, numbers.json, em.csv, top_heads.csv)")


K_GRID = ["1", "5", "10", "20", "30", "50", "100", "150", "200", "all"]


def _compensate(args: argparse.Namespace) -> None:
    from focus_interp.evaluation.configurations import (
        HeadSets,
        capped_k,
        split_softmax_configurations,
    )
    from focus_interp.evaluation.multidoc import run_sweep
    from focus_interp.evaluation.rankings import ranking_from

    rows, data, loaded = _inputs(args)
    n_heads = loaded.architecture.n_layers * loaded.architecture.n_heads
    head_sets = HeadSets(tuple(ranking_from(args.heads, loaded.architecture, args.score)), str(args.heads), loaded.architecture, args.seed)
    k_values = capped_k(args.k, min(n_heads, len(head_sets.ranking)))
    configurations = split_softmax_configurations(k_values, args.taus, args.random_taus)
    print(f"{len(configurations)} configurations x {len(rows)} samples into {args.out}")
    _print_results(args.out, run_sweep(loaded, rows, args.out, configurations, head_sets, data, args.max_new_tokens, batch_size=args.batch_size))


def _evaluate(args: argparse.Namespace) -> None:
    from focus_interp.directions import read_directions
    from focus_interp.evaluation.configurations import (
        HeadSets,
        capped_k,
        focus_direction_configurations,
    )
    from focus_interp.evaluation.multidoc import run_sweep
    from focus_interp.evaluation.rankings import ranking_from

    rows, data, loaded = _inputs(args)
    directions = read_directions(args.directions, loaded.architecture)
    n_heads = loaded.architecture.n_layers * loaded.architecture.n_heads
    head_sets = HeadSets(tuple(ranking_from(args.heads, loaded.architecture, args.score)), str(args.heads), loaded.architecture, args.seed)
    configurations = focus_direction_configurations(capped_k(args.k, min(n_heads, len(head_sets.ranking))), args.alphas, args.positions)
    print(f"{directions.describe()}\n{len(configurations)} configurations x {len(rows)} samples into {args.out}")
    _print_results(args.out, run_sweep(loaded, rows, args.out, configurations, head_sets, data, args.max_new_tokens,
                                       directions=directions, batch_size=args.batch_size))


def _train_directions(args: argparse.Namespace) -> None:
    from focus_interp.directions.run import train_directions

    rows, data, loaded = _inputs(args)
    summary = train_directions(
        loaded, rows, args.out, data, args.site, args.epochs, args.lr, args.init_std, args.seed,
        args.max_new_tokens, args.cache_dtype,
    ).summary
    if summary["n_skipped"]:
        print(f"skipped {summary['n_skipped']} samples (listed in {args.out}/cache/meta.json)")
    print(
        f"trained on {summary['n_trained']} samples: final loss {summary['final_loss']:.4f}, "
        f"mean |d_Q| {summary['query_norm_mean']:.3f}, mean |d_K| {summary['key_norm_mean']:.3f}"
    )
    print(f"written: {args.out}/directions.safetensors, losses.csv, losses.png")


def _retrieval_heads(args: argparse.Namespace) -> None:
    from focus_interp.data.needles import load_needles, needle_tests
    from focus_interp.heads import rank_heads
    from focus_interp.scoring.head_score_files import read_head_scores
    from focus_interp.scoring.retrieval import NeedleRules
    from focus_interp.scoring.retrieval_run import score_retrieval_heads

    loaded = _load(args)
    lengths, skipped = _fitting(args.lengths, loaded, args.max_new_tokens)
    if skipped:
        print(f"skipping lengths over the model's window of {loaded.architecture.context_length} with the response: {', '.join(map(str, skipped))}")
    if not lengths:
        raise FocusInterpError(f"no length fits the model's window of {loaded.architecture.context_length} with the response: pass smaller --lengths")
    tests = needle_tests(load_needles(args.needles, args.n_needles, args.seed), lengths, list(dict.fromkeys(args.depths)))
    data = {"needles": str(args.needles), "n_needles": args.n_needles, "lengths": lengths, "depths": args.depths, "seed": args.seed}
    print(f"{len(tests)} needle tests into {args.out}")
    rules = NeedleRules(strict=not args.recall_at_least, stemmer=not args.no_stemmer, until_newline=not args.until_end_of_turn,
                        story=args.story_prompt)
    summary = score_retrieval_heads(loaded, tests, args.out, args.haystack, data, args.max_new_tokens, args.min_recall, rules=rules).summary
    if summary["n_skipped"]:
        print(f"skipped {summary['n_skipped']} tests (listed in meta.json), e.g.: {summary['skipped'][0]['reason']}")
    path = f"{args.out}/head_scores.csv"
    print(f"\nmean ROUGE-1 recall of the answer {summary['recall'] or 0:.3f}; "
          f"{summary['n_counted']} of {summary['n_scored']} tests recall it {'at least' if args.recall_at_least else 'above'} {args.min_recall:g} and count")
    if not summary["n_scored"]:
        raise FocusInterpError(f"no test could be scored (see {args.out}/meta.json), e.g.: {summary['skipped'][0]['reason']}")
    if not summary["n_counted"]:
        raise FocusInterpError(f"no test recalled its answer (see {args.out}/samples.jsonl): pass --recall-at-least --min-recall 0 to count every test")
    print(f"top {args.top} retrieval heads:")
    for row in rank_heads(read_head_scores(path), "retrieval")[: args.top]:
        print(f"  layer {row['layer']:>3} head {row['head']:>3}  retrieval {row['retrieval']:.3f}")
    print(f"written: {path}")


def _fitting(lengths: list[int], loaded, max_new_tokens: int) -> tuple[list[int], list[int]]:
    """(kept, skipped) prompt lengths, without repeats: kept ones leave room in the model's window for the response
    and one more decoding step."""
    from focus_interp.prompts import prompt_room

    room = prompt_room(loaded.architecture.context_length, max_new_tokens)
    unique = list(dict.fromkeys(lengths))
    return [n for n in unique if n <= room], [n for n in unique if n > room]


def _long_context(args: argparse.Namespace) -> None:
    from pathlib import Path

    from focus_interp.data.long_context import (
        TASKS,
        available_tasks,
        budgets_for,
        build_long_context_task,
    )
    from focus_interp.directions import read_directions
    from focus_interp.evaluation.configurations import HeadSets, capped_k
    from focus_interp.evaluation.long_context import (
        long_context_configurations,
        run_long_context,
    )
    from focus_interp.evaluation.rankings import ranking_from

    sources = {"json_kv": args.kv_file, "rag_nq": args.nq_file}
    for option, path in (("--kv-file", args.kv_file), ("--nq-file", args.nq_file)):
        if path and not Path(path).is_file():
            raise FocusInterpError(f"{option} {path} is not a file: pass an existing file or leave {option} out")
    loaded = _load(args)
    window = loaded.architecture.context_length
    per_task = [TASKS[task].settings.max_new_tokens for task in args.tasks if task in TASKS] or [1]
    longest = max(per_task) if args.max_new_tokens is None else args.max_new_tokens
    budgets, skipped = budgets_for(window, longest)
    if args.budgets:
        budgets, skipped = _fitting(args.budgets, loaded, longest)
    if skipped:
        print(f"skipping budgets over the model's window of {window}: {', '.join(map(str, skipped))}")
    if not budgets:
        raise FocusInterpError("no budget fits the model's window: pass smaller --budgets")
    tasks = []
    for task in dict.fromkeys(args.tasks):
        source = args.helmet if task.startswith("helmet_") else sources.get(task)
        reason = available_tasks(source).get(task, f"unknown task {task}")
        if reason:
            print(f"unavailable: {task}: {reason}")
        else:
            tasks.append((task, source))
    samples = []
    for task, source in tasks:
        for budget in budgets:
            try:
                samples += build_long_context_task(task, loaded.tokenizer, budget, args.n, args.seed, source)
            except FocusInterpError as error:
                print(f"unavailable: {task} at {budget} tokens: {error}")
    if not samples:
        raise FocusInterpError("no task is available: see the messages above")
    head_sets = HeadSets(tuple(ranking_from(args.heads, loaded.architecture, args.score)), str(args.heads), loaded.architecture, args.seed)
    directions = read_directions(args.directions, loaded.architecture) if args.directions else None
    k_values = capped_k(args.k, min(loaded.architecture.n_layers * loaded.architecture.n_heads, len(head_sets.ranking)))
    configurations = long_context_configurations(k_values if directions else [], args.alphas if directions else [])
    data = {"tasks": [t for t, _ in tasks], "sources": {t: str(s) if s else None for t, s in tasks}, "budgets": budgets,
            "n": args.n, "seed": args.seed}
    print(f"{len(configurations)} configurations x {len(samples)} samples into {args.out}")
    results = run_long_context(loaded, samples, args.out, configurations, head_sets, directions, data, args.max_new_tokens)
    summary = results.summary
    if summary["n_skipped"]:
        print(f"skipped {summary['n_skipped']} samples (listed in meta.json), e.g.: {summary['skipped'][0]['reason']}")
    for row in results.table():
        print(f"  {row['task']:<22} {row['budget']:>6} {row['configuration']:<34} score {row['score']:.3f}  sink {row['sink']:.3f}")
    print(f"written: {args.out}/results.csv")


def _print_results(out: str, results) -> None:
    from focus_interp.evaluation.result_cells import difference_cell, em_cell

    summary = results.summary
    if summary["n_skipped"]:
        print(f"skipped {summary['n_skipped']} samples (listed in meta.json), e.g.: {summary['skipped'][0]['reason']}")
    rows = [row for row in results.table() if row["gold_position"] == "all"]
    questions = rows[0]["n_questions"] if rows else 0
    print(f"\nEM over {summary['n_evaluated']} samples of {questions} questions, 95% intervals by question; "
          f"difference to no intervention on the same samples (sign-flip p-value by question):")
    for row in rows:
        label = " ".join(str(x) for x in (row["intervention"], row["heads"], row["k"] and f"k={row['k']}",
                                          row["positions"] == "response" and "response rows") if x)
        strength = f"tau={row['tau']:g}" if row["tau"] is not None else f"alpha={row['alpha']:g}" if row["alpha"] is not None else ""
        print(f"  {label:<28} {strength:<12} {em_cell(row):<20} {difference_cell(row)}")
    print(f"written: {out}/results.csv")


def _add_heads_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--heads", required=True, help="a scoring run folder, its head_scores.csv, or a JSON [[layer, head], ...]")
    parser.add_argument("--score", default="R", help=f"head_scores.csv column that ranks the heads: {', '.join(RANKING_COLUMNS)}")
    parser.add_argument("--k", nargs="+", default=K_GRID, help="numbers of top heads ('all' = every head)")


def _add_model_options(parser: argparse.ArgumentParser, positional: bool = False) -> None:
    spec = "short name, .gguf file, model folder or hub id"
    if positional:
        parser.add_argument("model", nargs="?", default=DEFAULT_MODEL, help=spec)
    else:
        parser.add_argument("--model", default=DEFAULT_MODEL, help=spec)
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"], help="weights' dtype")
    parser.add_argument("--cache-dir", default=None, help="where converted GGUF weights are kept ($FOCUS_INTERP_CACHE, else the user cache)")


def _add_scoring_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="synthetic", help="'synthetic', nq-open-oracle.jsonl.gz, or a Lost-in-the-Middle folder")
    parser.add_argument("--split", default="train", choices=["train", "test", "all"], help="half of the questions (a seeded 50/50 split), or all")
    parser.add_argument("--n", type=int, default=100, help="samples to score (question x gold position)")
    parser.add_argument("--out", required=True, help="run folder (a rerun resumes it)")
    parser.add_argument("--gold-positions", type=int, nargs="+", help="1-based (default: those of 1 5 10 15 20 within --documents)")
    parser.add_argument("--documents", type=int, default=20, help="documents per prompt")
    parser.add_argument("--distractors", default="hard", choices=["hard", "random"], help="oracle-file distractors")
    parser.add_argument("--protocol", default=DEFAULT_PROTOCOL, choices=list(PROTOCOLS),
                        help="how samples are built and rendered: the paper's code, or Lost in the Middle's files as they are (README, Protocols)")
    parser.add_argument("--max-new-tokens", type=int, help="length of the greedy responses, in tokens (default: the protocol's, paper 100, lost-in-the-middle 32)")
    parser.add_argument("--seed", type=int, help="seeds the train/test split, the distractor shuffles and the random heads (default: the protocol's, paper 42, lost-in-the-middle 0)")
    parser.add_argument("--show-prompt", action="store_true", help="print the first sample's prompt with its segments marked, then stop")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="focus-interp", description=__doc__, epilog=EXIT_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, epilog=EXIT_HELP, formatter_class=_HelpFormatter)

    describe = command("describe", "print a model's architecture and the attention sites of its layer 0, then stop")
    _add_model_options(describe, positional=True)
    describe.set_defaults(run=_describe)
    tasks = command("tasks", "list the long-context tasks and whether each can run with the given files")
    tasks.add_argument("--helmet", help="HELMET's data folder, for the helmet_* tasks")
    tasks.set_defaults(run=_tasks)
    demo = command("demo", "the whole method on the embedded default model and generated data")
    _add_model_options(demo)
    demo.add_argument("--quick", action="store_true", help="a small run (about 2 minutes on 2 CPU cores) instead of the default (about 16)")
    demo.add_argument("--n-train", type=int, help="train samples (default: 24, quick 3)")
    demo.add_argument("--n-test", type=int, help="test samples (default: 15, quick 3)")
    demo.add_argument("--seed", type=int, default=0, help="seeds the generated data, the random heads and the training")
    demo.add_argument("--out", help="report folder (default: runs/demo, quick runs/demo-quick; a rerun resumes it)")
    demo.set_defaults(run=_demo)
    heads = command("heads", "score every head's attention on relevant context (contextual heads)")
    _add_model_options(heads)
    _add_scoring_options(heads)
    heads.add_argument("--sink-tokens", type=int, default=2, help="first tokens counted as the attention sink")
    heads.add_argument("--top", type=int, default=10, help="heads to print")
    heads.add_argument("--directions", help="score under a focus direction from this file (Table 3)")
    heads.add_argument("--direction-heads", help="ranking whose top --direction-k heads get the direction")
    heads.add_argument("--direction-k", type=int, default=5, help="how many top heads of --direction-heads get the direction")
    heads.add_argument("--alpha", type=float, default=0.2, help="strength of the direction (negative allowed)")
    heads.add_argument("--span-search", default="exact", choices=["exact", "authors"],
                       help="exact spans, or the authors' response, sequence and fuzzy span search (to reproduce their scores)")
    heads.set_defaults(run=_heads)
    compensate = command("compensate", "split-softmax sweep over top-k heads and tau, with baselines")
    _add_model_options(compensate)
    _add_scoring_options(compensate)
    _add_heads_options(compensate)
    compensate.add_argument("--taus", type=float, nargs="+", default=[0.1, 0.3, 0.6, 1.5, 1000.0], help="split-softmax exponents (1 changes nothing, < 1 raises attention on the gold document)")
    compensate.add_argument("--batch-size", type=int, default=16, help="configurations decoded together")
    compensate.add_argument("--random-taus", type=float, nargs="*", default=[0.3], help="taus of the random-head control")
    compensate.set_defaults(run=_compensate, split="test")
    evaluate = command("evaluate", "focus directions on top-k heads at one or several alphas, with baselines")
    _add_model_options(evaluate)
    _add_scoring_options(evaluate)
    _add_heads_options(evaluate)
    evaluate.add_argument("--directions", required=True, help="a directions file (.safetensors with q and k) or a folder of the authors' released .pth files")
    evaluate.add_argument("--alphas", type=float, nargs="+", default=[-1.0, -0.5, -0.2, 0.2, 0.3, 0.4, 0.5, 1.0], help="direction strengths")
    evaluate.add_argument("--positions", nargs="+", default=["all"], choices=["all", "response"],
                          help="where a direction edits: every position (the paper's), or only the rows from the last prompt "
                               "token on ('response': shares the prompt's prefill); both to compare them on the same samples")
    evaluate.add_argument("--batch-size", type=int, default=16, help="configurations decoded together")
    evaluate.set_defaults(run=_evaluate, split="test")
    train = command("train-directions", "cache activations and train focus directions of every head")
    _add_model_options(train)
    _add_scoring_options(train)
    train.add_argument("--site", default="post_rope", choices=["post_rope", "pre_rope"], help="where the directions are added: after RoPE (the paper's) or to the q_proj/k_proj outputs")
    train.add_argument("--epochs", type=int, default=10, help="passes over the cached samples")
    train.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    train.add_argument("--init-std", type=float, default=0.01, help="standard deviation of the directions' random start")
    train.add_argument("--cache-dtype", default="float16", choices=["float32", "float16", "bfloat16"], help="dtype of the cached query/key activations")
    train.set_defaults(run=_train_directions)
    retrieval = command("retrieval-heads", "needle-in-a-haystack retrieval score of every head (Wu et al.)")
    _add_model_options(retrieval)
    retrieval.add_argument("--haystack", default="synthetic", help="'synthetic' or nq-open-oracle.jsonl.gz (its passages)")
    retrieval.add_argument("--needles", default="generated", help="'generated' or a JSONL of needle, question, real_needle")
    retrieval.add_argument("--n-needles", type=int, default=None, help="use the first N needles (default: all, or 3 generated)")
    retrieval.add_argument("--lengths", type=int, nargs="+", default=[1000, 2000, 4000, 8000], help="context lengths in tokens (capped by the window)")
    retrieval.add_argument("--depths", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0], help="needle depths in [0, 1]")
    retrieval.add_argument("--max-new-tokens", type=int, default=50, help="length of the greedy answers, in tokens")
    retrieval.add_argument("--min-recall", type=float, default=0.5, help="a test counts when the answer's ROUGE-1 recall is above this (Wu et al.: x 100 > 50)")
    retrieval.add_argument("--recall-at-least", action="store_true", help="count a test at recall equal to --min-recall too (with 0: every test)")
    retrieval.add_argument("--no-stemmer", action="store_true", help="ROUGE-1 on the words as they are, not Porter stems (Wu et al. stem)")
    retrieval.add_argument("--until-end-of-turn", action="store_true", help="stop each answer at the end of turn, not after its first newline (Wu et al.)")
    retrieval.add_argument("--story-prompt", action="store_true", help="open the prompt with 'This is a very long story book: <book>' instead of Wu et al.'s '<book>'")
    retrieval.add_argument("--out", required=True, help="run folder (a rerun resumes it)")
    retrieval.add_argument("--seed", type=int, default=0, help="seeds the generated needles")
    retrieval.add_argument("--top", type=int, default=10, help="heads to print")
    retrieval.set_defaults(run=_retrieval_heads)
    long_context = command("long-context", "HELMET-style long-context tasks, with and without focus directions")
    _add_model_options(long_context)
    _add_heads_options(long_context)
    long_context.set_defaults(k=[10, 20])
    long_context.add_argument("--directions", help="a directions file or released folder (without it: no intervention only)")
    long_context.add_argument("--alphas", type=float, nargs="+", default=[-0.2, 0.2], help="direction strengths")
    long_context.add_argument("--tasks", nargs="+", default=["json_kv", "ruler_mk_needle", "ruler_mv_needle", "rag_nq"], help="tasks to run (`focus-interp tasks` lists them)")
    long_context.add_argument("--budgets", type=int, nargs="+", help="token budgets (default: those of 8k-128k the window allows)")
    long_context.add_argument("--n", type=int, default=10, help="samples per task and budget")
    long_context.add_argument("--kv-file", help="Lost in the Middle's kv-retrieval-*_keys.jsonl.gz (default: generated pairs)")
    long_context.add_argument("--nq-file", help="nq-open-oracle.jsonl.gz for rag_nq (default: generated questions)")
    long_context.add_argument("--helmet", help="HELMET's data folder, for the helmet_* tasks")
    long_context.add_argument("--max-new-tokens", type=int, help="length of every task's greedy answers, in tokens (default: each task's, as HELMET's configs: recall 50, JSON KV 100, RAG and ICL 20, re-rank 200, long QA 10)")
    long_context.add_argument("--seed", type=int, default=0, help="seeds the samples of each task")
    long_context.add_argument("--out", required=True, help="run folder (a rerun resumes it)")
    long_context.set_defaults(run=_long_context)
    return parser


def _system_refusal(error: OSError) -> str:
    where = f" {error.filename}" if error.filename else ""
    hints = {
        errno.ENOSPC: "free some space, then rerun the same command: it resumes",
        errno.EROFS: "pass a writable --out",
        errno.EACCES: "pass a writable --out",
    }
    return f"cannot use{where} ({error.strerror or error}): {hints.get(error.errno, 'check that path, then rerun')}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except _PromptShown:
        return 0
    except FocusInterpError as error:
        print(f"focus-interp: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:  # a full disk, a read-only folder: what the system refused, in one line
        print(f"focus-interp: error: {_system_refusal(error)}", file=sys.stderr)
        return EXIT_SYSTEM
    except KeyboardInterrupt:
        print("focus-interp: interrupted; finished work is kept, rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
