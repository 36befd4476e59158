"""A landed file's bytes as a stream of decoded, checked chunks, in bounded memory.

The validator and both ETL engines read every raw file through :func:`text_chunks`, so a
file is read one way everywhere. It reads the source (a local file or an S3 object body)
``CHUNK_BYTES`` at a time and yields chunks of UTF-8 bytes that each end at a line feed
(the last may not), never holding the whole file. Checks, in order, each raising
``FileRejectedError`` with a ``schemas.FileRule`` code:

* 0 bytes (``empty_file``); over the size limit, compressed or not (``too_large``);
* gzip framing that does not match the ``.gz`` name (``wrong_format``); a broken or
  truncated gzip stream (``wrong_format``); concatenated gzip members are read one after
  the other, as RFC 1952 allows; a stream expanding more than ``MAX_GZIP_RATIO`` times
  past ``RATIO_GRACE_BYTES`` (``too_large``: a decompression bomb is refused without
  inflating it);
* a UTF-16/UTF-32 byte order mark (``not_utf8``); a binary signature or a NUL byte
  (``binary_content``); bytes that are not UTF-8, including encoded surrogates
  (``not_utf8``, with the line and byte);
* nothing but whitespace (``empty_file``).

A UTF-8 byte order mark at the very start is dropped (and reported); anywhere else it is
an ordinary character.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from ecomlake.exceptions import FileRejectedError
from ecomlake.schemas import FileRule

GZIP_MAGIC: Final = b"\x1f\x8b"
UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_32_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")
GZIP_SUFFIX: Final = ".gz"
# Files that are plainly not text, by their first bytes (xlsx and docx are ZIP archives).
SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"PK\x03\x04", "a ZIP archive (xlsx and docx files are ZIP archives too)"),
    (b"PAR1", "a Parquet file"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\xfd7zXZ\x00", "an xz stream"),
    (b"BZh", "a bzip2 stream"),
)
# How much is read and decoded at a time: the unit of the validator's memory use.
CHUNK_BYTES: Final = 2 * 1024 * 1024
# Compressed bytes fed to the inflater per step.
_READ_BYTES: Final = 1024 * 1024
# Text compresses 3-15x; DEFLATE cannot exceed about 1032x. Past the grace amount a stream
# expanding more than this is a decompression bomb, refused before it is inflated further.
MAX_GZIP_RATIO: Final = 200
RATIO_GRACE_BYTES: Final = 16 * 1024 * 1024
_WHITESPACE: Final = b" \t\r\n\x0b\x0c"


@dataclass
class StreamFacts:
    """What reading the stream found: filled in as chunks are read, complete at the end."""

    compression: str | None = None  # "gzip" or None
    bom: bool = False
    compressed_bytes: int = 0  # bytes read from the source
    decoded_bytes: int = 0  # bytes after decompression (BOM excluded)
    lf: int = 0
    crlf: int = 0
    cr: int = 0  # bare CRs (not followed by LF)
    has_content: bool = False  # a byte other than whitespace was seen
    first_char: str = field(default="")  # the first non-whitespace character

    @property
    def line_endings(self) -> str:
        kinds = [name for name, n in (("crlf", self.crlf), ("lf", self.lf), ("cr", self.cr)) if n]
        if not kinds:
            return "none"
        return kinds[0] if len(kinds) == 1 else "mixed"


def _source_chunks(raw: BinaryIO, max_bytes: int, facts: StreamFacts) -> Iterator[bytes]:
    while True:
        block = raw.read(_READ_BYTES)
        if not block:
            return
        facts.compressed_bytes += len(block)
        if facts.compressed_bytes > max_bytes:
            raise FileRejectedError(
                FileRule.TOO_LARGE, f"over the {max_bytes}-byte limit; split the file into smaller ones"
            )
        yield block


def _gunzip(blocks: Iterator[bytes], max_bytes: int, facts: StreamFacts) -> Iterator[bytes]:
    """Inflate every gzip member in turn, ``_READ_BYTES`` of output at a time at most."""
    inflater = zlib.decompressobj(wbits=31)
    member_has_data = False
    out = 0
    pending = b""
    for block in blocks:
        pending += block
        while pending:
            try:
                piece = inflater.decompress(pending, _READ_BYTES)
            except zlib.error as err:
                raise FileRejectedError(FileRule.WRONG_FORMAT, f"not a valid gzip stream ({err})") from None
            member_has_data = True
            out += len(piece)
            if out > max_bytes:
                raise FileRejectedError(
                    FileRule.TOO_LARGE, f"decompresses to more than the {max_bytes}-byte limit; split the file"
                )
            if out > RATIO_GRACE_BYTES and out > MAX_GZIP_RATIO * facts.compressed_bytes:
                raise FileRejectedError(
                    FileRule.TOO_LARGE,
                    f"expands more than {MAX_GZIP_RATIO} times its compressed size (a decompression bomb?)",
                )
            if piece:
                yield piece
            if inflater.eof:
                rest = inflater.unused_data
                inflater = zlib.decompressobj(wbits=31)
                member_has_data = False
                # Trailing zero padding is tolerated as gzip(1) tolerates it.
                pending = rest if rest.strip(b"\x00") else b""
            else:
                # The inflater keeps its own copy of what it did not consume yet.
                pending = inflater.unconsumed_tail
                if pending and not piece:
                    raise FileRejectedError(FileRule.WRONG_FORMAT, "not a valid gzip stream (no progress)")
    if member_has_data and not inflater.eof:
        raise FileRejectedError(FileRule.WRONG_FORMAT, "truncated gzip stream (the upload was cut short?)")


def _position(lines_before: int, data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and byte column of ``offset`` in ``data``, whose first line is ``lines_before + 1``."""
    line = lines_before + data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def _check_utf8(chunk: bytes, lines_before: int) -> None:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as err:
        line, col = _position(lines_before, chunk, err.start)
        raise FileRejectedError(
            FileRule.NOT_UTF8,
            f"byte 0x{chunk[err.start]:02x} at line {line}, byte {col} is not valid UTF-8 "
            "(Latin-1 or Windows-1252 export?); save the file as UTF-8",
            line,
        ) from None


