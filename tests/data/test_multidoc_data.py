"""The multi-document QA data layer: sources, splits, distractors, input errors and the three prompts of a row."""

from __future__ import annotations

import gzip
import json
import math
import random
from pathlib import Path

import pytest

from focus_interp.data import (
    INSTRUCTION,
    gold_parts,
    gold_segment,
    irrelevant_segments,
    load_multidoc_qa,
    long_parts,
    no_gold_parts,
    synthetic_multidoc_qa,
)
from focus_interp.data.multidoc.distractors import BM25
from focus_interp.data.samples import sample_prompts
from focus_interp.errors import FocusInterpError
from focus_interp.metrics.exact_match import normalize_answer
from focus_interp.prompts import Segment, build_prompt
from tests.conftest import SHARED_DATA, tiny_tokenizer

ORACLE = SHARED_DATA / "nq-open-oracle.jsonl.gz"
RETRIEVAL_FILE = "nq-open-contriever-msmarco-retrieved-documents.jsonl.gz"


def write_jsonl_gz(path: Path, records: list) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in records)
    return path


def oracle_line(question: str, answers: list[str], title: str, text: str) -> dict:
    return {"question": question, "answers": answers, "ctxs": [{"title": title, "text": text, "isgold": True}]}


TINY_ORACLE = [
    oracle_line("who painted the blue door", ["Ana Lind"], "Blue Door", "The Blue Door was painted by Ana Lind."),
    oracle_line("where is the red bridge", ["Oslo"], "Red Bridge", "The red bridge is in Oslo."),
    oracle_line("when was the green tower built", ["1901"], "Green Tower", "The green tower was built in 1901."),
    oracle_line("what is the blue lake", ["a lake"], "Blue Lake", "Blue Lake was painted blue by Ana Lind."),
    oracle_line("what colour is the old door", ["white"], "Old Door", "The old door is painted white."),
]


def passage(title: str, text: str, is_gold: bool = False) -> dict:
    return {"title": title, "text": text, "is_gold": is_gold}


@pytest.fixture
def tiny_oracle(tmp_path) -> Path:
    return write_jsonl_gz(tmp_path / "nq-open-oracle.jsonl.gz", TINY_ORACLE)


def test_synthetic_splits_are_disjoint_halves_of_the_questions():
    train = load_multidoc_qa(split="train")
    test = load_multidoc_qa(split="test")
    everything = load_multidoc_qa(split="all")
    train_questions, test_questions = set(train["question_index"]), set(test["question_index"])
    assert len(train_questions) == len(test_questions) == 200
    assert train_questions.isdisjoint(test_questions)
    assert train_questions | test_questions == set(range(400)) == set(everything["question_index"])
    assert len(train) == len(test) == 200 * 5


def test_synthetic_split_of_a_question_does_not_depend_on_n():
    """Train at n=40 (8 questions) and n=400 (80) come from 400 generated questions, train at n=1500 (300
    questions) from 600: each is a prefix of the next. Test at n=1200 (240 questions, 500 generated) shares
    no question with train at n=400, nor with the 300 train questions."""
    train = {n: load_multidoc_qa(split="train", n=n) for n in (40, 400, 1500)}
    for small, large in ((40, 400), (400, 1500)):
        assert train[large]["id"][:small] == train[small]["id"]
        assert train[large]["question"][:small] == train[small]["question"]
    test = load_multidoc_qa(split="test", n=1200)
    assert len(set(test["question_index"])) == 240 and max(test["question_index"]) >= 400
    for rows in (train[400], train[1500]):
        assert set(rows["question"]).isdisjoint(test["question"])
        assert set(rows["question_index"]).isdisjoint(test["question_index"])


