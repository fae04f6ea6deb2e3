"""The input file: every ``--data`` file concatenated once (or the .gz files as they are)."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

from .settings import PLAIN_NAME, log


def count_lines(path: Path) -> tuple[int, int]:
    """(``\\n`` count, number of ``\\r`` bytes) of a plain file, read in 8 MiB blocks."""
    lines = carriage = 0
    with path.open("rb") as handle:
        while block := handle.read(8 << 20):
            lines += block.count(b"\n")
            carriage += block.count(b"\r")
    return lines, carriage


def source_stamp(files: list[str]) -> list[list[Any]]:
    return [[f, os.path.getsize(f), int(os.path.getmtime(f))] for f in files]


def prepare_plain(files: list[str], workdir: Path, expected: int) -> dict[str, Any]:
    """Decompress and concatenate ``files`` once into WORKDIR; reuse it while it matches."""
    plain = workdir / PLAIN_NAME
    stamp_file = workdir / (PLAIN_NAME + ".source.json")
    stamp = source_stamp(files)
    if plain.exists() and stamp_file.exists():
        info = json.loads(stamp_file.read_text())
        if info.get("sources") == stamp and info.get("size") == plain.stat().st_size:
            log(f"input: reusing {plain} ({info['lines']:,} lines)")
            return info
    log(f"input: concatenating {len(files)} files into {plain}")
    tmp = plain.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for name in files:
            opener = gzip.open if name.endswith(".gz") else open
            last = b"\n"
            with opener(name, "rb") as src:
                while block := src.read(8 << 20):
                    out.write(block)
                    last = block[-1:]
            if last != b"\n":  # a month without a final newline must not glue two lines
                out.write(b"\n")
    tmp.replace(plain)
    lines, carriage = count_lines(plain)
    info = {
        "path": str(plain),
        "size": plain.stat().st_size,
        "lines": lines,
        "cr_bytes": carriage,
        "sources": stamp,
    }
    stamp_file.write_text(json.dumps(info))
    if expected and lines != expected:
        sys.exit(f"input: {plain} has {lines:,} lines, expected {expected:,} (--expected-lines)")
    return info


def write_head(sources: list[str], path: Path, n: int) -> int:
    """The first ``n`` lines of the sources (plain or .gz, in order) into ``path``."""
    written = 0
    with path.open("wb") as out:
        for name in sources:
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rb") as src:
                for line in src:
                    if written >= n:
                        return written
                    out.write(line if line.endswith(b"\n") else line + b"\n")
                    written += 1
    return written


def gz_lines(files: list[str]) -> int:
    total = 0
    for name in files:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(name, "rb") as src:
            while block := src.read(8 << 20):
                total += block.count(b"\n")
    return total


def prepare_input(
    args: argparse.Namespace, files: list[str], workdir: Path
) -> tuple[Path | None, str, dict[str, Any]]:
    """(the plain file or None with ``--gz``, what the tools read, the results' ``input``)."""
    if args.gz:
        return None, args.data, _gz_input(args, files)
    info = prepare_plain(files, workdir, args.expected_lines)
    plain = Path(info["path"])
    input_info = {
        "mode": "plain",
        "path": str(plain),
        "files": len(files),
        "lines": info["lines"],
        "bytes": info["size"],
        "cr_bytes": info.get("cr_bytes"),
        "description": f"{len(files)} months concatenated into one plain file "
        f"({info['lines']:,} lines, {info['size'] / 1e6:.0f} MB)",
    }
    with plain.open("rb") as handle:  # into the page cache before the first timed run
        while handle.read(8 << 20):
            pass
    return plain, str(plain), input_info


def _gz_input(args: argparse.Namespace, files: list[str]) -> dict[str, Any]:
    log("input: counting the lines of the .gz files")
    lines = gz_lines(files)
    if args.expected_lines and lines != args.expected_lines:
        sys.exit(f"input: {args.data} has {lines:,} lines, expected {args.expected_lines:,}")
    size = sum(os.path.getsize(f) for f in files)
    return {
        "mode": "gz",
        "glob": args.data,
        "files": len(files),
        "lines": lines,
        "bytes": size,
        "description": f"{len(files)} .gz files read directly ({lines:,} lines, "
        f"{size / 1e6:.0f} MB compressed; GoAccess through `zcat |`)",
    }


def prepare_head(
    args: argparse.Namespace, plain: Path | None, files: list[str], head: Path, info: dict
) -> None:
    """For botwatch-head: its first ``--head-lines`` lines (``args.head_lines`` becomes the
    number written) and ``info["head_lines"]``."""
    if "botwatch-head" in args.tool_list:
        sources = [str(plain)] if plain else files
        args.head_lines = write_head(sources, head, args.head_lines)
        info["head_lines"] = args.head_lines
