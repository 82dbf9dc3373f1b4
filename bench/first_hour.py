"""What a new user waits for: the CLI's start, and the app's first question after it says it is serving.

- the bare interpreter's start (`python -c pass`), the floor of every command;
- `rag config`, `rag list` and `rag check` (no model: they should cost little more than the floor);
- `rag ask QUESTION`, from start to answer (the model loaded, the question answered);
- the app (`python app.py`) started on the sample index: the time until it answers HTTP, then the first
  question through its API (gradio_client) and the next four.

Each command is run --runs times; medians are printed. The sample index is built once in bench/.cache.

    .venv/bin/python bench/first_hour.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
QUESTIONS = [
    "How many North Korean troops were being trained before being sent to Ukraine?",
    "What did Justin Crump say about why Russia would need North Korean soldiers?",
    "How old is Donald Trump?",
    "Who is the UK defence secretary?",
    "What did John Healey say?",
]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "GRADIO_SERVER_"))}


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env(), cwd=ROOT)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_times(index: Path) -> tuple[float, float, list[float]]:
    """Seconds until the app answers HTTP, then its first question and the next ones."""
    import httpx
    from gradio_client import Client

    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "app.py", "--index", str(index), "--port", str(port)], env=env(),
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.perf_counter() - started > 300:
                raise RuntimeError("the app did not start")
            time.sleep(0.1)
        serving = time.perf_counter() - started
        client = Client(url, verbose=False)
        answers = []
        for question in QUESTIONS:
            began = time.perf_counter()
            client.predict(question, api_name="/ask")
            answers.append(time.perf_counter() - began)
        return serving, answers[0], answers[1:]
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    index = CACHE / "first-hour" / "index"
    rag = [sys.executable, "-m", "rag.cli"]
    if not (index / "manifest.json").exists():
        subprocess.run([*rag, "ingest", str(ROOT / "data" / "articles"), "--index", str(index), "-q"], check=True)
    commands = {
        "python -c pass (the floor)": [sys.executable, "-c", "pass"],
        "rag config": [*rag, "config"],
        "rag list": [*rag, "list", "--index", str(index)],
        "rag check": [*rag, "check", "--index", str(index)],
        "rag ask QUESTION (start to answer)": [*rag, "ask", QUESTIONS[0], "--index", str(index)],
    }
    print("| command | median | / floor |")
    print("|---|---|---|")
    floor = None
    for label, command in commands.items():
        median = statistics.median(timed(command) for _ in range(args.runs))
        floor = floor or median
        print(f"| `{label}` | {median:.2f} s | {median / floor:.1f}x |", flush=True)
    runs = [app_times(index) for _ in range(max(1, args.runs // 2))]
    serving = statistics.median(r[0] for r in runs)
    first = statistics.median(r[1] for r in runs)
    later = statistics.median(t for r in runs for t in r[2])
    print("\n| the app | median |")
    print("|---|---|")
    print(f"| start until it answers HTTP | {serving:.1f} s |")
    print(f"| first question after that (API) | {first:.2f} s |")
    print(f"| the next questions | {later:.2f} s |")


if __name__ == "__main__":
    main()
