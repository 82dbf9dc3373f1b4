"""The ``rag`` command: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .auth import ROLES, add_user, load_users, remove_user
from .config import MODES, Settings, index_location, keep_private, markdown_table, resolve
from .dates import date_bound
from .errors import RagError, rebuild_hint
from .export import article_to_dict, report_to_dict
from .feeds import ingest_sources, parse_interval, watch
from .index import Index
from .progress import count_progress, terminal_progress
from .store.copy import copy_index
from .types import Filters, day


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--index", metavar="DIR|URL",
        help="index folder, or postgresql://user@host/db for PostgreSQL (default: $RAG_INDEX or embeddings/)",
    )
    common.add_argument("--model", help="sentence-transformers model name or path (default: the index's model)")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common.add_argument(
        "--read-only", action="store_true", default=None, help="write nothing to the index (default: $RAG_READ_ONLY)"
    )
    return common


def _filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--article", action="append", default=[], metavar="ID", help="only this article (repeatable)")
    parser.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    parser.add_argument("--since", metavar="DATE", help="published on or after (YYYY-MM-DD)")
    parser.add_argument("--until", metavar="DATE", help="published on or before (YYYY-MM-DD)")


def _filters(args: argparse.Namespace) -> Filters:
    return Filters.parse(
        article_ids=args.article,
        sources=args.source,
        date_from=args.since,
        date_to=args.until,
        names=("--since", "--until"),
    )


def _parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="rag", description=__doc__, parents=[common])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", parents=[common], help="add articles from files, folders or feeds")
    ingest.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=".txt .md .html .json .jsonl .pdf files or folders; RSS/Atom feeds as .rss .atom .xml files or "
        "http(s) URLs",
    )
    ingest.add_argument("--chunk-tokens", type=int, help="largest chunk in tokens (new index only)")
    ingest.add_argument("--overlap-tokens", type=int, help="sentence overlap in tokens (new index only)")
    ingest.add_argument("--json", action="store_true", help="machine-readable report")

    watching = commands.add_parser(
        "watch", parents=[common], help="keep ingesting new files and feed entries until stopped"
    )
    watching.add_argument(
        "sources", nargs="+", metavar="FOLDER_OR_FEED", help="folders, files, feed files or http(s) feed URLs"
    )
    watching.add_argument(
        "--every", metavar="INTERVAL", help="time between rounds: 30s, 15m, 1h (default: $RAG_WATCH_EVERY or 15m)"
    )
    watching.add_argument("--once", action="store_true", help="one round, then exit (for cron)")

    search = commands.add_parser("search", parents=[common], help="find the passages that match a question")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    search.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    _filter_arguments(search)
    search.add_argument(
        "--all-copies", action="store_true", help="every copy of a story (default: its newest version only)"
    )
    search.add_argument("--json", action="store_true", help="machine-readable output")

    ask = commands.add_parser("ask", parents=[common], help="answer a question, quoting and citing the articles")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=None, help="passages retrieved (default 8)")
    ask.add_argument("--sentences", type=int, default=None, help="most sentences quoted (1-5, default 3)")
    ask.add_argument("--format", choices=["text", "md", "json", "html"], default="text")
    ask.add_argument("-o", "--output", metavar="FILE", help="write the answer to FILE instead of printing it")
    ask.add_argument(
        "--as-of",
        metavar="DATE",
        help="answer as of this day (default today): nothing published later is read, and the question's "
        "time words ('this week', 'on Monday') count back from it",
    )
    _mode_argument(ask)
    _filter_arguments(ask)

    evaluate = commands.add_parser("eval", parents=[common], help="measure retrieval and answers on a QA set")
    evaluate.add_argument(
        "files", nargs="+", metavar="FILE", help="SQuAD-format .json, CLAPNQ-format .jsonl, or reader questions .jsonl"
    )
    evaluate.add_argument("--against", metavar="DIR", help="ask the questions against this index instead")
    evaluate.add_argument("--limit", type=int, help="only the first N questions")
    evaluate.add_argument(
        "--corpus", action="append", default=[], metavar="PATH", help="for reader questions: the articles to ask"
    )
    evaluate.add_argument("--failures", action="store_true", help="for reader questions: list the wrong answers")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    _mode_argument(evaluate)

    listing = commands.add_parser("list", parents=[common], help="the articles in the index")
    listing.add_argument("--json", action="store_true")
    listing.add_argument(
        "--stories", action="store_true", help="the stories told by several articles (copies, updated versions)"
    )
    stats = commands.add_parser("stats", parents=[common], help="size, model and type of the index")
    stats.add_argument("--json", action="store_true")
    remove = commands.add_parser("remove", parents=[common], help="remove articles by id")
    remove.add_argument("ids", nargs="+", metavar="ID")
    commands.add_parser("check", parents=[common], help="check that vectors, rows and keyword index agree")
    copying = commands.add_parser(
        "copy", parents=[common], help="copy an index to another place or backend (folder, PostgreSQL) with its vectors"
    )
    copying.add_argument("source", metavar="SOURCE", help="the index to copy: a folder or postgresql://... URL")
    copying.add_argument("destination", metavar="DEST", help="where to copy it (made if there is no index there)")
    _user_commands(commands)
    config = commands.add_parser("config", parents=[common], help="the settings in effect and where each came from")
    shown = config.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="machine-readable output")
    shown.add_argument("--markdown", action="store_true", help="the table of every setting, as in the README")
    return parser


def _user_commands(commands) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--auth-file", metavar="FILE", help="the chat app's auth file (default: $RAG_AUTH_FILE)")
    users = commands.add_parser("user", help="the chat app's logins: add, remove or list users")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        parents=[where],
        help="add a user, or give one a new password and role; the password is asked for (or read from "
        "standard input when that is not a terminal)",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--role",
        choices=ROLES,
        required=True,
        help="reader: asks, sees sources, exports; editor: also adds and removes articles",
    )
    remove = actions.add_parser("remove", parents=[where], help="remove a user")
    remove.add_argument("name", metavar="NAME")
    actions.add_parser("list", parents=[where], help="the users and their roles")


def _mode_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=MODES,
        help="extractive quotes sentences (default, or RAG_ANSWER_MODE); generative asks the language model "
        "at RAG_LLM_URL and checks every citation",
    )


def _overrides(args: argparse.Namespace) -> dict:
    """The settings given on the command line (the entry point reads the environment; see rag.config)."""
    return {
        "index_dir": args.index,
        "model": args.model,
        "chunk_tokens": getattr(args, "chunk_tokens", None),
        "overlap_tokens": getattr(args, "overlap_tokens", None),
        "answer_mode": getattr(args, "mode", None) if args.command in ("ask", "eval") else None,
        "read_only": args.read_only,
    }


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(**_overrides(args))


def cmd_ingest(args: argparse.Namespace) -> int:
    with Index(_settings(args), create=True) as index:
        update, close = terminal_progress(args.quiet or args.json)
        try:
            report = ingest_sources(index, args.paths, progress=update)
        finally:
            close()
        stats = index.stats()
    if args.json:
        print(json.dumps({**report_to_dict(report), "articles": stats.articles}, ensure_ascii=False, indent=2))
    else:
        print(report.summary())
        print(f"index {stats.folder}: {stats.articles} articles, {stats.chunks} chunks")
    return 1 if report.rejected else 0


def cmd_watch(args: argparse.Namespace) -> int:
    settings = Settings.from_env(**_overrides(args), watch_every=args.every)
    every = parse_interval(settings.watch_every)
    shown: set[str] = set()  # problem lines already printed: a feed that stays down is said once
    rejected = False

    def on_round(number: int, report) -> None:
        nonlocal rejected
        rejected = bool(report.rejected)
        if args.once:
            print(report.summary(), flush=True)
            return
        problems = [line for line in report.summary().splitlines()[1:] if line not in shown]
        shown.update(problems)
        if report.added or problems:
            lines = [f"{time.strftime('%Y-%m-%d %H:%M:%S')} round {number}: {report.summary().splitlines()[0]}"]
            print("\n".join(lines + problems), flush=True)

    with Index(settings, create=True) as index:
        if not args.once:
            count = f"{len(args.sources)} source{'s' if len(args.sources) != 1 else ''}"
            print(f"watching {count} every {settings.watch_every}; Ctrl-C stops", flush=True)
        try:
            watch(index, args.sources, every, rounds=1 if args.once else None, on_round=on_round)
        except KeyboardInterrupt:
            print("stopped; everything committed so far is kept", file=sys.stderr)
            return 130
        if args.once:
            stats = index.stats()
            print(f"index {stats.folder}: {stats.articles} articles, {stats.chunks} chunks")
    return 1 if rejected else 0


def cmd_search(args: argparse.Namespace) -> int:
    with Index(_settings(args)) as index:
        passages = index.search(
            args.question, k=args.k, filters=_filters(args), mode=args.mode, stories=not args.all_copies
        )
    if args.json:
        print(json.dumps([asdict(p) for p in passages], ensure_ascii=False, indent=2))
        return 0
    if not passages:
        print("no matching passages")
    for rank, p in enumerate(passages, 1):
        where = ", ".join(x for x in (day(p.published), p.source or p.url) if x)
        print(f"[{rank}] {p.title}" + (f" ({where})" if where else ""))
        print(f"    article {p.article_id}, characters {p.start}-{p.end}, score {p.score:.4f}")
        print("    " + " ".join(p.text.split()))
        print()
    return 0


def render_text(answer) -> str:
    """An answer for the terminal: the text, then the numbered references."""
    from .export import attribution_line, checks_summary, kind_line, time_line

    lines = [answer.notice, ""] if answer.notice else []
    lines += [answer.text, ""]
    lines += [line for line in (kind_line(answer), time_line(answer)) if line]
    lines += [""] if kind_line(answer) or time_line(answer) else []
    if answer.unsupported:
        lines += ["Not supported by any passage (check before use):"]
        lines += [f"  ! {sentence}" for sentence in answer.unsupported] + [""]
    if answer.checks:
        lines += [checks_summary(answer), ""]
    cited = answer.citations or answer.closest
    if answer.closest:
        lines.append("Closest matches:")
    for c in cited:
        where = ", ".join(x for x in (day(c.published), c.source or c.url) if x)
        lines.append(f"[{c.number}] {c.title}" + (f" ({where})" if where else ""))
        if attribution_line(c):
            lines.append(f"    {attribution_line(c)}")
        lines.append(f"    \u201c{' '.join(c.quote.split())}\u201d")
        lines.append(f"    article {c.article_id}, characters {c.start}-{c.end}")
    return "\n".join(lines).rstrip() + "\n"


def cmd_ask(args: argparse.Namespace) -> int:
    from .answer import Assistant
    from .export import export

    with Index(_settings(args)) as index:
        answer = Assistant(index).ask(
            args.question,
            k=args.k,
            filters=_filters(args),
            max_sentences=args.sentences,
            mode=args.mode,
            as_of=date_bound(args.as_of, "--as-of"),
        )
    output = render_text(answer) if args.format == "text" else export(answer, args.format)
    if args.output:
        Path(args.output).write_text(output, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    progress = None
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(desc="questions", unit="q")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

    wrong: list[str] = []
    try:
        report = evaluate(
            args.files,
            against=args.against,
            limit=args.limit,
            settings=_settings(args),
            mode=args.mode,
            progress=progress,
            corpus=args.corpus,
            failures_out=wrong,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:30} {value:.3f}" if isinstance(value, float) else f"{key:30} {value}")
    if args.failures and wrong:
        print("\nwrong answers:", *wrong, sep="\n")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.stories:
        return _list_stories(args)
    with Index(_settings(args)) as index:
        articles = index.articles()
    if args.json:
        print(json.dumps([article_to_dict(a) for a in articles], ensure_ascii=False, indent=2))
        return 0
    for a in articles:
        date = day(a.published) or "-"
        print(f"{a.id}  {date:10}  {a.chunks:4d} chunks  {a.title}")
    print(f"{len(articles)} articles")
    return 0


def _list_stories(args: argparse.Namespace) -> int:
    with Index(_settings(args)) as index:
        stories = index.stories()
    if args.json:
        print(json.dumps([[article_to_dict(a) for a in story] for story in stories], ensure_ascii=False, indent=2))
        return 0
    for story in stories:
        print(f"story of {len(story)} articles, newest first:")
        for a in story:
            print(f"  {a.id}  {day(a.published) or '-':10}  {a.source or '-':16.16}  {a.title}")
    print(f"{len(stories)} stories told by more than one article")
    return 0


SEARCH_KINDS = {"flat": "exact (flat)", "ivf": "approximate (IVF)", "hnsw": "approximate (pgvector HNSW)"}


def cmd_stats(args: argparse.Namespace) -> int:
    with Index(_settings(args)) as index:
        stats = index.stats()
    if args.json:
        print(json.dumps(asdict(stats), indent=2))
        return 0
    print(f"index:        {stats.folder}")
    print(f"articles:     {stats.articles}")
    print(f"chunks:       {stats.chunks}")
    print(f"model:        {stats.model} ({stats.dimension} dimensions)")
    print(f"search:       {SEARCH_KINDS.get(stats.index_type, stats.index_type)}")
    print(f"chunking:     up to {stats.chunk_tokens} tokens, {stats.overlap_tokens} tokens overlap")
    print(f"size on disk: {stats.size_bytes / 2**20:.1f} MB")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with Index(_settings(args)) as index:
        removed = index.remove(args.ids)
    for article_id in args.ids:
        print(f"{'removed' if article_id in removed else 'not found'}: {article_id}")
    return 0 if len(removed) == len(set(args.ids)) else 1


def cmd_check(args: argparse.Namespace) -> int:
    with Index(_settings(args)) as index:
        problems = index.check()
        stats = index.stats()
    if problems:
        for problem in problems:
            print(f"problem: {problem}")
        print(f"the index is inconsistent; {rebuild_hint(stats.folder)}")
        return 1
    print(f"ok: {stats.articles} articles, {stats.chunks} chunks; vectors, rows and keyword index agree")
    if index.read_only:
        print(f"read-only: {index.read_only_reason}")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    source = index_location(args.source)
    destination = index_location(args.destination)
    update, close = count_progress("articles", args.quiet)
    try:
        report = copy_index(source, destination, progress=update)
    finally:
        close()
    print(
        f"copied {report.articles} articles ({report.chunks} chunks, with their vectors: nothing was embedded) "
        f"from {report.source} to {report.destination}"
        + (f"; {report.skipped} were there already" if report.skipped else "")
    )
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    path = Settings.from_env(auth_file=args.auth_file).auth_file
    if path is None:
        raise RagError("which auth file? Give --auth-file FILE or set RAG_AUTH_FILE")
    if args.action == "list":
        for user in load_users(path).values():
            print(f"{user.name}  {user.role}")
        return 0
    if args.action == "remove":
        if not remove_user(path, args.name):
            print(f"error: {args.name} is not a user in {path}", file=sys.stderr)
            return 1
        print(f"removed {args.name} from {path}")
        return 0
    new = add_user(path, args.name, args.role, _read_password(args.name))
    done = "added" if new else "set a new password and role for"
    print(f"{done} {args.name} ({args.role}) in {path}")
    return 0


def _read_password(name: str) -> str:
    """The new password: asked twice without echo at a terminal, else the first line of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("the same password again: ") != password:
            raise RagError("the two passwords differ; nothing was changed")
        return password
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise RagError("no password given: type it at a terminal, or pipe it in on standard input")
    return line.rstrip("\r\n")


def cmd_config(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(markdown_table())
        return 0
    _, effective = resolve(**_overrides(args))
    if args.json:
        rows = [{"setting": e.name, "variable": e.variable, "value": e.shown, "origin": e.origin} for e in effective]
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(e.variable) for e in effective)
    for e in effective:
        print(f"{e.variable:{width}}  {e.shown or '(none)':32}  {e.origin}")
    return 0


COMMANDS = {
    "ingest": cmd_ingest,
    "watch": cmd_watch,
    "search": cmd_search,
    "ask": cmd_ask,
    "eval": cmd_eval,
    "list": cmd_list,
    "stats": cmd_stats,
    "remove": cmd_remove,
    "check": cmd_check,
    "copy": cmd_copy,
    "config": cmd_config,
    "user": cmd_user,
}


def main(argv: list[str] | None = None) -> int:
    keep_private()  # before anything imports the model hub
    args = _parser().parse_args(argv)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged PDFs are reported, not logged
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)  # a server that is down is reported once
    try:
        return COMMANDS[args.command](args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything committed so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
