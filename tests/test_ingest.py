import random
import re
import shutil

import pytest

from rag.types import Filters

from .conftest import DATA, SAMPLE


def test_folder_of_every_format_is_ingested(make_index, good_files):
    index = make_index()
    report = index.ingest([good_files])
    assert report.added == 8
    assert report.rejected == [] and report.skipped == []
    titles = {a.title for a in index.articles()}
    assert {
        "Council Approves New Harbour Bridge",
        "Volunteers Restore Cape Verran Lighthouse",
        "Airport Gets Second Runway",
        "Ferry Strike Called Off",
    } <= titles
    assert index.check() == []


def test_reingesting_an_unchanged_folder_embeds_nothing(make_index, good_files):
    index = make_index()
    first = index.ingest([good_files])
    again = index.ingest([good_files])
    assert first.chunks_embedded > 0
    assert again.chunks_embedded == 0
    assert (again.added, again.unchanged, again.duplicate) == (0, first.added, 0)
    assert {f.status for f in again.files} == {"unchanged"}


def test_same_article_in_two_files_is_stored_once(make_index, tmp_path):
    folder = tmp_path / "copies"
    folder.mkdir()
    shutil.copy(DATA / "good" / "orchard.txt", folder / "a.txt")
    shutil.copy(DATA / "good" / "orchard.txt", folder / "b.txt")
    (folder / "c.md").write_text(
        "# Apple Harvest Falls After Late Frost\n\n" + (DATA / "good" / "orchard.txt").read_text().split("\n", 2)[2]
    )
    index = make_index()
    report = index.ingest([folder])
    assert (report.added, report.duplicate) == (1, 2)
    assert len(index.articles()) == 1


def test_changed_file_adds_only_the_new_article(make_index, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"title": "One", "text": "The first story is about a harbour."}\n')
    index = make_index()
    index.ingest([feed])
    feed.write_text(feed.read_text() + '{"title": "Two", "text": "The second story is about a festival."}\n')
    report = index.ingest([feed])
    assert (report.added, report.unchanged) == (1, 1)


def _one_line_of_prose(size: int) -> str:
    """``size`` characters of varied sentences on a single line, as a text saved without line breaks."""
    words = re.findall(r"[A-Za-z]+", (SAMPLE / "000_9df642e36ad14cf8.txt").read_text(encoding="utf-8"))
    rng = random.Random(5)
    sentences, total = [], 0
    while total < size:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(8, 30))) + "."
        sentences.append(sentence[0].upper() + sentence[1:])
        total += len(sentence) + 1
    return " ".join(sentences)


