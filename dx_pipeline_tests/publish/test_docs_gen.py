"""The data dictionary in docs/ is generated from the contracts and kept up to date."""

from __future__ import annotations

from dx_pipeline.publish import data_dictionary as docs_gen
from dx_pipeline.reference import schemas


def test_committed_data_dictionary_is_up_to_date():
    assert docs_gen.DEFAULT_OUTPUT.read_text(encoding="utf-8") == docs_gen.render(), (
        "docs/data_dictionary.md is stale: run python -m dx_pipeline.publish.data_dictionary"
    )


def test_every_contract_column_is_documented():
    text = docs_gen.render()
    for contract in schemas.CONTRACTS.values():
        section = text.split(f"\n## {contract.table}\n", 1)[1].split("\n## ", 1)[0]
        for col in contract.columns:
            assert f"| `{col.name}` |" in section, (contract.table, col.name)
            if col.vi:
                assert col.vi.replace("|", "\\|") in section


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    target = tmp_path / "dd.md"
    assert docs_gen.main(["--output", str(target), "--check"]) == 1
    assert docs_gen.main(["--output", str(target)]) == 0
    assert docs_gen.main(["--output", str(target), "--check"]) == 0
    target.write_text(target.read_text(encoding="utf-8").replace("Xếp loại", "Hạng"), encoding="utf-8")
    assert docs_gen.main(["--output", str(target), "--check"]) == 1
