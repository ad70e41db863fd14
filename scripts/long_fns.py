#!/usr/bin/env python3
"""Report every `fn` longer than a limit (default 100 lines) in the given Rust files or folders
(default src/ui): `path:line name length`. A function runs from its `fn` line to the first later
line that closes it at the same indentation (rustfmt's layout). Exit status 1 when any is found."""
import pathlib, re, sys

FN = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def long_fns(path, limit):
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m or line.rstrip().endswith(";"):
            continue
        indent = m.group(1)
        end = next((j for j in range(i + 1, len(lines)) if lines[j] == indent + "}"), None)
        if end is not None and end - i + 1 > limit:
            yield i + 1, m.group(2), end - i + 1


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--limit=")]
    limit = next((int(a.split("=")[1]) for a in sys.argv[1:] if a.startswith("--limit=")), 100)
    found = 0
    for root in args or ["src/ui"]:
        p = pathlib.Path(root)
        for f in sorted([p] if p.is_file() else p.rglob("*.rs")):
            for line, name, n in long_fns(f, limit):
                print(f"{f}:{line} {name} {n} lines")
                found += 1
    print(f"{found} function(s) over {limit} lines")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
