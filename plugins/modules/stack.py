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
    C(spec.replicas) is left out of every workload an HPA of the stack scales, so the two never fight; when an HPA
    is added for a workload whose replicas the module set, the field is handed over at its live value (Kubernetes
    documentation, server-side apply, "transferring ownership"), so the workload is not scaled down.
  - An object whose live state already holds everything the stack sets is not written at all. When the ApplySet
    parent records this very render as applied and every member is unchanged, a run sends no write and skips the
    schema validation; it makes one round of reads (the namespace, the parent, one label-selected LIST per kind) and
    C(changed=false). Drift made by hand on a field the stack sets (C(kubectl edit)) is detected and put back.
  - One task may deploy several stacks (O(stacks)), with one process, one client and one API discovery for all;
    every stack is rendered and checked before the first is applied.
  - Keeps membership the ApplySet way (KEP-3659) with a Secret named C(stack-<name>) as parent, so
    C(kubectl get -l applyset.kubernetes.io/part-of=<id>) lists the members, and prunes members the render no
    longer has, after the apply (and the wait) succeeded. Members are found by their label only. Objects the set
    does not own are never touched, and every delete carries the UID of the object it means; PersistentVolumeClaims
    are kept unless O(prune_pvcs=true).
  - An existing object the render names that is not a member is not taken silently; the run fails naming it
    before any write, unless O(adopt=true). Members of another ApplySet and objects a controller owns
    (C(ownerReferences)) are never taken.
  - Owns the namespace only as far as creating it with its labels (Pod Security C(restricted) by default). The
    labels of an existing namespace are changed only when O(namespace_labels) is given, and only after the
    ownership checks. The namespace is not a member of the set (several stacks share one namespace), so neither
    pruning nor
    O(state=absent) ever deletes it.
  - Waits for all workloads at once with one timeout (Deployment, StatefulSet including partitioned and OnDelete
    updates, DaemonSet, Job), fails fast when waiting cannot help (ProgressDeadlineExceeded, a failed Job, an
    invalid image name, a missing Secret key) and names each workload that is not ready with the reason from its
    status, its pods and its events.
  - Check mode is a server-side dry run of everything, creations and prunes included. With C(--diff), every object
    that would change is shown before and after, Secret values masked as C(kubectl diff) does. Nothing derived
    from Secret values appears in the diff or the results (a Secret's own hash annotation covers its keys only).
  - Every API request has a timeout (O(wait_timeout), at most 30 seconds). No process outlives the task, and
    nothing of one task (credentials, clients, caches) is kept for another.
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
      - Required unless O(stacks) is given; mutually exclusive with it.
    type: str
  namespace:
    description:
      - The namespace every object of the stack lives in. Templates may leave C(metadata.namespace) out.
      - Required with O(name).
    type: str
  src:
    description:
      - The stack's template folder. Each C(<component>.yaml.j2) in it is one component; files whose name starts
        with C(_) are helpers for C({% import %}) and render nothing. The folder's parent is also on the template
        search path, so stacks can share helpers (C(stacks/_lib/)).
      - A relative path is searched the way Ansible searches a module's local files (the role's or playbook's
        C(files/) folder, then the role's or playbook's own folder), and else taken from the working directory.
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
      - Default is no variables.
    type: dict
  secrets:
    description:
      - Credentials for the templates, seen there as C(secrets). Kept apart from O(values) so that Ansible hides
        them (C(no_log)) without hiding ordinary values.
      - Default is no secrets.
    type: dict
  state:
    description:
      - V(present) renders and applies the stack; V(absent) deletes every member of the set and its parent.
    type: str
    choices: [present, absent]
    default: present
  stacks:
    description:
      - Several stacks for one task, deployed one after the other in this order with one client and one API
        discovery; each item takes the options above (O(name) to O(state)), every other option applies to all.
      - All stacks are rendered and checked before the first is applied; a failure stops at the failing stack,
        which the message names.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the stack, as O(name).
        type: str
        required: true
      namespace:
        description: Namespace of the stack, as O(namespace).
        type: str
        required: true
      src:
        description: Template folder of the stack, as O(src). Required with O(stacks[].state=present).
        type: path
      components:
        description: Components to render, as O(components).
        type: list
        elements: str
      values:
        description: Variables for the templates, as O(values).
        type: dict
        default: {}
      secrets:
        description: Credentials for the templates, as O(secrets).
        type: dict
        default: {}
      state:
        description: As O(state).
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
  adopt:
    description:
      - Take over existing objects the render names that are not members of the set yet (made by hand or by
        another tool). Without it, the run fails naming them before any write. Members of another ApplySet and
        objects a controller owns are refused either way.
      - A taken object joins the set, and the fields the stack sets become the module's field manager's, also
        those another field manager held, such as its maker's (server-side apply with conflicts forced, for these
        objects only).
    type: bool
    default: false
  wait:
    description:
      - Wait until every workload of the stack is ready (or, with O(state=absent), until the members are gone).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, for all workloads of a stack together.
      - Also bounds every single API request (at most 30 seconds each).
    type: int
    default: 300
  wait_sleep:
    description:
      - Seconds between two status polls, at most. The first poll after the apply comes after 0.25 seconds,
        each next one twice as late, up to this.
    type: float
    default: 1.0
  dest:
    description:
      - Render only, to this folder, and talk to no cluster. The plain manifests are written one
        C(<component>.yaml) per component. With O(stacks), one sub-folder per stack (C(<dest>/<namespace>/<name>)).
      - A relative path is relative to the working directory of the module, as for every module (with a local
        connection, the playbook's folder).
      - Files of components no longer rendered are removed
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
        worked. A failure after a successful apply and wait (a prune) never rolls back.
      - A render whose compressed copy exceeds 512 KiB is not kept (a warning says so), so the parent stays well
        below the 1 MiB object limit.
    type: bool
    default: false
  create_namespace:
    description:
      - Create O(namespace) when missing and set O(namespace_labels) on it. When false, the namespace must exist.
    type: bool
    default: true
  namespace_labels:
    description:
      - Labels of the namespace. Set on an existing namespace too, after the ownership checks.
      - When not given, a namespace the module creates gets the Pod Security Standard C(restricted)
        (C(pod-security.kubernetes.io/enforce=restricted), C(enforce-version=latest), C(audit=restricted),
        C(warn=restricted)), and the labels of an existing namespace are left alone.
    type: dict
  tooling_version:
    description:
      - The version in the ApplySet parent's C(applyset.kubernetes.io/tooling) annotation. The collection's action
        plugin sets it from the installed collection's metadata; leave it unset.
    type: str
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

- name: Deploy several stacks in one task (one process, one client)
  orchestrator.k3s.stack:
    stacks:
      - name: vote
        namespace: dev
        src: stacks/vote
        values: "{{ stacks_values.dev }}"
        secrets: "{{ stacks_secrets.dev.vote }}"
      - name: crud
        namespace: prod
        src: stacks/crud
        values: "{{ stacks_values.prod }}"
        secrets: "{{ stacks_secrets.prod.crud }}"
    wait_timeout: 600

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
  returned: without O(stacks) (with it, per stack in RV(stacks))
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
stacks:
  description: With O(stacks), one entry per stack run (up to the failing one), each with the keys of a one-stack
    result (RV(objects), RV(applyset), RV(workloads)...) and its C(name), C(namespace) and C(changed).
  returned: with O(stacks)
  type: list
  elements: dict
  sample: [{name: vote, namespace: dev, changed: false, objects: [], applyset: {id: applyset-0zKC-v1}}]
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.runner import run_module

STACK_OPTIONS = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    src=dict(type="path"),
    components=dict(type="list", elements="str"),
    values=dict(type="dict", default={}),
    secrets=dict(type="dict", default={}, no_log=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        name=dict(type="str"),
        namespace=dict(type="str"),
        src=dict(type="path"),
        components=dict(type="list", elements="str"),
        values=dict(type="dict"),
        secrets=dict(type="dict", no_log=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        stacks=dict(
            type="list",
            elements="dict",
            options=STACK_OPTIONS,
            required_if=[("state", "present", ("src",))],
        ),
        prune=dict(type="bool", default=True),
        prune_pvcs=dict(type="bool", default=False),
        adopt=dict(type="bool", default=False),
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
        namespace_labels=dict(type="dict"),
        tooling_version=dict(type="str"),
    )
    return spec


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[(key, "stacks") for key in ("name", "namespace", "src", "components", "values", "secrets")],
        required_one_of=[("name", "stacks")],
        required_together=[("name", "namespace")],
        required_if=[("state", "present", ("src", "stacks"), True)],
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
