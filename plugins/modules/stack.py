#!/usr/bin/python
# Copyright: orchestrator.k3s maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Like every Ansible module, and as the kubernetes.core module_utils it builds on.

DOCUMENTATION = r"""
module: stack
short_description: Render, validate, apply, wait for and prune a whole application stack in one namespace
version_added: 0.1.0
author:
  - orchestrator.k3s maintainers (@orchestrator-k3s)
description:
  - Renders every component template of a stack folder (C(<component>.yaml.j2), Jinja2 with undefined variables as
    errors) with O(values) and O(secrets), before any API call.
  - Validates every rendered object against the Kubernetes OpenAPI schema of O(kubernetes_version), strictly
    (unknown fields are errors), and against the stack rules; a bad input fails with one message naming the
    template file, the object and the field, and nothing is applied.
  - "The stack rules: no Secret value in a ConfigMap or in a container's env literal, command or args; CPU and
    memory requests and limits on every container; liveness and readiness probes on every container of a
    long-running workload; all objects in O(namespace); no object rendered twice; HPAs scale a workload of the
    stack."
  - Applies the objects in kind order (Namespace, quotas, ServiceAccounts and RBAC, Secrets, ConfigMaps, claims,
    Services, workloads, HPAs, Ingresses, NetworkPolicies, then custom resources) with server-side apply and a
    fixed field manager, in tiers whose objects are sent at once (Namespace; what workloads need; workloads and
    what refers to them).
    C(spec.replicas) is left out of every workload an HPA of the stack scales, so the two never fight.
  - An object whose live state already holds everything the stack sets is not written at all, so a run with
    nothing to do makes one LIST request per kind and reports C(changed=false). Drift made by hand on a field the
    stack sets (C(kubectl edit)) is detected and put back.
  - Keeps membership the ApplySet way (KEP-3659) with a Secret named C(stack-<name>) as parent, so
    C(kubectl get -l applyset.kubernetes.io/part-of=<id>) lists the members, and prunes members the render no
    longer has, after the apply (and the wait) succeeded. Objects the set does not own are never touched;
    PersistentVolumeClaims are kept unless O(prune_pvcs=true).
  - Owns the namespace only as far as creating it and setting its labels (Pod Security C(restricted) by default).
    The namespace is not a member of the set (several stacks share one namespace), so neither pruning nor
    O(state=absent) ever deletes it.
  - Waits for all workloads at once with one timeout (Deployment, StatefulSet including partitioned and OnDelete
    updates, DaemonSet, Job), fails fast when waiting cannot help (ProgressDeadlineExceeded, a failed Job, an
    invalid image name, a missing Secret key) and names each workload that is not ready with the reason from its
    status, its pods and its events.
  - Check mode is a server-side dry run of everything, creations and prunes included. With C(--diff), every object
    that would change is shown before and after, Secret values masked as C(kubectl diff) does.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Server-side dry run of every write (namespace, members, prunes, ApplySet parent).
  diff_mode:
    support: full
    description: Before and after of each changed object, Secret data masked.
  platform:
    platforms: all
    support: full
    description: Runs where the Kubernetes API is reachable, usually the controller (C(delegate_to=localhost)).
options:
  name:
    description:
      - Name of the stack. The ApplySet parent is the Secret C(stack-<name>) in O(namespace).
    type: str
    required: true
  namespace:
    description:
      - The namespace every object of the stack lives in. Templates may leave C(metadata.namespace) out.
    type: str
    required: true
  src:
    description:
      - The stack's template folder. Each C(<component>.yaml.j2) in it is one component; files whose name starts
        with C(_) are helpers for C({% import %}) and render nothing. The folder's parent is also on the template
        search path, so stacks can share helpers (C(stacks/_lib/)).
      - Required with O(state=present).
    type: path
  components:
    description:
      - Render only these components (template names without C(.yaml.j2)). Default is every component.
      - A component left out is pruned like any object the render no longer has.
    type: list
    elements: str
  values:
    description:
      - Variables for the templates. They also see C(stack) (O(name)), C(namespace) and C(component).
    type: dict
    default: {}
  secrets:
    description:
      - Credentials for the templates, seen there as C(secrets). Kept apart from O(values) so that Ansible hides
        them (C(no_log)) without hiding ordinary values.
    type: dict
    default: {}
  state:
    description:
      - V(present) renders and applies the stack; V(absent) deletes every member of the set and its parent.
    type: str
    choices: [present, absent]
    default: present
  prune:
    description:
      - Delete members of the set that the render no longer has, after the apply and the wait succeeded.
    type: bool
    default: true
  prune_pvcs:
    description:
      - Also delete PersistentVolumeClaims when pruning or with O(state=absent), both claims that are members and
        the claims a deleted StatefulSet's C(volumeClaimTemplates) created. Off by default, since claims hold the
        data; a kept member claim leaves the set (its C(part-of) label is removed) and is reported C(retained).
    type: bool
    default: false
  wait:
    description:
      - Wait until every workload of the stack is ready (or, with O(state=absent), until the members are gone).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, for all workloads together.
    type: int
    default: 300
  wait_sleep:
    description:
      - Seconds between two status polls.
    type: float
    default: 1.0
  dest:
    description:
      - Render only, to this folder, and talk to no cluster. The plain manifests are written one
        C(<component>.yaml) per component. Files of components no longer rendered are removed
        (only files this module wrote).
      - The files hold the stack's Secrets; they are written with mode C(0600). Keep the folder out of version
        control.
    type: path
  validate:
    description:
      - Check the rendered objects against the schema and the stack rules before applying.
    type: bool
    default: true
  kubernetes_version:
    description:
      - Kubernetes version whose schema the objects are validated against (the newest schema not newer than this).
    type: str
    default: "1.34"
  field_manager:
    description:
      - The server-side apply field manager of every write.
    type: str
    default: orchestrator.k3s.stack
  force_conflicts:
    description:
      - Take over fields another field manager owns instead of failing with a conflict.
    type: bool
    default: false
  rollback_on_failure:
    description:
      - When the apply or the wait fails, apply the last good render again (kept, compressed, on the ApplySet
        parent) and prune what the failed render added. The module still fails, and says whether the rollback
        worked.
    type: bool
    default: false
  create_namespace:
    description:
      - Create O(namespace) when missing and set O(namespace_labels) on it. When false, the namespace must exist.
    type: bool
    default: true
  namespace_labels:
    description:
      - Labels of the namespace. The default enforces the Pod Security Standard C(restricted).
    type: dict
    default:
      pod-security.kubernetes.io/enforce: restricted
      pod-security.kubernetes.io/enforce-version: latest
      pod-security.kubernetes.io/audit: restricted
      pod-security.kubernetes.io/warn: restricted
  warm_worker:
    description:
      - Run in a background process of the same user that keeps the imports, the Kubernetes client, API
        discovery and open connections between tasks, as kubernetes.core's former turbo mode did. A run with
        nothing to do then costs little more than Ansible's own start of a module.
      - One worker serves one combination of collection code, Python interpreter and environment variables, from a
        private socket in C($ORCHESTRATOR_CACHE/stack-worker) (default C(~/.cache/orchestrator-k3s)). It keeps
        no request data (options, secrets, rendered objects) after answering, only the Kubernetes clients built
        from the kubeconfig, and exits after 60 seconds without a request.
      - When the worker cannot be started the module runs in its own process, as with V(false).
    type: bool
    default: true
requirements:
  - python >= 3.9
  - kubernetes >= 24.2.0
  - kubernetes-validate
  - Jinja2
  - PyYAML
notes:
  - The templates of this collection's own stacks are in C(stacks/vote) and C(stacks/crud), their values per
    environment in C(inventory/group_vars/all/stacks.yml).
  - "C(kubectl apply --prune --applyset=secret/stack-<name>) recognises the set but, as KEP-3659 asks of every
    tool, refuses to change a set whose tooling annotation is not its own."
seealso:
  - module: kubernetes.core.k8s
  - name: "KEP-3659: ApplySet"
    description: The ApplySet specification the module keeps stack membership by.
    link: https://github.com/kubernetes/enhancements/tree/master/keps/sig-cli/3659-kubectl-apply-prune
"""

