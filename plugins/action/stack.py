# Copyright: orchestrator.k3s maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of orchestrator.k3s.stack: local paths found as Ansible finds a module's files.

When the module runs on the controller (a local connection, as with
delegate_to: localhost), a relative ``src``, ``kubeconfig``, ``ca_cert``,
``client_cert`` or ``client_key`` is searched like kubernetes.core.k8s's
``src`` and ``kubeconfig`` (the role's or playbook's ``files/``, then the
role's or playbook's folder); a path found nowhere is passed on unchanged,
so the module resolves it against its working directory. The module also
learns the collection's version for the ApplySet tooling annotation here,
from the collection's own metadata, instead of a copy in the code.
"""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

LOCAL_PATH_OPTIONS = ("kubeconfig", "ca_cert", "client_cert", "client_key")
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_version(root: str = COLLECTION_ROOT) -> str | None:
    """version from MANIFEST.json (an installed collection) or galaxy.yml (a source checkout)."""
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
            for line in handle:
                key, _colon, value = line.partition(":")
                if key.strip() == "version":
                    return value.strip().strip("'\"") or None
    except OSError:
        pass
    return None


class ActionModule(ActionBase):
    def find_local(self, path):
        """The path as Ansible finds a local file, or unchanged when it is absolute or found nowhere."""
        if not isinstance(path, str) or not path or os.path.isabs(os.path.expanduser(path)):
            return path
        try:
            return self._find_needle("files", path)
        except AnsibleError:
            return path

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if self._connection.transport == "local":
            for option in LOCAL_PATH_OPTIONS:
                if isinstance(args.get(option), str):
                    args[option] = ":".join(self.find_local(p) for p in args[option].split(":"))
            if args.get("src"):
                args["src"] = self.find_local(args["src"])
            if isinstance(args.get("stacks"), list):
                args["stacks"] = [
                    {**item, "src": self.find_local(item.get("src"))} if isinstance(item, dict) else item
                    for item in args["stacks"]
                ]
        if not args.get("tooling_version"):
            version = collection_version()
            if version:
                args["tooling_version"] = version
        result.update(self._execute_module(module_args=args, task_vars=task_vars))
        return result
