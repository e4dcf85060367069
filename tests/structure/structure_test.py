#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The architecture, checked on every test run (see src/README.md):
- layers: each folder includes only the folders it may depend on (DESIGN.md's direction);
- no file under src/daemon/ includes an IKE engine's own headers (ike/v2/): the daemon
  talks to the ike facade (ike/ike.h) and reads SA summaries;
- in src/ike, no file over 500 lines and no function over 60 lines;
- every source file opens with an SPDX licence line;
- the build has no global include directory: each library exposes its own include root
  (ipsec_expose in CMakeLists.txt), so a target sees only the headers of what it links.
Prints one line per violation and 'N passed, N failed'."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# folder -> folders it may include (besides itself and the standard/third-party headers)
ALLOWED = {
    "common": set(),
    "wire": {"common"},
    "crypto": {"common"},
    "kernel": {"common"},
    "netlink": {"kernel", "common"},
    "policy": {"kernel", "crypto", "common"},
    "control": {"common"},
    "ike": {"wire", "crypto", "kernel", "policy", "common"},
    "daemon": {"ike", "control", "policy", "kernel", "netlink", "crypto", "wire", "common"},
    "ctl": {"control", "policy", "kernel", "netlink", "crypto", "common", "wire"},
}
MAX_FILE, MAX_FUNCTION = 500, 60
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources(folder):
    for base, _, files in os.walk(folder):
        for f in sorted(files):
            if f.endswith((".h", ".cpp")):
                yield os.path.join(base, f)


def folder_of(path):
    rel = os.path.relpath(path, ROOT).split(os.sep)
    return rel[1] if rel[0] == "src" else rel[0]


def strip(text):
    """Comments, string and character literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            if c == '"' and text[i - 1:i] == "R":  # raw string R"(...)"
                end = text.find(')"', i)
                j = n if end < 0 else end + 2
            else:
                j = i + 1
                while j < n and text[j] != c:
                    j += 2 if text[j] == "\\" else 1
                j += 1
            out.append(" " + "\n" * text.count("\n", i, j))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """(first line, line count, head) of every function body at namespace level."""
    code = strip(text)
    found, stack, stmt_start, line = [], [], None, 1
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
            continue
        if not stack or stack[-1][0] == "ns":
            if stmt_start is None and not c.isspace() and c not in ";}":
                stmt_start = (i, line)
        if c == "{":
            head = code[stmt_start[0]:i] if stmt_start else ""
            if stack and stack[-1][0] != "ns":
                stack.append(("inner", line, head))
            elif re.search(r"\b(namespace|extern)\b", head) and "(" not in head:
                stack.append(("ns", line, head))
            elif re.search(r"\b(struct|class|enum|union)\b", head.split("(")[0]) or "(" not in head \
                    or re.search(r"=\s*$", head.split("(")[0]):
                stack.append(("type", line, head))
            else:
                stack.append(("fn", stmt_start[1] if stmt_start else line, head))
            stmt_start = None
        elif c == "}":
            if stack:
                kind, start, head = stack.pop()
                if kind == "fn":
                    found.append((start, line - start + 1, " ".join(head.split())[:70]))
            stmt_start = None
        elif c == ";" and (not stack or stack[-1][0] == "ns"):
            stmt_start = None
    return found


def main():
    problems, checks = [], 0
    for top in ("src", "netlink"):
        for path in sources(os.path.join(ROOT, top)):
            rel = os.path.relpath(path, ROOT)
            folder = folder_of(path)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            checks += 1
            if "SPDX-License-Identifier:" not in "\n".join(text.splitlines()[:3]):
                problems.append(f"{rel}: no SPDX-License-Identifier line at the top")
            for n, l in enumerate(text.splitlines(), 1):
                m = INCLUDE.match(l)
                if not m:
                    continue
                target = m.group(1).split("/")[0]
                if "/" not in m.group(1):
                    continue  # a header beside it
                checks += 1
                if target != folder and target in ALLOWED and target not in ALLOWED.get(folder, set()):
                    problems.append(f"{rel}:{n}: {folder} may not include {m.group(1)} ({target})")
                if folder == "daemon" and m.group(1).startswith("ike/v2/"):
                    problems.append(f"{rel}:{n}: the daemon includes an engine header {m.group(1)}; "
                                    "use ike/ike.h and its summaries")
            if folder == "ike":
                checks += 1
                lines = text.count("\n")
                if lines > MAX_FILE:
                    problems.append(f"{rel}: {lines} lines (at most {MAX_FILE} in src/ike)")
                for start, count, head in functions(text):
                    checks += 1
                    if count > MAX_FUNCTION:
                        problems.append(f"{rel}:{start}: {head}: {count} lines "
                                        f"(at most {MAX_FUNCTION} in src/ike)")
    for dirpath, _, files in os.walk(ROOT):
        if "CMakeLists.txt" not in files or "/build" in dirpath or "/." in dirpath:
            continue
        rel = os.path.relpath(os.path.join(dirpath, "CMakeLists.txt"), ROOT)
        with open(os.path.join(dirpath, "CMakeLists.txt"), encoding="utf-8") as f:
            text = f.read()
        for n, l in enumerate(text.splitlines(), 1):
            checks += 1
            if re.match(r"\s*include_directories\s*\(", l):
                problems.append(f"{rel}:{n}: a global include directory; use ipsec_expose")
        for lib in re.findall(r"add_library\((ipsec_\w+)", text):
            checks += 1
            if not re.search(r"ipsec_expose\(" + lib + r"\s", text):
                problems.append(f"{rel}: {lib} does not expose its include root (ipsec_expose)")
    for p in problems:
        print("FAILED:", p)
    print(f"{checks - len(problems)} passed, {len(problems)} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
