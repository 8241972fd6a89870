"""Policy.tier and Policy.priority, derived from the YAML of cluster-scoped policies, so that
pages list policies in the order they are evaluated without parsing them."""

import yaml
from django.db import migrations, models


def _tier_and_priority(kind: str, text: str) -> tuple[str, int | None]:
    try:
        spec = (yaml.safe_load(text) or {}).get("spec") or {}
    except (yaml.YAMLError, AttributeError):
        spec = {}
    if not isinstance(spec, dict):
        spec = {}
    if kind == "BaselineAdminNetworkPolicy":
        return "Baseline", None
    tier = "Admin" if kind == "AdminNetworkPolicy" else spec.get("tier")
    priority = spec.get("priority")
    return (
        tier if tier in ("Admin", "Baseline") else "Admin",
        priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
    )


def fill(apps, schema_editor):
    Policy = apps.get_model("policies", "Policy")
    for row in Policy.objects.exclude(kind="NetworkPolicy").only("pk", "kind", "yaml"):
        row.tier, row.priority = _tier_and_priority(row.kind, row.yaml)
        row.save(update_fields=["tier", "priority"])


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0004_analysis_state_and_idempotency_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="policy",
            name="tier",
            field=models.CharField(default="NetworkPolicy", max_length=16),
        ),
        migrations.AddField(
            model_name="policy",
            name="priority",
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