EXAMPLES = r"""
- name: Deploy the vote stack into dev
  orchestrator.k3s.stack:
    name: vote
    namespace: dev
    src: "{{ playbook_dir }}/../stacks/vote"
    values: "{{ stacks_values.dev }}"
    secrets: "{{ stacks_secrets.dev }}"
    kubeconfig: "{{ playbook_dir }}/../.orchestrator/kubeconfig.yaml"
    wait_timeout: 600

- name: Show what a change would do, Secret values masked
  orchestrator.k3s.stack:
    name: crud
    namespace: prod
    src: stacks/crud
    values: "{{ stacks_values.prod }}"
    secrets: "{{ stacks_secrets.prod }}"
  check_mode: true
  diff: true

- name: Write the plain manifests for review or GitOps, one file per component
  orchestrator.k3s.stack:
    name: vote
    namespace: dev
    src: stacks/vote
    values: "{{ stacks_values.dev }}"
    secrets: "{{ stacks_secrets.dev }}"
    dest: .orchestrator/manifests/dev/vote

- name: Deploy without the worker (its objects are pruned)
  orchestrator.k3s.stack:
    name: vote
    namespace: dev
    src: stacks/vote
    components: [db, redis, result, vote]
    values: "{{ stacks_values.dev }}"
    secrets: "{{ stacks_secrets.dev }}"

- name: Remove the stack, keeping the databases' volumes
  orchestrator.k3s.stack:
    name: crud
    namespace: dev
    state: absent
"""

