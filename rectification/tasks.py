"""Worker tasks of rectification: thin wrappers around rectification.reports."""

from celery import shared_task

from . import reports


@shared_task
def build_supervision_report(report_id: int) -> str:
    """Build one queued quarterly supervision report; returns its final status."""
    return reports.build_report(report_id).status


@shared_task
def build_quarterly_reports() -> list[int]:
    """Beat, first day of a quarter: the quarter just ended for every active campaign at city scope."""
    reports_ = reports.schedule_quarterly_reports()
    for report in reports_:
        build_supervision_report.delay(report.pk)
    return [report.pk for report in reports_]
