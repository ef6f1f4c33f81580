"""Table contracts: the columns every consumer of a warehouse table can rely on.

Declared once here and used everywhere: the Parquet writer casts to them, the quality checks
validate against them, and the data dictionary in docs/ is generated from them. A table may
carry extra columns after its contract columns; a contract column is never dropped or renamed.
The ``quarter`` column of partitioned tables comes from the Hive folder name.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TS = pa.timestamp("us")


@dataclass(frozen=True)
class Column:
    """One column of a table contract: name, Arrow type, English and Vietnamese meaning."""

    name: str
    type: pa.DataType
    en: str
    vi: str = ""
    nullable: bool = True


@dataclass(frozen=True)
class Contract:
    """A stored table's contract: its columns in order, key and partitioning."""

    table: str
    en: str
    vi: str
    columns: tuple[Column, ...]
    partitioned: bool = True
    key: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, c.nullable) for c in self.columns])


def _c(name, type_, en, vi="", nullable=True):
    return Column(name, type_, en, vi, nullable)


AGENCIES = Contract(
    "agencies",
    "Agency registry, effective-dated: every unit that can be scored, with its successor after a merger",
    "Danh mục cơ quan, đơn vị (có hiệu lực theo thời gian)",
    (
        _c("agency_code", pa.string(), "Stable agency code", "Mã đơn vị", False),
        _c("name_vi", pa.string(), "Vietnamese name", "Tên tiếng Việt", False),
        _c("name_en", pa.string(), "English name", "Tên tiếng Anh", False),
        _c("level", pa.string(), "province, department, district or commune", "Cấp", False),
        _c("peer_group", pa.string(), "Group the agency is ranked within", "Nhóm xếp hạng", False),
        _c(
            "parent_code",
            pa.string(),
            "Parent agency (district of a commune, province of a department)",
            "Đơn vị cấp trên",
        ),
        _c(
            "provides_public_services",
            pa.bool_(),
            "Whether it receives public-service dossiers",
            "Có cung cấp DVC",
            False,
        ),
        _c("valid_from", pa.date32(), "First day the agency exists", "Hiệu lực từ", False),
        _c("valid_to", pa.date32(), "Last day the agency exists (empty: still exists)", "Hiệu lực đến"),
        _c("successor_code", pa.string(), "Agency that took over its work after a merger", "Đơn vị kế thừa"),
    ),
    key=("agency_code",),
)

