"""Forms: uploads (validated by the engine in clean()), sharing, API tokens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile

from . import analysis, revisions, uploads
from .engine import ManifestErrors
from .engine.kustomize import KustomizeChoiceNeeded
from .engine.merge import Dropped, dropped
from .errors import InputErrors
from .models import Cluster, ClusterShare
from .snapshots import parse_manifests

__all__ = ["ApiTokenForm", "ShareForm", "UploadForm"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes several files (`<input type=file multiple>`)."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class MultipleValueField(forms.Field):
    """Repeated values of one name (`kustomize=a&kustomize=b`), as a list of strings."""

    widget = forms.MultipleHiddenInput

    def clean(self, value: Any) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        return [str(v).strip() for v in values if str(v).strip()]


class FolderInput(MultipleFileInput):
    """A folder picker: the browser sends every file of the chosen folder."""

    def __init__(self, attrs: dict[str, str] | None = None) -> None:
        super().__init__({"webkitdirectory": "", "directory": "", **(attrs or {})})


class UploadForm(forms.Form):
    """Manifests for a new cluster (with a name) or a new revision of an existing one.

    `clean()` unpacks archives and has the engine parse everything; `located_errors` then
    holds every problem with its file, line and field path, and `snapshot` the result.
    """

    name = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. production"})
    )
    files = MultipleFileField(
        required=False,
        label="Manifest files",
        help_text="YAML or JSON manifests, or .zip / .tar.gz archives of them (or of a folder).",
        widget=MultipleFileInput(
            attrs={"accept": ".yaml,.yml,.json,.zip,.tar,.tar.gz,.tgz", "data-upload-input": ""}
        ),
    )
    folder = MultipleFileField(
        required=False,
        label="…or a folder",
        help_text="Relative paths are kept; a Kustomize folder is rendered with kubectl.",
        widget=FolderInput(attrs={"data-upload-folder": ""}),
    )
    # Each folder file's relative path, in the order of `folder` (the browser knows them; the
    # multipart file name keeps only the base name). Filled in by upload.js.
    folder_paths = MultipleValueField(required=False)
    # The kustomization folders to render when a tree has several (e.g. `overlays/prod`).
    kustomize = MultipleValueField(required=False)
    mode = forms.ChoiceField(
        required=False,
        choices=[
            ("replace", "Replace: the upload is the cluster's new state"),
            ("merge", "Merge: like kubectl apply, objects not in the upload stay"),
        ],
        initial="replace",
        widget=forms.RadioSelect,
    )
    # Set once the user has seen what a replacing upload drops (the web form asks first).
    confirm_drops = forms.BooleanField(required=False, widget=forms.HiddenInput)
    manifests = forms.CharField(
        required=False,
        strip=False,
        label="…or paste YAML",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
    )
    message = forms.CharField(
        max_length=500,
        required=False,
        label="Change message",
        widget=forms.TextInput(attrs={"placeholder": "What changed (optional)"}),
    )

    def __init__(
        self,
        *args: Any,
        owner: AbstractBaseUser,
        cluster: Cluster | None = None,
        ask_before_dropping: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.cluster = cluster
        self.ask_before_dropping = ask_before_dropping
        self.located_errors: list[dict[str, object]] = []
        self.snapshot = None
        self.upload_warnings: list[dict[str, object]] = []
        self.revision = None  # what save() stored
        self.kustomize_choices: tuple[str, ...] = ()
        self.drops = Dropped()
        if cluster is not None:
            del self.fields["name"]
        else:
            del self.fields["mode"], self.fields["confirm_drops"]

    def clean_mode(self) -> str:
        return self.cleaned_data.get("mode") or "replace"

    def _folder_entries(self, files: list[UploadedFile], paths: list[str]) -> list:
        """(relative path, file) of a folder upload; base names when the paths are missing."""
        if len(paths) != len(files):
            paths = [f.name for f in files]
        return list(zip(paths, files, strict=True))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the cluster a name.")
        if Cluster.objects.filter(owner=self.owner, name=name).exists():
            raise forms.ValidationError(f"You already have a cluster named {name!r}.")
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        files = cleaned.get("files") or []
        folder = cleaned.get("folder") or []
        pasted = cleaned.get("manifests") or ""
        if self.errors:
            return cleaned
        if not files and not folder and not pasted.strip():
            raise forms.ValidationError("Choose or drop manifest files, or paste YAML.")
        try:
            unpacked = uploads.unpack(
                ((f.name, f) for f in files),
                pasted,
                folder=self._folder_entries(folder, cleaned.get("folder_paths") or []),
            )
            parsed, rendered = uploads.render(unpacked, cleaned.get("kustomize") or [])
            self.snapshot = parse_manifests(parsed)
        except uploads.UploadErrors as exc:
            self.located_errors = exc.as_dicts()
        except KustomizeChoiceNeeded as exc:
            self.kustomize_choices = exc.choices
            self.located_errors = InputErrors.from_manifests(exc).errors
        except ManifestErrors as exc:
            self.located_errors = InputErrors.from_manifests(exc).errors
        except InputErrors as exc:
            self.located_errors = exc.errors
        else:
            self.upload_warnings = unpacked.warnings + rendered
        if self.located_errors:
            count = len(self.located_errors)
            raise forms.ValidationError(
                f"The upload has {count} error{'s' if count != 1 else ''}; nothing was stored."
            )
        self._check_drops(cleaned)
        return cleaned

    def _check_drops(self, cleaned: dict[str, Any]) -> None:
        """What replacing the latest revision would drop; the web form asks before it does."""
        head = self.cluster.head if self.cluster is not None else None
        if head is None or cleaned.get("mode") == "merge":
            return
        self.drops = dropped(analysis.state(head).snapshot, self.snapshot)
        if self.drops and self.ask_before_dropping and not cleaned.get("confirm_drops"):
            raise forms.ValidationError(
                "This upload replaces every manifest of the cluster and drops what it does not "
                "hold (listed below). Upload again to replace anyway, or choose merge to keep them."
            )

    def save(self, idempotency_key: str = "", fingerprint: str = "") -> Cluster:
        """Store the validated upload: a new cluster, or a new revision of the form's cluster
        (uploaded by `owner`, the user who sent it). The revision stored is `self.revision`
        (for a new cluster with an `idempotency_key` already used: the one stored then)."""
        kwargs = {"message": self.cleaned_data["message"], "warnings": self.upload_warnings}
        if self.cluster is None:
            self.revision = revisions.new_cluster(
                self.owner,
                self.cleaned_data["name"],
                self.snapshot,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                **kwargs,
            )
            return self.revision.cluster
        merge = self.cleaned_data.get("mode") == "merge"
        self.revision = revisions.upload_revision(
            self.cluster, self.owner, self.snapshot, merge=merge, **kwargs
        )
        return self.cluster

    def add_located_error(self, error: uploads.UploadError) -> None:
        """Report a problem found before the form could read the request (its size).

        The form is unbound then (the body was never parsed); full_clean() gives it the empty
        error dict that add_error() needs, and nothing else.
        """
        self.full_clean()
        self.cleaned_data = {}
        self.located_errors.append(error.as_dict())
        self.add_error(None, f"{error.message}; nothing was stored.")

    def errors_for_api(self) -> list[dict[str, object]]:
        """Every error as `{"file", "line", "path", "message"}`, field errors included."""
        if self.located_errors:
            return InputErrors(self.located_errors).as_json()
        return [
            {"file": "", "line": 0, "path": field if field != "__all__" else "", "message": m}
            for field, messages in self.errors.items()
            for m in messages
        ]


class ShareForm(forms.Form):
    """Give another user access to a cluster, or change their role."""

    username = forms.CharField(
        max_length=150, label="User", widget=forms.TextInput(attrs={"placeholder": "user name"})
    )
    role = forms.ChoiceField(choices=ClusterShare.Role.choices, initial=ClusterShare.Role.VIEWER)

    def __init__(self, *args: Any, cluster: Cluster, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cluster = cluster

    def clean_username(self) -> AbstractBaseUser:
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"There is no user named {username!r}.")
        if user.pk == self.cluster.owner_id:
            raise forms.ValidationError("The owner already has full access.")
        return user

    def save(self) -> ClusterShare:
        share, _ = ClusterShare.objects.update_or_create(
            cluster=self.cluster,
            user=self.cleaned_data["username"],
            defaults={"role": self.cleaned_data["role"]},
        )
        return share


class ApiTokenForm(forms.Form):
    """Name a new personal API token."""

    name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. ci-pipeline"})
    )
