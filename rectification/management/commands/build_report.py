"""python manage.py build_report --campaign CAMPAIGN --quarter 2021Q1 [--region CODE] [--output FILE]"""

import shutil

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from core.management.base import RegisterCommand
from rectification.models import Campaign, ReportStatus, SupervisionReport
from rectification.reports import Quarter, build_report
from regions.choices import RegionLevel
from regions.models import Region


class Command(RegisterCommand):
    help = "Build the quarterly supervision report (季度督查通报) of a campaign now, in this process."

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, help="Campaign name or id.")
        parser.add_argument("--quarter", required=True, help="Quarter, e.g. 2026Q3 or 2026年第三季度.")
        parser.add_argument("--region", help="Region code (city or county); the city by default.")
        parser.add_argument("--output", help="Also copy the workbook to this file.")

    def handle(self, *args, campaign, quarter, region=None, output=None, **options):
        found = Campaign.objects.filter(name=campaign).first()
        if found is None and campaign.isdigit():
            found = Campaign.objects.filter(pk=int(campaign)).first()
        if found is None:
            names = ", ".join(Campaign.objects.order_by("name").values_list("name", flat=True)[:20])
            raise CommandError(f"--campaign {campaign!r}: no such campaign (name or id). Campaigns: {names or 'none'}.")
        try:
            Quarter.parse(quarter)
        except ValidationError as error:
            raise CommandError(
                f"--quarter {quarter!r}: write the year, Q and 1-4, e.g. 2026Q3, or 2026年第三季度."
            ) from error
        if region:
            scope = Region.objects.filter(code=region).first()
            if scope is None:
                raise CommandError(f"--region {region!r}: no region has this code.")
        else:
            cities = list(Region.objects.filter(level=RegionLevel.CITY).order_by("code")[:2])
            if len(cities) != 1:
                raise CommandError("--region is required when the register holds no city or several cities.")
            scope = cities[0]
        report = SupervisionReport.objects.create(
            campaign=found,
            quarter=str(Quarter.parse(quarter)),
            region=scope,
            issuing_office=settings.REPORT_ISSUING_OFFICE,
        )
        report = build_report(report.pk)
        report.refresh_from_db()
        if report.status != ReportStatus.DONE:
            raise CommandError(f"Report {report.pk} failed: {report.error}")
        if output:
            with report.file.open("rb") as source, open(output, "wb") as target:
                shutil.copyfileobj(source, target)
        rows = {row["code"]: row for row in report.figures["rows"]}
        total = rows[scope.code]
        self.stdout.write(
            f"Report {report.pk}: {found.name} {report.quarter_label} {scope.name} as of {report.figures['as_of']}: "
            f"surveyed {total['surveyed']}, completed {total['completed_total']}/{total['target_total']}, "
            f"tasks overdue {total['tasks_overdue']}, findings overdue {total['findings_overdue']}, "
            f"overdue items listed {report.figures.get('overdue_items', 0)}."
        )
        self.stdout.write(f"Workbook: {output or report.file.path}")