PORTAL_DOSSIERS = Contract(
    "portal_dossiers",
    "Public-service dossiers of the portal's export of the quarter, one row per dossier, mapped from "
    "the portal's field names: received in the quarter, or received earlier and still open at its "
    "start (carried over, with their state at this export: judged in the quarter, not received in it)",
    "Hồ sơ thủ tục hành chính trên Cổng dịch vụ công (tiếp nhận trong quý và chuyển từ kỳ trước)",
    (
        _c("dossier_id", pa.string(), "Dossier id (MaHoSo)", "Mã hồ sơ", False),
        _c(
            "agency_code",
            pa.string(),
            "Agency that received the dossier, or holds it at the export after a merger (MaCoQuan)",
            "Mã cơ quan",
            False,
        ),
        _c("procedure_code", pa.string(), "Administrative procedure (MaTTHC)", "Mã TTHC"),
        _c(
            "service_level",
            pa.string(),
            "full (toàn trình), partial (một phần) or none (MucDoDVC)",
            "Mức độ DVC",
        ),
        _c("channel", pa.int8(), "1 in person, 2 online, 3 postal (KenhThucHien)", "Kênh thực hiện"),
        _c(
            "received_at",
            TS,
            "Received (NgayTiepNhan); before the quarter's first day for a dossier carried over",
            "Ngày tiếp nhận",
        ),
        _c("due_at", TS, "Promised return date (NgayHenTra)", "Ngày hẹn trả"),
        _c("finished_at", TS, "End of processing (NgayKetThucXuLy)", "Ngày kết thúc xử lý"),
        _c(
            "status",
            pa.string(),
            "received, processing, supplement, finished, returned, stopped, withdrawn (TrangThaiHoSo)",
            "Trạng thái",
        ),
        _c(
            "supplement_requests",
            pa.int16(),
            "Times the citizen was asked to supplement (SoLanBoSung)",
            "Số lần yêu cầu bổ sung",
        ),
        _c(
            "supplement_days",
            pa.float64(),
            "Days spent by the citizen supplementing (SoNgayBoSung)",
            "Số ngày bổ sung",
        ),
        _c(
            "fee_required",
            pa.bool_(),
            "Procedure carries a financial obligation (CoNghiaVuTaiChinh)",
            "Có nghĩa vụ tài chính",
        ),
        _c(
            "paid_online",
            pa.bool_(),
            "Paid online through a portal (DuocThanhToanTrucTuyen in 1, 2)",
            "Thanh toán trực tuyến",
        ),
        _c(
            "input_digitized",
            pa.bool_(),
            "Component files attached digitised (DaSoHoaThanhPhan)",
            "Số hóa thành phần",
        ),
        _c("result_digitized", pa.bool_(), "Electronic result issued (CoKetQuaDienTu)", "Có kết quả điện tử"),
        _c(
            "reused_digitized_data",
            pa.bool_(),
            "At least one component reused from digitised data (TaiSuDungDuLieu)",
            "Tái sử dụng dữ liệu số hóa",
        ),
        _c(
            "citizen_data_used",
            pa.bool_(),
            "Used national population data (SuDungDuLieuDanCu)",
            "Sử dụng dữ liệu dân cư",
        ),
        _c(
            "rating",
            pa.int8(),
            "1 not satisfied, 2 satisfied, 3 very satisfied (MucDoHaiLong)",
            "Mức độ hài lòng",
        ),
        _c("source_file", pa.string(), "File or landing page the row came from", "Tệp nguồn"),
        _c("returned_at", TS, "Result returned (NgayTraKetQua)", "Ngày trả kết quả"),
        _c("stopped_at", TS, "Processing stopped or refused (NgayDungXuLy)", "Ngày dừng xử lý"),
        _c(
            "statutory_days",
            pa.float64(),
            "Statutory processing time in days (ThoiHanGiaiQuyet)",
            "Thời hạn giải quyết",
        ),
        _c("fee_amount", pa.int64(), "Fees synchronised for the dossier, VND (PhiLePhi)", "Phí, lệ phí"),
        _c(
            "payment_channel",
            pa.int8(),
            "0 none, 1 national portal, 2 provincial payment portal",
            "Kênh thanh toán",
        ),
        _c(
            "synced_national",
            pa.bool_(),
            "Synchronised to the national portal (DongBoCongQG)",
            "Đồng bộ Cổng DVCQG",
        ),
        _c("complaint", pa.bool_(), "A complaint or petition was filed about it (CoPhanAnh)", "Có phản ánh"),
        _c(
            "updated_at",
            TS,
            "Last change on the portal (NgayCapNhat), the incremental cursor",
            "Ngày cập nhật",
        ),
        _c("vneid_authenticated", pa.bool_(),
           "The applicant's account was authenticated with VNeID, the national electronic identity "
           "(TaiKhoanDuocXacThucVoiVNeID)", "Tài khoản được xác thực với VNeID"),
        _c("personal_store_component", pa.bool_(),
           "At least one component taken from the applicant's personal data store on the national "
           "portal (DuocLayTuKhoDMQG)", "Thành phần lấy từ kho dữ liệu cá nhân"),
        _c("personal_store_result", pa.bool_(),
           "The electronic result was synchronised to the applicant's personal data store "
           "(DongBoKetQuaKhoDMQG)", "Kết quả đồng bộ vào kho dữ liệu cá nhân"),
        _c("certified_copy", pa.bool_(),
           "The dossier asks for copies certified from originals (YeuCauChungThuc)",
           "Yêu cầu chứng thực bản sao"),
        _c("certified_copy_electronic", pa.bool_(),
           "The certified copies were issued electronically (CapBanSaoDienTu)", "Cấp bản sao điện tử"),
        _c("inter_agency", pa.bool_(), "The dossier needs another agency's part, liên thông (HoSoLienThong)",
           "Hồ sơ liên thông"),
        _c("inter_agency_online", pa.bool_(),
           "The inter-agency exchange went through the network (LienThongQuaMang)", "Liên thông qua mạng"),
        _c("petition_received_at", TS,
           "A petition (phản ánh, kiến nghị) about the dossier was received (NgayTiepNhanPAKN); empty: none",
           "Ngày tiếp nhận PAKN"),
        _c("petition_due_at", TS, "The petition's answer is due (HanXuLyPAKN)", "Hạn xử lý PAKN"),
        _c("petition_answered_at", TS, "The petition was answered (NgayXuLyPAKN)", "Ngày xử lý PAKN"),
        _c("petition_rating", pa.int8(),
           "The petitioner's rating of the answer: 1 not satisfied, 2 satisfied, 3 very satisfied "
           "(DanhGiaPAKN)",
           "Đánh giá xử lý PAKN"),
    ),
    key=("dossier_id",),
)

