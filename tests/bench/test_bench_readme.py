"""README's benchmark table is bench/results.json rendered, never typed: a hand edit or a stale table fails here.
Plus the renderer itself (units, targets, met marks, escaping, round trip) and the results file's errors."""

from __future__ import annotations

import pytest

from bench import readme
from bench.results import Result, ResultsFileError, dump, load, save

pytestmark = pytest.mark.unit

ENTRIES = [
    Result("speedup", 1.05, "s", baseline=19.2, ratio=18.29, note="seed / ours", target_op=">=", target_value=25.0),
    Result("over_tar", 1.2, "s", baseline=1.0, ratio=1.2, note="ours / `tar -cf - . | gzip -1`", target_op="<="),
    Result("republish", 0.0, "bytes", baseline=405_000_000.0, target_op="<=", target_value=0.0),
    Result("rss", 40.7, "MiB"),
]


def test_the_readme_table_is_the_committed_results_rendered():
    # given the committed results and the README
    results = load(readme.COMMITTED)
    text = readme.README.read_text()
    # then the block between the markers is exactly their rendering
    assert readme.block_of(text) == readme.render(results), (
        "README.md's benchmark table is stale or was edited by hand: run `python -m bench.readme --no-copy`"
    )


def test_every_row_shows_its_unit_target_and_whether_it_is_met():
    table = readme.render(ENTRIES).splitlines()

    assert table[0] == "| name | measured | target | met | note |"
    speedup, over_tar, republish, rss = table[2:]
    assert speedup.startswith("| `speedup` | 18.3x (1.05 s vs 19.2 s) | >= 25x | ❌ |")
    assert "| - | - |" in over_tar, "no target_value: no target, not met either way"
    assert "`tar -cf - . \\| gzip -1`" in over_tar, "a pipe in a note does not end the cell"
    assert republish.startswith("| `republish` | 0 bytes (baseline 405,000,000 bytes) | <= 0 bytes | ✅ |")
    assert rss == "| `rss` | 40.7 MiB | - | - | - |"


def test_no_results_render_as_a_pointer_to_make_bench():
    assert "make bench" in readme.render([])


def test_rendering_round_trips_through_the_file_and_the_readme(tmp_path):
    # given results written and read back
    path = tmp_path / "results.json"
    dump(ENTRIES, path)
    assert load(path) == ENTRIES
    # when a README's block is replaced with their table, twice
    text = f"intro\n\n{readme.BEGIN}\n| typed | by | hand |\n{readme.END}\n\nafter\n"
    once = readme.with_block(text, readme.render(load(path)))
    # then the block reads back as the table, the text around it is kept, and a second rewrite changes nothing
    assert readme.block_of(once) == readme.render(ENTRIES)
    assert once.startswith("intro\n\n") and once.endswith(f"{readme.END}\n\nafter\n") and "typed" not in once
    assert readme.with_block(once, readme.render(ENTRIES)) == once


def test_the_command_merges_local_results_into_the_committed_file_and_renders(tmp_path, monkeypatch):
    committed, local, doc = tmp_path / "committed.json", tmp_path / ".bench" / "results.json", tmp_path / "README.md"
    dump(ENTRIES[:2], committed)
    save([ENTRIES[3], Result("speedup", 1.0, "s", baseline=30.0, ratio=30.0)], local)
    doc.write_text(f"# x\n{readme.BEGIN}\n{readme.END}\n")
    monkeypatch.setattr(readme, "COMMITTED", committed)
    monkeypatch.setattr(readme, "README", doc)
    monkeypatch.setattr(readme, "RESULTS_PATH", local)
    monkeypatch.setattr(readme, "REPO_ROOT", tmp_path)

    assert readme.main(["--check"]) == 1  # the empty block is not the committed results
    assert readme.main([]) == 0

    merged = load(committed)
    assert [r.name for r in merged] == ["speedup", "over_tar", "rss"]
    assert merged[0].ratio == 30.0, "the new measurement replaces the old entry of that name"
    assert readme.block_of(doc.read_text()) == readme.render(merged)
    assert readme.main(["--check"]) == 0

    assert readme.main(["--replace"]) == 0  # after a full run: only what it measured
    assert [r.name for r in load(committed)] == ["rss", "speedup"]
    assert readme.main(["--check"]) == 0


def test_a_readme_without_its_markers_is_refused():
    with pytest.raises(readme.ReadmeError, match="two markers"):
        readme.block_of("# a README whose table markers were deleted\n")
    with pytest.raises(readme.ReadmeError, match="two markers"):
        readme.with_block(f"{readme.END}\n{readme.BEGIN}\n", "x")


def test_a_missing_results_file_says_to_run_make_bench(tmp_path):
    with pytest.raises(ResultsFileError) as failure:
        load(tmp_path / "nothing.json")
    assert (
        failure.value.one_line()
        == f"no results file at {tmp_path / 'nothing.json'} -> run `make bench` to measure and write it"
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('[{"name": "a", "value": 1,', r"is not valid JSON \(.* at line 1, column \d+\)"),
        ('{"name": "a"}', "holds a dict, not a list of results"),
        ('["a"]', "entry 0 is str, not an object"),
        ('[{"name": "a", "value": 1}]', "entry 0 lacks unit"),
        ('[{"name": "a", "value": 1, "unit": "s", "colour": 3}]', "entry 0 has unknown fields colour"),
        ('[{"name": "a", "value": "fast", "unit": "s"}]', "must be numbers"),
        ('[{"name": "a", "value": 1, "unit": "s", "target_op": ">"}]', "target_op '>' is none of"),
    ],
)
def test_a_garbled_results_file_says_what_is_wrong(tmp_path, content, says):
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(ResultsFileError, match=says):
        load(path)


def test_the_command_reports_a_garbled_file_in_one_line(tmp_path, monkeypatch, capsys):
    committed = tmp_path / "results.json"
    committed.write_text("not json")
    monkeypatch.setattr(readme, "COMMITTED", committed)
    assert readme.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bench.readme: ") and "is not valid JSON" in err and len(err.splitlines()) == 1
