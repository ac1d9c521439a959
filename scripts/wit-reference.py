#!/usr/bin/env python3
"""Writes docs/plugin-wit.md, the reference of the plugin contract, from wit/plugin.wit's own doc
comments (`///`), so that the reference cannot drift from the contract. `--check` fails instead of
writing when the file is out of date (CI runs it)."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIT = ROOT / "wit" / "plugin.wit"
OUT = ROOT / "docs" / "plugin-wit.md"

ITEM = re.compile(r"^(interface|world|record|variant|enum|type|export|import|use)\b\s*([\w-]+)?")
FUNC = re.compile(r"^(export\s+)?([\w-]+):\s*func(.*?);?$")


def render() -> str:
    package = ""
    out = []
    doc: list[str] = []
    depth = 0
    container = ""
    for raw in WIT.read_text().splitlines():
        line = raw.strip()
        if line.startswith("///"):
            doc.append(line[3:].strip())
            continue
        if line.startswith("package "):
            package = line.removeprefix("package ").rstrip(";")
            continue
        text = " ".join(doc).strip()
        doc = []
        closing = line.count("}")
        opening = line.count("{")
        func = FUNC.match(line)
        item = ITEM.match(line)
        if depth == 0 and item and item.group(1) in ("interface", "world"):
            container = item.group(1)
            out.append(f"\n## {item.group(1)} `{item.group(2)}`\n")
            if text:
                out.append(text + "\n")
        elif func and container == "interface":
            out.append(f"\n### func `{func.group(2)}`\n")
            out.append(f"`{func.group(2)}: func{func.group(3).rstrip(';')}`\n")
            if text:
                out.append(text + "\n")
        elif func:
            exported = "export " if func.group(1) else ""
            out.append(f"- {exported}**`{func.group(2)}`**`{func.group(3).rstrip(';')}`" + (f" — {text}" if text else ""))
        elif item and item.group(1) in ("record", "variant", "enum", "type"):
            signature = line.rstrip("{").rstrip(";").strip()
            out.append(f"\n### {item.group(1)} `{item.group(2)}`\n")
            if signature.startswith("type "):
                out.append(f"`{signature}`\n")
            if text:
                out.append(text + "\n")
        elif item and item.group(1) in ("import", "use") and depth <= 1 and line.endswith(";"):
            out.append(f"- `{line.rstrip(';')}`")
        elif depth == 2 and line and not line.startswith("}"):
            member = line.rstrip(",")
            out.append(f"- `{member}`" + (f" — {text}" if text else ""))
        depth += opening - closing
    header = (
        f"# The plugin contract: `{package}`\n\n"
        "Generated from `wit/plugin.wit` by `scripts/wit-reference.py`; edit the WIT's `///` comments, "
        "not this file. The WIT itself is the source of truth (`testmesh plugin new` copies it into "
        "every project).\n"
    )
    return header + "\n".join(out) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run scripts/wit-reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