def test_synthetic_split_is_50_50_in_each_block_of_100():
    """Block b's train half: the first 50 of its indices shuffled by random.Random("seed:b")."""
    train = set(load_multidoc_qa(split="train", gold_positions=(1,), n=250, seed=7)["question_index"])
    test = set(load_multidoc_qa(split="test", gold_positions=(1,), n=250, seed=7)["question_index"])
    assert train.isdisjoint(test) and train | test == set(range(500))
    for block in range(5):
        order = list(range(100 * block, 100 * block + 100))
        random.Random(f"7:{block}").shuffle(order)
        assert {i for i in train if i // 100 == block} == set(order[:50])


def test_synthetic_is_seeded():
    assert load_multidoc_qa(n=10, seed=3).to_list() == load_multidoc_qa(n=10, seed=3).to_list()
    assert load_multidoc_qa(n=10, seed=3)["question"] != load_multidoc_qa(n=10, seed=4)["question"]


@pytest.mark.parametrize("n_documents, positions", [(20, [1, 5, 10, 15, 20]), (12, [1, 5, 10]), (5, [1, 5]), (3, [1])])
def test_default_gold_positions_are_the_papers_that_fit_the_documents(n_documents, positions):
    rows = load_multidoc_qa(n=len(positions), n_documents=n_documents)
    assert rows["gold_position"] == positions
    assert all(len(row["documents"]) == n_documents and row["documents"][row["gold_position"] - 1]["is_gold"] for row in rows)


def test_n_takes_whole_questions_in_order():
    rows = load_multidoc_qa(n=100)
    indices = rows["question_index"]
    assert len(set(indices)) == 20 and indices == sorted(indices)
    assert rows["gold_position"] == [1, 5, 10, 15, 20] * 20
    assert rows[0]["id"] == f"{indices[0]}-g1" and rows[99]["id"] == f"{indices[99]}-g20"
    assert load_multidoc_qa(n=7)["gold_position"] == [1, 5, 10, 15, 20, 1, 5]


def test_synthetic_rows_are_the_generator_samples_with_the_gold_moved():
    rows = load_multidoc_qa(n=10, gold_positions=(2, 8), n_documents=8, seed=5, protocol="lost-in-the-middle")
    for row in rows:
        sample = synthetic_multidoc_qa(400, n_documents=8, gold_position=row["gold_position"], seed=5)[
            row["question_index"]
        ]
        assert (row["question"], row["answers"], row["documents"]) == (
            sample["question"],
            sample["answers"],
            sample["documents"],
        )
        assert [doc["is_gold"] for doc in row["documents"]].index(True) == row["gold_position"] - 1
        assert sum(doc["is_gold"] for doc in row["documents"]) == 1


def test_large_n_generates_enough_synthetic_questions():
    assert len(load_multidoc_qa(n=1500, gold_positions=(1,), split="test")) == 1500


def test_bm25_hand_worked():
    """idf(cherry) = ln(1 + 1.5/1.5) = ln 2; tf 2 in a 3-token text, mean length 2.5: 2*2.5/(2 + 1.5*1.15)."""
    scores = BM25(["apple banana", "banana cherry cherry"]).scores("Cherry?")
    assert scores[0] == 0.0
    assert scores[1] == pytest.approx(math.log(2) * 5 / 3.725)


def test_hard_distractors_are_bm25_ranked_and_leave_out_answers(tiny_oracle):
    """For "who painted the blue door": the old door shares 'the', 'door' and 'painted'; the red bridge shares
    only 'the' but is shorter than the green tower; the blue lake passage names the answer Ana Lind."""
    rows = load_multidoc_qa(tiny_oracle, split="all", gold_positions=(1, 3), n_documents=3, protocol="lost-in-the-middle")
    assert rows["id"] == ["0-g1", "0-g3", "1-g1", "1-g3", "2-g1", "2-g3", "3-g1", "3-g3", "4-g1", "4-g3"]
    gold = passage("Blue Door", "The Blue Door was painted by Ana Lind.", is_gold=True)
    old_door = passage("Old Door", "The old door is painted white.")
    red_bridge = passage("Red Bridge", "The red bridge is in Oslo.")
    assert rows[0]["documents"] == [gold, old_door, red_bridge]
    assert rows[1]["documents"] == [old_door, red_bridge, gold]
    assert rows[0]["answers"] == ["Ana Lind"] and rows[0]["gold_position"] == 1


def test_random_distractors_are_seeded_and_leave_out_answers(tiny_oracle):
    def distractor_titles(seed: int) -> list[list[str]]:
        rows = load_multidoc_qa(
            tiny_oracle, split="all", gold_positions=(1,), n_documents=3, distractors="random", seed=seed
        )
        return [[doc["title"] for doc in row["documents"][1:]] for row in rows]

    titles = distractor_titles(0)
    assert titles == distractor_titles(0)
    assert set(titles[0]) <= {"Red Bridge", "Green Tower", "Old Door"}
    assert any(distractor_titles(seed) != titles for seed in range(1, 6))


def test_question_whose_answer_is_everywhere_has_no_rows(tmp_path):
    lines = TINY_ORACLE[:3] + [oracle_line("which letter", ["E"], "Letters", "E is a letter.")]
    path = write_jsonl_gz(tmp_path / "oracle.jsonl.gz", lines)
    rows = load_multidoc_qa(path, split="all", gold_positions=(1,), n_documents=3)
    assert rows["question_index"] == [0, 1, 2]


def test_splits_of_a_file_are_disjoint_halves(tiny_oracle):
    kwargs = dict(gold_positions=(1,), n_documents=3, seed=1)
    train = list(load_multidoc_qa(tiny_oracle, split="train", **kwargs)["question_index"])
    test = list(load_multidoc_qa(tiny_oracle, split="test", **kwargs)["question_index"])
    assert len(train) == 2 and len(test) == 3
    assert sorted(train + test) == [0, 1, 2, 3, 4]


def lim_line(question: str, answers: list[str], titles: list[str], gold: int) -> dict:
    ctxs = [
        {"id": str(i), "title": title, "text": f"About {title}.", "hasanswer": i == gold, "isgold": i == gold}
        for i, title in enumerate(titles)
    ]
    return {"question": question, "answers": answers, "ctxs": ctxs}


@pytest.fixture
def lim_directory(tmp_path) -> Path:
    """Two questions, three documents, gold at 0-based 0 and 2."""
    write_jsonl_gz(
        tmp_path / "nq-open-3_total_documents_gold_at_0.jsonl.gz",
        [lim_line("q zero", ["a0"], ["G0", "X", "Y"], 0), lim_line("q one", ["a1"], ["G1", "Z", "W"], 0)],
    )
    write_jsonl_gz(
        tmp_path / "nq-open-3_total_documents_gold_at_2.jsonl.gz",
        [lim_line("q zero", ["a0"], ["X", "Y", "G0"], 2), lim_line("q one", ["a1"], ["Z", "W", "G1"], 2)],
    )
    return tmp_path


def test_lost_in_the_middle_files_are_read_as_they_are(lim_directory):
    rows = load_multidoc_qa(lim_directory, split="all", gold_positions=(1, 3), n_documents=3, protocol="lost-in-the-middle")
    assert rows["id"] == ["0-g1", "0-g3", "1-g1", "1-g3"]
    assert rows[3]["question"] == "q one" and rows[3]["answers"] == ["a1"]
    assert rows[3]["documents"] == [
        passage("Z", "About Z."),
        passage("W", "About W."),
        passage("G1", "About G1.", is_gold=True),
    ]
    assert [doc["title"] for doc in rows[0]["documents"]] == ["G0", "X", "Y"]


def test_lost_in_the_middle_folder_without_the_files_names_them(lim_directory):
    message = (
        r"has neither nq-open-3_total_documents_gold_at_1\.jsonl\.gz "
        r"\(Lost in the Middle's 3-document files for gold positions 1, 2, 3\) nor "
        r"nq-open-contriever-msmarco-retrieved-documents\.jsonl\.gz to build them from"
    )
    with pytest.raises(FocusInterpError, match=message):
        load_multidoc_qa(lim_directory, gold_positions=(1, 2, 3), n_documents=3)


def test_random_distractors_do_not_apply_to_a_folder(lim_directory):
    with pytest.raises(FocusInterpError, match="distractors='random' applies to the oracle file only"):
        load_multidoc_qa(lim_directory, gold_positions=(1, 3), n_documents=3, distractors="random")


def retrieved(title: str, hasanswer: bool) -> dict:
    return {"id": title, "title": title, "text": f"About {title.strip()}. ", "hasanswer": hasanswer, "score": "1.0"}


def retrieval_line(question: str, answers: list[str], ctxs: list[dict], gold: dict) -> dict:
    return {"question": question, "answers": answers, "ctxs": ctxs, "nq_annotated_gold": gold}


RETRIEVAL_LINES = [
    retrieval_line(
        "q zero",
        ["a0"],
        [retrieved("A0", True), retrieved(" X\n", False), retrieved("A1", True)]
        + [retrieved("Y", False), retrieved("Z", False)],
        {"title": " G0 ", "long_answer": "Long G0.", "chunked_long_answer": "Chunk of G0.\n", "short_answers": []},
    ),
    retrieval_line(
        "q one", ["a1"], [retrieved("V", False), retrieved("W", False)], {"title": "G1", "long_answer": "Long G1."}
    ),
    retrieval_line(
        "q two", ["a2"], [retrieved("U", False), retrieved("A2", True)], {"title": "G2", "long_answer": "Long G2."}
    ),
]


def test_lost_in_the_middle_rows_built_from_the_retrieval_file(tmp_path):
    """Gold = nq_annotated_gold (chunked_long_answer, else long_answer); distractors = the first two retrieved
    passages with hasanswer false, in retrieval order; q two has one such passage only, so it has no rows."""
    write_jsonl_gz(tmp_path / RETRIEVAL_FILE, RETRIEVAL_LINES)
    only_first_position = [lim_line("q zero", ["a0"], ["G0", "X", "Y"], 0)]
    write_jsonl_gz(tmp_path / "nq-open-3_total_documents_gold_at_0.jsonl.gz", only_first_position)
    rows = load_multidoc_qa(tmp_path, split="all", gold_positions=(1, 3), n_documents=3, protocol="lost-in-the-middle")
    assert rows["id"] == ["0-g1", "0-g3", "1-g1", "1-g3"]
    gold, x, y = passage("G0", "Chunk of G0.", is_gold=True), passage("X", "About X."), passage("Y", "About Y.")
    assert rows[0]["documents"] == [gold, x, y] and rows[1]["documents"] == [x, y, gold]
    assert rows[3]["documents"] == [passage("V", "About V."), passage("W", "About W."), passage("G1", "Long G1.", True)]
    assert rows[3]["question"] == "q one" and rows[3]["answers"] == ["a1"] and rows[3]["question_index"] == 1


def test_lost_in_the_middle_retrieval_line_without_annotated_gold_is_named(tmp_path):
    lines = [RETRIEVAL_LINES[0], {**RETRIEVAL_LINES[1], "nq_annotated_gold": {"title": "G1"}}]
    write_jsonl_gz(tmp_path / RETRIEVAL_FILE, lines)
    with pytest.raises(FocusInterpError, match=r"retrieved-documents\.jsonl\.gz, line 2: 'nq_annotated_gold' must"):
        load_multidoc_qa(tmp_path, gold_positions=(1,), n_documents=3)


def test_titles_and_texts_are_stripped_in_every_file(tmp_path):
    """Title " Blue Door " and text " The Blue Door was painted by Ana Lind.\n" read as "Blue Door" and
    "The Blue Door was painted by Ana Lind."; white space inside ("About X\n.") is kept."""
    lines = [oracle_line(f"q {i}", [f"a{i}"], f" T{i}\t", f"\n Text {i}. ") for i in range(3)]
    blue_door = " The Blue Door was painted by Ana Lind.\n"
    lines[0] = oracle_line("who painted the blue door", ["Ana Lind"], " Blue Door ", blue_door)
    oracle = write_jsonl_gz(tmp_path / "oracle.jsonl.gz", lines)
    rows = load_multidoc_qa(oracle, split="all", gold_positions=(2,), n_documents=3)
    assert rows[0]["documents"] == [
        passage("T1", "Text 1."),
        passage("Blue Door", "The Blue Door was painted by Ana Lind.", is_gold=True),
        passage("T2", "Text 2."),
    ]
    line = lim_line("q", ["g"], [" G ", "X\n"], 0)
    line["ctxs"][0]["text"] = "About G.\n\n"
    write_jsonl_gz(tmp_path / "nq-open-2_total_documents_gold_at_0.jsonl.gz", [line])
    rows = load_multidoc_qa(tmp_path, split="all", gold_positions=(1,), n_documents=2)
    assert rows[0]["documents"] == [passage("G", "About G.", is_gold=True), passage("X", "About X\n.")]


def test_lost_in_the_middle_line_without_gold_is_named(lim_directory):
    lines = [lim_line("q zero", ["a0"], ["X", "Y", "G0"], 2), lim_line("q one", ["a1"], ["Z", "W", "G1"], 5)]
    write_jsonl_gz(lim_directory / "nq-open-3_total_documents_gold_at_2.jsonl.gz", lines)
    with pytest.raises(FocusInterpError, match=r"gold_at_2\.jsonl\.gz, line 2: .*found none"):
        load_multidoc_qa(lim_directory, split="all", gold_positions=(1, 3), n_documents=3)


def test_missing_source():
    with pytest.raises(FocusInterpError, match="nope.jsonl.gz not found"):
        load_multidoc_qa("/nonexistent/nope.jsonl.gz")


def test_empty_file(tmp_path):
    with pytest.raises(FocusInterpError, match="empty.jsonl.gz is empty"):
        load_multidoc_qa(write_jsonl_gz(tmp_path / "empty.jsonl.gz", []))


def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(TINY_ORACLE[0]) + "\n{not json\n")
    with pytest.raises(FocusInterpError, match=r"broken\.jsonl\.gz, line 2 is not valid JSON"):
        load_multidoc_qa(path)


