"""`netviz analyze` / `manage.py analyze`: exit codes, filters, files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from policies.engine.cli import main

from .helpers import pod, policy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    (tmp_path / "pods.yaml").write_text(
        "---\n".join([pod("web", ports="http:80/TCP"), pod("db"), pod("job")])
    )
    (tmp_path / "pol.yaml").write_text(
        policy(
            "db-in",
            "podSelector: {matchLabels: {app: db}}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]\n  ports: [{port: 5432}]",
        )
    )
    return tmp_path


def _run(args, capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_prints_txt_and_exits_0(cluster, capsys) -> None:
    code, out, _ = _run(["analyze", str(cluster)], capsys)
    assert code == 0
    assert "default/web[Pod] => default/db[Pod] : TCP 5432" in out.splitlines()


def test_output_file(cluster, tmp_path, capsys) -> None:
    target = tmp_path / "out.json"
    assert _run(["analyze", str(cluster), "--format", "json", "-o", str(target)], capsys)[0] == 0
    assert json.loads(target.read_text())["connections"]
    assert not (tmp_path / "out.json.partial").exists()  # written aside, then renamed


def test_input_errors_exit_2_and_list_every_error(tmp_path, capsys) -> None:
    (tmp_path / "a.yaml").write_text(policy("p", "podSelector: {}\npolicyTypes: [Sideways]"))
    (tmp_path / "b.yaml").write_text("a: [\n")
    code, out, err = _run(["analyze", str(tmp_path)], capsys)
    assert code == 2
    assert out == ""
    assert (
        f"error: {tmp_path / 'a.yaml'}:8 spec.policyTypes[0]: 'Sideways' is not Ingress or Egress"
        in err
    )
    assert f"error: {tmp_path / 'b.yaml'}:2: invalid YAML" in err
    assert "Traceback" not in err


def test_warnings_go_to_stderr(cluster, capsys) -> None:
    (cluster / "typo.yaml").write_text(policy("t", "podSelector: {matchLabels: {app: nobody}}"))
    code, out, err = _run(["analyze", str(cluster)], capsys)
    assert code == 0
    assert "selects no pod" in err
    assert "selects no pod" not in out


def test_focus_workload_and_direction(cluster, capsys) -> None:
    _, out, _ = _run(
        ["analyze", str(cluster), "--focus-workload", "db", "--focus-direction", "ingress"], capsys
    )
    lines = out.splitlines()
    assert lines == ["default/web[Pod] => default/db[Pod] : TCP 5432"]


def test_focus_workload_peer(cluster, capsys) -> None:
    _, out, _ = _run(
        [
            "analyze",
            str(cluster),
            "--focus-workload",
            "default/web",
            "--focus-workload-peer",
            "job",
        ],
        capsys,
    )
    assert sorted(out.splitlines()) == [
        "default/job[Pod] => default/web[Pod] : All Connections",
        "default/web[Pod] => default/job[Pod] : All Connections",
    ]


def test_focus_conn_keeps_flows_allowing_it_narrowed_to_it(cluster, capsys) -> None:
    _, out, _ = _run(
        ["analyze", str(cluster), "--focus-conn", "tcp-5432", "--focus-workload", "web"], capsys
    )
    assert "default/web[Pod] => default/db[Pod] : TCP 5432" in out.splitlines()
    assert all(line.endswith(": TCP 5432") for line in out.splitlines())


def test_bad_focus_conn_is_an_input_error(cluster, capsys) -> None:
    code, _, err = _run(["analyze", str(cluster), "--focus-conn", "http"], capsys)
    assert code == 2
    assert "--focus-conn" in err


def test_explain_prints_the_reasoning(cluster, capsys) -> None:
    _, out, _ = _run(
        [
            "analyze",
            str(cluster),
            "--focus-workload",
            "job",
            "--focus-workload-peer",
            "db",
            "--explain",
        ],
        capsys,
    )
    assert (
        "DENIED: default/job[Pod] => default/db[Pod]: blocked by the destination's ingress" in out
    )
    assert "isolated by default/db-in" in out


@pytest.mark.parametrize("option", ["--focus-workload", "--focus-workload-peer"])
def test_explain_of_an_unknown_workload_is_an_input_error(cluster, capsys, option) -> None:
    # It was a traceback, after the flows had been written.
    code, out, err = _run(["analyze", str(cluster), option, "nobody", "--explain"], capsys)
    assert code == 2
    assert out == ""
    assert err == ("error: --explain: 'nobody' is neither a workload nor an IP address or range\n")


def test_manage_py_analyze_needs_no_database(cluster) -> None:
    env = {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "manage.py", "analyze", str(cluster), "--format", "csv"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("src,dst,conn\n")


def test_manage_py_analyze_exits_2_on_bad_input(tmp_path) -> None:
    (tmp_path / "x.yaml").write_text("kind: [\n")
    proc = subprocess.run(
        [sys.executable, "manage.py", "analyze", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "x.yaml:2: invalid YAML" in proc.stderr


def test_main_writes_to_given_streams() -> None:
    # run_analyze takes its streams, so the management command can pass Django's
    from argparse import Namespace

    from policies.engine.cli import run_analyze

    out, err = io.StringIO(), io.StringIO()
    args = Namespace(paths=["/nonexistent"], format="txt", output=None, focus_workload=[], focus_workload_peer=[],
                     focus_direction=None, focus_conn=None, explain=False, quiet=False)  # fmt: skip
    assert run_analyze(args, out, err) == 2
    assert "no such file or directory" in err.getvalue()


def test_focus_workloads_may_be_comma_separated(cluster, capsys) -> None:
    _, out, _ = _run(
        ["analyze", str(cluster), "--focus-workload", "web,db", "--focus-workload-peer", "job"],
        capsys,
    )
    assert sorted({line.split(" : ")[0] for line in out.splitlines()}) == [
        "default/db[Pod] => default/job[Pod]",
        "default/job[Pod] => default/web[Pod]",
        "default/web[Pod] => default/job[Pod]",
    ]


@pytest.fixture
def tightened(cluster: Path, tmp_path: Path) -> Path:
    """The cluster with db's ingress narrowed from 5432 to nothing but 5433."""
    new = tmp_path / "new"
    new.mkdir()
    (new / "pods.yaml").write_text((cluster / "pods.yaml").read_text())
    (new / "pol.yaml").write_text((cluster / "pol.yaml").read_text().replace("5432", "5433"))
    return new


