"""Performance levels from the 2024 Accelerate State of DevOps report (DORA, Google Cloud).

Source: the report's software delivery performance clusters (2024 report, "Software delivery
performance" chapter; summarised at dora.dev). The clusters as published:

| cluster | deployment frequency                 | change lead time           | fail % | recovery time      |
|---------|--------------------------------------|----------------------------|--------|--------------------|
| elite   | on demand (multiple deploys per day) | less than one day          | 5%     | less than one hour |
| high    | between once per day and once a week | between one day and a week | 20%    | less than one day  |
| medium  | between once a week and once a month | between a week and a month | 10%    | less than one day  |
| low     | between once a month and every 6     | between one and six months | 40%    | one week to month  |

(fail %: change fail rate; recovery time: failed deployment recovery time; low's deployment
frequency is "between once a month and once every 6 months", its recovery time "between one
week and one month".)

How pipekit turns the clusters into thresholds (a value is given the first level it meets):

- Change lead time (median): elite < 1 day, high < 1 week, medium < 1 month (30 days), else low.
- Failed deployment recovery time (median): elite < 1 hour, high < 1 day, medium < 1 week, else low.
  (The report gives high and medium the same "less than one day"; the day-to-week gap goes to medium.)
- Change fail rate: the report's clusters are not monotonic (high 20% > medium 10%), so the rate is
  given the cluster whose published rate is nearest: elite <= 7.5%, medium <= 15%, high <= 30%, else low.
- Deployment frequency is bucketed by *deployment days* (days with at least one deployment), not by
  deployment counts, because ten deploys in one afternoon a month are not "on demand". Over the ISO
  weeks of the range (empty weeks included): elite when the median week has >= 3 deployment days
  (deploying on most working days: on demand); high when the median week has >= 1 deployment day
  (at least weekly); medium when the median calendar month of the range has >= 1 deployment day
  (at least monthly); else low. Tools disagree here (Four Keys buckets by the median days per week,
  GitLab by the average deployments per day); this is the rule pipekit applies, documented in docs/dora.md.
- Deployment rework rate has no 2024 cluster (the report introduced it without one): no level.
"""

from __future__ import annotations

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY

SOURCE = "2024 Accelerate State of DevOps report (DORA): software delivery performance clusters"
NONE = "n/a"


def lead_time(median_s: float | None) -> str:
    if median_s is None:
        return NONE
    return (
        "elite" if median_s < DAY else "high" if median_s < WEEK else "medium" if median_s < MONTH else "low"
    )


def recovery_time(median_s: float | None) -> str:
    if median_s is None:
        return NONE
    return (
        "elite" if median_s < HOUR else "high" if median_s < DAY else "medium" if median_s < WEEK else "low"
    )


def change_fail_rate(rate: float | None) -> str:
    if rate is None:
        return NONE
    return "elite" if rate <= 0.075 else "medium" if rate <= 0.15 else "high" if rate <= 0.30 else "low"


def deployment_frequency(median_days_per_week: float, median_days_per_month: float, deployments: int) -> str:
    if deployments == 0:
        return NONE
    if median_days_per_week >= 3:
        return "elite"
    if median_days_per_week >= 1:
        return "high"
    if median_days_per_month >= 1:
        return "medium"
    return "low"