RETURN = r"""
objects:
  description: One entry per object the run considered, in the order handled.
  returned: always
  type: list
  elements: dict
  contains:
    apiVersion:
      description: API version of the object.
      type: str
      sample: apps/v1
    kind:
      description: Kind of the object.
      type: str
      sample: Deployment
    name:
      description: Name of the object.
      type: str
      sample: vote
    namespace:
      description: Namespace of the object (none for the Namespace itself).
      type: str
      sample: dev
    component:
      description: The template that rendered it.
      type: str
      sample: vote
    action:
      description:
        - C(created), C(configured), C(unchanged), C(pruned), C(deleted), C(retained) (a claim kept out of the
          set) or, with O(dest), C(rendered). In check mode, what would happen.
      type: str
      sample: unchanged
applyset:
  description: The ApplySet of the stack.
  returned: when a cluster was contacted
  type: dict
  sample:
    id: applyset-0zKCc0Tt2Fh9LwQbUXZdLq7jXjfxlyiSbY5S8dz8AKE-v1
    parent: {apiVersion: v1, kind: Secret, name: stack-vote, namespace: dev}
workloads:
  description: Readiness of each workload once the wait succeeded.
  returned: when O(wait=true) and the stack has workloads
  type: list
  elements: str
  sample: ["Deployment dev/vote: 2/2 replicas available"]
files:
  description: Manifest files written or removed.
  returned: with O(dest)
  type: list
  elements: str
  sample: [.orchestrator/manifests/dev/vote/vote.yaml]
errors:
  description: Every validation problem, one line each, naming file, object and field.
  returned: on validation failure
  type: list
  elements: str
  sample: ["stacks/vote/vote.yaml.j2: Deployment dev/vote: spec.replica: unknown field"]
object:
  description: The object the failure is about.
  returned: on an API or wait failure
  type: dict
  sample: {apiVersion: apps/v1, kind: Deployment, name: vote, namespace: dev}
reason:
  description: Why it failed, as the API server or the workload's pods say it.
  returned: on an API or wait failure
  type: str
  sample: "Deployment dev/vote: 0/1 updated replicas available; pod vote-5d9c7-x2x container vote: ErrImagePull"
not_ready:
  description: Each workload that did not become ready, with its reason.
  returned: on a wait failure
  type: list
  elements: dict
rolled_back:
  description: Whether O(rollback_on_failure) restored the last good render.
  returned: on failure with O(rollback_on_failure=true) and an earlier good render
  type: bool
"""

import copy

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.entry import run_module

RESTRICTED_NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        src=dict(type="path"),
        components=dict(type="list", elements="str"),
        values=dict(type="dict", default={}),
        secrets=dict(type="dict", default={}, no_log=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        prune=dict(type="bool", default=True),
        prune_pvcs=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        wait_sleep=dict(type="float", default=1.0),
        dest=dict(type="path"),
        validate=dict(type="bool", default=True),
        kubernetes_version=dict(type="str", default="1.34"),
        field_manager=dict(type="str", default="orchestrator.k3s.stack"),
        force_conflicts=dict(type="bool", default=False),
        rollback_on_failure=dict(type="bool", default=False),
        create_namespace=dict(type="bool", default=True),
        namespace_labels=dict(type="dict", default=RESTRICTED_NAMESPACE_LABELS),
        warm_worker=dict(type="bool", default=True),
    )
    return spec


def main():
    module = AnsibleK8SModule(
        argument_spec=argument_spec(),
        required_if=[("state", "present", ("src",))],
        supports_check_mode=True,
        # The kubernetes package is checked where the run happens (the warm worker or this
        # process): importing it here would cost every run the time the worker saves.
        check_k8s=False,
        check_pyyaml=False,
    )
    run_module(module)


if __name__ == "__main__":
    main()
