"""The release pipeline (DUR-1): .github/workflows and tools/release/set-images.sh.

actionlint (built from the Go module proxy) and shellcheck lint every
workflow; the release workflow's own version step is run for real tags; the
overlay update runs on a copy of manifests/ and the project's kubectl
renders the result, so what a cluster would pull is checked, not the text.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.testbin import binary
from support.tiers import require

# PyYAML comes with the kubernetes client but ships no type stubs.
yaml: Any = importlib.import_module("yaml")

type Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yml"
SET_IMAGES = ROOT / "tools" / "release" / "set-images.sh"
# The image each build step must push, by Dockerfile.
DOCKERFILES = {"Dockerfile.inference": "INFERENCE_IMAGE", "Dockerfile.operator": "OPERATOR_IMAGE"}
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
PINNED_ACTION = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def release_workflow() -> Obj:
    loaded: Obj = yaml.safe_load(RELEASE.read_text())
    return loaded


def pushed_images() -> dict[str, str]:
    """INFERENCE_IMAGE / OPERATOR_IMAGE → the name the workflow pushes."""
    env = release_workflow()["env"]
    return {key: env[key] for key in DOCKERFILES.values()}


def images_job_steps() -> list[Obj]:
    steps: list[Obj] = release_workflow()["jobs"]["images"]["steps"]
    return steps


def run_version_step(ref_name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The workflow's `version` step, run as GitHub runs it (bash -eo pipefail)."""
    (step,) = [s for s in images_job_steps() if s.get("id") == "version"]
    output = tmp_path / ("output-" + hashlib.sha256(ref_name.encode()).hexdigest()[:12])
    output.write_text("")
    env = {"PATH": os.environ["PATH"], "GITHUB_REF_NAME": ref_name, "GITHUB_OUTPUT": str(output)}
    script = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    result = subprocess.run(script, env=env, capture_output=True, text=True, timeout=30)
    result.stdout = output.read_text()
    return result


def version_outputs(ref_name: str, tmp_path: Path) -> dict[str, str]:
    result = run_version_step(ref_name, tmp_path)
    assert result.returncode == 0, (ref_name, result.stderr)
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def copy_manifests(tmp_path: Path) -> Path:
    """manifests/ and crds/ (base includes ../../crds) in a scratch tree."""
    tree = tmp_path / "tree"
    for part in ("manifests", "crds"):
        shutil.copytree(ROOT / part, tree / part)
    return tree


