"""The demo city: a fictional municipal register to show and try the product (`manage.py demo`).

临江市 with three counties, twenty townships, about 600 enterprises (with permits, yearly tiers,
key processes and major hazard sources), four chemical parks and one demo user per role.

The whole data set is drawn from a seeded random.Random, so every run plans exactly the same
rows; a row is only inserted when its key (region code, park code, credit code, username) is
not there yet, and the children of an enterprise or park (permits, tiers, hazard sources,
evaluations) only together with it. A second run therefore inserts nothing and changes
nothing, and demo rows edited in the browser are left alone.

Rows are bulk-inserted with their "created" history entries (django-simple-history's
bulk_create_with_history, change reason DEMO_REASON), so dossiers show where they came from.
Apps that add demo data of their own provide `<app>.demo.build_demo_<app>(rng, stdout)`;
it is called after the register inside the same transaction (see DEMO_EXTENSIONS).
"""

import datetime
import importlib
import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from unittest import mock

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.choices import Role
from accounts.models import Department
from accounts.services import assign_role, provision_user, system_actor
from core.bulk import insert_rows
from core.history import history_m2m_fields, record_m2m_history, record_m2m_in_created_rows
from enterprises.choices import (
    AutomationStatus,
    EnterpriseKind,
    EnterpriseSize,
    ExposedPopulation,
    HazardUnitKind,
    OperatingStatus,
    PermitKind,
    ProcessMode,
)
from enterprises.hazards import Line, Reference, grade
from enterprises.models import (
    Enterprise,
    HazardInventoryLine,
    KeyHazardousProcess,
    MajorHazardSource,
    Permit,
    YearlyTier,
)
from enterprises.validators import make_uscc
from parks.choices import ParkLevel, RecognitionStatus
from parks.models import ChemicalPark, ParkEvaluation
from regions.choices import RegionLevel
from regions.models import Region

SEED = 20240521
DEMO_PASSWORD = "demo12345"
DEMO_URL = "http://127.0.0.1:8000/"
DEMO_REASON = "演示数据（manage.py demo）"

#: Other apps' demo builders, called after the register when the module exists.
DEMO_EXTENSIONS = [
    ("rectification.demo", "build_demo_rectification"),
    ("inspections.demo", "build_demo_inspections"),
]

CITY = ("321900", "临江市")
#: county code, name, [(township code, name, enterprises)]; street codes 0xx, towns 1xx, xiang 2xx.
COUNTIES = [
    (
        "321902",
        "江城区",
        [
            ("321902001", "城东街道", 12),
            ("321902002", "城南街道", 8),
            ("321902003", "滨江街道", 15),
            ("321902101", "临港镇", 117),  # the seed's township: 117 production enterprises
            ("321902102", "新桥镇", 34),
            ("321902103", "白沙镇", 26),
            ("321902104", "梅林镇", 18),
        ],
    ),
    (
        "321923",
        "清河县",
        [
            ("321923101", "清河镇", 42),
            ("321923102", "双沟镇", 38),
            ("321923103", "三河镇", 25),
            ("321923104", "马坝镇", 20),
            ("321923105", "高桥镇", 23),
            ("321923201", "桃园乡", 12),
        ],
    ),
    (
        "321924",
        "安丰县",
        [
            ("321924101", "安丰镇", 35),
            ("321924102", "沙河镇", 96),
            ("321924103", "石港镇", 24),
            ("321924104", "新坝镇", 20),
            ("321924105", "丰乐镇", 16),
            ("321924201", "东湖乡", 11),
            ("321924202", "西湖乡", 8),
        ],
    ),
]

#: code, name, township, level, recognition, km², positioning, share of the township's enterprises inside.
PARKS = [
    (
        "HG-321902-01",
        "临江临港化工园区",
        "321902101",
        ParkLevel.PROVINCIAL,
        RecognitionStatus.RECOGNISED,
        "18.50",
        "石油化工、精细化工、化工新材料",
        0.65,
    ),
    (
        "HG-321924-01",
        "安丰沙河精细化工园",
        "321924102",
        ParkLevel.MUNICIPAL,
        RecognitionStatus.RECOGNISED,
        "6.20",
        "医药中间体、农药制剂、精细化学品",
        0.6,
    ),
    (
        "HG-321923-01",
        "清河双沟化工集中区",
        "321923102",
        ParkLevel.CLUSTER,
        RecognitionStatus.PENDING,
        "3.10",
        "涂料、油墨、胶粘剂",
        0.5,
    ),
    (
        "HG-321902-02",
        "新桥化工集聚区",
        "321902102",
        ParkLevel.CLUSTER,
        RecognitionStatus.REVOKED,
        "1.80",
        "化工助剂（已取消定位，企业逐步关停转移）",
        0.4,
    ),
]

