"""benchmarks.cli_startup: each command timed as fresh processes, with what it imported."""

from __future__ import annotations

import json

import pytest

from benchmarks import cli_startup


def test_each_command_is_timed_and_the_light_ones_import_no_model_library(tmp_path):
    out = tmp_path / "cli_startup.json"
    cli_startup.main(["--repeats", "2", "--out", str(out)])
    saved = json.loads(out.read_text())
    rows = {row["command"]: row for row in saved["commands"]}
    assert set(rows) == {"eco-pack " + " ".join(c) for c in cli_startup.COMMANDS}
    for row in rows.values():
        assert 0 < row["seconds_min"] <= row["seconds_median"] <= row["seconds_max"] and row["peak_rss_mb"] > 0
    assert rows["eco-pack serve --help"]["imports"] == []
    assert rows["eco-pack build --help"]["imports"] == ["transformers"]  # it quiets transformers for the build
    assert saved["command"].endswith("--out " + str(out))
    assert "| `eco-pack --help` |" in out.with_suffix(".md").read_text()


def test_a_root_that_is_not_a_checkout_is_refused_before_any_run(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli_startup.main(["--root", str(tmp_path)])
    assert "is not an eco-pack checkout" in capsys.readouterr().err