PORTAL_REJECTS = Contract(
    "portal_rejects",
    "Values of the portal's exports that could not be read, one row per bad value, with the reason",
    "Giá trị không đọc được trong dữ liệu xuất từ Cổng dịch vụ công và lý do",
    (
        _c("dataset", pa.string(), "Which export: dossiers or procedures", "Loại dữ liệu xuất", False),
        _c("source_file", pa.string(), "File or landing page the value came from", "Tệp nguồn"),
        _c("row_number", pa.int64(), "Row of that file (1 = first data row)", "Dòng"),
        _c("dossier_id", pa.string(), "Dossier id as written, when readable", "Mã hồ sơ"),
        _c("agency_code", pa.string(), "Agency code as written, when readable", "Mã cơ quan"),
        _c("field", pa.string(), "Column of the warehouse table the value was meant for", "Trường"),
        _c("column", pa.string(), "The portal's own field name", "Tên trường của Cổng"),
        _c("value", pa.string(), "The value exactly as exported", "Giá trị gốc"),
        _c("reason", pa.string(), "What is wrong, in plain words", "Lý do", False),
    ),
)

PROCEDURES = Contract(
    "procedures",
    "The portal's administrative-procedure catalogue (DanhMucTTHC), one row per procedure and agency",
    "Danh mục thủ tục hành chính theo cơ quan",
    (
        _c("procedure_code", pa.string(), "Administrative procedure (MaTTHC)", "Mã TTHC", False),
        _c("agency_code", pa.string(), "Agency that handles it (MaCoQuan)", "Mã cơ quan", False),
        _c("procedure_name", pa.string(), "Name (TenTTHC)", "Tên thủ tục"),
        _c("service_level", pa.string(), "full, partial or none (MucDoDVC)", "Mức độ DVC"),
        _c("full_online_eligible", pa.bool_(), "Eligible to be offered fully online",
           "Đủ điều kiện toàn trình"),
        _c("fee_required", pa.bool_(), "Carries a financial obligation", "Có nghĩa vụ tài chính"),
        _c("payment_integrated", pa.bool_(), "Online payment integrated", "Tích hợp thanh toán"),
        _c("portal_integrated", pa.bool_(), "Integrated with the national portal", "Tích hợp Cổng DVCQG"),
        _c("mobile_ready", pa.bool_(), "Usable on mobile devices", "Dùng trên thiết bị di động"),
        _c("population_db_connected", pa.bool_(), "Connected to the national population database",
           "Kết nối CSDL dân cư"),
        _c("published_on_time", pa.bool_(), "Published on time", "Công khai đúng hạn"),
        _c("updated_on_time", pa.bool_(), "Updated on time", "Cập nhật đúng hạn"),
        _c("full_content", pa.bool_(), "Published with full content", "Đầy đủ nội dung"),
        _c("statutory_days", pa.float64(), "Statutory processing time in days", "Thời hạn giải quyết"),
        _c("source_file", pa.string(), "File or landing page the row came from", "Tệp nguồn"),
    ),
    key=("procedure_code", "agency_code"),
)

_SUBMISSION_COLUMNS = (
    _c("agency_code", pa.string(), "Reporting agency", "Mã đơn vị", False),
    _c("indicator_code", pa.string(), "KPI code from the catalogue", "Mã chỉ số", False),
    _c("value", pa.float64(), "Reported value; rates as fractions 0..1", "Giá trị"),
    _c("unit", pa.string(), "Unit of the indicator (ratio, count, bool, level, ...)", "Đơn vị tính"),
    _c("evidence_ref", pa.string(), "Evidence: document number and date", "Minh chứng"),
    _c("submitted_at", TS, "When the agency submitted this version", "Thời điểm gửi"),
    _c("source", pa.string(), "inbox or reporting_db", "Nguồn"),
    _c("source_ref", pa.string(), "File (and sheet) or database row the value came from", "Tham chiếu nguồn"),
    _c("version", pa.int32(), "1 for the first submission, +1 per resubmission", "Phiên bản"),
    _c("numerator", pa.float64(), "Numerator when the agency reports one", "Tử số"),
    _c("denominator", pa.float64(), "Denominator when the agency reports one", "Mẫu số"),
    _c("is_effective", pa.bool_(), "This version is the one used for the quarter", "Phiên bản hiệu lực"),
    _c("is_late", pa.bool_(), "Submitted after the quarter's deadline", "Nộp muộn"),
)

