"""The results file the README points to: each benchmark writes its own section of docs/results.md.

A section is the benchmark's command line and its printed lines, between markers, so a rerun
replaces it and nothing in the file is typed by hand.
"""

import re
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results.md"
README = REPO / "README.md"
HEADER = """# Results

Every figure here was written by the `bench/` command named above it, on a 2-core CPU machine
(`python bench/<name>.py ... --record` rewrites its own section). Accuracy is on real human speech
unless a line says synthetic.
"""


def record(name: str, title: str, lines: list[str], headline: str, path: Path = RESULTS, readme: Path = README) -> None:
    """Replace (or add) section `name` of the results file: `title`, the command that is running, its
    `lines`, and a one-line `headline`; then rebuild the README's table of headlines from the file."""
    command = "python " + " ".join(shlex.quote(a) for a in [f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    title = superseded_title(name, title)
    body = "\n".join([f"<!-- {name} -->", f"## {title}", "", f"`{command}`", "", f"At commit {commit()}.", "",
                      f"Headline: {headline}", "",
                      "```", *lines, "```", f"<!-- /{name} -->"])
    text = replace_block(path.read_text() if path.exists() else HEADER, name, body)
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.rstrip() + "\n")
    if readme.exists():
        readme.write_text(replace_block(readme.read_text(), "headlines", headline_table(text)))


def commit() -> str:
    """The checkout's short commit, with +dirty when its tracked files (but the results and the
    README, which record() writes) differ from it."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    changed = git("status", "--porcelain", "-uno", "--", ".", f":!{RESULTS.relative_to(REPO)}", f":!{README.name}")
    return (git("rev-parse", "--short", "HEAD") or "unknown") + ("+dirty" if changed else "")  # record() writes those two


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with the block between <!-- name --> and <!-- /name --> (markers included) replaced by
    `body`, or `body` appended when there is no such block."""
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    return pattern.sub(lambda _: body, text) if pattern.search(text) else text.rstrip() + "\n\n" + body


# A section whose title carries this was measured on an earlier default: kept in the results
# file as the "before" of a change, left out of the README's table of what the project does now.
SUPERSEDED = "[measured before"
# Sections of configs that a later one does better, by section name: what succeeds each. record()
# titles them so, and the README's table leaves them out, as it does an earlier default's.
SUCCEEDED_BY = {
    "humans preset=time_conv": "the default config (model=mixed)",
    "predict offline preset=time_conv": "the default config (model=mixed)",
}


def superseded_title(name: str, title: str) -> str:
    """`title`, marked as the step before its successor when section `name` has one."""
    return f"{title} {SUPERSEDED} {SUCCEEDED_BY[name]}, its successor]" if name in SUCCEEDED_BY else title


def headline_table(results: str) -> str:
    """The README's block: one row per current section of the results file, its title and headline."""
    rows = re.findall(r"^## (.+)\n\n`[^`]+`\n\n(?:At commit \S+\.\n\n)?Headline: (.+)$", results, re.M)
    rows = [(title, headline) for title, headline in rows if SUPERSEDED not in title]
    table = ["| result | headline |", "|---|---|", *(f"| {title} | {headline} |" for title, headline in rows)]
    return "\n".join(["<!-- headlines -->", *table, "<!-- /headlines -->"])
