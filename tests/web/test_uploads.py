"""policies.uploads: files and archives in, (name, bytes) out; hostile archives rejected."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from policies.uploads import UploadErrors, content_length_error, unpack

POLICY = b"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"


def make_zip(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # S_IFLNK: how zip stores a symbolic link
            archive.writestr(info, "/etc/passwd")
    buffer.seek(0)
    return buffer


def make_tar(entries: dict[str, bytes], extra: tuple[tarfile.TarInfo, ...] = ()) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        for info in extra:
            archive.addfile(info)
    buffer.seek(0)
    return buffer


def test_plain_files_and_pasted_text_pass_through_unchanged():
    result = unpack([("a.yaml", io.BytesIO(POLICY))], pasted="kind: List\n")
    assert result.files == [("a.yaml", POLICY), ("pasted.yaml", b"kind: List\n")]
    assert result.warnings == []


def test_blank_pasted_text_is_ignored():
    assert unpack([], pasted="  \n").files == []


def test_zip_entries_are_named_after_the_archive_and_their_path():
    archive = make_zip({"k8s/policy.yaml": POLICY, "k8s/": b""})
    result = unpack([("manifests.zip", archive)])
    assert result.files == [("manifests.zip/k8s/policy.yaml", POLICY)]


def test_tar_gz_entries_are_read():
    archive = make_tar({"deploy/app.yml": POLICY, "deploy/app.json": b"{}"})
    result = unpack([("manifests.tar.gz", archive)])
    assert result.files == [
        ("manifests.tar.gz/deploy/app.yml", POLICY),
        ("manifests.tar.gz/deploy/app.json", b"{}"),
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "../evil.yaml",  # climbs out of wherever the archive would be extracted
        "ok/../../evil.yaml",  # the same, hidden behind a harmless first part
        "/etc/evil.yaml",  # absolute
        "C:\\evil.yaml",  # absolute on Windows
        "..\\evil.yaml",  # Windows separators
    ],
)
@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_archive_entries_that_leave_the_archive_are_rejected(entry, kind):
    entries = {"fine.yaml": POLICY, entry: POLICY}
    archive = make_zip(entries) if kind == "zip" else make_tar(entries)
    with pytest.raises(UploadErrors) as caught:
        unpack([(f"upload.{kind}", archive)])
    [error] = caught.value.errors
    assert error.file == f"upload.{kind}"
    assert repr(entry) in error.message


def test_zip_symlinks_are_rejected():
    with pytest.raises(UploadErrors, match="symbolic link"):
        unpack([("a.zip", make_zip({"a.yaml": POLICY}, symlinks=("link.yaml",)))])


@pytest.mark.parametrize(
    ("entry_type", "expected"),
    [
        (tarfile.SYMTYPE, "is a link"),  # could point anywhere on the server
        (tarfile.LNKTYPE, "is a link"),  # hard link: same danger
        (tarfile.CHRTYPE, "device or special file"),  # e.g. /dev/zero, endless
        (tarfile.BLKTYPE, "device or special file"),
        (tarfile.FIFOTYPE, "device or special file"),  # reading it would block
    ],
)
def test_tar_links_and_devices_are_rejected(entry_type, expected):
    info = tarfile.TarInfo("strange.yaml")
    info.type = entry_type
    info.linkname = "/etc/passwd"
    with pytest.raises(UploadErrors, match=expected):
        unpack([("a.tar.gz", make_tar({"a.yaml": POLICY}, extra=(info,)))])


def test_every_bad_entry_is_reported_not_just_the_first():
    archive = make_zip({"../one.yaml": POLICY, "/two.yaml": POLICY})
    with pytest.raises(UploadErrors) as caught:
        unpack([("a.zip", archive)])
    assert len(caught.value.errors) == 2


def test_a_zip_bomb_stops_at_the_unpacked_size_limit(settings):
    settings.NETVIZ_MAX_UNPACKED_BYTES = 1024 * 1024
    # 20 MB of zeros compress to about 20 KB: the kind of entry a zip bomb is made of.
    archive = make_zip({"bomb.yaml": b"\0" * (20 * 1024 * 1024)})
    assert archive.getbuffer().nbytes < 100 * 1024
    with pytest.raises(UploadErrors, match="archive bomb"):
        unpack([("bomb.zip", archive)])


def test_a_zip_entry_whose_header_understates_its_size_is_not_accepted(settings, monkeypatch):
    settings.NETVIZ_MAX_UNPACKED_BYTES = 1024 * 1024
    archive = make_zip({"bomb.yaml": b"a" * (3 * 1024 * 1024)})
    # A crafted archive can declare a tiny size to pass the check made before reading; the
    # entry must still not get through (zipfile stops at the declared size and fails the CRC,
    # and our own count of the bytes read would stop it at the limit).
    original = zipfile.ZipFile.infolist

    def lying_infolist(self):
        infos = original(self)
        for info in infos:
            info.file_size = 10
        return infos

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying_infolist)
    with pytest.raises(UploadErrors, match=r"archive bomb|Bad CRC"):
        unpack([("bomb.zip", archive)])


def test_a_tar_entry_declaring_more_than_the_limit_is_refused_before_reading(settings):
    settings.NETVIZ_MAX_UNPACKED_BYTES = 1000
    with pytest.raises(UploadErrors, match="archive bomb"):
        unpack([("big.tar.gz", make_tar({"big.yaml": b"x" * 5000}))])


def test_too_many_entries_are_refused(settings):
    settings.NETVIZ_MAX_ARCHIVE_ENTRIES = 3
    archive = make_zip({f"{i}.yaml": POLICY for i in range(5)})
    with pytest.raises(UploadErrors, match="more than 3 entries"):
        unpack([("many.zip", archive)])


def test_entries_that_are_not_manifests_are_skipped_with_a_warning():
    archive = make_zip(
        {"a.yaml": POLICY, "README.md": b"# hi", "inner.zip": b"PK", "__MACOSX/._a.yaml": b"x"}
    )
    result = unpack([("a.zip", archive)])
    assert [name for name, _ in result.files] == ["a.zip/a.yaml"]
    assert {(w["file"], w["message"]) for w in result.warnings} == {
        ("a.zip/README.md", "skipped: not a YAML or JSON file"),
        ("a.zip/inner.zip", "skipped: nested archives are not unpacked"),
    }


@pytest.mark.parametrize("name", ["broken.zip", "broken.tar.gz"])
def test_a_corrupt_archive_is_a_located_error(name):
    with pytest.raises(UploadErrors) as caught:
        unpack([(name, io.BytesIO(b"this is not an archive"))])
    [error] = caught.value.errors
    assert error.file == name
    assert "not a readable" in error.message


def test_errors_have_the_engines_diagnostic_shape():
    with pytest.raises(UploadErrors) as caught:
        unpack([("a.zip", make_zip({"../x.yaml": POLICY}))])
    assert caught.value.as_dicts() == [
        {
            "severity": "error",
            "file": "a.zip",
            "line": 0,
            "path": "",
            "message": "entry '../x.yaml' has a '..' path that leaves the archive",
            "subject": "",
        }
    ]


def test_content_length_over_the_limit_is_an_error(settings):
    settings.NETVIZ_MAX_UPLOAD_BYTES = 1024 * 1024
    assert content_length_error("1048576") is None
    assert content_length_error(None) is None
    assert content_length_error("nonsense") is None
    error = content_length_error(str(3 * 1024 * 1024))
    assert error is not None
    assert error.message == "the upload is 3.0 MB; the limit is 1.0 MB"


def test_a_folder_keeps_its_relative_paths():
    result = unpack([], folder=[("shop/catalog/deployment.yaml", io.BytesIO(POLICY))])
    assert result.files == [("shop/catalog/deployment.yaml", POLICY)]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        # climbing out of the folder
        ("../etc/passwd.yaml", "has a '..' path that leaves the archive"),
        # an absolute path
        ("/etc/passwd.yaml", "has an absolute path"),
    ],
)
def test_a_folder_path_that_leaves_the_folder_is_refused(path, why):
    with pytest.raises(UploadErrors) as info:
        unpack([], folder=[(path, io.BytesIO(POLICY))])
    assert [e.message for e in info.value.errors] == [why]


def test_files_a_kustomization_may_use_are_kept_without_a_warning():
    archive = make_zip(
        {
            "app/Kustomization": b"resources: [p.yaml]\n",
            "app/config.env": b"A=1\n",
            "app/p.yaml": POLICY,
            "notes/readme.txt": b"hello",
        }
    )
    result = unpack([("tree.zip", archive)])
    assert result.files == [("tree.zip/app/p.yaml", POLICY)]
    assert [label for label, _ in result.support] == [
        "tree.zip/app/Kustomization",
        "tree.zip/app/config.env",
        "tree.zip/notes/readme.txt",
    ]
    # only the file no kustomization can use is reported as skipped
    assert [(w["file"], w["message"]) for w in result.warnings] == [
        ("tree.zip/notes/readme.txt", "skipped: not a YAML or JSON file")
    ]