AGENCY_SUBMISSIONS = Contract(
    "agency_submissions",
    "Self-reported indicators, every version kept; the effective one flagged",
    "Số liệu tự báo cáo của cơ quan, đơn vị",
    _SUBMISSION_COLUMNS,
    key=("agency_code", "indicator_code", "version"),
)

SUBMISSION_REJECTS = Contract(
    "submission_rejects",
    "Submitted rows that could not be taken in, with the reason a clerk understands",
    "Dòng số liệu bị từ chối và lý do",
    (
        _c("agency_code", pa.string(), "Reporting agency, as written", "Mã đơn vị"),
        _c("indicator_code", pa.string(), "Indicator, as written", "Mã chỉ số"),
        _c("value", pa.string(), "Value exactly as written", "Giá trị gốc"),
        _c("source_ref", pa.string(), "File, sheet and row", "Tham chiếu nguồn"),
        _c("field", pa.string(), "Field that is wrong", "Trường lỗi"),
        _c("reason", pa.string(), "What is wrong, in plain words", "Lý do", False),
        _c("submitted_at", TS, "When the file arrived", "Thời điểm gửi"),
        _c("source", pa.string(), "inbox or reporting_db", "Nguồn"),
    ),
)

DQ_RESULTS = Contract(
    "dq_results",
    "One row per data-quality check per quarter and run",
    "Kết quả kiểm tra chất lượng dữ liệu",
    (
        _c("dataset", pa.string(), "Table checked", "Bảng dữ liệu", False),
        _c("check", pa.string(), "Check name", "Tên kiểm tra", False),
        _c("severity", pa.string(), "ERROR blocks downstream, WARN does not", "Mức độ", False),
        _c("passed", pa.bool_(), "Whether the check passed", "Đạt", False),
        _c("observed", pa.string(), "Observed value", "Giá trị quan sát"),
        _c("expected", pa.string(), "Expectation", "Kỳ vọng"),
        _c("failing_rows", pa.int64(), "Rows that fail", "Số dòng lỗi"),
    ),
)

AGENCY_KPIS = Contract(
    "agency_kpis",
    "One value per agency and KPI per quarter; ratios kept as numerator and denominator",
    "Giá trị chỉ số KPI theo cơ quan, đơn vị",
    (
        _c("agency_code", pa.string(), "Agency", "Mã đơn vị", False),
        _c("kpi_code", pa.string(), "KPI code from the catalogue", "Mã KPI", False),
        _c("numerator", pa.float64(), "Numerator (ratios) or the value", "Tử số"),
        _c("denominator", pa.float64(), "Denominator (ratios)", "Mẫu số"),
        _c("value", pa.float64(), "Value; ratios as fractions 0..1", "Giá trị"),
        _c("target", pa.float64(), "Plan target for the agency's level and year", "Chỉ tiêu"),
        _c("target_met", pa.bool_(), "Value reaches the target in the KPI's direction", "Đạt chỉ tiêu"),
        _c("source", pa.string(), "portal, submission or rollup", "Nguồn"),
        _c("flags", pa.string(), "Comma-separated flags (late, imputed, zero_denominator, ...)", "Ghi chú"),
    ),
    key=("agency_code", "kpi_code"),
)

