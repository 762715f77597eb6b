# Copyright: orchestrator.k3s maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which image tarballs of an air-gap folder a node of one architecture gets."""

from __future__ import annotations

import re
from posixpath import basename
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: k3s_airgap_image_tarballs
short_description: The image tarballs of a k3s air-gap folder that a node of one architecture gets
version_added: 0.1.0
description:
  - k3s publishes its image bundle per architecture in several formats
    (C(k3s-airgap-images-amd64.tar), C(.tar.gz), C(.tar.zst)...); k3s imports every
    tarball in its images directory at each start, so a folder holding several formats
    would import the same images several times.
  - From the paths of a folder's image tarballs, keeps one release bundle for O(arch),
    the first found in the order C(.tar.zst), C(.tar.lz4), C(.tar.gz), C(.tar.bz2), C(.tar)
    (the smallest and fastest to import first), drops the bundles of other architectures,
    and keeps every other tarball (images built locally) as it is.
  - The result is sorted by file name.
positional: arch
options:
  _input:
    description: Paths (or file names) of the tarballs in the air-gap folder.
    type: list
    elements: str
    required: true
  arch:
    description: The node's architecture as k3s names it (C(amd64), C(arm64), C(arm)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Pick what to copy to an amd64 node.
  ansible.builtin.debug:
    msg: >-
      {{ ['/b/k3s-airgap-images-amd64.tar', '/b/k3s-airgap-images-amd64.tar.zst',
          '/b/k3s-airgap-images-arm64.tar.zst', '/b/my-app.tar']
         | orchestrator.k3s.k3s_airgap_image_tarballs('amd64') }}
  # ['/b/k3s-airgap-images-amd64.tar.zst', '/b/my-app.tar']
"""

RETURN = r"""
_value:
  description: The paths to stage on the node, sorted by file name.
  type: list
  elements: str
"""

# Smallest and fastest to import first.
FORMATS = (".tar.zst", ".tar.lz4", ".tar.gz", ".tar.bz2", ".tar")
RELEASE_BUNDLE = re.compile(r"^k3s-airgap-images-(?P<arch>[a-z0-9]+)(?P<format>\.tar(\.(zst|lz4|gz|bz2))?)$")


def k3s_airgap_image_tarballs(paths: list[str], arch: str) -> list[str]:
    """The tarballs among `paths` that a node of `arch` gets (one release bundle at most)."""
    if isinstance(paths, (str, bytes)) or not all(isinstance(p, str) for p in paths or []):
        raise AnsibleFilterError("k3s_airgap_image_tarballs expects a list of paths")
    own, bundles = [], {}
    for path in paths:
        match = RELEASE_BUNDLE.match(basename(path))
        if match is None:
            own.append(path)
        elif match["arch"] == arch:
            bundles[match["format"]] = path
    chosen = [bundles[fmt] for fmt in FORMATS if fmt in bundles][:1]
    return sorted(own + chosen, key=basename)


class FilterModule:
    """k3s_airgap_image_tarballs."""

    def filters(self) -> dict[str, Any]:
        return {"k3s_airgap_image_tarballs": k3s_airgap_image_tarballs}