@pytest.mark.slow
def test_bad_files_are_reported_and_good_ones_still_ingested(make_index, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(DATA / "bad", folder)
    shutil.copy(DATA / "good" / "orchard.txt", folder / "orchard.txt")
    with open(folder / "archive-50mb.txt", "w", encoding="utf-8") as handle:  # over the default 20 MB limit
        line = "A line of an archive that is far too big to embed in one go. " * 16 + "\n"
        for _ in range(50 * 2**20 // len(line) + 1):
            handle.write(line)
    (folder / "one-line.txt").write_text(_one_line_of_prose(2**20), encoding="utf-8")
    (tmp_path / "secret.txt").write_text("Secret Title\n\nThis text lives outside the ingested folder.")
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")
    index = make_index()
    report = index.ingest([folder, tmp_path / "missing.txt"])
    by_name = {f.path.rsplit("/", 1)[-1]: f for f in report.files}
    for name in ("orchard.txt", "latin1.txt", "utf16.txt", 'it\'s "odd" — Ünïcödé name.txt', "one-line.txt"):
        assert by_name[name].status == "added", name
    assert by_name["mixed.jsonl"].added == 2
    assert by_name["mixed.jsonl"].notes == ["line 2: malformed JSON (Unterminated string starting at); skipped"]
    rejected = {f.path.rsplit("/", 1)[-1]: f.reason for f in report.rejected}
    assert set(rejected) == {
        "empty.txt",
        "blank.md",
        "photo.txt",
        "broken.json",
        "scanned.pdf",
        "truncated.pdf",
        "nav-only.html",
        "archive-50mb.txt",
        "missing.txt",
    }
    assert all("\n" not in reason for reason in rejected.values())
    assert rejected["missing.txt"] == "no such file or folder"
    assert rejected["archive-50mb.txt"] == (
        "file is 50 MB, over the 20 MB limit; split it into smaller files or raise RAG_MAX_FILE_MB"
    )
    skipped = {f.path.rsplit("/", 1)[-1]: f.reason for f in report.skipped}
    assert skipped["readme.rtf"] == "unsupported file type .rtf"
    assert skipped["link.txt"].startswith("symbolic link to a file outside the folder")
    summary = report.summary()
    assert "articles: 7 added" in summary and "rejected: " in summary and "photo.txt" in summary
    assert index.check() == []
    # the single line became one article, all of it, split into many chunks at sentence ends
    texts = {a.id: index.store.article(a.id).text for a in index.articles()}
    one_line = next(a for a in index.articles() if len(texts[a.id]) >= 2**20)
    text = texts[one_line.id]
    assert text.startswith(one_line.title.removesuffix("…")) and len(one_line.title) <= 121
    chunks = index.store.chunks(index.store.chunk_ids_matching(Filters(article_ids=(one_line.id,))).tolist())
    assert len(chunks) > 500
    assert all(text[c.start : c.end] == c.text and c.text.endswith(".") for c in chunks.values())
    assert all(a.title != "Secret Title" for a in index.articles())


def test_symlink_out_of_the_folder_is_not_followed(make_index, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret Title\n\nThis text lives outside the ingested folder.")
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "link.txt").symlink_to(outside)
    report = make_index().ingest([folder])
    assert report.added == 0
    assert report.skipped[0].reason.startswith("symbolic link to a file outside the folder")


def test_oversized_file_is_rejected(make_index, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("Title\n\n" + "word " * (300_000))
    index = make_index(max_file_mb=1)
    report = index.ingest([big])
    assert report.rejected[0].reason.startswith("file is 1 MB, over the 1 MB limit; split it")


def test_progress_reports_files_and_chunks(make_index):
    events = []
    make_index().ingest([SAMPLE], progress=events.append)
    assert events[-1].files_done == events[-1].files_total == 1
    assert events[-1].chunks_done == 19


def _archive(path, count: int, start: int = 0):
    import json

    records = [
        {
            "title": f"Council vote {n}",
            "text": f"The council of town {n} voted on the harbour plan. Member {n} said the vote was close.",
            "date": "2024-05-02",
        }
        for n in range(start, start + count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _ingester(index, **options):
    from rag.ingest import Ingester

    manifest = index.store.manifest
    return Ingester(index.store, index.embedder, manifest.chunk_tokens, manifest.overlap_tokens, **options)


def test_an_archive_over_the_file_limit_is_streamed_and_the_limit_applies_per_article(make_index, tmp_path):
    index = make_index()
    archive = _archive(tmp_path / "archive.jsonl", 60)
    assert archive.stat().st_size > 4096
    seen = []
    report = _ingester(index, max_file_bytes=4096, flush_chunks=16, progress=seen.append).run([archive])
    index.store.save_vectors()
    assert (report.added, report.rejected) == (60, [])
    assert index.stats().articles == 60 and not index.check()
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)
    assert seen[-1].bytes_done == seen[-1].bytes_total == archive.stat().st_size
    assert seen[-1].articles_done == 60 and seen[-1].chunks_done == report.chunks_embedded
    assert any(0 < p.bytes_done < p.bytes_total for p in seen), "progress is reported inside the archive"
    again = _ingester(index, max_file_bytes=4096).run([archive])
    assert (again.unchanged, again.chunks_embedded) == (60, 0)  # recognised by its hash, nothing parsed


def test_an_interrupted_archive_resumes_without_embedding_twice(make_index, tmp_path):
    index = make_index()
    archive = _archive(tmp_path / "archive.jsonl", 40)

    def stop_after_the_first_batch(progress):
        if progress.chunks_done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _ingester(index, max_file_bytes=2048, flush_chunks=8, progress=stop_after_the_first_batch).run([archive])
    stored = index.stats().articles
    assert 0 < stored < 40
    report = _ingester(index, max_file_bytes=2048, flush_chunks=8).run([archive])
    assert (report.added, report.unchanged) == (40 - stored, stored)
    assert index.stats().articles == 40


def test_a_large_last_batch_is_committed_in_two_and_its_file_recorded_with_the_second(make_index, tmp_path):
    from rag.ingest import SPLIT_LAST_CHUNKS

    index = make_index()
    archive = _archive(tmp_path / "archive.jsonl", SPLIT_LAST_CHUNKS + 40)  # one chunk per article
    commits = []
    add = index.store.add

    def add_then_fail_the_second(items, vectors, files=(), facts=None):
        commits.append((len(items), [path for path, _, _ in files]))
        if len(commits) == 2:
            raise OSError("the disk went away")
        return add(items, vectors, files, facts)

    index.store.add = add_then_fail_the_second
    with pytest.raises(OSError):
        _ingester(index, flush_chunks=10_000).run([archive])
    head, tail = commits[0][0], commits[1][0]
    assert head + tail == SPLIT_LAST_CHUNKS + 40 and 0 < tail <= (head + tail) // 6 + 1
    assert commits[0][1] == [] and commits[1][1] == [str(archive)]  # the file is recorded with the last part
    assert index.stats().articles == head  # the first part stands

    index.store.add = add
    report = _ingester(index, flush_chunks=10_000).run([archive])
    assert (report.added, report.unchanged, report.chunks_embedded) == (tail, head, tail)
    again = _ingester(index).run([archive])
    assert (again.unchanged, again.chunks_embedded) == (head + tail, 0)  # the file's record was stored


def test_a_non_archive_over_the_limit_is_still_rejected(make_index, tmp_path):
    text = tmp_path / "long.txt"
    text.write_text("Harbour news. " * 800)
    report = _ingester(make_index(), max_file_bytes=4096).run([text])
    assert report.rejected[0].reason == (
        "file is 11 KB, over the 4 KB limit; split it into smaller files or raise RAG_MAX_FILE_MB"
    )


@pytest.mark.parametrize("streamed", [False, True], ids=["read whole", "streamed"])
def test_a_file_of_many_bad_records_reports_the_first_notes_and_counts_the_rest(make_index, tmp_path, streamed):
    from rag.export import report_to_dict
    from rag.ingest import MAX_NOTES

    archive = _archive(tmp_path / "mostly-bad.jsonl", 2)
    with archive.open("a", encoding="utf-8") as f:
        f.writelines("{not json\n" for _ in range(5000))
    index = make_index()
    options = {"max_file_bytes": 4096} if streamed else {}
    report = _ingester(index, **options).run([archive])
    (result,) = report.files
    assert result.added == 2
    assert len(result.notes) == MAX_NOTES and result.notes_left_out == 5000 - MAX_NOTES
    assert result.notes[0].startswith("line 3: malformed JSON")
    assert f"and {5000 - MAX_NOTES:,} more notes like these" in report.summary()
    exported = report_to_dict(report)["files"][0]
    assert len(exported["notes"]) == MAX_NOTES and exported["notes_left_out"] == 5000 - MAX_NOTES