INDEX_SCORES = Contract(
    "index_scores",
    "Points per agency and framework node, with the rule and input behind them",
    "Điểm chỉ số theo đơn vị và tiêu chí",
    (
        _c("framework_id", pa.string(), "Framework id", "Mã bộ chỉ số", False),
        _c("framework_version", pa.string(), "Framework version", "Phiên bản", False),
        _c("agency_code", pa.string(), "Agency", "Mã đơn vị", False),
        _c("node_id", pa.string(), "Pillar or indicator id", "Mã tiêu chí", False),
        _c("parent_id", pa.string(), "Parent node", "Tiêu chí cha"),
        _c("level", pa.string(), "total, pillar or indicator", "Cấp tiêu chí", False),
        _c("kpi_code", pa.string(), "KPI scored (indicators only)", "Mã KPI"),
        _c(
            "input_value",
            pa.float64(),
            "Value the rule was applied to, after appraisal (empty when the evidence was rejected)",
            "Giá trị đầu vào (sau thẩm định)",
        ),
        _c("rule", pa.string(), "Scoring rule with its parameters", "Cách tính"),
        _c("points", pa.float64(), "Points awarded, after appraisal", "Điểm (sau thẩm định)", False),
        _c("max_points", pa.float64(), "Points available", "Điểm tối đa", False),
        _c(
            "note",
            pa.string(),
            "Why: missing data, zero denominator, the evaluator's verdict, points to the next threshold",
            "Giải thích",
        ),
        _c(
            "reported_value",
            pa.float64(),
            "Value before appraisal: as the agency reported it or the portal's data gave it",
            "Giá trị tự báo cáo (trước thẩm định)",
        ),
        _c(
            "reported_points",
            pa.float64(),
            "Points the value before appraisal earns (equal to points when nothing was changed)",
            "Điểm theo số liệu tự báo cáo",
        ),
        _c(
            "appraisal",
            pa.string(),
            "Evaluator's verdict in force: accept, adjust_value, adjust_points or reject "
            "(indicators only; empty when not appraised)",
            "Kết quả thẩm định",
        ),
        _c(
            "adjustment_id",
            pa.int64(),
            "The appraisal record behind the verdict (adjustments.id in the appraisal database)",
            "Mã bản ghi thẩm định",
        ),
    ),
    key=("framework_id", "agency_code", "node_id"),
)

PLAN_SCORECARD = Contract(
    "plan_scorecard",
    "The province against each target of its plans, per quarter and per year (a year's rows sit in "
    "the partition of its last quarter): the province-level value computed the way the target is "
    "worded, met or not, and the trend",
    "Kết quả thực hiện chỉ tiêu kế hoạch của tỉnh",
    (
        _c("period", pa.string(), "Quarter (2025-Q3) or year (2025) the row is about", "Kỳ", False),
        _c("period_kind", pa.string(), "quarter or year", "Loại kỳ", False),
        _c("province_code", pa.string(), "The province (the merged one after a merger)", "Mã tỉnh", False),
        _c("province_name", pa.string(), "The province's name (Vietnamese)", "Tên tỉnh", False),
        _c("plan_id", pa.string(), "Plan id in plan_targets.yaml", "Mã kế hoạch", False),
        _c("plan_title", pa.string(), "Plan title (Vietnamese)", "Tên kế hoạch", False),
        _c("plan_status", pa.string(), "adopted, or draft for a plan never adopted", "Tình trạng kế hoạch",
           False),
        _c("kpi_code", pa.string(), "KPI code from the catalogue", "Mã KPI", False),
        _c("kpi_name", pa.string(), "KPI name (Vietnamese)", "Tên chỉ tiêu", False),
        _c("level", pa.string(), "Tier the target is set for: province (cấp tỉnh), district, commune or all",
           "Cấp áp dụng", False),
        _c("target_year", pa.int32(), "Year the plan sets the target for", "Năm chỉ tiêu", False),
        _c("target", pa.float64(), "The target; rates and shares as fractions 0..1", "Chỉ tiêu", False),
        _c("measure", pa.string(),
           "How the value is computed: ratio_of_sums, share_of_agencies, province_total or province_has",
           "Cách tính", False),
        _c("in_force", pa.bool_(), "The target is the one in force in the period's year", "Đang có hiệu lực",
           False),
        _c("numerator", pa.float64(), "Sum of numerators, agencies that have it, or the total", "Tử số"),
        _c("denominator", pa.float64(), "Sum of denominators, or the agencies counted", "Mẫu số"),
        _c("value", pa.float64(), "The province-level value; empty when nothing could be computed",
           "Giá trị"),
        _c("agencies", pa.int32(), "Agencies of the tier the value is computed over", "Số đơn vị"),
        _c("reported", pa.int32(), "Of those, agencies with a figure in the period", "Số đơn vị có số liệu"),
        _c("met", pa.bool_(), "The value reaches the target in the KPI's direction", "Đạt chỉ tiêu"),
        _c("status", pa.string(),
           "met, not_met, no_data (nobody reported), no_agencies (the tier does not exist then) or "
           "year_figure (a total, judged on the year)", "Kết quả", False),
        _c("previous_value", pa.float64(), "The value of the period before (restated across a merger)",
           "Giá trị kỳ trước"),
        _c("change", pa.float64(), "value - previous_value", "Thay đổi"),
        _c("trend", pa.string(), "improving, worsening, unchanged or no_previous (in the KPI's direction)",
           "Xu hướng"),
        _c("predecessors", pa.string(),
           "Across a province merger: each predecessor province's value, whose mean (a total: sum) is "
           "the value, by the national rule for merged provinces", "Giá trị các tỉnh trước hợp nhất"),
        _c("note", pa.string(), "The target's wording and what the value leaves out", "Ghi chú"),
    ),
    key=("period", "province_code", "plan_id", "kpi_code", "level", "target_year"),
)

