"""What the portal's integer codes mean, in Vietnamese and English.

The portal sends ``KenhThucHien``, ``DuocThanhToanTrucTuyen``, ``MucDoHaiLong`` and
``DanhGiaPAKN`` as small integers (``config/portal_fields.yaml`` lists the allowed ones) and
``portal_dossiers`` keeps them as integers. A BI analyst needs their labels to chart them; the
BI export writes this mapping as the lookup table ``lookup_codes``, so every tool joins the same
labels instead of retyping them.
"""

from __future__ import annotations

CODE_LABELS: dict[tuple[str, str], dict[int, tuple[str, str]]] = {
    ("portal_dossiers", "channel"): {
        1: ("Trực tiếp", "In person"),
        2: ("Trực tuyến", "Online"),
        3: ("Qua dịch vụ bưu chính công ích", "Public postal service"),
    },
    ("portal_dossiers", "payment_channel"): {
        0: ("Không thanh toán trực tuyến", "Not paid online"),
        1: ("Qua Cổng Dịch vụ công quốc gia", "Through the national public service portal"),
        2: ("Qua cổng thanh toán của tỉnh", "Through the provincial payment portal"),
    },
    ("portal_dossiers", "rating"): {
        1: ("Không hài lòng", "Not satisfied"),
        2: ("Hài lòng", "Satisfied"),
        3: ("Rất hài lòng", "Very satisfied"),
    },
    ("portal_dossiers", "petition_rating"): {
        1: ("Không hài lòng", "Not satisfied"),
        2: ("Hài lòng", "Satisfied"),
        3: ("Rất hài lòng", "Very satisfied"),
    },
}
"""(table, column) -> code -> (Vietnamese label, English label)."""


def code_label_rows() -> list[tuple[str, str, int, str, str]]:
    """``(table_name, column_name, code, label_vi, label_en)`` rows, in a stable order."""
    return [
        (table, column, code, vi, en)
        for (table, column), labels in CODE_LABELS.items()
        for code, (vi, en) in sorted(labels.items())
    ]
