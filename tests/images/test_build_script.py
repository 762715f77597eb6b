"""scripts/build-images.sh: one line per image, nothing rebuilt when nothing
changed, app tags with APP_VERSION, and --save tarballs written once."""

from __future__ import annotations

import json
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from tests.images.containers import REPO, docker, image

BUILD = str(REPO / "scripts" / "build-images.sh")
INPUTS_LABEL = "org.orchestrator-k3s.inputs"
BUILT_AS_LABEL = "org.orchestrator-k3s.built-as"
ALL_IMAGES = 14  # the Debian base, 7 images of images/, 6 apps


def build(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run the script; its result and {image: status} from its report."""
    result = subprocess.run([BUILD, *args], capture_output=True, text=True, timeout=1800, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    return result, {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}


def test_second_run_rebuilds_nothing_in_seconds(built_images: str) -> None:
    started = time.monotonic()
    _result, statuses = build()
    elapsed = time.monotonic() - started
    assert len(statuses) == ALL_IMAGES
    assert set(statuses.values()) <= {"cached", "present"}, statuses
    assert elapsed < 30


def test_images_carry_the_hash_of_their_inputs(built_images: str) -> None:
    for line in built_images.splitlines():
        ref = line.split()[0]
        if ref.startswith("local/"):
            continue
        labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", ref).stdout)
        assert len(labels[INPUTS_LABEL]) == 64 and int(labels[INPUTS_LABEL], 16), ref
        # Labels are inherited: this one tells an app's own hash from its base's.
        assert labels[BUILT_AS_LABEL] == ref


def test_tag_builds_the_app_with_that_app_version(built_images: str) -> None:
    tag = f"okimg-test-{uuid.uuid4().hex[:8]}"
    ref = image(f"vote:{tag}")
    try:
        _result, statuses = build("vote", "--tag", tag)
        assert statuses[ref] == "built"
        assert statuses[image("python-base:bookworm")] == "cached"
        env = docker("image", "inspect", "-f", "{{json .Config.Env}}", ref).stdout
        assert f"APP_VERSION={tag}" in json.loads(env)
    finally:
        docker("image", "rm", ref, check=False)


def test_save_writes_each_tarball_once(built_images: str, tmp_path: Path) -> None:
    first, _first_statuses = build("redis", "--save", str(tmp_path))
    tarball = tmp_path / "orchestrator-k3s_redis_7.tar"
    assert tarball.is_file() and (tmp_path / "local_debian_bookworm.tar").is_file()
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == [image("redis:7")]
    written_at = tarball.stat().st_mtime_ns

    second, _second_statuses = build("redis", "--save", str(tmp_path))
    assert second.stdout.count("save: unchanged") == 2
    assert tarball.stat().st_mtime_ns == written_at


@pytest.mark.parametrize("args", [["no-such-image"], ["--no-such-option"]])
def test_bad_arguments_are_refused(args: list[str]) -> None:
    result = subprocess.run([BUILD, *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
