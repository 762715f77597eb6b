"""k3s_airgap_image_tarballs: one release image bundle per architecture, own tarballs kept."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.orchestrator.k3s.plugins.filter.k3s_airgap_image_tarballs import (
    FilterModule,
    k3s_airgap_image_tarballs,
)

EVERY_FORMAT = [f"/b/k3s-airgap-images-amd64{ext}" for ext in (".tar", ".tar.gz", ".tar.zst", ".tar.lz4", ".tar.bz2")]


@pytest.mark.parametrize(
    ("paths", "arch", "expected"),
    [
        # A folder with every format of the release bundle: zst only.
        (EVERY_FORMAT, "amd64", ["/b/k3s-airgap-images-amd64.tar.zst"]),
        # Without zst, the next in line.
        (EVERY_FORMAT[:2] + EVERY_FORMAT[4:], "amd64", ["/b/k3s-airgap-images-amd64.tar.gz"]),
        (EVERY_FORMAT[:1], "amd64", ["/b/k3s-airgap-images-amd64.tar"]),
        # Another architecture's bundle stays on the controller; own tarballs go, sorted by name.
        (
            [
                "/b/zz-app.tar",
                "/b/k3s-airgap-images-arm64.tar.zst",
                "/b/k3s-airgap-images-amd64.tar.gz",
                "/b/app.tar.zst",
            ],
            "amd64",
            ["/b/app.tar.zst", "/b/k3s-airgap-images-amd64.tar.gz", "/b/zz-app.tar"],
        ),
        (
            ["/b/k3s-airgap-images-amd64.tar.zst", "/b/k3s-airgap-images-arm64.tar"],
            "arm64",
            ["/b/k3s-airgap-images-arm64.tar"],
        ),
        (["/b/k3s-airgap-images-amd64.tar.zst"], "arm", []),
        ([], "amd64", []),
        # A name that only looks like the bundle is the user's own.
        (["/b/k3s-airgap-images-amd64-extra.tar"], "amd64", ["/b/k3s-airgap-images-amd64-extra.tar"]),
    ],
)
def test_one_bundle_per_architecture(paths: list[str], arch: str, expected: list[str]) -> None:
    assert k3s_airgap_image_tarballs(paths, arch) == expected


@pytest.mark.parametrize("paths", ["/b/k3s-airgap-images-amd64.tar", [1, 2]])
def test_rejects_what_is_not_a_list_of_paths(paths: object) -> None:
    with pytest.raises(AnsibleFilterError, match="list of paths"):
        k3s_airgap_image_tarballs(paths, "amd64")  # type: ignore[arg-type]


def test_registered_under_its_name() -> None:
    assert FilterModule().filters() == {"k3s_airgap_image_tarballs": k3s_airgap_image_tarballs}