def test_diff_prints_the_connectivity_change(cluster, tightened, capsys) -> None:
    code, out, _ = _run(["diff", str(cluster), str(tightened)], capsys)
    assert code == 0
    assert out.splitlines() == [
        "~ default/web[Pod] => default/db[Pod] : TCP 5432 -> TCP 5433",
        "+0 -0 ~1 (added, removed, changed)",
    ]


def test_diff_json_and_md(cluster, tightened, capsys) -> None:
    _, out, _ = _run(["diff", str(cluster), str(tightened), "--format", "json"], capsys)
    assert json.loads(out) == {
        "added": [],
        "removed": [],
        "changed": [
            {
                "src": "default/web[Pod]",
                "dst": "default/db[Pod]",
                "before": {"TCP": "5432"},
                "after": {"TCP": "5433"},
            }
        ],
    }
    _, out, _ = _run(["diff", str(cluster), str(tightened), "--format", "md"], capsys)
    assert "| changed | default/web[Pod] | default/db[Pod] | TCP 5432 | TCP 5433 |" in out


def test_manage_py_diff_exits_2_on_bad_input(cluster, tmp_path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.yaml").write_text("kind: [\n")
    proc = subprocess.run(
        [sys.executable, "manage.py", "diff", str(cluster), str(tmp_path / "bad")],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "x.yaml:2: invalid YAML" in proc.stderr


def test_output_to_a_device_writes_to_it_and_leaves_it_a_device(cluster, tmp_path, capsys) -> None:
    import os
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # Reading the pipe in a thread: opening a FIFO for writing waits for a reader.
    import threading

    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert _run(["analyze", str(cluster), "-o", str(fifo)], capsys)[0] == 0
    reader.join(timeout=10)
    assert b"default/web[Pod] => default/db[Pod] : TCP 5432" in got[0]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # not replaced by a regular file


ADMIN_DENY = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-web-to-job}
spec:
  priority: 1
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: job}}}}
  ingress:
  - {name: no-web, action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]}
