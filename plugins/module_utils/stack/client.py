"""A Kubernetes client of one task's own, from the module's auth options.

kubernetes.core's get_api_client loads the kubeconfig into the kubernetes
package's process-wide default Configuration and keeps clients in a pool
keyed by a digest of the options: what one caller loaded (a token, a
client certificate, a CA) is the default of the next. Here every task gets a
fresh Configuration that nothing else reads or writes; the auth options and
their K8S_AUTH_* environment fallbacks are still kubernetes.core's
(args_common, _create_auth_spec), and so is the dynamic client with its lazy
discovery.

Every request carries a timeout bounded by wait_timeout, discovery included,
so a stalled API server fails the task instead of hanging it.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cluster import Cluster
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import StackError

# A request gets at most this long, or wait_timeout when that is shorter.
MAX_REQUEST_SECONDS = 30.0
# kubernetes.core's name for a Configuration attribute -> what its auth spec calls it.
_CONFIGURATION_ATTRIBUTES = (
    "host",
    "username",
    "password",
    "verify_ssl",
    "ssl_ca_cert",
    "cert_file",
    "key_file",
    "proxy",
    "no_proxy",
)


def request_timeout(wait_timeout: float) -> float:
    return max(1.0, min(float(wait_timeout), MAX_REQUEST_SECONDS))


def configuration_for(auth: dict[str, Any]) -> Any:
    """A Configuration built from these options only (never the process-wide default)."""
    import kubernetes

    configuration = kubernetes.client.Configuration()
    complete = auth.get("host") and (
        (auth.get("username") and auth.get("password"))
        or auth.get("api_key")
        or (auth.get("cert_file") and auth.get("key_file"))
    )
    if not complete:
        options = {"context": auth.get("context"), "client_configuration": configuration, "persist_config": False}
        kubeconfig = auth.get("kubeconfig")
        if isinstance(kubeconfig, dict):
            kubernetes.config.load_kube_config_from_dict(config_dict=kubeconfig, **options)
        elif kubeconfig or auth.get("context"):
            kubernetes.config.load_kube_config(config_file=kubeconfig, **options)
        else:
            try:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            except kubernetes.config.ConfigException:
                kubernetes.config.load_kube_config(config_file=None, **options)
    if auth.get("host"):
        auth = {**auth, "host": auth["host"].rstrip("/")}
    for name in _CONFIGURATION_ATTRIBUTES:
        if auth.get(name) is not None:
            setattr(configuration, name, auth[name])
    if auth.get("api_key") is not None:
        configuration.api_key = {"authorization": f"Bearer {auth['api_key']}"}
    if auth.get("proxy_headers"):
        import urllib3

        configuration.proxy_headers = urllib3.util.make_headers(**auth["proxy_headers"])
    return configuration


def _with_default_timeout(api_client: Any, seconds: float) -> None:
    """Every request of this client (discovery too) gets `seconds` unless it asks for its own."""
    rest = api_client.rest_client
    send = rest.request

    def request(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("_request_timeout"):
            kwargs["_request_timeout"] = seconds
        return send(*args, **kwargs)

    rest.request = request


def connect(module: Any, wait_timeout: float, dry_run: bool) -> Cluster:
    """The task's Cluster: its own configuration, API client, discovery and request timeout."""
    import kubernetes
    from ansible_collections.kubernetes.core.plugins.module_utils.client.discovery import LazyDiscoverer
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        K8SClient,
        _create_auth_spec,
        _create_headers,
        _set_header,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8sdynamicclient import K8SDynamicClient

    try:
        configuration = configuration_for(_create_auth_spec(module))
        api_client = kubernetes.client.ApiClient(configuration)
        for header, value in _create_headers(module).items():
            _set_header(api_client, header, value)
        _with_default_timeout(api_client, request_timeout(wait_timeout))
        dynamic = K8SDynamicClient(api_client, discoverer=LazyDiscoverer)
    except Exception as error:  # kubeconfig/auth problems of every shape: the user's input
        raise StackError(f"cannot build a Kubernetes client: {error}") from None
    params = module.params
    return Cluster(
        K8SClient(configuration=configuration, client=dynamic),
        params["field_manager"],
        params["force_conflicts"],
        dry_run=dry_run,
    )