#: username, role, region code, department name, full name. Reviewers: one per default
#: pre-review department, so a classification can collect every opinion in the demo.
USERS = [
    ("city", Role.CITY, CITY[0], None, "王建国"),
    ("county", Role.COUNTY, "321902", None, "李卫东"),
    ("township", Role.TOWNSHIP, "321902101", None, "张海燕"),
    ("reviewer", Role.REVIEWER, CITY[0], "应急管理局", "刘志强"),
    ("reviewer_jx", Role.REVIEWER, CITY[0], "经济和信息化局", "陈晓明"),
    ("reviewer_hb", Role.REVIEWER, CITY[0], "生态环境局", "杨丽华"),
    ("reviewer_jt", Role.REVIEWER, CITY[0], "交通运输局", "赵国庆"),
    ("reviewer_gk", Role.REVIEWER, CITY[0], "港口管理局", "周文斌"),
    ("supervisor", Role.SUPERVISOR, CITY[0], None, "吴永刚"),
]
SUPERUSER = ("admin", "系统管理员")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
GIVEN = "建国伟芳秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华文斌宇浩鹏辉玉萍红梅林峰波宁俊凯荣春海燕志新利清飞彬"
BRANDS = [
    "恒泰",
    "华宇",
    "金港",
    "瑞丰",
    "永盛",
    "宏达",
    "鑫源",
    "天成",
    "润华",
    "盛邦",
    "嘉禾",
    "诚信",
    "联创",
    "新宇",
    "海泰",
    "长兴",
    "东方",
    "中盛",
    "佳和",
    "荣欣",
    "恒信",
    "顺达",
    "三江",
    "远洋",
    "立信",
    "博远",
    "德润",
    "富民",
    "晨光",
    "凯达",
    "兴业",
    "明珠",
    "锦程",
    "泰和",
    "华康",
    "安泰",
    "利民",
    "通达",
    "亿丰",
    "维科",
    "广源",
    "友联",
    "华星",
    "春晖",
    "银河",
    "金石",
    "双益",
    "万隆",
    "宝丰",
    "龙腾",
    "祥和",
    "百川",
    "奥新",
    "富源",
    "益康",
    "科润",
    "信达",
    "江海",
    "临海",
    "汇通",
]
TRADES = {
    EnterpriseKind.PRODUCTION: [
        "化工",
        "精细化工",
        "化学",
        "新材料",
        "医药化工",
        "染料化工",
        "农化",
        "涂料",
        "树脂",
        "助剂",
        "胶粘剂",
        "生物化工",
    ],
    EnterpriseKind.TRADING: ["化工贸易", "化学品经营", "石化贸易"],
    EnterpriseKind.STORAGE: ["化工仓储", "石化储运", "危险品仓储"],
    EnterpriseKind.USE: ["电镀", "印染", "制药", "电子材料", "金属表面处理"],
    EnterpriseKind.TRANSPORT: ["危险货物运输", "化工物流"],
    EnterpriseKind.WHARF: ["港务", "液体化工码头"],
}
SUFFIXES = [("有限公司", 70), ("科技有限公司", 15), ("股份有限公司", 10), ("有限责任公司", 5)]
PRODUCTS = {
    EnterpriseKind.PRODUCTION: [
        "植绒胶",
        "纸管胶",
        "有机硅胶",
        "有机溶剂",
        "消毒剂",
        "化工助剂",
        "柔软剂",
        "涂料",
        "颜料",
        "油墨",
        "聚合氯化铝净水剂",
        "润滑剂",
        "乳胶",
        "氧化锌",
        "塑料母粒",
        "染料中间体",
        "农药原药",
        "医药中间体",
        "邻硝基氯苯",
        "聚氯乙烯树脂",
        "环氧树脂",
        "丙烯酸乳液",
        "双氧水",
        "甲醛",
        "硫酸",
        "液氯",
        "烧碱",
        "增塑剂",
        "阻燃剂",
    ],
    EnterpriseKind.TRADING: ["甲醇", "甲苯", "二甲苯", "丙酮", "液碱", "硫酸", "盐酸", "乙酸乙酯"],
    EnterpriseKind.STORAGE: ["甲醇储存", "成品油储存", "液化石油气储存", "液碱储存", "苯乙烯储存"],
    EnterpriseKind.USE: ["使用甲苯、丙酮（清洗）", "使用硫酸、盐酸（酸洗）", "使用氰化物（电镀）", "使用液氨（制冷）"],
    EnterpriseKind.TRANSPORT: ["道路危险货物运输（2类、3类、8类）", "道路危险货物运输（3类）"],
    EnterpriseKind.WHARF: ["液体化工品装卸", "成品油装卸"],
}
INDUSTRY_CODES = {
    EnterpriseKind.PRODUCTION: [
        "C2614",
        "C2619",
        "C2631",
        "C2641",
        "C2642",
        "C2643",
        "C2651",
        "C2661",
        "C2662",
        "C2669",
        "C2710",
    ],
    EnterpriseKind.TRADING: ["F5169"],
    EnterpriseKind.STORAGE: ["G5942"],
    EnterpriseKind.USE: ["C3360", "C1713", "C2720", "C3985"],
    EnterpriseKind.TRANSPORT: ["G5430"],
    EnterpriseKind.WHARF: ["G5532"],
}
KIND_WEIGHTS = [
    (EnterpriseKind.PRODUCTION, 70),
    (EnterpriseKind.TRADING, 10),
    (EnterpriseKind.STORAGE, 6),
    (EnterpriseKind.USE, 8),
    (EnterpriseKind.TRANSPORT, 3),
    (EnterpriseKind.WHARF, 3),
]
STATUS_WEIGHTS = [
    (OperatingStatus.OPERATING, 80),
    (OperatingStatus.SUSPENDED, 9),
    (OperatingStatus.CLOSED, 9),
    (OperatingStatus.DEREGISTERED, 2),
]
ROADS = [
    "滨江路",
    "化工路",
    "纬三路",
    "经二路",
    "沿江大道",
    "工业大道",
    "人民路",
    "建设路",
    "港口路",
    "园区一路",
    "新港路",
    "东风路",
]
#: Where the city lies, for plausible coordinates.
CENTRE = (120.45, 32.35)

#: permit kind → validity in days (None: does not expire).
PERMIT_VALIDITY = {
    PermitKind.BUSINESS_LICENCE: None,
    PermitKind.WORK_SAFETY: 3 * 365,
    PermitKind.DISCHARGE: 5 * 365,
    PermitKind.EIA: None,
    PermitKind.FILING: 3 * 365,
    PermitKind.SAFETY_ASSESSMENT: 3 * 365,
    PermitKind.LAND_USE: 50 * 365,
}
HAZARD_KINDS = {EnterpriseKind.PRODUCTION, EnterpriseKind.STORAGE, EnterpriseKind.WHARF}
#: 表1 entries of the demo inventories: 氨, 氯, 硫化氢, 氯化氢, 环氧乙烷, 1,3-丁二烯, 甲烷/天然气, 氯乙烯, 氢, 液化石油气,
#: 乙炔, 乙烯, 苯, 苯乙烯, 丙酮, 丙烯腈, 二硫化碳, 1,2-环氧丙烷, 甲苯, 甲醇, 汽油, 乙醇, 乙酸乙酯, 硝酸.
DEMO_TABLE_1_ENTRIES = {1, 12, 10, 11, 7, 47, 49, 50, 51, 52, 54, 55, 57, 58, 59, 60, 61, 63, 64, 65, 66, 67, 69, 81}
PARK_KINDS = {EnterpriseKind.PRODUCTION, EnterpriseKind.STORAGE, EnterpriseKind.USE}


# --- The demo's calendar: events on working days, in office hours, spread over the campaign --------

