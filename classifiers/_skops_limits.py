"""What a skops file must keep to before skops expands it.

skops reads into memory every zip member that a node of ``schema.json`` names, once per
node that names it; it recurses once per nesting level of the schema (and ``json`` does
too); and numpy allocates whatever shape an ``.npy`` header declares. A hostile file of
a few megabytes can so ask for gigabytes, or nest deeper than Python's recursion limit.
:func:`check_archive` refuses such a file from its zip directory, the text of its schema
and the headers of its arrays, before skops reads anything else.
"""

from __future__ import annotations

import json
import math
import re
import zipfile

import numpy as np

#: JSON nesting levels allowed in ``schema.json`` (and in a JSON value inside it). The
#: files sentibench writes nest 5 (a logistic regression) to 17 (a user's Pipeline)
#: levels deep; skops' loader runs out of Python's default recursion limit near 500.
MAX_SCHEMA_DEPTH = 100
#: A file may expand (schema plus every member as often as nodes name it) to this many
#: times its size on disk, plus :data:`EXPANSION_FLOOR`. sentibench writes skops files
#: uncompressed, each array once, so its own files expand to about their size.
MAX_EXPANSION_RATIO = 4
EXPANSION_FLOOR = 64 * 2**20

_NPY_MAGIC = b"\x93NUMPY"
#: A JSON string (escapes included), replaced by ``""`` before brackets are counted.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


class Refused(Exception):
    """A skops file that would exhaust memory or the stack if loaded (the message says why)."""


def json_depth(text: bytes | str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON ``text``, counted without parsing it
    (``json.loads`` itself recurses once per level)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    codes = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    steps = np.zeros(len(codes), dtype=np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def check_archive(zf: zipfile.ZipFile, size_on_disk: int) -> None:
    """Refuse a skops archive that expands too far, nests too deep or declares arrays
    larger than their bytes.

    Parameters
    ----------
    zf : zipfile.ZipFile
        The skops file, open for reading. ``zipfile`` never returns more bytes than a
        member's declared size, so declared sizes bound what reading costs.
    size_on_disk : int
        The file's size in bytes.

    Raises
    ------
    Refused
        Saying which limit the file breaks.
    """
    members = {info.filename: info for info in zf.infolist()}
    budget = EXPANSION_FLOOR + MAX_EXPANSION_RATIO * size_on_disk
    schema_info = members.get("schema.json")
    if schema_info is None:
        return  # not a skops file: skops says so
    if schema_info.file_size > budget:
        raise Refused(f"its schema.json declares {schema_info.file_size:,} bytes, from a file of {size_on_disk:,}")
    raw = zf.read(schema_info)
    _check_depth(raw, "schema.json")
    try:
        schema = json.loads(raw)
    except ValueError:
        return  # not JSON: skops says the file is damaged
    references = _member_references(schema)
    expanded = len(raw) + sum(members[name].file_size for name in references if name in members)
    if expanded > budget:
        raise Refused(
            f"it expands to {expanded:,} bytes when loaded ({len(references)} references to its {len(members)} "
            f"members), from a file of {size_on_disk:,}"
        )
    for name in set(references):
        if name in members:
            _check_npy(zf, members[name])


def _check_depth(text, where: str) -> None:
    depth = json_depth(text)
    if depth > MAX_SCHEMA_DEPTH:
        raise Refused(f"{where} nests {depth} levels deep (at most {MAX_SCHEMA_DEPTH})")


def _member_references(schema) -> list[str]:
    """Every member name the nodes of ``schema`` read (a name as often as nodes read it),
    checking the JSON values held inside it (``JsonNode``) for depth on the way. The walk
    uses a stack, not recursion: the depth is checked, but this must not depend on it."""
    references = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                references.append(node["file"])
            if node.get("__loader__") == "JsonNode" and isinstance(node.get("content"), str):
                _check_depth(node["content"], "a JSON value in schema.json")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return references


def _check_npy(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """An ``.npy`` member's header must declare exactly the bytes that follow it."""
    with zf.open(info) as fh:
        if fh.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            return  # not an array (skops' bytes nodes): counted in the expansion only
        fh.seek(0)
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unknown .npy version {version}")
        except (ValueError, TypeError, SyntaxError) as exc:
            raise Refused(f"the array {info.filename} has a malformed header ({exc})") from None
        header = fh.tell()
    data = info.file_size - header
    declared = dtype.itemsize * math.prod(shape)
    if dtype.hasobject or declared != data or (dtype.itemsize == 0 and math.prod(shape) > 0):
        raise Refused(
            f"the array {info.filename} declares shape {shape} of {dtype} ({declared:,} bytes) but holds {data:,} bytes"
        )
