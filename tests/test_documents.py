"""Document folders: one row per file, front matter as columns, bad files kept as rejects."""

from __future__ import annotations

from pathlib import Path

from tests.sources import Project


def test_documents_are_rows_with_front_matter_and_bad_files_are_rejected(tmp_path: Path) -> None:
    docs = tmp_path / "kb"
    (docs / "guides").mkdir(parents=True)
    (docs / "welcome.md").write_text(
        "---\r\nclient_id: C001\r\nsigned: 2024-05-01\r\n---\r\n"
        "Intro\n# Welcome aboard\n\nHello.\n",
        encoding="utf-8",
    )
    (docs / "guides" / "billing.md").write_text("No heading here.\n", encoding="utf-8")
    (docs / "legacy.md").write_bytes("# Café\n".encode("latin-1"))
    (docs / "odd.md").write_text("---\nClient ID: 1\n---\nx\n", encoding="utf-8")
    project = Project(
        tmp_path,
        {"kb": {"kind": "documents", "path": "kb", "tables": {"notes": {"pattern": "**/*.md"}}}},
    )

    result = project.load("kb", "notes")

    assert project.sql("SELECT signed FROM raw.kb__notes WHERE signed IS NOT NULL") == [
        ("2024-05-01",)
    ]
    rows = project.sql("SELECT doc_id, title, client_id, body FROM raw.kb__notes ORDER BY 1")
    assert rows == [
        ("guides/billing.md", "billing", None, "No heading here.\n"),
        ("welcome.md", "Welcome aboard", "C001", "Intro\n# Welcome aboard\n\nHello.\n"),
    ]
    assert result.rejected == 2
    rejects = dict(project.sql("SELECT location, reason FROM rejects.kb__notes"))
    assert "not UTF-8" in rejects[str(docs / "legacy.md")]
    assert "not lower_snake_case" in rejects[str(docs / "odd.md")]
    [(raw,)] = project.sql("SELECT raw FROM rejects.kb__notes WHERE raw IS NOT NULL")
    assert bytes(raw) == "# Café\n".encode("latin-1")