"""


def test_analyze_applies_an_admin_deny_and_explain_shows_the_tier_chain(cluster, capsys) -> None:
    (cluster / "admin.yaml").write_text(ADMIN_DENY)
    _, out, _ = _run(["analyze", str(cluster), "--format", "json"], capsys)
    pairs = {(c["src"], c["dst"]) for c in json.loads(out)["connections"]}
    assert ("default/web[Pod]", "default/job[Pod]") not in pairs
    assert ("default/db[Pod]", "default/job[Pod]") in pairs
    _, out, _ = _run(
        ["analyze", str(cluster), "--focus-workload", "web", "--focus-workload-peer", "job", "--explain"],
        capsys,
    )  # fmt: skip
    assert (
        "DENIED: default/web[Pod] => default/job[Pod]: blocked by the destination's ingress" in out
    )
    assert "Admin tier: AdminNetworkPolicy/no-web-to-job" in out
    assert "AdminNetworkPolicy/no-web-to-job ingress[0] 'no-web'" in out
    assert "denies All Connections; passes on nothing" in out


def test_diff_shows_what_an_admin_policy_takes_away(cluster, tmp_path_factory, capsys) -> None:
    after = tmp_path_factory.mktemp("after")  # not under `cluster`, which is read recursively
    for f in cluster.glob("*.yaml"):
        (after / f.name).write_text(f.read_text())
    (after / "admin.yaml").write_text(ADMIN_DENY)
    code, out, _ = _run(["diff", str(cluster), str(after)], capsys)
    assert code == 0
    assert out.splitlines() == [
        "- default/web[Pod] => default/job[Pod] : All Connections",
        "+0 -1 ~0 (added, removed, changed)",
    ]


def _tricky_tree(root: Path) -> None:
    """Names whose order differs between strings and paths (`a-b/` sorts after `a/` as a
    path), hidden and `.git*` entries, symbolic links, files that are no manifests."""
    for rel in [
        "a/x.yaml",
        "a-b/x.yaml",
        "a.yaml",
        "A.YML",
        "b/c/d/deep.json",
        ".hidden/h.yaml",
        ".git/config.yaml",
        ".github/workflows/ci.yaml",
        "notes.txt",
        "b/README.md",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(f"# {rel}\n".encode())
    (root / "link.yaml").symlink_to(root / "a.yaml")
    (root / "linked-dir").symlink_to(root / "a", target_is_directory=True)


@pytest.mark.parametrize("shown", ["tree", "tree/", "./tree", "tree/../tree"])
def test_a_plain_folder_is_read_as_prepare_folder_reads_it(tmp_path, monkeypatch, shown) -> None:
    from policies.engine.cli import _plain_folder
    from policies.engine.kustomize import prepare_folder

    _tricky_tree(tmp_path / "tree")
    monkeypatch.chdir(tmp_path)
    ours = _plain_folder(shown)
    theirs = prepare_folder(Path(shown), shown.rstrip("/") or shown, [], render_all=True)
    manifests = [(n, c) for n, c in theirs.files if n.lower().endswith((".yaml", ".yml", ".json"))]
    assert ours == manifests
    names = [n for n, _ in ours]
    assert names.index("tree/a/x.yaml") < names.index("tree/a-b/x.yaml")  # not string order
    assert "tree/.hidden/h.yaml" in names
    assert not any(".git" in n or "link" in n or n.endswith((".txt", ".md")) for n in names)


@pytest.mark.parametrize("name", ["kustomization.yaml", "Kustomization", "Chart.yaml"])
def test_a_folder_with_a_kustomization_or_chart_anywhere_is_left_to_kustomize(
    tmp_path, name
) -> None:
    from policies.engine.cli import _plain_folder

    _tricky_tree(tmp_path)
    (tmp_path / "b" / "c" / name).write_text("resources: []\n")
    assert _plain_folder(str(tmp_path)) is None


def test_analyze_of_a_plain_folder_loads_neither_pathlib_nor_pyyaml(cluster) -> None:
    code = (
        "import sys\nfrom policies.engine.cli import main\n"
        "from policies.engine.yamlio import READER\n"
        f"main(['analyze', {str(cluster)!r}, '--format', 'json', '-o', '/dev/null', '-q'])\n"
        "print(READER, sorted(m for m in sys.modules if m in ('pathlib', 'yaml')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    reader, loaded = out.stdout.strip().split(" ", 1)
    # (the pure-Python reader is PyYAML's: with it, only pathlib must stay out)
    assert loaded == ("[]" if reader == "native" else "['yaml']")


def _expanded(grouped: dict) -> set[tuple[str, str, str]]:
    """The flows a grouped answer stands for: every member of src to every member of dst."""
    members = {g["id"]: g["members"] for g in grouped["groups"]}
    return {
        (s, d, json.dumps(c["conns"], sort_keys=True))
        for c in grouped["connections"]
        for s in members.get(c["src"], [c["src"]])
        for d in members.get(c["dst"], [c["dst"]])
        if s != d
    }


@pytest.mark.parametrize(
    "case", ["onlineboutique_workloads", "exposure_allow_all_test", "core_pods_without_host_ip"]
)
def test_the_grouped_format_stands_for_exactly_the_json_flows(corpus_cases, case, capsys) -> None:
    folder = str(corpus_cases / case / "input")
    code, out, _ = _run(["analyze", folder, "--format", "json", "-q"], capsys)
    assert code == 0
    flows = {
        (f["src"], f["dst"], json.dumps(f["conns"], sort_keys=True))
        for f in json.loads(out)["connections"]
    }
    code, out, _ = _run(["analyze", folder, "--format", "grouped", "-q"], capsys)
    assert code == 0
    assert _expanded(json.loads(out)) == flows


def test_an_open_cluster_is_a_few_grouped_lines(tmp_path, capsys) -> None:
    (tmp_path / "pods.yaml").write_text(
        "---\n".join(pod(f"p{i}", ns=f"ns{i % 2}") for i in range(400))
    )
    code, out, _ = _run(["analyze", str(tmp_path), "--format", "grouped", "-q"], capsys)
    assert code == 0
    grouped = json.loads(out)
    assert sorted(len(g["members"]) for g in grouped["groups"]) == [200, 200]
    assert len(out.splitlines()) < 20
    ends = {x for c in grouped["connections"] for x in (c["src"], c["dst"])}
    externals = {x for x in ends if not x.startswith("grp:")}
    assert externals  # the addresses outside, each to and from every pod
    assert len(_expanded(grouped)) == 400 * 399 + 2 * 400 * len(externals)


@pytest.mark.parametrize("option", [["--focus-workload", "web"], ["--focus-conn", "tcp-80"]])
def test_the_grouped_format_takes_no_focus(cluster, capsys, option) -> None:
    code, out, err = _run(["analyze", str(cluster), "--format", "grouped", *option], capsys)
    assert (code, out) == (2, "")
    assert (
        err
        == "error: --format grouped lists the whole answer: it takes no --focus-* or --explain\n"
    )


@pytest.mark.parametrize(
    "command", [["-m", "policies.engine.cli"], ["manage.py"]], ids=["netviz", "manage.py"]
)
def test_a_reader_that_stops_early_gets_no_traceback(tmp_path, command) -> None:
    # `netviz analyze ... | head`: the pipe closes while the answer is written.
    (tmp_path / "pods.yaml").write_text("---\n".join(pod(f"p{i}") for i in range(300)))
    proc = subprocess.Popen(
        [sys.executable, *command, "analyze", str(tmp_path), "--format", "json", "-q"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err
    assert err == ""


def test_an_output_that_cannot_be_written_is_an_error_naming_it(cluster, tmp_path, capsys) -> None:
    target = tmp_path / "missing" / "out.json"
    code, out, err = _run(["analyze", str(cluster), "-o", str(target)], capsys)
    assert (code, out) == (2, "")
    assert err == f"error: cannot write {target}: No such file or directory\n"
    assert not target.parent.exists()


def test_a_write_that_fails_midway_leaves_the_last_answer_in_place(
    cluster, tmp_path, capsys, monkeypatch
) -> None:
    from policies.engine import cli

    target = tmp_path / "out.txt"
    target.write_text("the last good answer\n")

    def full_disk(flows, fmt, out):
        out.write("half of it")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "write", full_disk)
    code, _, err = _run(["analyze", str(cluster), "-o", str(target)], capsys)
    assert code == 2
    assert err == f"error: cannot write {target}: No space left on device\n"
    assert target.read_text() == "the last good answer\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "pods.yaml", "pol.yaml"]
