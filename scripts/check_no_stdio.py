#!/usr/bin/env python3
"""Fails when library code writes to stdout or stderr itself.

slimrt's libraries tell the application what they have to say through the log sink
(include/slimrt/logging.h); only the CLI (src/cli) prints. This scans every C++ and CUDA file
under src/ except src/cli, with comments and string literals blanked out, for the ways to reach
the standard streams: the stdout/stderr/std::cout/std::cerr/std::clog objects and file
descriptors 1 and 2, printf/puts/putchar/perror (device printf in a kernel included), fmt::print
and std::print.

The one documented exception (slimrt/logging.h) is the last-resort line of a failed internal
check before abort(), in src/core/status.cpp. It carries the marker `slimrt-stdio-ok: <why>` in
a comment on its line; the marker counts only in the files of ALLOWED.

  scripts/check_no_stdio.py [--root REPO]     exit 0: clean; 1: direct writes found (listed)
"""
import argparse
import pathlib
import re
import sys

SOURCE_SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh"}
EXCLUDED_DIRS = ("src/cli",)
ALLOWED = {"src/core/status.cpp": "a failed internal check's last words before abort()"}
MARKER = re.compile(r"slimrt-stdio-ok:\s*(\S.*)?")

FORBIDDEN = [
    (re.compile(r"\b(stdout|stderr)\b"), "the C stdout/stderr streams"),
    (re.compile(r"\bstd\s*::\s*(w?cout|w?cerr|w?clog)\b"), "an iostream standard stream"),
    (re.compile(r"\b(STDOUT_FILENO|STDERR_FILENO)\b"), "file descriptor 1 or 2"),
    (re.compile(r"\b(write|writev|dprintf)\s*\(\s*[12]\s*,"), "file descriptor 1 or 2"),
    (re.compile(r"(?<![\w:.>])(printf|vprintf|puts|putchar|perror)\s*\("), "a call that prints to stdout/stderr"),
    (re.compile(r"\bstd\s*::\s*(printf|vprintf|puts|putchar|perror)\s*\("), "a call that prints to stdout/stderr"),
    (re.compile(r"\b(fmt|std)\s*::\s*(print|println|vprint)\s*\("), "fmt/std print"),
]


def blank_comments_and_strings(text):
    """Returns (code, comments): `text` with comments and literal contents replaced by spaces
    (newlines kept, so line numbers hold), and per line the text of its comments."""
    code = []
    comments = {}
    line = 1
    i = 0
    n = len(text)

    def add_comment(start, end):
        nonlocal line
        ln = line
        for ch in text[start:end]:
            if ch == "\n":
                ln += 1
            else:
                comments[ln] = comments.get(ln, "") + ch

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            add_comment(i, end)
            code.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            add_comment(i, end)
            chunk = text[i:end]
            code.append("".join("\n" if ch == "\n" else " " for ch in chunk))
            line += chunk.count("\n")
            i = end
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^()\\ ]{0,16})\(', text[i:])
            if not m:
                code.append(c)
                i += 1
                continue
            close = ")" + m.group(1) + '"'
            end = text.find(close, i + m.end())
            end = n if end < 0 else end + len(close)
            chunk = text[i:end]
            code.append('R""' + "".join("\n" if ch == "\n" else " " for ch in chunk[3:]))
            line += chunk.count("\n")
            i = end
        elif c == "'" and i > 0 and text[i - 1].isalnum():  # a digit separator: 1'000'000
            code.append(c)
            i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            end = min(j + 1, n)
            code.append(c + " " * (end - i - 2) + c if end - i >= 2 else c)
            i = end
        else:
            if c == "\n":
                line += 1
            code.append(c)
            i += 1
    return "".join(code), comments


def check_file(path, rel):
    text = path.read_text(encoding="utf-8", errors="replace")
    code, comments = blank_comments_and_strings(text)
    problems = []
    for number, line in enumerate(code.split("\n"), start=1):
        hits = [why for pattern, why in FORBIDDEN if pattern.search(line)]
        if not hits:
            continue
        marker = MARKER.search(comments.get(number, ""))
        if marker and rel in ALLOWED:
            if not marker.group(1):
                problems.append((number, "the slimrt-stdio-ok marker needs a reason after the colon"))
            continue
        if marker:
            hits.append("(a slimrt-stdio-ok marker counts only in {})".format(", ".join(sorted(ALLOWED))))
        problems.append((number, "; ".join(dict.fromkeys(hits))))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent),
                        help="repository root (default: this script's)")
    args = parser.parse_args()
    root = pathlib.Path(args.root)
    src = root / "src"
    if not src.is_dir():
        print(f"check_no_stdio: {src} is not a directory", file=sys.stderr)
        return 2
    failures = 0
    scanned = 0
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        if any(rel == d or rel.startswith(d + "/") for d in EXCLUDED_DIRS):
            continue
        scanned += 1
        for number, why in check_file(path, rel):
            source_line = path.read_text(encoding="utf-8", errors="replace").split("\n")[number - 1].strip()
            print(f"{rel}:{number}: writes to stdout/stderr ({why}): {source_line}")
            failures += 1
    if failures:
        print(f"check_no_stdio: {failures} direct write(s) to stdout/stderr in src/ outside src/cli; log them "
              "with SLIMRT_LOG (src/core/log.h) instead", file=sys.stderr)
        return 1
    print(f"check_no_stdio: {scanned} files under src/ (src/cli excluded) write nothing to stdout/stderr "
          f"(exception: {', '.join(sorted(ALLOWED))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