#: Public holidays on fixed dates (元旦, 劳动节, 国庆): no demo event falls on them (nor on a weekend).
FIXED_HOLIDAYS = {
    (1, 1),
    (5, 1),
    (5, 2),
    (5, 3),
    (5, 4),
    (5, 5),
    (10, 1),
    (10, 2),
    (10, 3),
    (10, 4),
    (10, 5),
    (10, 6),
    (10, 7),
}
#: Office hours: 08:30–12:00 and 13:30–17:30.
OFFICE_HOURS = [(datetime.time(8, 30), datetime.time(12, 0)), (datetime.time(13, 30), datetime.time(17, 30))]
OFFICE_DAY_MINUTES = sum(
    (datetime.datetime.combine(datetime.date.min, end) - datetime.datetime.combine(datetime.date.min, start)).seconds
    // 60
    for start, end in OFFICE_HOURS
)
#: The deadline checks run at night (CELERY_BEAT_SCHEDULE): the worker's own marks carry this time.
WORKER_TIME = datetime.time(1, 30)


class DemoCalendar:
    """Dates of the demo's events: working days (no weekends or fixed holidays), office hours, and never after
    `now` (the last office moment up to the real time and `today`). The register is entered in the quarter
    before the earliest campaign; the "四个一批" campaign runs from January of last year."""

    def __init__(self, today: datetime.date, now: datetime.datetime | None = None):
        self.today = today
        self.tz = timezone.get_current_timezone()
        real = timezone.localtime(now or timezone.now(), self.tz)
        end_of_today = self.aware(today, OFFICE_HOURS[-1][1])
        self.now = self.office_before(min(real, end_of_today))
        #: The four-batch campaign starts on 1 January of last year, the 263 campaign a year earlier.
        self.campaign_start = datetime.date(today.year - 1, 1, 1)
        self.register_from = datetime.date(today.year - 3, 10, 8)
        self.register_to = datetime.date(today.year - 3, 12, 20)
        # Working days of the years around, indexed: moving by n working days is a lookup.
        day, last = datetime.date(today.year - 30, 1, 1), datetime.date(today.year + 5, 12, 31)
        self._working_days: list[datetime.date] = []
        while day <= last:
            if self.is_working_day(day):
                self._working_days.append(day)
            day += datetime.timedelta(days=1)
        self._day_index = {day: index for index, day in enumerate(self._working_days)}

    def aware(self, day: datetime.date, time: datetime.time) -> datetime.datetime:
        return timezone.make_aware(datetime.datetime.combine(day, time), self.tz)

    @staticmethod
    def is_working_day(day: datetime.date) -> bool:
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS

    def working_day(self, day: datetime.date) -> datetime.date:
        """`day` if it is a working day, else the next one (the previous one if the next lies after today)."""
        forward = day
        while not self.is_working_day(forward):
            forward += datetime.timedelta(days=1)
        if forward <= self.now.date():
            return forward
        backward = min(day, self.now.date())
        while not self.is_working_day(backward):
            backward -= datetime.timedelta(days=1)
        return backward

    def working_day_on_or_before(self, day: datetime.date, not_before: datetime.date | None = None) -> datetime.date:
        """`day` if it is a working day, else the one before (the next one from `not_before` if that is earlier)."""
        back = day
        while not self.is_working_day(back):
            back -= datetime.timedelta(days=1)
        if not_before is not None and back < not_before:
            return self.working_day(not_before)
        return back

    def working_days_back(self, count: int) -> datetime.date:
        """The working day `count` working days before today (0: today, if it is one)."""
        day = self.working_day_on_or_before(self.now.date())
        for _ in range(count):
            day = self.working_day_on_or_before(day - datetime.timedelta(days=1))
        return day

    def _segments(self, day: datetime.date):
        return [(self.aware(day, start), self.aware(day, end)) for start, end in OFFICE_HOURS]

    def office_before(self, moment: datetime.datetime) -> datetime.datetime:
        """The latest office moment at or before `moment`."""
        moment = timezone.localtime(moment, self.tz)
        day = moment.date()
        while True:
            if self.is_working_day(day):
                for start, end in reversed(self._segments(day)):
                    if start <= moment:
                        return min(moment, end)
            day -= datetime.timedelta(days=1)
            moment = self.aware(day, OFFICE_HOURS[-1][1])

    def office_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The earliest office moment at or after `moment`."""
        moment = timezone.localtime(moment, self.tz)
        day = moment.date()
        while True:
            if self.is_working_day(day):
                for start, end in self._segments(day):
                    if moment < end:
                        return max(moment, start)
            day += datetime.timedelta(days=1)
            moment = self.aware(day, datetime.time.min)

    @staticmethod
    def _offset(moment: datetime.datetime) -> int:
        """Office minutes from the day's opening to an office moment."""
        minutes = moment.hour * 60 + moment.minute
        (start_am, end_am), (start_pm, _end_pm) = OFFICE_HOURS
        if minutes <= end_am.hour * 60 + end_am.minute:
            return minutes - (start_am.hour * 60 + start_am.minute)
        return (
            (end_am.hour * 60 + end_am.minute)
            - (start_am.hour * 60 + start_am.minute)
            + minutes
            - (start_pm.hour * 60 + start_pm.minute)
        )

    def _at_offset(self, day: datetime.date, offset: int) -> datetime.datetime:
        (start_am, end_am), (start_pm, _end_pm) = OFFICE_HOURS
        morning = (end_am.hour * 60 + end_am.minute) - (start_am.hour * 60 + start_am.minute)
        start, minutes = (start_am, offset) if offset <= morning else (start_pm, offset - morning)
        return self.aware(day, start) + datetime.timedelta(minutes=minutes)

    def advance(self, moment: datetime.datetime, minutes: float) -> datetime.datetime:
        """`moment` plus so many minutes of office time (nights, weekends and holidays skipped), whole minutes."""
        moment = self.office_after(moment).replace(second=0, microsecond=0)
        days, offset = divmod(self._offset(moment) + max(0, round(minutes)), OFFICE_DAY_MINUTES)
        index = self._day_index.get(moment.date())
        if index is not None and index + days < len(self._working_days):
            return self._at_offset(self._working_days[index + days], offset)
        day = moment.date()  # outside the indexed years: day by day
        for _ in range(days):
            day += datetime.timedelta(days=1)
            while not self.is_working_day(day):
                day += datetime.timedelta(days=1)
        return self._at_offset(day, offset)

    def office_minutes(self, start: datetime.datetime, end: datetime.datetime) -> int:
        """Office minutes between two moments (0 when `end` is not later)."""
        first, last = self.office_after(start), self.office_before(end)
        if last <= first:
            return 0
        if first.date() == last.date():
            return self._offset(last) - self._offset(first)
        days_between = self._day_index[last.date()] - self._day_index[first.date()] - 1
        return OFFICE_DAY_MINUTES - self._offset(first) + self._offset(last) + days_between * OFFICE_DAY_MINUTES

    def moment(self, day: datetime.date, rng: random.Random) -> datetime.datetime:
        """An office moment on `day` (moved to a working day), at a random time, never after now."""
        day = self.working_day(day)
        start = self.aware(day, OFFICE_HOURS[0][0])
        at = self.advance(start, rng.randint(0, OFFICE_DAY_MINUTES - 1))
        return min(at, self.now)

    def between(self, first: datetime.date, last: datetime.date, rng: random.Random) -> datetime.datetime:
        """An office moment on a random day from `first` to `last` (both included, capped at today)."""
        last = min(last, self.now.date())
        span = max(0, (last - first).days)
        return self.moment(first + datetime.timedelta(days=rng.randint(0, span)), rng)

    def worker_moment(self, day: datetime.date) -> datetime.datetime:
        """When the nightly deadline check ran on `day` (never after now)."""
        return min(self.aware(day, WORKER_TIME), self.now)


