"""bench/results.py: each benchmark rewrites its own section of the results file, and the README's
headline table is rebuilt from those sections: no figure is typed by hand."""

import results  # bench/, on the path through conftest

from conftest import REPO


def test_a_rerun_replaces_its_section_and_the_readme_follows(tmp_path):
    readme, found = tmp_path / "README.md", tmp_path / "results.md"
    readme.write_text("intro\n<!-- headlines -->\nold\n<!-- /headlines -->\nrest\n")
    results.record("a", "Bench A", ["A 1"], "A 99%", found, readme)
    results.record("b", "Bench B", ["B 1"], "B 50%", found, readme)
    results.record("a", "Bench A", ["A 2"], "A 98%", found, readme)
    text = found.read_text()
    assert text.count("## Bench A") == 1 and "A 2" in text and "A 1" not in text and "B 1" in text
    assert "`python bench/" in text and "At commit " in text  # the command that wrote it, and where
    assert readme.read_text() == ("intro\n<!-- headlines -->\n| result | headline |\n|---|---|\n"
                                  "| Bench A | A 98% |\n| Bench B | B 50% |\n<!-- /headlines -->\nrest\n")


def test_the_readme_headlines_are_the_results_files_own():
    text = (REPO / "docs" / "results.md").read_text() if (REPO / "docs" / "results.md").exists() else results.HEADER
    block = results.headline_table(text)
    assert block in (REPO / "README.md").read_text()


def test_superseded_sections_stay_in_the_results_but_leave_the_readme(tmp_path):
    readme, found = tmp_path / "README.md", tmp_path / "results.md"
    readme.write_text("<!-- headlines -->\n<!-- /headlines -->\n")
    results.record("a", f"Bench A {results.SUPERSEDED} the new default]", ["A 1"], "A 50%", found, readme)
    results.record("b", "Bench A", ["A 2"], "A 90%", found, readme)
    assert "A 50%" in found.read_text() and "A 50%" not in readme.read_text() and "A 90%" in readme.read_text()


def test_a_section_whose_config_has_a_successor_is_titled_so_and_leaves_the_readme(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "SUCCEEDED_BY", {"humans preset=old": "preset=new"})
    readme, found = tmp_path / "README.md", tmp_path / "results.md"
    readme.write_text("<!-- headlines -->\n<!-- /headlines -->\n")
    results.record("humans preset=old", "Humans (preset=old)", ["1"], "old 90%", found, readme)
    results.record("humans preset=new", "Humans (preset=new)", ["2"], "new 94%", found, readme)
    assert "## Humans (preset=old) [measured before preset=new, its successor]" in found.read_text()
    assert "old 90%" not in readme.read_text() and "new 94%" in readme.read_text()
