"""Self-test: the unrelated peer maps the very file it is given, whatever its name.

A Linux path may hold spaces, tabs, newlines and bytes that are not UTF-8.
The peer's requests are lines of words, so a path sent as it is would be
split (a scratch directory named "with space" made every sharing check
observe an error of the harness instead of the platform's behaviour).
"""

from __future__ import annotations

import io
import os

import pytest

from helpers.probes.peer import Peer, PeerError, serve

#: Names that break a line of space-separated words, or a UTF-8 decoding.
AWKWARD = [b"with space", b"tab\there", b"new\nline", b"not-utf8-\xff\xfe", b" lead and trail "]


@pytest.mark.parametrize("name", AWKWARD, ids=["space", "tab", "newline", "non-utf8", "edges"])
def test_peer_maps_a_file_whose_path_holds_any_bytes(tmp_path, name):
    folder = os.path.join(os.fsencode(tmp_path), name)
    os.mkdir(folder)
    path = os.path.join(folder, name + b".dat")
    with open(path, "wb") as out:
        out.write(name.ljust(4096, b"\0"))
    with Peer() as peer:
        ident = peer.map(path, length=4096)
        assert peer.read(ident, 0, len(name)) == name
        if name.isascii():  # a str path goes through the same encoding
            again = peer.map(os.fsdecode(path), length=4096, layer="pymmap")
            assert peer.read(again, 0, len(name)) == name


def test_peer_names_the_errno_of_a_missing_path_with_a_space(tmp_path):
    with Peer() as peer, pytest.raises(PeerError) as raised:
        peer.map(tmp_path / "no such file", length=4096)
    assert raised.value.name == "ENOENT"


@pytest.mark.parametrize("word", ["two words", "tab\t", "line\n", ""])
def test_a_request_word_that_would_split_is_refused(word):
    with Peer() as peer, pytest.raises(ValueError, match="whitespace"):
        peer.request("read", word, 0, 1)


def test_serve_answers_a_hex_path_in_process(tmp_path):
    path = tmp_path / "in process \u00e9"
    path.write_bytes(b"xyz".ljust(4096, b"\0"))
    requests = io.StringIO(f"map pymmap {os.fsencode(path).hex()} O_RDONLY MAP_SHARED r 4096 0\n"
                           "read 0 0 3\n")
    answers = io.StringIO()
    serve(requests, answers)
    assert answers.getvalue().splitlines() == ["ok 0", "ok " + b"xyz".hex()]