@contextmanager
def pinned_clock(moment: datetime.datetime):
    """Run the real services as if at `moment`, so what the demo does through them carries an office-hours date:
    timezone.now() answers `moment`, and so do the fields whose default is timezone.now (a step's `at`)."""
    real_now = timezone.now
    fields = [
        field for model in apps.get_models() for field in model._meta.concrete_fields if field.default is real_now
    ]
    with mock.patch.object(timezone, "now", return_value=moment) as pinned:
        try:
            for field in fields:
                field.default = pinned
                field.__dict__.pop("_get_default", None)  # Field caches its default callable
            yield
        finally:
            for field in fields:
                field.default = real_now
                field.__dict__.pop("_get_default", None)


_HISTORY_MODELS: dict = {}


def _history_model(model):
    """The model's historical model and the attnames it tracks (looked up once: the manager is costly)."""
    if model not in _HISTORY_MODELS:
        history = model.history.model
        _HISTORY_MODELS[model] = (history, [field.attname for field in history.tracked_fields])
    return _HISTORY_MODELS[model]


def history_row(instance, *, at, kind="~", user=None, reason=DEMO_REASON, **values):
    """A simple-history row of `instance` as it stood at `at`, with `values` (attnames) in place of its own."""
    history, attnames = _history_model(type(instance))
    fields = {attname: getattr(instance, attname) for attname in attnames}
    fields.update(values)
    return history(
        history_date=at,
        history_type=kind,
        history_user_id=getattr(user, "pk", user),
        history_change_reason=reason,
        **fields,
    )


def write_history(rows) -> int:
    """Insert history rows, each model's in date order (history ids grow with time, as the report expects)."""
    by_model: dict = {}
    for row in rows:
        by_model.setdefault(type(row), []).append(row)
    for model, model_rows in by_model.items():
        model_rows.sort(key=lambda row: row.history_date)
        insert_rows(model, model_rows)
        _record_links(model, [row for row in model_rows if row.history_type == "~"])
    return sum(len(model_rows) for model_rows in by_model.values())


def _record_links(history_model, rows) -> None:
    """Changes keep the record's many-to-many sets (key processes…), as a single save's history row does, so
    the dossier shows no set change that did not happen. "Created" rows get theirs once the links are made
    (record_m2m_in_created_rows)."""
    instance_model = history_model.instance_type
    if not rows or not history_m2m_fields(instance_model):
        return
    rounds: list[dict] = []  # one record id at most once per call: a record may have several rows
    for row in rows:
        for ids in rounds:
            if row.id not in ids:
                ids[row.id] = row.history_id
                break
        else:
            rounds.append({row.id: row.history_id})
    for ids in rounds:
        record_m2m_history(instance_model, ids)


@contextmanager
def keep_stamps(model):
    """Insert rows with the created_at/updated_at they carry (auto_now and auto_now_add off meanwhile)."""
    stamps = [
        f for f in model._meta.concrete_fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in stamps]
    try:
        for f in stamps:
            f.auto_now = f.auto_now_add = False
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def bulk_create_dated(model, objs, *, reason=DEMO_REASON, batch_size=500) -> list:
    """Insert rows with their "created" history entry dated each row's `_history_date` (its created_at and
    updated_at too, unless the row carries its own); `_history_values` (attnames) say how the row stood when
    created, when it has changed since (its later rows are the caller's)."""
    if not objs:
        return []
    names = {f.name for f in model._meta.concrete_fields}
    for obj in objs:
        for name in ("created_at", "updated_at"):
            if name in names and getattr(obj, name, None) is None:
                setattr(obj, name, obj._history_date)
    with keep_stamps(model):
        saved = insert_rows(model, list(objs))
    if hasattr(model, "history"):
        write_history(
            history_row(
                obj,
                at=obj._history_date,
                kind="+",
                user=getattr(obj, "_history_user", None),
                reason=reason,
                **getattr(obj, "_history_values", {}),
            )
            for obj in saved
        )
    return saved