def _sniff(head: bytes) -> None:
    if head.startswith(_UTF16_32_BOMS):
        raise FileRejectedError(FileRule.NOT_UTF8, "the file is UTF-16 (byte order mark); save it as UTF-8")
    for magic, kind in SIGNATURES:
        if head.startswith(magic):
            raise FileRejectedError(FileRule.BINARY_CONTENT, f"this is {kind}, not a text file")


def _start(head: bytes, facts: StreamFacts) -> bytes:
    """The first bytes of the text, checked (:func:`_sniff`), without a UTF-8 byte order mark."""
    _sniff(head)
    if head.startswith(UTF8_BOM):
        facts.bom = True
        return head[len(UTF8_BOM) :]
    return head


def text_chunks(
    raw: BinaryIO, file_name: str, *, max_bytes: int, facts: StreamFacts, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """Checked UTF-8 chunks of a landed file, each ending at a line feed except perhaps the last.

    ``facts`` is filled in as the stream is read. Raises ``FileRejectedError`` (see the
    module docstring) as soon as a check fails, possibly after earlier chunks were yielded.
    """
    blocks = _source_chunks(raw, max_bytes, facts)
    first = next(blocks, b"")
    if not first:
        raise FileRejectedError(FileRule.EMPTY_FILE, "the file is 0 bytes")
    named_gz = file_name.endswith(GZIP_SUFFIX)
    is_gz = first.startswith(GZIP_MAGIC)
    if named_gz and not is_gz:
        raise FileRejectedError(FileRule.WRONG_FORMAT, f"{file_name!r} is named .gz but is not gzip data")
    if is_gz and not named_gz:
        raise FileRejectedError(
            FileRule.WRONG_FORMAT, f"gzip-compressed data in a file not named .gz; land it as {file_name}.gz"
        )

    def all_blocks() -> Iterator[bytes]:
        yield first
        yield from blocks

    source: Iterator[bytes] = all_blocks()
    if is_gz:
        facts.compression = "gzip"
        source = _gunzip(source, max_bytes, facts)

    pending = b""
    started = False
    for piece in source:
        pending += piece
        if not started:
            if len(pending) < 8:
                continue
            started = True
            pending = _start(pending, facts)
        if len(pending) < chunk_bytes:
            continue
        cut = pending.rfind(b"\n") + 1
        if cut == 0:
            continue  # one line longer than a chunk: keep reading until it ends
        chunk, pending = pending[:cut], pending[cut:]
        yield _checked(chunk, facts)
    if not started and pending:
        pending = _start(pending, facts)
    if pending:
        last = _checked(pending, facts)
        if facts.lf == facts.crlf == 0 and facts.cr:
            raise FileRejectedError(
                FileRule.WRONG_FORMAT,
                "lines end with a bare CR (classic Mac OS); save the file with LF or CRLF line endings",
            )
        yield last
    if facts.decoded_bytes == 0 and not facts.bom and facts.compression:
        raise FileRejectedError(FileRule.EMPTY_FILE, "the gzip stream decompresses to 0 bytes")
    if not facts.has_content:
        raise FileRejectedError(FileRule.EMPTY_FILE, "the file holds only whitespace")


def _checked(chunk: bytes, facts: StreamFacts) -> bytes:
    lines_before = facts.lf + facts.crlf  # every line feed of the chunks checked so far
    nul = chunk.find(b"\x00")
    if nul >= 0:
        line, col = _position(lines_before, chunk, nul)
        raise FileRejectedError(FileRule.BINARY_CONTENT, f"NUL byte at line {line}, byte {col}: not a text file", line)
    _check_utf8(chunk, lines_before)
    facts.decoded_bytes += len(chunk)
    lf = chunk.count(b"\n")
    cr = chunk.count(b"\r")
    crlf = chunk.count(b"\r\n") if cr else 0  # a two-byte search costs more than the one-byte counts
    facts.crlf += crlf
    facts.lf += lf - crlf
    facts.cr += cr - crlf
    if not facts.has_content:
        stripped = chunk.lstrip(_WHITESPACE)
        if stripped:
            facts.has_content = True
            facts.first_char = stripped[:4].decode("utf-8", "ignore")[:1]
    return chunk


def open_uri(uri: str) -> BinaryIO:
    """A readable binary stream of a lake URI: a local path, or ``s3://bucket/key`` (streamed)."""
    if uri.startswith("s3://"):
        import boto3

        bucket, _, key = uri[len("s3://") :].partition("/")
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]  # type: ignore[no-any-return]
    return open(uri, "rb")