def test_line_separators_inside_a_string_do_not_split_a_line(tmp_path):
    """U+2028 and U+0085 are line breaks to str.splitlines, not to JSON lines: the title stays whole."""
    path = tmp_path / "oracle.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(oracle_line("q", ["b"], "A\u2028B\x85C", "Text."), ensure_ascii=False) + "\n")
    rows = load_multidoc_qa(path, split="all", gold_positions=(1,), n_documents=1)
    assert rows[0]["documents"] == [passage("A\u2028B\x85C", "Text.", is_gold=True)]


def test_oracle_line_without_gold_passage_is_named(tmp_path):
    lines = [TINY_ORACLE[0], {"question": "q", "answers": ["a"], "ctxs": []}]
    with pytest.raises(FocusInterpError, match=r"oracle\.jsonl\.gz, line 2 has no gold passage"):
        load_multidoc_qa(write_jsonl_gz(tmp_path / "oracle.jsonl.gz", lines))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(split="validation"), "unknown split 'validation'"),
        (dict(distractors="easy"), "unknown distractors 'easy'"),
        (dict(gold_positions=(0, 5)), r"gold position 0 is outside 1\.\.20"),
        (dict(gold_positions=(1, 21)), r"gold position 21 is outside 1\.\.20"),
        (dict(gold_positions=(3, 3)), "must be distinct"),
        (dict(n=0), "n=0 must be a positive number"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(FocusInterpError, match=message):
        load_multidoc_qa(**kwargs)


def test_n_larger_than_the_split(tiny_oracle):
    with pytest.raises(FocusInterpError, match=r"n=11 is more than the 10 rows of the all split \(5 questions x 2"):
        load_multidoc_qa(tiny_oracle, split="all", n=11, gold_positions=(1, 3), n_documents=3)


ROW = {
    "question": "who painted the blue door",
    "documents": [
        passage("Red Bridge", "The red bridge is in Oslo."),
        passage("Blue Door", "The Blue Door was painted by Ana Lind.", is_gold=True),
        passage("Old Door", "The old door is painted white."),
    ],
}


def segments(parts) -> dict[str, str]:
    return {part.name: part.text for part in parts if isinstance(part, Segment)}


RED = "(Title: Red Bridge) The red bridge is in Oslo."
BLUE = "(Title: Blue Door) The Blue Door was painted by Ana Lind."
OLD = "(Title: Old Door) The old door is painted white."


def test_lost_in_the_middle_parts_renumber_and_span_whole_documents():
    red, blue, old = RED, BLUE, OLD
    row = {**ROW, "protocol": "lost-in-the-middle"}
    long, gold, no_gold = segments(long_parts(row)), segments(gold_parts(row)), segments(no_gold_parts(row))
    assert [long["doc_1"], long["doc_2"], long["doc_3"]] == [
        f"Document [1]{red}",
        f"Document [2]{blue}",
        f"Document [3]{old}",
    ]
    assert [name for name in gold if name.startswith("doc_")] == ["doc_1"] and gold["doc_1"] == f"Document [1]{blue}"
    assert [no_gold["doc_1"], no_gold["doc_2"]] == [f"Document [1]{red}", f"Document [2]{old}"]
    assert "doc_3" not in no_gold
    assert long["question"] == gold["question"] == no_gold["question"] == "Question: who painted the blue door"


def test_paper_parts_keep_numbers_and_span_the_text_after_them():
    """The authors' get_qa_prompt_and_gold_prompt / get_qa_prompt: gold-only and no-gold prompts keep
    ``Document [k]``, and their needle and irrelevant documents are ``(Title: ...) text``."""
    row = {**ROW, "protocol": "paper"}
    long, gold, no_gold = long_parts(row), gold_parts(row), no_gold_parts(row)
    assert segments(long) == {"instruction": INSTRUCTION, "doc_1": RED, "doc_2": BLUE, "doc_3": OLD,
                              "question": "Question: who painted the blue door"}
    assert "Document [2]" in gold and segments(gold)["doc_2"] == BLUE and "doc_1" not in segments(gold)
    assert "".join(p if isinstance(p, str) else p.text for p in no_gold[2:7]) == f"Document [1]{RED}\nDocument [3]{OLD}"
    assert all(part.inside for part in long if isinstance(part, Segment) and part.name.startswith("doc_"))


def test_gold_and_irrelevant_segments():
    assert gold_segment(ROW) == "doc_2"
    assert irrelevant_segments(ROW) == ["doc_1", "doc_3"]
    row = load_multidoc_qa(n=2)[1]
    assert gold_segment(row) == "doc_5"
    assert irrelevant_segments(row) == [f"doc_{i}" for i in range(1, 21) if i != 5]


def test_row_without_a_single_gold_document():
    row = {"question": "q", "documents": [passage("A", "a."), passage("B", "b.")]}
    with pytest.raises(FocusInterpError, match="exactly one gold document"):
        gold_segment(row)


def test_gold_prompts_of_the_oracle_train_rows_build(tmp_path):
    """Row 236-g1's gold passage ends in a newline; stripped, every gold-only prompt locates its segments."""
    if not ORACLE.is_file():
        pytest.skip(f"{ORACLE} is not on this machine")
    rows = load_multidoc_qa(ORACLE, split="train", n=600, gold_positions=(1,))
    assert "236-g1" in rows["id"]
    tokenizer = tiny_tokenizer()
    for row in rows:
        gold = row["documents"][0]
        assert gold["title"] == gold["title"].strip() and gold["text"] == gold["text"].strip()
        assert build_prompt(tokenizer, gold_parts(row)).spans["doc_1"]


@pytest.fixture(scope="module")
def oracle_rows():
    if not ORACLE.is_file():
        pytest.skip(f"{ORACLE} is not on this machine")
    return {
        kind: load_multidoc_qa(ORACLE, split="train", n=150, distractors=kind) for kind in ("hard", "random")
    }


def test_oracle_distractors_never_hold_an_answer(oracle_rows):
    for rows in oracle_rows.values():
        assert len(set(rows["question_index"])) == 30
        for row in rows:
            assert [doc["is_gold"] for doc in row["documents"]].index(True) == row["gold_position"] - 1
            assert sum(doc["is_gold"] for doc in row["documents"]) == 1 and len(row["documents"]) == 20
            answers = [a for a in map(normalize_answer, row["answers"]) if a]
            for doc in row["documents"]:
                if not doc["is_gold"]:
                    text = normalize_answer(f"{doc['title']} {doc['text']}")
                    assert not any(answer in text for answer in answers), (row["id"], doc["title"])


def test_oracle_hard_and_random_distractors_differ(oracle_rows):
    hard, random = oracle_rows["hard"], oracle_rows["random"]
    assert hard["id"] == random["id"]
    for hard_row, random_row in zip(hard, random):
        assert hard_row["documents"] != random_row["documents"]
        position = hard_row["gold_position"] - 1
        assert hard_row["documents"][position] == random_row["documents"][position]


def test_paper_rows_shuffle_the_same_distractors_anew_for_every_gold_position():
    """The authors' process_single_sample: the same distractors for every gold position of a question,
    ``random.shuffle``d each time, the gold inserted at its position."""
    options = dict(n=6, gold_positions=(1, 4, 8), n_documents=8)
    paper, plain = load_multidoc_qa(**options, seed=3), load_multidoc_qa(**options, seed=3, protocol="lost-in-the-middle")
    assert paper["protocol"] == ["paper"] * 6 and plain["protocol"] == ["lost-in-the-middle"] * 6
    orders = []
    for shuffled, kept in zip(paper, plain):
        assert shuffled["documents"][shuffled["gold_position"] - 1] == kept["documents"][kept["gold_position"] - 1]
        distractors = [d["title"] for d in shuffled["documents"] if not d["is_gold"]]
        assert sorted(distractors) == sorted(d["title"] for d in kept["documents"] if not d["is_gold"])
        orders.append(distractors)
    assert len({tuple(order) for order in orders[:3]}) == 3
    assert load_multidoc_qa(**options, seed=3)["documents"] == paper["documents"]
    assert load_multidoc_qa(**options, seed=4)["documents"] != paper["documents"]


def test_paper_split_is_the_authors_permutation(tiny_oracle):
    """Their train_test_split: ``random.seed(42); random.shuffle(lines)``, the first half train."""
    lines = list(range(len(TINY_ORACLE)))
    random.seed(42)
    random.shuffle(lines)
    half = len(lines) // 2
    rows = {split: load_multidoc_qa(tiny_oracle, split=split, gold_positions=(1,), n_documents=2) for split in ("train", "test")}
    assert set(rows["train"]["question_index"]) == set(lines[:half])
    assert set(rows["test"]["question_index"]) == set(lines[half:])


def test_paper_spans_on_the_default_tokenizer_are_the_text_after_document_k(default_model):
    """SmolLM2 joins ``](`` into one token: the paper's span is the tokens wholly inside ``(Title: ...) text``."""
    tokenizer = default_model.tokenizer
    row = load_multidoc_qa(n=1, n_documents=3, gold_positions=(2,))[0]
    prompts = sample_prompts(tokenizer, row)
    for number, document in enumerate(row["documents"], start=1):
        start, end = prompts.long.spans[f"doc_{number}"]
        assert tokenizer.decode(prompts.long.input_ids[start - 1 : start]) == "]("
        assert tokenizer.decode(prompts.long.input_ids[start:end]) == f"Title: {document['title']}) {document['text']}"
    gold_start, gold_end = prompts.gold_only.spans[prompts.gold_relevant]
    assert prompts.gold_relevant == "doc_2" and "Document [2](" in prompts.gold_only.text
    assert tokenizer.decode(prompts.gold_only.input_ids[gold_start:gold_end]).startswith("Title: ")
    assert "Document [1](" in prompts.no_gold.text and "Document [3](" in prompts.no_gold.text
    plain = sample_prompts(tokenizer, {**row, "protocol": "lost-in-the-middle"})
    start, end = plain.long.spans["doc_2"]
    assert tokenizer.decode(plain.long.input_ids[start:end]).startswith("Document [2](Title: ")


def test_paper_sink_on_a_llama3_style_template_is_two_bos():
    """The authors tokenize the templated text with special tokens added: a template that opens with BOS and a
    tokenizer that adds one give [BOS, BOS]; the other protocol keeps the template's own."""
    from tokenizers.processors import TemplateProcessing

    tokenizer = tiny_tokenizer()
    bos = tokenizer.convert_tokens_to_ids("<s>")
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    tokenizer.chat_template = "<s>" + tokenizer.chat_template
    row = {**ROW, "answers": ["Ana Lind"], "id": "r"}
    paper = sample_prompts(tokenizer, {**row, "protocol": "paper"}).long
    plain = sample_prompts(tokenizer, {**row, "protocol": "lost-in-the-middle"}).long
    assert paper.input_ids[:2] == (bos, bos) and paper.tokens("sink") == (bos, bos)
    assert plain.input_ids[0] == bos and plain.input_ids[1] != bos and plain.input_ids[1:] == paper.input_ids[2:]