def _weighted(rng, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def _person(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


@dataclass
class PlannedEnterprise:
    enterprise: Enterprise
    process_codes: list[str]
    permits: list[Permit] = field(default_factory=list)
    tiers: list[YearlyTier] = field(default_factory=list)
    #: (hazard source, [inventory lines])
    hazard_sources: list[tuple[MajorHazardSource, list[HazardInventoryLine]]] = field(default_factory=list)


@dataclass
class DemoPlan:
    regions: list[tuple[Region, str | None]]
    parks: list[tuple[ChemicalPark, list[ParkEvaluation]]]
    enterprises: list[PlannedEnterprise]


class DemoPlanner:
    """Draws the whole demo register from the seed; nothing here touches the database except reads
    of reference tables (key processes, GB 18218 chemicals)."""

    def __init__(self, rng: random.Random, today: datetime.date):
        self.rng = rng
        self.today = today
        self.used_names: set[str] = set()
        self.serial = 0
        self.process_codes = list(KeyHazardousProcess.objects.order_by("sort_order").values_list("code", flat=True))
        # Substances of GB 18218-2018 表1 that chemical enterprises of the seeds commonly hold.
        self.reference = Reference.load()
        self.chemicals = [
            substance
            for substance in self.reference.substances
            if substance.entry_no in DEMO_TABLE_1_ENTRIES and substance.threshold_t is not None
        ]

    def days(self, offset: int) -> datetime.date:
        return self.today + datetime.timedelta(days=offset)

    # --- regions and parks ---------------------------------------------------------------

    def regions(self) -> list[tuple[Region, str | None]]:
        """(region, parent code), parents before their children."""
        planned = [(Region(code=CITY[0], name=CITY[1], level=RegionLevel.CITY), None)]
        for county_code, county_name, townships in COUNTIES:
            planned.append((Region(code=county_code, name=county_name, level=RegionLevel.COUNTY), CITY[0]))
            for code, name, _count in townships:
                planned.append((Region(code=code, name=name, level=RegionLevel.TOWNSHIP), county_code))
        return planned

    def park(self, spec) -> tuple[ChemicalPark, list[ParkEvaluation]]:
        rng = self.rng
        code, name, _township, level, recognition, area, positioning, _share = spec
        strong = recognition == RecognitionStatus.RECOGNISED
        infrastructure = {
            name: rng.random() < (0.9 if strong else 0.35)
            for name in (
                "central_wastewater_treatment",
                "wastewater_open_pipes_monitored",
                "single_discharge_outlet",
                "central_heating",
                "hazardous_waste_disposal",
                "monitoring_centre",
                "closed_management",
                "fire_station",
                "emergency_command_platform",
            )
        }
        # The pending cluster's assessment is more than 5 years old: the worker flags it overdue.
        assessed_days_ago = {
            RecognitionStatus.RECOGNISED: rng.randint(200, 1500),
            RecognitionStatus.PENDING: rng.randint(1900, 2300),
            RecognitionStatus.REVOKED: None,
        }[recognition]
        park = ChemicalPark(
            code=code,
            name=name,
            level=level,
            recognition_status=recognition,
            area_km2=Decimal(area),
            industry_positioning=positioning,
            last_risk_assessment_on=self.days(-assessed_days_ago) if assessed_days_ago else None,
            protection_zone_residents_to_relocate=0 if strong and rng.random() < 0.5 else rng.randint(20, 260),
            protection_zone_note="" if strong else "500 米卫生防护距离内尚有居民未搬迁。",
            **infrastructure,
        )
        evaluations = []
        if recognition != RecognitionStatus.REVOKED:
            base = 82 if strong else 64
            for year in (self.today.year - 2, self.today.year - 1):
                evaluations.append(
                    ParkEvaluation(
                        year=year,
                        **{
                            score: Decimal(min(100, base + rng.randint(-8, 12)))
                            for score in (
                                "planning_score",
                                "management_score",
                                "industrial_chain_score",
                                "environment_score",
                                "satisfaction_score",
                            )
                        },
                    )
                )
        return park, evaluations

    # --- enterprises ---------------------------------------------------------------------

    def name(self, kind, county_name: str) -> str:
        rng = self.rng
        while True:
            place = rng.choice([CITY[1][:2], county_name[:2], "", ""])
            candidate = place + rng.choice(BRANDS) + rng.choice(TRADES[kind]) + _weighted(rng, SUFFIXES)
            if candidate not in self.used_names:
                self.used_names.add(candidate)
                return candidate

    def uscc(self, county_code: str) -> str:
        # 9 = registered with market regulation, 1 = enterprise; then the county code and a
        # 9-character organisation code ("MA" series), completed with the GB 32100 check character.
        self.serial += 1
        return make_uscc(f"91{county_code}MA{self.rng.choice('123456789ABCDEFGH')}{self.serial:06d}")

    def enterprise(self, county_code, county_name, township_code, township_name, park):
        """One enterprise and its children; `park` is the township's park spec (PARKS) or None."""
        rng = self.rng
        kind = _weighted(rng, KIND_WEIGHTS)
        status = _weighted(rng, STATUS_WEIGHTS)
        park_code, park_recognition, in_park_share = (park[0], park[4], park[7]) if park else (None, None, 0)
        revoked = park_recognition == RecognitionStatus.REVOKED
        if revoked and status == OperatingStatus.OPERATING and rng.random() < 0.3:
            status = OperatingStatus.SUSPENDED  # the revoked cluster winds down
        above = rng.random() < 0.34  # the seed township: 40 of 117 above designated size
        production = kind == EnterpriseKind.PRODUCTION
        processes = (
            sorted(rng.sample(self.process_codes, rng.choice((1, 1, 2))))
            if production and rng.random() < 0.35 and self.process_codes
            else []
        )
        if processes:
            automation = _weighted(
                rng,
                [
                    (AutomationStatus.DONE, 50),
                    (AutomationStatus.IN_PROGRESS, 25),
                    (AutomationStatus.NOT_STARTED, 25),
                ],
            )
        else:
            automation = AutomationStatus.NOT_REQUIRED
        street = township_name.endswith("街道")
        inside = bool(park_code) and kind in PARK_KINDS and rng.random() < in_park_share
        enterprise = Enterprise(
            uscc=self.uscc(county_code),
            name=self.name(kind, county_name),
            legal_representative=_person(rng),
            contact_person=_person(rng),
            contact_phone=f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
            address=f"{CITY[1]}{county_name}{township_name}{rng.choice(ROADS)}{rng.randint(1, 388)}号",
            longitude=Decimal(str(round(CENTRE[0] + rng.uniform(-0.6, 0.6), 6))),
            latitude=Decimal(str(round(CENTRE[1] + rng.uniform(-0.45, 0.45), 6))),
            industry_code=rng.choice(INDUSTRY_CODES[kind]),
            kind=kind,
            size=EnterpriseSize.ABOVE if above else EnterpriseSize.BELOW,
            annual_sales=Decimal(rng.randint(2000, 60000) if above else rng.randint(50, 1999)),
            staff_count=rng.randint(60, 900) if above else rng.randint(5, 80),
            main_products="、".join(rng.sample(PRODUCTS[kind], min(len(PRODUCTS[kind]), rng.choice((1, 2, 3))))),
            process_mode=(ProcessMode.CONTINUOUS if rng.random() < 0.3 else ProcessMode.BATCH) if production else "",
            automation_status=automation,
            near_protected_river=rng.random() < 0.12,
            in_dense_urban_area=rng.random() < (0.35 if street else 0.03),
            in_ecological_redline=rng.random() < 0.03,
            status=status,
        )
        # Resolved to ids when written; kept as codes so the plan does not depend on the database.
        enterprise.township_code = township_code
        enterprise.park_code = park_code if inside else None
        planned = PlannedEnterprise(enterprise, processes)
        planned.permits = self.permits(enterprise)
        if production and status in (OperatingStatus.OPERATING, OperatingStatus.SUSPENDED):
            planned.tiers = self.tiers()
        if kind in HAZARD_KINDS and status in (OperatingStatus.OPERATING, OperatingStatus.SUSPENDED):
            planned.hazard_sources = self.hazard_sources(kind, inside)
        return planned

    def permit_dates(self, kind) -> tuple[datetime.date, datetime.date | None]:
        """Issue and expiry dates: about 7 % expired, 7 % expiring within 60 days, the rest valid."""
        rng = self.rng
        validity = PERMIT_VALIDITY[kind]
        if validity is None:
            return self.days(-rng.randint(400, 5000)), None
        draw = rng.random()
        if draw < 0.07:
            expires = self.days(-rng.randint(1, 500))
        elif draw < 0.14:
            expires = self.days(rng.randint(1, 58))
        else:
            expires = self.days(rng.randint(75, min(validity - 30, 1000)))
        return expires - datetime.timedelta(days=validity), expires

    def permit_number(self, kind, enterprise, year: int) -> str:
        n = self.rng.randint(1, 999)
        return {
            PermitKind.BUSINESS_LICENCE: enterprise.uscc,
            PermitKind.WORK_SAFETY: f"（苏临）WH安许证字〔{year}〕{n:04d}号",
            PermitKind.DISCHARGE: f"{enterprise.uscc}{n:03d}P",
            PermitKind.EIA: f"临环审〔{year}〕{n}号",
            PermitKind.FILING: f"临危化登〔{year}〕{n:03d}号",
            PermitKind.SAFETY_ASSESSMENT: f"APJ-（苏）-{year}-{n:04d}",
            PermitKind.LAND_USE: f"临国用（{year}）第{n:05d}号",
        }[kind]

    def permits(self, enterprise) -> list[Permit]:
        rng = self.rng
        hazardous_trade = enterprise.kind in (
            EnterpriseKind.PRODUCTION,
            EnterpriseKind.STORAGE,
            EnterpriseKind.TRADING,
            EnterpriseKind.WHARF,
        )
        production = enterprise.kind == EnterpriseKind.PRODUCTION
        # Share holding each kind; the gaps are the "手续不全" enterprises the campaign looks for.
        shares = {
            PermitKind.BUSINESS_LICENCE: 1.0,
            PermitKind.WORK_SAFETY: 0.88 if hazardous_trade else 0.5,
            PermitKind.EIA: 0.85 if production else 0.6,
            PermitKind.DISCHARGE: 0.8 if production else 0.4,
            PermitKind.FILING: 0.5,
            PermitKind.SAFETY_ASSESSMENT: 0.4 if production else 0.15,
            PermitKind.LAND_USE: 0.6,
        }
        permits = []
        for kind, share in shares.items():
            if rng.random() >= share:
                continue
            issued, expires = self.permit_dates(kind)
            permit = Permit(
                kind=kind,
                number=self.permit_number(kind, enterprise, issued.year),
                issued_on=issued,
                expires_on=expires,
            )
            permits.append(permit)
            # A renewed work-safety licence: the superseded one stays on file.
            if kind == PermitKind.WORK_SAFETY and expires and expires > self.today and rng.random() < 0.12:
                old_expires = issued - datetime.timedelta(days=1)
                old_issued = old_expires - datetime.timedelta(days=PERMIT_VALIDITY[kind])
                permits.append(
                    Permit(
                        kind=kind,
                        number=self.permit_number(kind, enterprise, old_issued.year),
                        issued_on=old_issued,
                        expires_on=old_expires,
                        note="已换证",
                    )
                )
        # Two permits of a kind never share a number (unique per enterprise, kind and number).
        seen, unique = set(), []
        for permit in permits:
            if (permit.kind, permit.number) not in seen:
                seen.add((permit.kind, permit.number))
                unique.append(permit)
        return unique

    def tiers(self) -> list[YearlyTier]:
        """Tiers of the last two years; some stay in tier 3 twice (the shutdown-list rule)."""
        rng = self.rng
        first = _weighted(rng, [(1, 30), (2, 50), (3, 20)])
        if first == 3:
            second = 3 if rng.random() < 0.55 else 2
        elif first == 1:
            second = 1 if rng.random() < 0.85 else 2
        else:
            second = _weighted(rng, [(1, 15), (2, 70), (3, 15)])
        return [
            YearlyTier(year=self.today.year - 2, tier=first),
            YearlyTier(year=self.today.year - 1, tier=second),
        ]

    def hazard_sources(self, kind, inside_park: bool):
        rng = self.rng
        if not self.chemicals or rng.random() >= (0.2 if kind == EnterpriseKind.PRODUCTION else 0.45):
            return []
        if kind == EnterpriseKind.PRODUCTION:
            units = [
                (HazardUnitKind.PRODUCTION, "合成车间"),
                (HazardUnitKind.TANK_FARM, "1#罐区"),
                (HazardUnitKind.WAREHOUSE, "甲类仓库"),
            ]
        else:
            units = [
                (HazardUnitKind.TANK_FARM, "1#罐区"),
                (HazardUnitKind.TANK_FARM, "2#罐区"),
                (HazardUnitKind.STORAGE, "储存区"),
            ]
        sources = []
        for unit_kind, unit_name in rng.sample(units, rng.choice((1, 1, 2))):
            chemicals = rng.sample(self.chemicals, rng.choice((1, 2, 2, 3)))
            lines = []
            for chemical in chemicals:
                # Quantities from a third of the threshold to about 15 times it: most units qualify.
                ratio = Decimal(str(round(10 ** rng.uniform(-0.5, 1.2), 3)))
                lines.append(
                    HazardInventoryLine(
                        chemical_id=chemical.pk,
                        chemical_name=chemical.name,
                        cas=chemical.cas,
                        max_quantity_t=(chemical.threshold_t * ratio).quantize(Decimal("0.001")),
                    )
                )
            exposed = _weighted(
                rng,
                [
                    (ExposedPopulation.OVER_100, 15),
                    (ExposedPopulation.FROM_50, 15),
                    (ExposedPopulation.FROM_30, 15),
                    (ExposedPopulation.FROM_1, 40),
                    (ExposedPopulation.NONE, 15),
                ],
            )
            result = grade(
                [Line(c.name, line.max_quantity_t, c, c.cas) for c, line in zip(chemicals, lines, strict=True)],
                exposed,
                self.reference,
            )
            for line, term in zip(lines, result.terms, strict=True):
                line.threshold_t, line.beta = term.threshold_t, term.beta
            gas = result.holds_shutoff_substances
            # The filed level usually matches the computation; some filings are out of date or missing.
            draw = rng.random()
            if draw < 0.8:
                declared = result.level
            elif draw < 0.9:
                declared = rng.randint(1, 4)
            else:
                declared = None
            source = MajorHazardSource(
                name=unit_name,
                unit_kind=unit_kind,
                exposed_population=exposed,
                declared_level=declared,
                computed_level=result.level,
                r_value=result.r_value.quantize(Decimal("0.000001")),
                s_value=result.s_value.quantize(Decimal("0.000001")),
                is_major=result.is_major,
                holds_shutoff_substances=gas,
                automated_monitoring=rng.random() < 0.85,
                video_to_park=rng.random() < (0.75 if inside_park else 0.3),
                emergency_shutoff=rng.random() < (0.75 if gas else 0.4),
                online_monitoring=rng.random() < 0.75,
                filing_number=f"临危源备〔{self.today.year - rng.randint(1, 4)}〕{rng.randint(1, 300):03d}号"
                if declared
                else "",
            )
            sources.append((source, lines))
        return sources

    def plan(self) -> DemoPlan:
        regions = self.regions()
        parks = [self.park(spec) for spec in PARKS]
        park_for_township = {spec[2]: spec for spec in PARKS}
        enterprises = []
        for county_code, county_name, townships in COUNTIES:
            for township_code, township_name, count in townships:
                park = park_for_township.get(township_code)
                for _ in range(count):
                    enterprises.append(self.enterprise(county_code, county_name, township_code, township_name, park))
        return DemoPlan(regions=regions, parks=parks, enterprises=enterprises)


# --- Writing the plan ---------------------------------------------------------------------


def _bulk(model, objs) -> list:
    """Insert with "created" history entries dated each row's `_history_date` (see bulk_create_dated)."""
    return bulk_create_dated(model, objs, reason=DEMO_REASON)


def _dated(objs, moment) -> list:
    for obj in objs:
        obj._history_date = moment
    return objs


def _year_after(year: int, earliest: datetime.datetime, calendar: DemoCalendar, rng) -> datetime.datetime:
    """When a yearly rating of `year` was recorded: in the first quarter of the next year, not before `earliest`."""
    moment = calendar.between(datetime.date(year + 1, 1, 10), datetime.date(year + 1, 3, 31), rng)
    return min(max(moment, earliest), calendar.now)


def _write_regions(planned, created: Counter) -> dict[str, Region]:
    existing = {r.code: r for r in Region.objects.filter(code__in=[region.code for region, _parent in planned])}
    # One level at a time, so each row's parent (and its materialised path) exists before it.
    for level in (RegionLevel.CITY, RegionLevel.COUNTY, RegionLevel.TOWNSHIP):
        new = []
        for region, parent_code in planned:
            if region.level != level or region.code in existing:
                continue
            region.parent = existing[parent_code] if parent_code else None
            region.path = region.build_path()
            new.append(region)
        for region in Region.objects.bulk_create(new):
            existing[region.code] = region
        created["regions"] += len(new)
    return existing


def _write_parks(
    plan: DemoPlan, regions: dict[str, Region], created: Counter, calendar: DemoCalendar, rng
) -> dict[str, ChemicalPark]:
    township_of = {spec[0]: spec[2] for spec in PARKS}
    existing = {p.code: p for p in ChemicalPark.objects.filter(code__in=township_of)}
    new_parks, evaluations = [], []
    for park, park_evaluations in plan.parks:
        if park.code in existing:
            continue
        park.township = regions[township_of[park.code]]
        park._history_date = calendar.between(calendar.register_from, calendar.register_to, rng)
        new_parks.append(park)
        for evaluation in park_evaluations:
            evaluation.park = park
            evaluation._history_date = _year_after(evaluation.year, park._history_date, calendar, rng)
            evaluations.append(evaluation)
    for park in _bulk(ChemicalPark, new_parks):
        existing[park.code] = park
    _bulk(ParkEvaluation, evaluations)
    created["parks"] += len(new_parks)
    created["park evaluations"] += len(evaluations)
    return existing


def _write_enterprises(plan: DemoPlan, regions, parks, created: Counter, calendar: DemoCalendar, rng) -> None:
    """The enterprises are entered in the register before the campaigns; a permit when issued (if later), a
    yearly tier early in the next year."""
    planned_codes = [p.enterprise.uscc for p in plan.enterprises]
    existing = set(Enterprise.objects.filter(uscc__in=planned_codes).values_list("uscc", flat=True))
    new = [p for p in plan.enterprises if p.enterprise.uscc not in existing]
    for item in new:
        enterprise = item.enterprise
        enterprise.township = regions[enterprise.township_code]
        enterprise.park = parks[enterprise.park_code] if enterprise.park_code else None
        enterprise._history_date = calendar.between(calendar.register_from, calendar.register_to, rng)
    saved = _bulk(Enterprise, [item.enterprise for item in new])
    # bulk_create_with_history returns the saved rows in order; bind the children to them.
    for item, enterprise in zip(new, saved, strict=True):
        item.enterprise = enterprise
    created["enterprises"] += len(new)

    process_ids = dict(KeyHazardousProcess.objects.values_list("code", "pk"))
    through = Enterprise.key_processes.through
    links = [
        through(enterprise_id=item.enterprise.pk, keyhazardousprocess_id=process_ids[code])
        for item in new
        for code in item.process_codes
        if code in process_ids
    ]
    through.objects.bulk_create(links, batch_size=1000)
    # The "created" history rows were written before the links: record the processes in them (else the
    # dossier's next entry would show them all as added).
    record_m2m_in_created_rows(Enterprise, [item.enterprise.pk for item in new])
    created["key process links"] += len(links)

    permits, tiers, sources, lines = [], [], [], []
    for item in new:
        entered = item.enterprise._history_date
        for permit in item.permits:
            permit.enterprise = item.enterprise
            issued_later = permit.issued_on and permit.issued_on > entered.date()
            permit._history_date = (
                min(calendar.moment(permit.issued_on, rng), calendar.now) if issued_later else entered
            )
            permits.append(permit)
        for tier in item.tiers:
            tier.enterprise = item.enterprise
            tier._history_date = _year_after(tier.year, entered, calendar, rng)
            tiers.append(tier)
        for source, source_lines in item.hazard_sources:
            source.enterprise = item.enterprise
            source._history_date = entered
            _dated(source_lines, entered)
            sources.append((source, source_lines))
    _bulk(Permit, permits)
    _bulk(YearlyTier, tiers)
    saved_sources = _bulk(MajorHazardSource, [source for source, _lines in sources])
    for saved_source, (_source, source_lines) in zip(saved_sources, sources, strict=True):
        for line in source_lines:
            line.hazard_source = saved_source
            lines.append(line)
    _bulk(HazardInventoryLine, lines)
    created["permits"] += len(permits)
    created["yearly tiers"] += len(tiers)
    created["major hazard sources"] += len(sources)
    created["inventory lines"] += len(lines)


def _provision_user(*, username, role, region, department, full_name):
    """Create one demo user through the same service as `add_user`."""
    result = provision_user(
        actor=system_actor(),
        username=username,
        role=role,
        region_code=region.code,
        department=department.name if department else None,
        password=DEMO_PASSWORD,
    )
    result.user.first_name = full_name
    result.user.save(update_fields=["first_name"])
    return result.user


def _write_users(regions, created: Counter) -> list:
    """The demo users (existing usernames are left exactly as they are)."""
    User = get_user_model()
    usernames = [spec[0] for spec in USERS] + [SUPERUSER[0]]
    existing = {u.username: u for u in User.objects.filter(username__in=usernames).select_related("region")}
    departments = {}
    for _username, _role, _region, department_name, _full in USERS:
        if department_name and department_name not in departments:
            departments[department_name], _new = Department.objects.get_or_create(
                name=department_name, defaults={"reviews_classifications": True}
            )
    rows = []
    for username, role, region_code, department_name, full_name in USERS:
        user = existing.get(username)
        if user is None:
            user = _provision_user(
                username=username,
                role=role,
                region=regions[region_code],
                department=departments.get(department_name),
                full_name=full_name,
            )
            created["users"] += 1
        rows.append(user)
    admin = existing.get(SUPERUSER[0])
    if admin is None:
        # add_user provisions role holders only; the superuser sees every region and has no role.
        admin = User.objects.create_superuser(SUPERUSER[0], password=DEMO_PASSWORD, first_name=SUPERUSER[1])
        created["users"] += 1
    rows.append(admin)
    return rows


def _write_officers(regions, created: Counter) -> None:
    """A named officer for every county and township without a demo user, so that every proposal has its
    proposer (提出人) and every county step its person. They cannot log in (no password): the demo users are the
    accounts to try the register with."""
    User = get_user_model()
    staffed = set(User.objects.filter(role__in=[Role.COUNTY, Role.TOWNSHIP]).values_list("region_id", flat=True))
    roles = {RegionLevel.COUNTY: Role.COUNTY, RegionLevel.TOWNSHIP: Role.TOWNSHIP}
    rng = random.Random(f"{SEED}:officers")
    for region in sorted(regions.values(), key=lambda region: region.code):
        # Drawn for every region in code order: a region gets the same name whichever run creates its officer.
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        if region.level not in roles or region.pk in staffed:
            continue
        officer = User(username=f"officer_{region.code}", first_name=name)
        assign_role(officer, role=roles[region.level], region=region, department=None)
        officer.set_unusable_password()
        officer.full_clean(exclude=["password"])
        officer.save()
        created["officers"] += 1


def _run_extensions(stdout) -> list[str]:
    ran = []
    for module_name, function_name in DEMO_EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # Only "this app has no demo module" is skipped; an import failing inside one is an error.
            if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
                continue
            raise
        # Each extension gets its own seeded generator, so its data does not shift when the register's does.
        getattr(module, function_name)(random.Random(f"{SEED}:{module_name}"), stdout)
        ran.append(module_name)
    return ran


@dataclass
class DemoResult:
    created: Counter
    users: list
    extensions: list[str]


@transaction.atomic
def build_demo(stdout=None, today: datetime.date | None = None) -> DemoResult:
    """Insert whatever part of the demo city is missing; return what was created and the demo users."""
    today = today or timezone.localdate()
    plan = DemoPlanner(random.Random(SEED), today).plan()
    calendar = DemoCalendar(today)
    # Dates come from their own generator, so the register's contents do not depend on them.
    dates = random.Random(f"{SEED}:dates")
    created: Counter = Counter()
    regions = _write_regions(plan.regions, created)
    parks = _write_parks(plan, regions, created, calendar, dates)
    _write_enterprises(plan, regions, parks, created, calendar, dates)
    users = _write_users(regions, created)
    _write_officers(regions, created)
    created = +created  # drops the zero counts
    if stdout is not None:
        # The register's summary first; the extensions then report what they add.
        if created:
            stdout.write(f"Demo register ({CITY[1]}):")
            for name, count in created.items():
                stdout.write(f"  created {count:>5} {name}")
        else:
            stdout.write(f"Demo register ({CITY[1]}): already loaded, nothing added.")
    extensions = _run_extensions(stdout)
    return DemoResult(created=created, users=users, extensions=extensions)
