"""Revisions keep their impact against their parent, computed when they are written; this
fills it for the revisions written before (each evaluated once, in number order)."""

from django.db import migrations, models


def fill_impacts(apps, schema_editor):
    # The engine and the row conversion are plain functions of row fields, which historical
    # models have too.
    from policies import engine
    from policies.analysis import impact_record
    from policies.errors import InputErrors
    from policies.snapshots import snapshot_from_rows

    Revision = apps.get_model("policies", "Revision")

    def evaluate(revision):
        try:
            snapshot = snapshot_from_rows(
                revision.namespaces.filter(defined=True),
                revision.workloads.all(),
                list(revision.policies.all()),
            )
        except InputErrors:  # stored YAML a stricter engine rejects: the impact stays unknown
            return None
        return engine.evaluate(snapshot)

    last = None  # (pk, evaluation) of the revision before, which is usually the parent
    for revision in Revision.objects.defer("connectivity").order_by("cluster_id", "number"):
        conn = evaluate(revision)
        if revision.parent_id is not None and revision.impact is None:
            if last is not None and last[0] == revision.parent_id:
                before = last[1]
            else:
                before = evaluate(Revision.objects.get(pk=revision.parent_id))
            if before is not None and conn is not None:
                revision.impact = impact_record(engine.diff(before, conn))
                revision.save(update_fields=["impact"])
        last = (revision.pk, conn)


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0002_revisiongraph"),
    ]

    operations = [
        migrations.AddField(
            model_name="revision",
            name="impact",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fill_impacts, migrations.RunPython.noop),
    ]
