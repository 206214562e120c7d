"""The 专项行动 and 目标任务 sheets of a reference workbook (see core.reference).

专项行动: 名称, 类型 (四个一批 / 263 / 散乱污 / 其他), 开始日期, 结束日期, optionally 状态 and 说明.
目标任务: 专项行动 (a campaign's name, in the register or in the 专项行动 sheet), 区域代码, 年度, 关停, 转移, 升级, 重组.
Rows are upserts keyed by the campaign's name and by (campaign, region, year); an unchanged row writes nothing.
"""

from django.utils.translation import gettext as _

from core import reference
from regions.reference import regions_by_code

from .choices import CampaignKind, CampaignStatus
from .models import Campaign, Target
from .services import TARGET_COUNTS, create_campaign, save_target, update_campaign

CAMPAIGN_SHEET = "专项行动"
TARGET_SHEET = "目标任务"

KIND_LABELS = {
    "四个一批": CampaignKind.FOUR_BATCHES,
    "263": CampaignKind.CAMPAIGN_263,
    "散乱污": CampaignKind.SCATTERED_POLLUTING,
    "其他": CampaignKind.OTHER,
}
STATUS_LABELS = {
    "计划": CampaignStatus.PLANNED,
    "进行中": CampaignStatus.ACTIVE,
    "已结束": CampaignStatus.CLOSED,
}


def campaigns_by_name(ctx) -> dict[str, Campaign]:
    return ctx.cache("campaigns", lambda: {campaign.name: campaign for campaign in Campaign.objects.all()})


def non_negative(value) -> int:
    number = reference.integer(value)
    if number < 0:
        raise ValueError(_("%(value)s is negative; enter 0 or more.") % {"value": number})
    return number


def apply_campaign(values, ctx) -> str:
    if values["ends_on"] < values["starts_on"]:
        raise reference.RowError("ends_on", _("The campaign ends before it starts; check both dates."))
    campaigns = campaigns_by_name(ctx)
    data = {key: values[key] for key in ("kind", "starts_on", "ends_on") if key in values}
    for optional in ("status", "description"):
        if optional in values and values[optional] is not None:
            data[optional] = values[optional]
    campaign = campaigns.get(values["name"])
    if campaign is None:
        campaign = create_campaign(ctx.actor, {"name": values["name"], **data}, reason=ctx.reason)
        campaigns[campaign.name] = campaign
        return reference.CREATED
    if not update_campaign(campaign, ctx.actor, data, reason=ctx.reason):
        return reference.UNCHANGED
    campaigns[campaign.name] = Campaign.objects.get(pk=campaign.pk)
    return reference.UPDATED


def apply_target(values, ctx) -> str:
    name = values["campaign"]
    campaign = campaigns_by_name(ctx).get(name)
    if campaign is None:
        rejected_row = ctx.rejected(CAMPAIGN_SHEET, name)
        if rejected_row is not None:
            raise reference.RowError(
                "campaign",
                _("The campaign %(name)s is in row %(row)d of sheet 专项行动, which has errors; fix that row first.")
                % {"name": name, "row": rejected_row},
            )
        raise reference.RowError(
            "campaign",
            _(
                "No campaign is named %(name)s, neither in the register nor in sheet 专项行动; add it or correct the name."
            )
            % {"name": name},
        )
    region = regions_by_code(ctx).get(values["region_code"])
    if region is None:
        raise reference.RowError(
            "region_code",
            _("No region has the code %(code)s; add it to sheet 行政区划 or correct the code.")
            % {"code": values["region_code"]},
        )
    counts = {key: values[key] for key in TARGET_COUNTS}
    existing = Target.objects.filter(campaign=campaign, region=region, year=values["year"]).first()
    if existing is not None and all(getattr(existing, key) == value for key, value in counts.items()):
        return reference.UNCHANGED
    save_target(ctx.actor, campaign, region, values["year"], counts, reason=ctx.reason)
    return reference.CREATED if existing is None else reference.UPDATED


reference.register(
    reference.SheetLoader(
        sheet=CAMPAIGN_SHEET,
        order=50,
        columns=[
            reference.Column("名称", "name", aliases=("name",)),
            reference.Column("类型", "kind", parse=reference.choice(KIND_LABELS), aliases=("kind",)),
            reference.Column("开始日期", "starts_on", parse=reference.date, aliases=("starts_on",)),
            reference.Column("结束日期", "ends_on", parse=reference.date, aliases=("ends_on",)),
            reference.Column(
                "状态", "status", parse=reference.choice(STATUS_LABELS), required=False, blank=True, aliases=("status",)
            ),
            reference.Column("说明", "description", required=False, blank=True, aliases=("description",)),
        ],
        key=("name",),
        apply=apply_campaign,
    )
)

reference.register(
    reference.SheetLoader(
        sheet=TARGET_SHEET,
        order=60,
        columns=[
            reference.Column("专项行动", "campaign", aliases=("campaign",)),
            reference.Column("区域代码", "region_code", parse=reference.code, aliases=("region_code",)),
            reference.Column("年度", "year", parse=reference.integer, aliases=("year",)),
            reference.Column("关停", "shutdown", parse=non_negative, aliases=("shutdown",)),
            reference.Column("转移", "relocate", parse=non_negative, aliases=("relocate",)),
            reference.Column("升级", "upgrade", parse=non_negative, aliases=("upgrade",)),
            reference.Column("重组", "restructure", parse=non_negative, aliases=("restructure",)),
        ],
        key=("campaign", "region_code", "year"),
        apply=apply_target,
        field_columns={"region": "region_code", "campaign": "campaign"},
    )
)
