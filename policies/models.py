"""Database models for clusters, their revisions and what each revision holds.

History is append-only: an upload or an edit creates a new `Revision` that owns a full copy of
the cluster's namespaces, workloads and policies, so any revision can be opened (and analysed)
later exactly as it was. Policies keep the YAML the user wrote; everything else in a row is
derived from it or from the uploaded manifests.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from .engine import ManifestErrors, load_documents


class Cluster(models.Model):
    """A named set of manifests owned by one user; its content lives in its revisions."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clusters"
    )
    name = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="cluster_unique_owner_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("policies:cluster-detail", args=[self.pk])

    @property
    def head(self) -> Revision | None:
        """The latest revision whose analysis did not fail (it may still be running), or None
        for a cluster whose first upload has not landed or could not be analysed.

        A revision whose analysis failed stays in history with its error, but the cluster
        goes on from the revision before it: edits apply to the head, and pages show it.
        """
        return self.revisions.exclude(status=Revision.Status.FAILED).order_by("-number").first()

    @property
    def latest(self) -> Revision | None:
        """The latest revision, whatever its analysis state (a failed one included)."""
        return self.revisions.order_by("-number").first()


class RevisionManager(models.Manager["Revision"]):
    """Leaves the connectivity cache (megabytes at a few thousand workloads) unread until it
    is asked for: pages load revisions for their number, author and message."""

    def get_queryset(self) -> models.QuerySet[Revision]:
        return super().get_queryset().defer("connectivity")


class Revision(models.Model):
    """One state of a cluster: who made it, when, why, and what it was made from.

    `connectivity` is an older cache of the connections answer, no longer written: the stored
    graph index (RevisionGraph) answers the API now. `diagnostics` keeps the warnings found
    when the revision was made, located in the files the user uploaded. `impact` is its
    change in connectivity against its parent (counts, summary and a sample), stored when it
    is written so that history pages evaluate nothing; None for a first revision, or when it
    could not be computed.

    `status` is where its analysis stands: small revisions are analysed as they are written
    (ready at once); large ones are stored `pending` and analysed by a worker
    (`policies.tasks`), which reports `progress` (0-100) with a `step` label, and on failure
    the `error`. Rows and state are committed together, once.

    `task_id` names the worker's task, and `heartbeat` is when the worker last said it was
    still at it (every few seconds while it analyses): a revision whose task failed or was
    lost, or whose worker fell silent (killed mid-analysis), is marked failed instead of
    staying "analysing" for good (`policies.tasks.settle`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        ANALYSING = "analysing", "Analysing"
        READY = "ready", "Ready"
        FAILED = "failed", "Analysis failed"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="revisions",
    )
    created = models.DateTimeField(auto_now_add=True)
    message = models.CharField(max_length=500, blank=True)
    diagnostics = models.JSONField(default=list, blank=True)
    connectivity = models.JSONField(null=True, blank=True, editable=False)
    impact = models.JSONField(null=True, blank=True, editable=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.READY, editable=False
    )
    progress = models.PositiveSmallIntegerField(default=100, editable=False)
    step = models.CharField(max_length=200, blank=True, editable=False)
    error = models.TextField(blank=True, editable=False)
    task_id = models.CharField(max_length=64, blank=True, editable=False)
    heartbeat = models.DateTimeField(null=True, blank=True, editable=False)

    objects = RevisionManager()

    class Meta:
        ordering = ["cluster", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "number"], name="revision_unique_cluster_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cluster} r{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("policies:revision-detail", args=[self.cluster_id, self.number])

    @property
    def warnings(self) -> list[dict]:
        return [d for d in self.diagnostics if d.get("severity") == "warning"]

    @property
    def is_ready(self) -> bool:
        """Whether its graph and connectivity can be shown (its analysis has finished)."""
        return self.status == self.Status.READY

    @property
    def is_analysing(self) -> bool:
        """Whether its analysis is still to come or under way."""
        return self.status in (self.Status.PENDING, self.Status.ANALYSING)

    def analysis_state(self) -> dict[str, object]:
        """Where its analysis stands, as the API and the status endpoint tell it."""
        state: dict[str, object] = {
            "revision": self.number,
            "status": self.status,
            "progress": self.progress,
            "step": self.step,
        }
        if self.status == self.Status.FAILED:
            state["error"] = self.error
        return state


class RevisionGraph(models.Model):
    """The graph views of one revision (derived data: computed on first use, then kept).

    A table of its own rather than a field of Revision: at a few thousand workloads it holds
    megabytes, and history lists and `Cluster.head` load Revision rows whole. A revision never
    changes, so the cache never goes stale; `version` lets a new layout replace old rows.
    """

    revision = models.OneToOneField(
        Revision, on_delete=models.CASCADE, primary_key=True, related_name="graph_cache"
    )
    version = models.PositiveIntegerField()
    data = models.JSONField()

    def __str__(self) -> str:
        return f"graph of {self.revision_id} (v{self.version})"


class Namespace(models.Model):
    """A namespace of one revision; `defined` is False for one only used by other objects."""

    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="namespaces")
    name = models.CharField(max_length=253)
    labels = models.JSONField(default=dict, blank=True)
    defined = models.BooleanField(default=True)
    source_file = models.CharField(max_length=1000, blank=True)
    line = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["revision", "name"], name="namespace_unique_revision_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Workload(models.Model):
    """A set of pods shown as one endpoint (a controller or a standalone Pod) in a revision.

    `ports` is a list of `{"port", "protocol", "name"}` container ports, as the engine reads
    them from the pod template.
    """

    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="workloads")
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)
    kind = models.CharField(max_length=64)
    labels = models.JSONField(default=dict, blank=True)
    ports = models.JSONField(default=list, blank=True)
    replicas = models.PositiveIntegerField(default=1)
    pod_ips = models.JSONField(default=list, blank=True)
    source_file = models.CharField(max_length=1000, blank=True)
    line = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["namespace", "name", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["revision", "namespace", "kind", "name"],
                name="workload_unique_revision_namespace_kind_name",
            ),
        ]

    def __str__(self) -> str:
        return self.endpoint

    @property
    def endpoint(self) -> str:
        """The engine's name for this workload: `namespace/name[Kind]`."""
        return f"{self.namespace}/{self.name}[{self.kind}]"