RANKING_SNAPSHOT = Contract(
    "ranking_snapshot",
    "The quarter's ranking, per framework and peer group",
    "Bảng xếp hạng quý",
    (
        _c("framework_id", pa.string(), "Framework id", "Mã bộ chỉ số", False),
        _c("peer_group", pa.string(), "Group ranked together", "Nhóm xếp hạng", False),
        _c("agency_code", pa.string(), "Agency", "Mã đơn vị", False),
        _c("agency_name", pa.string(), "Agency name (Vietnamese)", "Tên đơn vị", False),
        _c("total_points", pa.float64(), "Points", "Tổng điểm", False),
        _c("max_points", pa.float64(), "Points available", "Điểm tối đa", False),
        _c(
            "rank",
            pa.int32(),
            "Rank in the peer group (tied totals share the best rank, or take consecutive ranks "
            "where the framework says so); empty when not ranked",
            "Xếp hạng",
        ),
        _c("band", pa.string(), "Tốt / Khá / Trung bình / Yếu", "Xếp loại"),
        _c("previous_rank", pa.int32(), "Rank in the previous quarter", "Hạng quý trước"),
        _c(
            "rank_change",
            pa.int32(),
            "Places gained (+) or lost (-) against the previous quarter",
            "Thay đổi hạng",
        ),
        _c("revision", pa.int32(), "Publication revision", "Lần công bố"),
        _c("published_at", TS, "When the revision was published", "Thời điểm công bố"),
    ),
    key=("framework_id", "agency_code"),
)

RANK_UNCERTAINTY = Contract(
    "rank_uncertainty",
    "Rank intervals from Monte Carlo over weights, normalisation and aggregation",
    "Khoảng bất định của thứ hạng",
    (
        _c("framework_id", pa.string(), "Framework id", "Mã bộ chỉ số", False),
        _c("agency_code", pa.string(), "Agency", "Mã đơn vị", False),
        _c("rank_p05", pa.float64(), "5th percentile of the rank", "Hạng phân vị 5", False),
        _c("rank_median", pa.float64(), "Median rank", "Hạng trung vị", False),
        _c("rank_p95", pa.float64(), "95th percentile of the rank", "Hạng phân vị 95", False),
    ),
)

CONTRACTS: dict[str, Contract] = {
    c.table: c
    for c in (
        AGENCIES,
        PORTAL_DOSSIERS,
        PORTAL_REJECTS,
        PROCEDURES,
        AGENCY_SUBMISSIONS,
        SUBMISSION_REJECTS,
        DQ_RESULTS,
        AGENCY_KPIS,
        PLAN_SCORECARD,
        INDEX_SCORES,
        RANKING_SNAPSHOT,
        RANK_UNCERTAINTY,
    )
}


def contract_columns(df, table: str):
    """Only ``table``'s contract columns of a DataFrame (None passes through): what is
    published must not change with run metadata such as dq_results' check time and run id."""
    if df is None:
        return None
    return df[[c for c in CONTRACTS[table].names if c in df.columns]]


def conform(table: str, data: pa.Table) -> pa.Table:
    """Order and cast ``data`` to the table's contract; extra columns follow, untouched.

    Raises ``ValueError`` naming the table and the missing columns, or the column that cannot
    be cast, rather than writing a file a consumer would misread.
    """
    contract = CONTRACTS[table]
    missing = [n for n in contract.names if n not in data.column_names]
    if missing:
        raise ValueError(f"{table}: missing contract columns {missing}")
    arrays, fields = [], []
    for col in contract.columns:
        arr = data.column(col.name)
        if arr.type != col.type:
            try:
                arr = arr.cast(col.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValueError(
                    f"{table}.{col.name}: cannot store {arr.type} as {col.type}: {exc}"
                ) from exc
        arrays.append(arr)
        fields.append(pa.field(col.name, col.type, True))
    for name in data.column_names:
        if name not in contract.names:
            arrays.append(data.column(name))
            fields.append(data.schema.field(name))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
