"""Ask an OCI registry which digest each image reference's tag points at.

    python3 scripts/registry_tags.py REF...     REF: host[:port]/repository:tag

Prints "REF DIGEST" per line, or "REF missing" when the registry does not
have that tag; exits 1 when any REF is missing, 2 when the registry cannot be
asked (unreachable, refused credentials). Registries on a loopback or private
address are spoken to over plain HTTP (the local registry), others over
HTTPS. Credentials, if the registry needs any, come from the environment
(REGISTRY_USERNAME, REGISTRY_PASSWORD), never from the command line. The
pipeline uses it to refuse a tag before anything is deployed; the images phase
to tell a push that changed a tag from one that did not.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
TIMEOUT = 15


class RegistryError(Exception):
    """The registry could not be asked (as opposed to: it has no such tag)."""


def split_reference(ref: str) -> tuple[str, str, str]:
    """(registry host[:port], repository, tag) of host[:port]/repository:tag."""
    match = re.fullmatch(r"([^/]+)/([a-z0-9._/-]+):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", ref)
    if not match or ("." not in match[1] and ":" not in match[1] and match[1] != "localhost"):
        raise ValueError(f"'{ref}' is not a registry/repository:tag reference")
    host, repository, tag = match.groups()
    if host == "docker.io":
        host = "registry-1.docker.io"
    return host, repository, tag


def plain_http(host: str) -> bool:
    """The local registry speaks HTTP on loopback and private addresses; anything else HTTPS."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _token(challenge: str, username: str, password: str) -> str:
    """A bearer token for the scope a 401's WWW-Authenticate header asks for."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", "")
    if not realm:
        raise RegistryError(f"the registry asks for authentication without a realm: {challenge}")
    request = urllib.request.Request(f"{realm}?{urllib.parse.urlencode(params)}")
    if username:
        request.add_header("Authorization", _basic(username, password))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 (realm from the registry)
            body = json.load(answer)
    except (urllib.error.URLError, ValueError) as error:
        raise RegistryError(f"no token from {realm}: {error}") from error
    return "Bearer " + (body.get("token") or body.get("access_token") or "")


def digest_of(ref: str, username: str = "", password: str = "") -> str | None:
    """The digest REF's tag points at, or None when the registry has no such tag."""
    host, repository, tag = split_reference(ref)
    scheme = "http" if plain_http(host) else "https"
    url = f"{scheme}://{host}/v2/{repository}/manifests/{tag}"
    authorization = ""
    for _attempt in range(2):
        request = urllib.request.Request(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})
        if authorization:
            request.add_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 (http(s) only)
                return answer.headers.get("Docker-Content-Digest") or "present"
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            challenge = error.headers.get("WWW-Authenticate", "")
            if error.code != 401 or authorization or not challenge:
                raise RegistryError(f"{url}: HTTP {error.code}") from error
            if challenge.lower().startswith("bearer"):
                authorization = _token(challenge, username, password)
            elif username:
                authorization = _basic(username, password)
            else:
                raise RegistryError(f"{url} needs credentials (REGISTRY_USERNAME, REGISTRY_PASSWORD)") from error
        except urllib.error.URLError as error:
            raise RegistryError(f"{url}: {error.reason}") from error
    raise RegistryError(f"{url}: credentials refused")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    username = os.environ.get("REGISTRY_USERNAME", "")
    password = os.environ.get("REGISTRY_PASSWORD", "")
    missing = 0
    for ref in argv:
        try:
            digest = digest_of(ref, username, password)
        except (ValueError, RegistryError) as error:
            print(f"registry_tags: {error}", file=sys.stderr)
            return 2
        print(f"{ref} {digest or 'missing'}")
        missing += digest is None
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
