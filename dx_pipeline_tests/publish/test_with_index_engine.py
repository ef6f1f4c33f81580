"""Publishing what the real index engine produces: its ranking, scores and Framework objects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dx_pipeline.index.builtins import load_builtin
from dx_pipeline.index.engine import score
from dx_pipeline.publish.manifest import framework_metadata
from dx_pipeline.publish.site.build import build_site
from dx_pipeline.publish.site.pages import agency_href
from dx_pipeline.publish.snapshot import PublicationInput, publish_ranking
from dx_pipeline.publish.verify import verify
from dx_pipeline.reference.quarters import Period
from dx_pipeline.storage import read_partition, write_partition

from .conftest import registry


def test_engine_output_publishes_verifies_and_names_every_node(home):
    fw = load_builtin("dti_department")
    reg = registry()
    rng = np.random.default_rng(11)
    rows = []
    for code in reg["agency_code"]:
        for node in fw.indicators():
            den = float(rng.integers(10, 100))
            num = float(np.floor(den * rng.random()))
            rows.append(dict(agency_code=code, kpi_code=node.input_code, value=num / den,
                             numerator=num, denominator=den))
    result = score(fw, pd.DataFrame(rows), reg)

    pub = publish_ranking(home, PublicationInput(
        period=Period.parse("2025-Q2"), ranking=result.ranking, index_scores=result.scores,
        registry=reg, frameworks=[fw], inputs=[], trigger={"by": "schedule", "run_id": "r-123"},
    ))
    assert pub.revision == 1 and verify(home).ok
    meta = pub.manifest.frameworks[0]
    assert meta == framework_metadata(fw)
    assert meta["id"] == "dti_department" and len(meta["sha256"]) == 64
    assert pub.manifest.trigger == '{"by":"schedule","run_id":"r-123"}'

    # an illustrative framework is published as one: manifest, and a notice in the summary
    assert meta["provenance"]["illustrative"] is True
    assert meta["provenance"]["documents"][0]["number"] == "3473/QĐ-UBND"
    assert {n["origin"]["points"] for n in meta["indicators"]} == {"illustration"}
    summary = (pub.path / "report.html").read_text(encoding="utf-8")
    notice = summary.split('<div class="notice">')[1].split("</div>")[0]
    assert summary.index('class="status') < summary.index('class="notice"')
    assert "Bộ chỉ số minh họa: tên, điểm hoặc cách tính của 40/40 chỉ số thành phần" in notice
    assert "not the text of Decision 3473/QĐ-UBND of 29/12/2023" in notice
    # every pillar and indicator is named on the agencies' pages of the site
    site = build_site(pub.path)
    page = (site.path / agency_href("STC")).read_text(encoding="utf-8")
    for node in fw.nodes():
        assert node.name.vi in page, node.id
    ranked = result.ranking.dropna(subset=["rank"])
    assert len(ranked) == len(result.ranking) == 5  # the five departments

    write_partition(home, "ranking_snapshot", "2025-Q2", pub.ranking())
    back = read_partition(home, "ranking_snapshot", "2025-Q2")
    assert back["rank"].tolist() == result.ranking["rank"].astype("Int64").tolist()
    # the same engine output again is an identical rerun
    again = publish_ranking(home, PublicationInput(
        period=Period.parse("2025-Q2"), ranking=result.ranking, index_scores=result.scores,
        registry=reg, frameworks=[fw], inputs=[], trigger="cli:retry",
    ))
    assert not again.created and again.revision == 1