class Policy(models.Model):
    """A policy of one revision, stored as the YAML the user wrote (comments and key order kept).

    `namespace`, `name` and `kind` are derived from that YAML for queries and identity.
    """

    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="policies")
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)
    kind = models.CharField(max_length=64, default="NetworkPolicy")
    # Derived from the YAML like the name, for listing policies in evaluation order: a cluster
    # policy's tier (Admin or Baseline; NetworkPolicy for the namespaced kind) and priority
    # (none for a NetworkPolicy and for BaselineAdminNetworkPolicy, which runs last).
    tier = models.CharField(max_length=16, default="NetworkPolicy")
    priority = models.IntegerField(null=True, blank=True)
    yaml = models.TextField()
    source_file = models.CharField(max_length=1000, blank=True)
    line = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["namespace", "name"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(
                fields=["revision", "namespace", "name"],
                name="policy_unique_revision_namespace_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    # What the engine's exporters read of a policy (with namespace and name), so that rows
    # export without being parsed.
    @property
    def source(self) -> str:
        return self.yaml

    def clean(self) -> None:
        """The engine decides validity: the YAML must be exactly this one NetworkPolicy."""
        try:
            snapshot = load_documents([(f"{self.namespace}/{self.name}.yaml", self.yaml)])
        except ManifestErrors as exc:
            raise ValidationError({"yaml": [str(error) for error in exc.errors]}) from exc
        found = [(p.namespace, p.name) for p in snapshot.policies]
        if found != [(self.namespace, self.name)] or snapshot.workloads:
            raise ValidationError(
                {"yaml": f"must hold exactly one NetworkPolicy, {self.namespace}/{self.name}"}
            )


class ClusterShare(models.Model):
    """Access to someone else's cluster: a viewer reads it, an editor may also change it."""

    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer"
        EDITOR = "editor", "Editor"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cluster_shares"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cluster", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "user"], name="share_unique_cluster_user"),
        ]

    def __str__(self) -> str:
        return f"{self.cluster} → {self.user} ({self.role})"


class ApiToken(models.Model):
    """A personal API token for scripts and CI (`Authorization: Bearer <token>`).

    Only the SHA-256 of the token is stored: the token itself is shown once, when created.
    `prefix` (its first characters) lets the owner tell tokens apart in the list.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["user", "-created"]
        constraints = [
            models.UniqueConstraint(fields=["token_hash"], name="apitoken_unique_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyKey(models.Model):
    """An API upload's `Idempotency-Key` header and the cluster and revision it stored.

    A client that retries an upload (its connection dropped before the answer came) sends
    the same key and gets the same answer instead of a second cluster. The unique constraint
    settles two copies of one request that arrive together: the key is written in the
    upload's own transaction, so exactly one of them stores anything.

    `fingerprint` is the SHA-256 of what the request asked for (its fields and files, not
    its multipart framing): the same key sent with another request is refused, not replayed.
    Keys expire (`NETVIZ_IDEMPOTENCY_KEY_TTL`, a day) and are pruned when new ones are written.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, null=True, related_name="idempotency_keys"
    )
    revision = models.ForeignKey(
        Revision, on_delete=models.CASCADE, null=True, related_name="idempotency_keys"
    )
    fingerprint = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotencykey_unique_user_key"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.key}"
