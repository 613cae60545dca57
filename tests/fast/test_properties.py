"""Property-based tests (Hypothesis) of what reads outside input: the protocol decoder, the CSV and
metadata readers, the vector and range parsers. Each either answers or raises one UserError —
never another exception, whatever the input."""

import json
import math
import os
import tempfile

import pytest

pytest.importorskip("hypothesis", reason="make test's Python has it (requirements.txt); the Blender "
                    "module environments of make test-compat do not")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from blendercnn_addon.cli import build_parser
from blendercnn_addon.cli.models import _read_vector_csv, check_output_names
from blendercnn_addon.dataset_format import read_metadata
from blendercnn_addon.errors import UserError
from blendercnn_addon.processes.protocol import decode, encode
from blendercnn_addon.vector import check_range, check_vector, parse_vector

FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                        max_size=5), max_leaves=20)


def answers_or_user_error(function, *args):
    try:
        return function(*args)
    except UserError as err:
        assert str(err) and "\n" not in str(err), "one line"
        return err


@FAST
@given(st.text(max_size=300) | st.builds(lambda depth: "{" * depth + '"a":' + "[" * depth, st.integers(0, 50_000)))
def test_the_decoder_answers_any_line_with_a_message_or_none(line):
    message = decode(line)
    assert message is None or isinstance(message, dict)


@FAST
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_a_message_survives_encoding(message):
    line = encode(message)
    assert line.endswith("\n") and line.count("\n") == 1 and decode(line) == message


@FAST
@given(st.binary(max_size=400) | st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=7), max_size=5).map(
    lambda rows: ("name,r,g,b,x,y\n" + "\n".join(",".join(row) for row in rows)).encode()))
def test_the_vector_csv_reader_reads_or_refuses_in_one_line(content):
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as handle:
        handle.write(content)
    try:
        result = answers_or_user_error(_read_vector_csv, handle.name)
    finally:
        os.remove(handle.name)
    if not isinstance(result, UserError):
        names, rows = result
        assert len(names) == len(rows) >= 1 and all(len(row) == 5 for row in rows)
        for row in rows:  # what predict does with each row next
            answers_or_user_error(check_vector, row)


@FAST
@given(st.lists(st.text(max_size=300), min_size=1, max_size=4))
def test_output_names_stay_plain_file_names(names):
    if not isinstance(answers_or_user_error(check_output_names, names, "test.csv"), UserError):
        for name in names:
            assert "/" not in name and "\\" not in name and not name.startswith(".") and name.strip() == name
            assert len((name + ".png").encode()) <= 255


@FAST
@given(json_values)
def test_the_metadata_reader_reads_or_refuses_in_one_line(content):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(content, handle)
    try:
        result = answers_or_user_error(read_metadata, handle.name)
    finally:
        os.remove(handle.name)
    if not isinstance(result, UserError):
        assert all(isinstance(key, int) and all(isinstance(v, float) for v in value) for key, value in result.items())


@FAST
@given(st.lists(st.floats() | st.text(max_size=8) | st.integers(), max_size=7))
def test_a_vector_parses_or_is_refused(values):
    result = answers_or_user_error(parse_vector, values)
    if not isinstance(result, UserError):
        assert len(result) == 5 and all(math.isfinite(v) for v in result)


@FAST
@given(st.floats(), st.floats())
def test_a_range_is_given_on_the_command_line_as_written_and_checked(low, high):
    """Any float, written as Python writes it (1e-05, -1e-01, inf), reaches the range check unharmed."""
    parsed = answers_or_user_error(build_parser().parse_args,
                                   ["generate", "--out", "/nowhere", "--x-range", repr(low), repr(high)])
    assert not isinstance(parsed, UserError), parsed
    got = parsed.x_range
    assert (got[0] == low or math.isnan(low)) and (got[1] == high or math.isnan(high))
    checked = answers_or_user_error(check_range, "x", low, high)
    if not isinstance(checked, UserError):
        assert math.isfinite(low) and math.isfinite(high) and low <= high and max(abs(low), abs(high)) <= 1000


def test_a_negative_range_in_scientific_notation_is_a_value_not_an_option():
    """Before: argparse took --x-range -1e-1 1 for an option named -1e-1."""
    parsed = build_parser().parse_args(["generate", "--out", "/nowhere", "--x-range", "-1e-1", "1",
                                        "--y-range", "-2.5E+0", "-.5"])
    assert parsed.x_range == [-0.1, 1.0] and parsed.y_range == [-2.5, -0.5]
