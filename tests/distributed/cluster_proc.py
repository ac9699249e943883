"""A local Ray cluster of simulated nodes (`ray.cluster_utils.Cluster`), run in a process of its own so that the
tests can put a hard time-out on every step and kill it whole: a hung Ray start must never hang the suite.

Started by `LocalCluster` (tests/distributed/conftest.py) in a new session; talks JSON lines: commands on
stdin, one reply each on the file descriptor given as argv[1] (Ray's own processes inherit stdout and stderr,
which go to a log file). Everything binds to 127.0.0.1 (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, set by the
caller: on a host with several addresses Ray would otherwise dial another one and hang).

    {"op": "add", "resources": {...}, "env": {...}}  -> {"node_id": ...}
    {"op": "remove", "node_id": ..., "graceful": false}
    {"op": "pools", "namespace": ...}                -> {"pools": {name: info}}  (the pool actors' own info)
    {"op": "kill_pools", "namespace": ...}
    {"op": "shutdown"}
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def main() -> None:
    reply_fd = int(sys.argv[1])
    out = os.fdopen(reply_fd, "w", buffering=1)

    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    nodes = {}
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", logging_level="warning", log_to_driver=False)
    out.write(json.dumps({"address": cluster.address}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            op = cmd["op"]
            if op == "add":
                node = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1", resources=cmd.get("resources"),
                                        env_vars=cmd.get("env") or None)
                cluster.wait_for_nodes()
                nodes[node.node_id] = node
                reply = {"node_id": node.node_id}
            elif op == "remove":
                cluster.remove_node(nodes.pop(cmd["node_id"]), allow_graceful=cmd.get("graceful", False))
                reply = {}
            elif op in ("pools", "kill_pools"):
                reply = {"pools": {}}
                for actor in ray.util.list_named_actors(all_namespaces=True):
                    if actor["namespace"] != cmd["namespace"] or not actor["name"].startswith("pool-"):
                        continue
                    try:
                        handle = ray.get_actor(actor["name"], namespace=actor["namespace"])
                        if op == "kill_pools":
                            ray.kill(handle)
                        else:
                            reply["pools"][actor["name"]] = ray.get(handle.info.remote(), timeout=30)
                    except Exception:  # noqa: BLE001 - a dead one
                        pass
            elif op == "shutdown":
                out.write("{}\n")
                break
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception:  # noqa: BLE001 - reported to the test
            reply = {"error": traceback.format_exc()}
        out.write(json.dumps(reply) + "\n")
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main()