def run_overlay_step(tree: Path, tag: str, digests: dict[str, str], overlays: str) -> str:
    """The overlays job's set-images step, run as GitHub runs it, in a Git copy of the tree."""
    shutil.copytree(SET_IMAGES.parent, tree / "tools" / "release", dirs_exist_ok=True)
    git = ["git", "-c", "user.name=release-test", "-c", "user.email=release-test@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "before the release"]):
        subprocess.run([*git, *args], cwd=tree, check=True, capture_output=True, timeout=60)
    workflow = release_workflow()
    (step,) = [s for s in workflow["jobs"]["overlays"]["steps"] if "set-images" in s.get("run", "")]
    names = pushed_images()
    env = {
        "PATH": os.environ["PATH"],
        **workflow["env"],
        "TAG": tag,
        "OVERLAYS": overlays,
        "INFERENCE_DIGEST": digests[names["INFERENCE_IMAGE"]],
        "OPERATOR_DIGEST": digests[names["OPERATOR_IMAGE"]],
    }
    script = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    result = subprocess.run(script, cwd=tree, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout  # the step prints the diff it made


def set_images(
    tree: Path, tag: str, digests: dict[str, str], *overlays: str
) -> subprocess.CompletedProcess[str]:
    args = [str(SET_IMAGES), "--tag", tag]
    for name, digest in digests.items():
        args += ["--image", f"{name}@{digest}"]
    return subprocess.run([*args, *overlays], cwd=tree, capture_output=True, text=True, timeout=30)


def fake_digests(salt: str) -> dict[str, str]:
    return {
        name: "sha256:" + hashlib.sha256(f"{salt}{name}".encode()).hexdigest()
        for name in pushed_images().values()
    }


def render(kubectl: Path, overlay: Path) -> list[Obj]:
    result = subprocess.run(
        [str(kubectl), "kustomize", str(overlay)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [o for o in yaml.safe_load_all(result.stdout) if o]


def pod_containers(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    for obj in objects:
        if obj["kind"] not in POD_OWNERS:
            continue
        spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
        pod = spec["template"]["spec"]
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            yield f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}", c


def image_name(reference: str) -> str:
    without_digest = reference.split("@")[0]
    last = without_digest.rsplit("/", 1)[-1]
    return without_digest.rsplit(":", 1)[0] if ":" in last else without_digest


def overlay_image_names(kustomization: Path) -> set[str]:
    entries = yaml.safe_load(kustomization.read_text()).get("images", [])
    return {e.get("newName", e["name"]) for e in entries}


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return binary("kube", "kubectl", "release pipeline")


def test_workflows_and_release_script_pass_actionlint_and_shellcheck() -> None:
    actionlint = binary("actionlint", "actionlint", "workflow lint")
    shellcheck = shutil.which("shellcheck")
    require(shellcheck is not None, "workflow lint", "shellcheck not found (Debian: shellcheck)")
    workflows = sorted(WORKFLOWS.glob("*.y*ml"))
    assert RELEASE in workflows
    assert WORKFLOWS / "ci.yml" in workflows
    # shellcheck named explicitly: actionlint silently skips run: scripts without it.
    lint = subprocess.run(
        [str(actionlint), f"-shellcheck={shellcheck}", "-pyflakes=", *map(str, workflows)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")
    check = subprocess.run(
        [str(shellcheck), str(SET_IMAGES)], capture_output=True, text=True, timeout=60
    )
    assert (check.returncode, check.stdout) == (0, "")


def test_a_release_is_a_semantic_version_tag_and_a_prerelease_goes_to_staging_only(
    tmp_path: Path,
) -> None:
    loaded: dict[object, Any] = yaml.safe_load(RELEASE.read_text())
    trigger = loaded[True]  # PyYAML reads the key `on` as a boolean
    assert set(trigger) == {"push"}
    assert set(trigger["push"]) == {"tags"}
    both = "manifests/overlays/staging manifests/overlays/production"
    assert version_outputs("v1.2.3", tmp_path) == {"tag": "1.2.3", "overlays": both}
    assert version_outputs("v0.10.0", tmp_path)["tag"] == "0.10.0"
    assert version_outputs("v2.0.0-rc.1", tmp_path) == {
        "tag": "2.0.0-rc.1",
        "overlays": "manifests/overlays/staging",
    }
    # Not semantic versions, or (build metadata "+") not a valid image tag.
    for bad in ("v1.2", "1.2.3", "v01.2.3", "v1.2.3-", "v1.2.3+build.5", "v1.2.3-rc/1"):
        result = run_version_step(bad, tmp_path)
        assert result.returncode != 0, bad
        assert result.stdout == "", bad


def test_release_asks_for_least_privilege_and_runs_once_per_tag() -> None:
    workflow = release_workflow()
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["images"]["permissions"] == {"contents": "read", "packages": "write"}
    assert jobs["overlays"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert workflow["concurrency"] == {
        "group": "release-${{ github.ref }}",
        "cancel-in-progress": False,
    }
    uses = [line for line in RELEASE.read_text().splitlines() if "uses:" in line]
    assert uses
    assert all(PINNED_ACTION.match(line) for line in uses), uses


def test_the_workflow_pushes_the_names_the_overlays_use() -> None:
    workflow = release_workflow()
    names = pushed_images()
    assert all(name.startswith(workflow["env"]["REGISTRY"] + "/") for name in names.values())
    builds = [s for s in images_job_steps() if s.get("uses", "").startswith("docker/build-push")]
    assert sorted(s["with"]["file"] for s in builds) == sorted(DOCKERFILES)
    for step in builds:
        assert (ROOT / step["with"]["file"]).is_file()
        assert step["with"]["push"] is True
        variable = DOCKERFILES[step["with"]["file"]]
        assert (
            step["with"]["tags"]
            == f"${{{{ env.{variable} }}}}:${{{{ steps.version.outputs.tag }}}}"
        )
    for overlay in ("staging", "production"):
        kustomization = ROOT / "manifests" / "overlays" / overlay / "kustomization.yaml"
        assert overlay_image_names(kustomization) == set(names.values()), overlay
    # The overlays job hands set-images.sh both names with the digests just pushed.
    overlays_job = workflow["jobs"]["overlays"]
    assert overlays_job["env"]["INFERENCE_DIGEST"] == "${{ needs.images.outputs.inference-digest }}"
    assert workflow["jobs"]["images"]["outputs"]["inference-digest"] == (
        "${{ steps.inference.outputs.digest }}"
    )
    script = "\n".join(s.get("run", "") for s in overlays_job["steps"])
    assert "tools/release/set-images.sh" in script
    for variable in DOCKERFILES.values():
        assert f'"${variable}@${variable.replace("_IMAGE", "_DIGEST")}"' in script


def test_set_images_points_every_pod_of_a_release_overlay_at_the_pushed_digest(
    tmp_path: Path, kubectl: Path
) -> None:
    tree = copy_manifests(tmp_path)
    dev = tree / "manifests" / "overlays" / "dev"
    dev_before = render(kubectl, dev)
    outputs = version_outputs("v2.3.4", tmp_path)
    overlays = outputs["overlays"].split()
    # The first release through the workflow's own step; a later one replaces it.
    for release, tag in (("first", outputs["tag"]), ("second", "2.3.5")):
        digests = fake_digests(release)
        if release == "first":
            diff = run_overlay_step(tree, tag, digests, outputs["overlays"])
            assert all(f"+    digest: {d}" in diff for d in digests.values()), diff
        else:
            result = set_images(tree, tag, digests, *overlays)
            assert result.returncode == 0, result.stderr
        for overlay in overlays:
            objects = render(kubectl, tree / overlay)
            seen: set[str] = set()
            for where, c in pod_containers(objects):
                name = image_name(c["image"])
                if name in digests:
                    assert c["image"] == f"{name}:{tag}@{digests[name]}", (overlay, where)
                    seen.add(name)
                # Training Jobs run the inference image, by the same digest.
                for e in c.get("env", []):
                    if e["name"] == "SIGMAWATCH_OPERATOR_TRAINING_IMAGE":
                        seen.add("training")
                        inference = pushed_images()["INFERENCE_IMAGE"]
                        assert e["value"] == f"{inference}:{tag}@{digests[inference]}", overlay
            assert seen == {*digests, "training"}, overlay
            text = (tree / overlay / "kustomization.yaml").read_text()
            assert text.count("digest: sha256:") == text.count("newTag:"), overlay
    assert render(kubectl, dev) == dev_before  # dev runs locally built images only


def test_set_images_changes_nothing_when_an_overlay_lacks_an_image(tmp_path: Path) -> None:
    tree = copy_manifests(tmp_path)
    overlays = ["manifests/overlays/staging", "manifests/overlays/production"]
    before = {o: (tree / o / "kustomization.yaml").read_bytes() for o in overlays}
    digests = fake_digests("x") | {"ghcr.io/sigmawatch/renamed": "sha256:" + "0" * 64}
    result = set_images(tree, "1.0.0", digests, *overlays)
    assert result.returncode != 0
    assert "no images entry for ghcr.io/sigmawatch/renamed" in result.stderr
    bad_digest = set_images(
        tree, "1.0.0", {"ghcr.io/sigmawatch/sigmawatch-inference": "sha256:1"}, *overlays
    )
    bad_tag = set_images(tree, "1.0.0+build", fake_digests("x"), *overlays)
    assert bad_digest.returncode == 2
    assert bad_tag.returncode == 2
    after = {o: (tree / o / "kustomization.yaml").read_bytes() for o in overlays}
    assert after == before
    assert not list(tree.rglob("*.new"))
