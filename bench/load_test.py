"""Load test: many concurrent chat sessions against the launched app while articles are uploaded.

Starts `app.py` on a free port over a fresh index of the sample articles, measures single-user
latency first (the baseline of this run), then runs --sessions gradio_client sessions asking
--questions questions each, while another client uploads articles through /ingest. Every answer's
citations are checked against the article text; any error is counted. Stops by itself.

    .venv/bin/python bench/load_test.py [--sessions 16] [--questions 20]
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import ROOT, paragraph_pool, percentile  # noqa: E402

QUESTIONS = [
    "How many North Korean troops were being trained before being sent to Ukraine?",
    "What did Justin Crump say about why Russia would need North Korean soldiers?",
    "How old is Donald Trump?",
    "What is the boiling point of mercury?",
    "Where were the North Korean troops arriving?",
    "What did Zelenskyy say about North Korean officers?",
    "Who is Adrienne Uthe?",
    "What has North Korea sent to Russia since August 2023?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the app did not start at {url}")


def valid(answer: dict, texts: dict[str, str]) -> bool:
    for c in answer["citations"] + answer["closest"]:
        text = texts.get(c["article_id"])
        if text is not None and text[c["start"] : c["end"]] != c["quote"]:
            return False
    return True


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds per answered question
    answers: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0


def run_load(url: str, sessions: int, questions: int, uploads: list[Path], batch: int = 5) -> LoadResult:
    """``sessions`` concurrent gradio_client sessions ask ``questions`` questions each (drawn from
    QUESTIONS) while one more client uploads ``uploads`` through /ingest, ``batch`` files at a time."""
    from gradio_client import Client, handle_file

    result = LoadResult()
    lock = threading.Lock()

    def session(seed: int) -> None:
        client = Client(url, verbose=False)
        picker = random.Random(seed)
        for _ in range(questions):
            question = picker.choice(QUESTIONS)
            started = time.perf_counter()
            try:
                answer = client.predict(question, api_name="/ask")
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                result.latencies.append(time.perf_counter() - started)
                result.answers.append(answer)

    def uploader() -> None:
        client = Client(url, verbose=False)
        for start in range(0, len(uploads), batch):
            try:
                client.predict([handle_file(str(p)) for p in uploads[start : start + batch]], api_name="/ingest")
            except Exception as exc:  # noqa: BLE001
                with lock:
                    result.errors.append(f"ingest {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    threads.append(threading.Thread(target=uploader))
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=1800)
    result.wall = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=40, help="articles uploaded during the load")
    args = parser.parse_args()
    from gradio_client import Client

    from rag import Index, Settings

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--index", str(index_dir), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(url)
            rng = random.Random(0)
            uploads = []
            for i, (title, text) in enumerate(rng.sample(paragraph_pool(), args.uploads)):
                path = Path(tmp) / f"upload-{i:03d}.txt"
                path.write_text(f"{title}: dispatch {i}\n\n{text}\n", encoding="utf-8")
                uploads.append(path)

            single = Client(url, verbose=False)
            baseline = []
            for question in QUESTIONS * 3:
                started = time.perf_counter()
                single.predict(question, api_name="/ask")
                baseline.append(time.perf_counter() - started)
            load = run_load(url, args.sessions, args.questions, uploads)
        finally:
            server.terminate()
            server.wait(timeout=30)

        with Index(Settings(index_dir=index_dir)) as index:
            texts = {a.id: index.store.article(a.id).text for a in index.articles()}
            problems = index.check()
            articles = index.stats().articles
        invalid = sum(not valid(a, texts) for a in load.answers)
        print(
            f"{args.sessions} sessions x {args.questions} questions, {len(uploads)} articles uploaded meanwhile; "
            f"{load.wall:.0f}s wall time; the index now holds {articles} articles; integrity check: "
            f"{'ok' if not problems else problems}"
        )
        print("| measure | value |")
        print("|---|---|")
        print(f"| answers | {len(load.answers)} |")
        print(f"| errors | {len(load.errors)} |")
        print(f"| answers with an invalid citation | {invalid} |")
        print(
            f"| single-user p50 / p95 | {percentile(baseline, 50) * 1000:.0f} ms / "
            f"{percentile(baseline, 95) * 1000:.0f} ms |"
        )
        print(
            f"| under load p50 / p95 | {percentile(load.latencies, 50) * 1000:.0f} ms / "
            f"{percentile(load.latencies, 95) * 1000:.0f} ms |"
        )
        print(f"| throughput under load | {len(load.answers) / load.wall:.1f} answers/s |")
        for error in load.errors[:5]:
            print("error:", error[:200])


if __name__ == "__main__":
    main()
