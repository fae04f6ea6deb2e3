"""Reading one YAML file: what PyYAML would accept silently or crash on is one line each."""

from __future__ import annotations

from datetime import date

import pytest

from spark_jobs.config.yaml_reading import TOP, key_at_line, load_mapping
from spark_jobs.errors import ConfigError


def _load(tmp_path, text: str | bytes, **kwargs):
    path = tmp_path / "case.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path, load_mapping(path, **kwargs)


def _error(tmp_path, text: str | bytes) -> tuple[str, str, str]:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    error = info.value
    assert str(error) == f"{error.path}: {error.key}: {error.reason}"
    assert "\n" not in str(error)
    return error.path, error.key, error.reason


def test_valid_dates_are_dates_and_impossible_ones_stay_text(tmp_path):
    _, data = _load(tmp_path, "a: 2015-05-17\nb: 2015-02-30\nc: 2014-13-01\n")
    assert data == {"a": date(2015, 5, 17), "b": "2015-02-30", "c": "2014-13-01"}


def test_a_key_repeated_inside_a_list_item_names_its_path_and_both_lines(tmp_path):
    text = "alert:\n  sinks:\n    - type: file\n      path: a\n      path: b\n"
    path, key, reason = _error(tmp_path, text)
    assert path == str(tmp_path / "case.yaml")
    assert key == "alert.sinks.0.path"
    assert reason == "given twice (lines 4 and 5); keep one, YAML would silently use the last"


def test_the_same_key_in_two_mappings_is_no_repeat(tmp_path):
    _, data = _load(tmp_path, "a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n")
    assert data["b"] == {"x": 2}


def test_merge_keys_may_repeat(tmp_path):
    text = "base: &b {x: 1}\nmore: &m {y: 2}\nc:\n  <<: *b\n  <<: *m\n  z: 3\n"
    _, data = _load(tmp_path, text)
    assert data["c"] == {"x": 1, "y": 2, "z": 3}


def test_a_byte_order_mark_is_fine(tmp_path):
    _, data = _load(tmp_path, "\ufeffid: with_bom\n".encode())
    assert data == {"id": "with_bom"}


def test_latin1_bytes_name_line_column_and_offset(tmp_path):
    _, key, reason = _error(tmp_path, b"id: x\nsource:\n  path: /logs/caf\xe9/*.gz\n")
    assert key == "source.path"
    assert reason == (
        "not UTF-8 text: byte 0xe9 at line 3, column 18 (byte offset 31); save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("", TOP, "the file is empty"),
        ("\n   \n", TOP, "the file is empty"),
        ("# nothing yet\n", TOP, "the file holds only comments"),
        ("[a, b]\n", TOP, "the file holds a list of 2 item(s)"),
        ("42\n", TOP, "the file holds a single value ('42')"),
        ("1: one\n", "1", "a key must be a name, not a number or a date"),
        ("id: x\nfeatures: [a, b\n", "features", "line 2, column 11: a [ list that is never"),
        ("id: x\nalert: {a: 1\n", "alert", "line 2, column 8: a { mapping that is never"),
        ("id: x\ndescription: a: b\n", "description", "line 2, column 15: a ': ' inside"),
        ("id: *nowhere\n", "id", "line 1, column 5: an *alias without a matching &anchor"),
        ("id: !custom x\n", "id", "line 1, column 5: a !tag botwatch does not read"),
    ],
)
def test_yaml_level_mistakes(tmp_path, text, key, reason):
    _, got_key, got_reason = _error(tmp_path, text)
    assert (got_key, got_reason[: len(reason)]) == (key, reason)


def test_an_empty_defaults_file_is_allowed(tmp_path):
    assert _load(tmp_path, "# defaults\n", allow_empty=True)[1] == {}


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (1, "id"),
        (3, "source.path"),
        (4, "source.format"),
        (7, "alert.sinks.type"),
        (8, "alert.sinks.url"),
        (9, "threshold"),
    ],
)
def test_key_at_line_follows_the_indentation(line, key):
    text = (
        "id: x\n"
        "source:\n"
        "  path: a  # a comment: with a colon\n"
        "  format: combined\n"
        "alert:\n"
        "  sinks:\n"
        "    - type: webhook\n"
        "      url: 'http://x'\n"
        "threshold: 3\n"
    )
    assert key_at_line(text, line) == key


def test_key_at_line_puts_a_tab_indented_key_under_its_parent():
    assert key_at_line("id: x\nsource:\n  format: combined\n\tpath: a\n", 4) == "source.path"
    assert key_at_line("# only a comment\n", 1) is None
