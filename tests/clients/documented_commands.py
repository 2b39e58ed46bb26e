#!/usr/bin/python3
"""Every exoroutectl command the docs show is one exoroutectl accepts.

Users paste commands from README.md, docs/ and deploy/ scripts. This finds each one (a line
starting with `$ exoroutectl`, `exoroutectl` or a path to it, with its backslash continuations,
inside a Markdown code block or anywhere in a script; inline code in prose names commands and is
not taken), runs it against an endpoint where nothing listens, and fails if exoroutectl answers
a usage error (exit code 2: an unknown flag, a missing value or required flag, an unknown
command) — unless the docs show it refused: a command whose next line in the block is a usage
error (`exoroutectl: ` and no status code) must be refused with exactly that line. Synopses (with [optional], a|b or …) are skipped; a placeholder <...> gets a value
of its kind. Nothing is reached: every --endpoint is rewritten to 127.0.0.1:1 and the commands
run in an empty directory.

usage: documented_commands.py --exoroutectl PATH --root SOURCE_DIR
"""
import argparse
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

COMMAND_LINE = re.compile(r"^\s*(?:#\s*)?(?:\$\s+)?(?:\S*/)?exoroutectl(\s.*)?$")
NOWHERE = "127.0.0.1:1"


def documented_files(root):
    files = [os.path.join(root, "README.md")]
    files += sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    files += sorted(glob.glob(os.path.join(root, "deploy", "**", "*"), recursive=True))
    return [f for f in files if os.path.isfile(f)]


USAGE_ERROR = re.compile(r"^exoroutectl: (?![A-Z_]+: )")


def commands_in(path):
    """(line number, command text, the usage error the docs show for it or None) for each
    invocation in the file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    markdown = path.endswith(".md")
    in_code = not markdown
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if markdown and line.lstrip().startswith("```"):
            in_code = not in_code
        elif in_code and COMMAND_LINE.match(line):
            start = i
            text = line
            while text.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text.rstrip()[:-1] + " " + re.sub(r"^\s*#?", "", lines[i])
            text = re.sub(r"^\s*(?:#\s*)?(?:\$\s+)?", "", text)
            text = re.sub(r"\s{2,}#.*$", "", text)  # A trailing shell comment.
            shown = lines[i + 1].strip() if markdown and i + 1 < len(lines) else ""
            out.append((start + 1, text.strip(), shown if USAGE_ERROR.match(shown) else None))
        i += 1
    return out


def is_synopsis(text):
    return any(s in text for s in ("[", "|", "…", "...", "HOST:PORT"))


def runnable(text):
    """The argument list to run, with every endpoint pointing nowhere, or None for a synopsis."""
    if is_synopsis(text):
        return None
    # A placeholder's value: <64 hex> a key's hex digits, <route id> a word.
    text = re.sub(r"<[^>]*hex[^>]*>", "0" * 64, text)
    text = re.sub(r"<[^>]*>", "x", text)
    args = shlex.split(text)[1:]
    for k, a in enumerate(args):
        if a == "--endpoint" and k + 1 < len(args):
            args[k + 1] = NOWHERE
    if "--endpoint" not in args:
        args = ["--endpoint", NOWHERE, "--insecure"] + args
    return ["--timeout", "300"] + args


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exoroutectl", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    a.exoroutectl = os.path.abspath(a.exoroutectl)
    checked, failures = 0, []
    env = dict(os.environ, EXOROUTE_ENDPOINT=NOWHERE)
    env.pop("EXOROUTE_CA", None)
    with tempfile.TemporaryDirectory(prefix="exo-doc-cmds-") as cwd:
        for path in documented_files(a.root):
            for line, text, refused in commands_in(path):
                args = runnable(text)
                if args is None:
                    continue
                r = subprocess.run([a.exoroutectl] + args, cwd=cwd, env=env, capture_output=True,
                                   text=True, timeout=30)
                checked += 1
                where = f"{os.path.relpath(path, a.root)}:{line}"
                said = (r.stderr.strip().splitlines() or [""])[0]
                if refused is not None:
                    if r.returncode != 2 or said != refused:
                        failures.append(f"{where}: `{text}` is shown refused with\n    {refused}\n"
                                        f"  but exits {r.returncode} with\n    {said}")
                elif r.returncode == 2:
                    failures.append(f"{where}: `{text}`\n    {said}")
    print(f"{checked} documented exoroutectl commands run")
    if checked < 20:
        print(f"FAIL: expected at least 20 documented commands, found {checked} (extraction broken?)")
        return 1
    if failures:
        print("FAIL: documented commands exoroutectl refuses as usage errors (or does not, where the docs say so):")
        print("\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
