//! Named cases: real kubectl patch bodies against stored objects, then each directive, then
//! the element-order rules and the errors.

use serde_json::{Value, json};

use super::strategic_merge_patch;
use crate::error::PatchError;

struct Case {
    name: &'static str,
    kind: &'static str,
    original: Value,
    patch: Value,
    want: Value,
}

fn case(
    name: &'static str,
    kind: &'static str,
    original: Value,
    patch: Value,
    want: Value,
) -> Case {
    Case {
        name,
        kind,
        original,
        patch,
        want,
    }
}

fn run(cases: Vec<Case>) {
    for Case {
        name,
        kind,
        original,
        patch,
        want,
    } in cases
    {
        let got = strategic_merge_patch(kind, &original, &patch)
            .unwrap_or_else(|err| panic!("{name}: unexpected error: {err}"));
        assert_eq!(got, want, "{name}");
        assert_no_directives(name, &got);
    }
}

/// Directive keys must never reach a stored object.
fn assert_no_directives(name: &str, value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                assert!(
                    !key.starts_with('$'),
                    "{name}: directive {key} in the result"
                );
                assert_no_directives(name, value);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| assert_no_directives(name, item)),
        _ => {}
    }
}

fn nginx_container(image: &str) -> Value {
    json!({
        "name": "my-nginx",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    })
}

/// A Deployment as the server stores it (defaults filled in) with the given containers.
fn deployment(replicas: u32, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "my-nginx",
            "namespace": "default",
            "labels": {"run": "my-nginx"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"run": "my-nginx"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"run": "my-nginx"}},
                "spec": {
                    "containers": containers,
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                },
            },
        },
    })
}

fn service(ports: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "frontend"}},
        "spec": {
            "selector": {"app": "web"},
            "ports": ports,
            "type": "ClusterIP",
            "clusterIP": "10.96.0.20",
        },
    })
}

/// A pod with containers `app` and `sidecar`, `app` having env A and B.
fn pod_with_env(env: Value) -> Value {
    json!({
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {"name": "app", "image": "app:1", "env": env},
                {"name": "sidecar", "image": "proxy:1"},
            ],
        },
    })
}

#[test]
fn kubectl_apply_bodies() {
    let ab = json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    run(vec![
        case(
            "deployment image change keeps other container fields",
            "Deployment",
            deployment(2, json!([nginx_container("nginx:1.26")])),
            json!({"spec":{"replicas":3,"template":{"spec":{"$setElementOrder/containers":[{"name":"my-nginx"}],"containers":[{"image":"nginx:1.27","name":"my-nginx"}]}}}}),
            deployment(3, json!([nginx_container("nginx:1.27")])),
        ),
        case(
            "label removal",
            "Service",
            service(json!([{"port": 80, "protocol": "TCP", "targetPort": 80}])),
            json!({"metadata":{"labels":{"tier":null}}}),
            {
                let mut svc = service(json!([{"port": 80, "protocol": "TCP", "targetPort": 80}]));
                svc["metadata"]["labels"] = json!({"app": "web"});
                svc
            },
        ),
        case(
            "service port change is matched by port",
            "Service",
            service(json!([
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
            ])),
            json!({"spec":{"$setElementOrder/ports":[{"port":80},{"port":443}],"ports":[{"port":80,"targetPort":9090}]}}),
            service(json!([
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
            ])),
        ),
        case(
            "service port replaced by another port",
            "Service",
            service(json!([
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
            ])),
            json!({"spec":{"$setElementOrder/ports":[{"port":80},{"port":8443}],"ports":[{"name":"alt","port":8443,"targetPort":8443},{"$patch":"delete","port":443}]}}),
            service(json!([
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
                {"name": "alt", "port": 8443, "targetPort": 8443},
            ])),
        ),
        case(
            "adding an env var",
            "Pod",
            pod_with_env(json!([{"name": "A", "value": "1"}])),
            json!({"spec":{"$setElementOrder/containers":[{"name":"app"},{"name":"sidecar"}],"containers":[{"$setElementOrder/env":[{"name":"A"},{"name":"B"}],"env":[{"name":"B","value":"2"}],"name":"app"}]}}),
            pod_with_env(ab.clone()),
        ),
        case(
            "removing an env var",
            "Pod",
            pod_with_env(ab.clone()),
            json!({"spec":{"$setElementOrder/containers":[{"name":"app"},{"name":"sidecar"}],"containers":[{"$setElementOrder/env":[{"name":"B"}],"env":[{"$patch":"delete","name":"A"}],"name":"app"}]}}),
            pod_with_env(json!([{"name": "B", "value": "2"}])),
        ),
        case(
            "container deleted with $patch: delete",
            "Deployment",
            deployment(
                1,
                json!([nginx_container("nginx"), {"name": "sidecar", "image": "envoy"}]),
            ),
            json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"my-nginx"}],"containers":[{"$patch":"delete","name":"sidecar"}]}}}}),
            deployment(1, json!([nginx_container("nginx")])),
        ),
        case(
            "container added at the position $setElementOrder gives",
            "Deployment",
            deployment(1, json!([nginx_container("nginx")])),
            json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"init-like"},{"name":"my-nginx"}],"containers":[{"image":"busybox","name":"init-like"}]}}}}),
            deployment(
                1,
                json!([{"name": "init-like", "image": "busybox"}, nginx_container("nginx")]),
            ),
        ),
        case(
            "new list of volumes and mounts",
            "Deployment",
            deployment(1, json!([nginx_container("nginx")])),
            json!({"spec":{"template":{"spec":{
                "$setElementOrder/containers":[{"name":"my-nginx"}],
                "containers":[{"$setElementOrder/volumeMounts":[{"mountPath":"/data"}],"name":"my-nginx","volumeMounts":[{"mountPath":"/data","name":"data"}]}],
                "volumes":[{"emptyDir":{},"name":"data"}]}}}}),
            {
                let mut container = nginx_container("nginx");
                container["volumeMounts"] = json!([{"mountPath": "/data", "name": "data"}]);
                let mut d = deployment(1, json!([container]));
                d["spec"]["template"]["spec"]["volumes"] =
                    json!([{"emptyDir": {}, "name": "data"}]);
                d
            },
        ),
        case(
            "strategy switched with $retainKeys",
            "Deployment",
            deployment(1, json!([nginx_container("nginx")])),
            json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}),
            {
                let mut d = deployment(1, json!([nginx_container("nginx")]));
                d["spec"]["strategy"] = json!({"type": "Recreate"});
                d
            },
        ),
        case(
            "volume source switched with $retainKeys inside a merged list",
            "Pod",
            json!({"kind": "Pod", "spec": {"volumes": [
                {"name": "a", "emptyDir": {}},
                {"name": "b", "configMap": {"name": "cm"}},
            ]}}),
            json!({"spec":{"$setElementOrder/volumes":[{"name":"a"},{"name":"b"}],"volumes":[{"$retainKeys":["name","secret"],"name":"b","secret":{"secretName":"s"}}]}}),
            json!({"kind": "Pod", "spec": {"volumes": [
                {"name": "a", "emptyDir": {}},
                {"name": "b", "secret": {"secretName": "s"}},
            ]}}),
        ),
    ]);
}

#[test]
fn kubectl_patch_and_controller_bodies() {
    run(vec![
        case(
            "status condition updated by type",
            "Deployment",
            json!({"status": {"conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
            ]}}),
            json!({"status":{"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}}),
            json!({"status": {"conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
            ]}}),
        ),
        case(
            "node condition and address merged by type",
            "Node",
            json!({"status": {
                "conditions": [{"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1"}],
            }}),
            json!({"status":{"conditions":[{"type":"Ready","status":"True"}],"addresses":[{"type":"InternalIP","address":"10.0.0.2"}]}}),
            json!({"status": {
                "conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n1"}],
            }}),
        ),
        case(
            "kubectl patch adding a container puts it first, like Kubernetes",
            "Pod",
            json!({"spec": {"containers": [{"name": "app", "image": "app:1"}]}}),
            json!({"spec":{"containers":[{"name":"debug","image":"busybox"}]}}),
            json!({"spec": {"containers": [{"name": "debug", "image": "busybox"}, {"name": "app", "image": "app:1"}]}}),
        ),
        case(
            "kubectl set image style patch",
            "ReplicaSet",
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "a:1"},
                {"name": "b", "image": "b:1"},
            ]}}}}),
            json!({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b:2"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "a:1"},
                {"name": "b", "image": "b:2"},
            ]}}}}),
        ),
        case(
            "container port merged by containerPort",
            "Pod",
            json!({"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 80, "name": "http", "protocol": "TCP"},
                {"containerPort": 9090, "name": "metrics", "protocol": "TCP"},
            ]}]}}),
            json!({"spec":{"containers":[{"name":"app","ports":[{"containerPort":9090,"name":"prom"}]}]}}),
            json!({"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 80, "name": "http", "protocol": "TCP"},
                {"containerPort": 9090, "name": "prom", "protocol": "TCP"},
            ]}]}}),
        ),
        case(
            "ownerReference merged by uid",
            "ReplicaSet",
            json!({"metadata": {"ownerReferences": [{"uid": "u1", "kind": "Deployment", "name": "d", "controller": true}]}}),
            json!({"metadata":{"ownerReferences":[{"uid":"u1","blockOwnerDeletion":true}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "u1", "kind": "Deployment", "name": "d", "controller": true, "blockOwnerDeletion": true}]}}),
        ),
        case(
            "tolerations have no strategy and are replaced",
            "Pod",
            json!({"spec": {"tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]}}),
            json!({"spec":{"tolerations":[{"key":"c","operator":"Exists"}]}}),
            json!({"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}}),
        ),
        case(
            "container args are replaced",
            "Pod",
            json!({"spec": {"containers": [{"name": "app", "args": ["a", "b"]}]}}),
            json!({"spec":{"containers":[{"name":"app","args":["c"]}]}}),
            json!({"spec": {"containers": [{"name": "app", "args": ["c"]}]}}),
        ),
        case(
            "endpoints subsets are replaced",
            "Endpoints",
            json!({"subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]}]}),
            json!({"subsets":[{"addresses":[{"ip":"10.244.0.6"}],"ports":[{"port":80}]}]}),
            json!({"subsets": [{"addresses": [{"ip": "10.244.0.6"}], "ports": [{"port": 80}]}]}),
        ),
        case(
            "statefulset volumeClaimTemplates are replaced",
            "StatefulSet",
            json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}}),
            json!({"spec":{"volumeClaimTemplates":[{"metadata":{"name":"c"}}]}}),
            json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "c"}}]}}),
        ),
        case(
            "pod containerStatuses are replaced",
            "Pod",
            json!({"status": {"containerStatuses": [{"name": "a", "ready": false}, {"name": "b", "ready": false}]}}),
            json!({"status":{"containerStatuses":[{"name":"a","ready":true}]}}),
            json!({"status": {"containerStatuses": [{"name": "a", "ready": true}]}}),
        ),
        case(
            "configmap data merged, one key deleted",
            "ConfigMap",
            json!({"data": {"a": "1", "b": "2"}}),
            json!({"data":{"b":null,"c":"3"}}),
            json!({"data": {"a": "1", "c": "3"}}),
        ),
        case(
            "kubectl scale through SMP",
            "StatefulSet",
            json!({"spec": {"replicas": 1, "serviceName": "web"}}),
            json!({"spec":{"replicas":5}}),
            json!({"spec": {"replicas": 5, "serviceName": "web"}}),
        ),
    ]);
}

#[test]
fn finalizers_and_primitive_lists() {
    run(vec![
        case(
            "finalizers are unioned",
            "ConfigMap",
            json!({"metadata": {"finalizers": ["a/x", "b/y"]}}),
            json!({"metadata":{"finalizers":["b/y","c/z"]}}),
            json!({"metadata": {"finalizers": ["a/x", "b/y", "c/z"]}}),
        ),
        case(
            "finalizer added by kubectl apply keeps the $setElementOrder position",
            "Secret",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata":{"$setElementOrder/finalizers":["a","new","b"],"finalizers":["new"]}}),
            json!({"metadata": {"finalizers": ["a", "new", "b"]}}),
        ),
        case(
            "$deleteFromPrimitiveList/finalizers",
            "Pod",
            json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}}),
            json!({"metadata": {"finalizers": ["a", "c"]}}),
        ),
        case(
            "$deleteFromPrimitiveList with $setElementOrder, as kubectl apply sends it",
            "Deployment",
            json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"],"$setElementOrder/finalizers":["c","a"]}}),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
        ),
        case(
            "$deleteFromPrimitiveList of an absent item",
            "Pod",
            json!({"metadata": {"finalizers": ["a"]}}),
            json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["zzz"]}}),
            json!({"metadata": {"finalizers": ["a"]}}),
        ),
        case(
            "$deleteFromPrimitiveList of an absent list does not create it",
            "Pod",
            json!({"metadata": {"name": "p"}}),
            json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}),
            json!({"metadata": {"name": "p"}}),
        ),
        case(
            "$deleteFromPrimitiveList on a list without merge strategy",
            "Pod",
            json!({"spec": {"containers": [{"name": "app", "args": ["-a", "-b", "-c"]}]}}),
            json!({"spec":{"containers":[{"name":"app","$deleteFromPrimitiveList/args":["-b"]}]}}),
            json!({"spec": {"containers": [{"name": "app", "args": ["-a", "-c"]}]}}),
        ),
        case(
            "node podCIDRs are unioned",
            "Node",
            json!({"spec": {"podCIDRs": ["10.244.1.0/24"]}}),
            json!({"spec":{"podCIDRs":["10.244.1.0/24","fd00::/64"]}}),
            json!({"spec": {"podCIDRs": ["10.244.1.0/24", "fd00::/64"]}}),
        ),
        case(
            "patch order wins in a union",
            "Pod",
            json!({"metadata": {"finalizers": ["1", "2", "3"]}}),
            json!({"metadata":{"finalizers":["3","1","2"]}}),
            json!({"metadata": {"finalizers": ["3", "1", "2"]}}),
        ),
        case(
            "$setElementOrder alone reorders primitives, ignoring unknown entries",
            "Pod",
            json!({"metadata": {"finalizers": ["1", "3"]}}),
            json!({"metadata":{"$setElementOrder/finalizers":["3","2","1"]}}),
            json!({"metadata": {"finalizers": ["3", "1"]}}),
        ),
    ]);
}

#[test]
fn patch_directives() {
    run(vec![
        case(
            "$patch: replace on a list",
            "Pod",
            json!({"spec": {"containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]}}),
            json!({"spec":{"containers":[{"name":"c","image":"c"},{"$patch":"replace"}]}}),
            json!({"spec": {"containers": [{"name": "c", "image": "c"}]}}),
        ),
        case(
            "$patch: replace alone empties a list",
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
            json!({"spec":{"containers":[{"$patch":"replace"}]}}),
            json!({"spec": {"containers": []}}),
        ),
        case(
            "$patch: replace on a primitive list",
            "Pod",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata":{"finalizers":[{"$patch":"replace"},"c"]}}),
            json!({"metadata": {"finalizers": ["c"]}}),
        ),
        case(
            "$patch: replace on a map",
            "Deployment",
            json!({"spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}}, "replicas": 1}}),
            json!({"spec":{"selector":{"$patch":"replace","matchLabels":{"c":"3"}}}}),
            json!({"spec": {"selector": {"matchLabels": {"c": "3"}}, "replicas": 1}}),
        ),
        case(
            "$patch: replace at the root",
            "ConfigMap",
            json!({"metadata": {"name": "x"}, "data": {"a": "1"}}),
            json!({"$patch":"replace","metadata":{"name":"x"}}),
            json!({"metadata": {"name": "x"}}),
        ),
        case(
            "$patch: replace resolves nested directives",
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}]}}),
            json!({"spec":{"$patch":"replace","containers":[{"name":"b"},{"$patch":"delete","name":"a"}],"nodeName":null}}),
            json!({"spec": {"containers": [{"name": "b"}]}}),
        ),
        case(
            "$patch: delete on a map removes it",
            "Deployment",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec":{"strategy":{"rollingUpdate":{"$patch":"delete"},"type":"Recreate"}}}),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        ),
        case(
            "$patch: delete of an absent map",
            "ConfigMap",
            json!({"data": {"a": "1"}}),
            json!({"binaryData":{"$patch":"delete"}}),
            json!({"data": {"a": "1"}}),
        ),
        case(
            "$patch: delete at the root leaves an empty object",
            "ConfigMap",
            json!({"data": {"a": "1"}}),
            json!({"$patch":"delete"}),
            json!({}),
        ),
        case(
            "$patch: delete removes every element with the key",
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "a", "image": "dup"}, {"name": "b"}]}}),
            json!({"spec":{"containers":[{"$patch":"delete","name":"a"}]}}),
            json!({"spec": {"containers": [{"name": "b"}]}}),
        ),
        case(
            "$patch: delete of a missing element",
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}]}}),
            json!({"spec":{"containers":[{"$patch":"delete","name":"zzz"}]}}),
            json!({"spec": {"containers": [{"name": "a"}]}}),
        ),
        case(
            "$patch: merge is the default",
            "Pod",
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "a"}]}}),
            json!({"metadata":{"labels":{"$patch":"merge","b":"2"}},"spec":{"containers":[{"$patch":"merge"},{"name":"a","image":"x"}]}}),
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}),
        ),
        case(
            "$patch: merge inside an element is stripped",
            "Pod",
            json!({"spec": {"containers": [{"name": "a", "image": "x"}]}}),
            json!({"spec":{"containers":[{"$patch":"merge","name":"a","image":"y"},{"$patch":"merge","name":"b"}]}}),
            json!({"spec": {"containers": [{"name": "a", "image": "y"}, {"name": "b"}]}}),
        ),
        case(
            "directives in a list new to the object are dropped",
            "Pod",
            json!({"spec": {}}),
            json!({"spec":{"initContainers":[{"name":"init","env":[{"name":"X","value":"1"}]},{"$patch":"delete","name":"gone"}]}}),
            json!({"spec": {"initContainers": [{"name": "init", "env": [{"name": "X", "value": "1"}]}]}}),
        ),
        case(
            "nulls in a map new to the object are dropped",
            "Pod",
            json!({"metadata": {"name": "p"}}),
            json!({"metadata":{"annotations":{"a":"1","b":null}}}),
            json!({"metadata": {"name": "p", "annotations": {"a": "1"}}}),
        ),
    ]);
}

#[test]
fn retain_keys() {
    run(vec![
        case(
            "clears fields not listed",
            "Deployment",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        ),
        case(
            "keeps and merges listed fields",
            "Deployment",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}),
            json!({"spec":{"strategy":{"$retainKeys":["rollingUpdate","type"],"rollingUpdate":{"maxSurge":2}}}}),
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}}}),
        ),
        case(
            "null for a listed field still deletes",
            "Deployment",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            json!({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null}}}),
            json!({"spec": {"strategy": {"type": "RollingUpdate"}}}),
        ),
    ]);
}

#[test]
fn element_order() {
    let list = |names: &[&str]| {
        let items: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        json!({"spec": {"containers": items}})
    };
    let order = |names: &[&str]| -> Value { names.iter().map(|n| json!({"name": n})).collect() };
    run(vec![
        case(
            "$setElementOrder keeps server-only elements next to their neighbours",
            "Pod",
            list(&["1", "2", "9", "3", "4"]),
            json!({"spec":{"$setElementOrder/containers":order(&["2","1","4","3"])}}),
            list(&["2", "1", "9", "4", "3"]),
        ),
        case(
            "$setElementOrder with several server-only elements",
            "Pod",
            list(&["1", "2", "7", "9", "8", "3", "4"]),
            json!({"spec":{"$setElementOrder/containers":order(&["2","1","4","3"])}}),
            list(&["2", "1", "7", "9", "8", "4", "3"]),
        ),
        case(
            "$setElementOrder places a new element, server-only one at the end",
            "Pod",
            list(&["1", "3"]),
            json!({"spec":{"$setElementOrder/containers":order(&["1","2"]),"containers":[{"name":"2"}]}}),
            list(&["1", "2", "3"]),
        ),
        case(
            "patch order of existing elements wins, the rest keep their place",
            "Pod",
            list(&["1", "2", "3"]),
            json!({"spec":{"containers":[{"name":"3"},{"name":"1"}]}}),
            list(&["2", "3", "1"]),
        ),
        case(
            "$setElementOrder may name elements that exist nowhere",
            "Pod",
            list(&["1", "3"]),
            json!({"spec":{"$setElementOrder/containers":order(&["3","2","1"]),"containers":[{"name":"3"},{"name":"1"}]}}),
            list(&["3", "1"]),
        ),
        case(
            "$setElementOrder for a list the object lacks",
            "Pod",
            json!({"spec": {}}),
            json!({"spec":{"$setElementOrder/containers":order(&["b","a"]),"containers":[{"name":"b"},{"name":"a"}]}}),
            list(&["b", "a"]),
        ),
        case(
            "$setElementOrder for a list neither side has",
            "Pod",
            json!({"spec": {}}),
            json!({"spec":{"$setElementOrder/initContainers":[]}}),
            json!({"spec": {}}),
        ),
        case(
            "numeric merge keys compare by value",
            "Service",
            json!({"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 443, "name": "b"}]}}),
            json!({"spec":{"$setElementOrder/ports":[{"port":443.0},{"port":80}],"ports":[{"port":443.0,"name":"c"}]}}),
            // The patch value itself is stored (typed decoding later normalises 443.0).
            json!({"spec": {"ports": [{"port": 443.0, "name": "c"}, {"port": 80, "name": "a"}]}}),
        ),
    ]);
}

#[test]
fn unknown_kind_falls_back_to_json_merge() {
    run(vec![case(
        "lists replaced, maps merged, directives still honoured",
        "Widget",
        json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1"}}, "spec": {"items": [{"name": "a", "v": 1}]}}),
        json!({"metadata":{"finalizers":["b"],"labels":{"y":"2","x":null}},"spec":{"items":[{"name":"a"}],"extra":{"$patch":"delete"}}}),
        json!({"metadata": {"finalizers": ["b"], "labels": {"y": "2"}}, "spec": {"items": [{"name": "a"}]}}),
    )]);
}

#[test]
fn original_may_be_null() {
    let got =
        strategic_merge_patch("Pod", &Value::Null, &json!({"metadata": {"name": "p"}})).unwrap();
    assert_eq!(got, json!({"metadata": {"name": "p"}}));
}

#[test]
fn errors() {
    enum Want {
        Malformed(&'static str),
        Invalid(&'static str),
    }
    use Want::*;
    let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "metadata": {"finalizers": ["f"]}});
    let cases = [
        (
            "patch is an array",
            json!([{"op": "add"}]),
            Malformed("invalid JSON document"),
        ),
        (
            "patch is a string",
            json!("spec"),
            Malformed("must be a JSON object"),
        ),
        ("patch is null", Value::Null, Malformed("not null")),
        (
            "unknown $patch on a map",
            json!({"spec": {"$patch": "frobnicate"}}),
            Invalid("unknown patch type: frobnicate in map"),
        ),
        (
            "unknown $patch in a list",
            json!({"spec": {"containers": [{"$patch": "bogus", "name": "a"}]}}),
            Invalid("unknown patch type: bogus"),
        ),
        (
            "non-string $patch",
            json!({"$patch": 1}),
            Invalid("unknown patch type: 1"),
        ),
        (
            "element without merge key",
            json!({"spec": {"containers": [{"image": "x"}]}}),
            Invalid("does not contain declared merge key: name"),
        ),
        (
            "delete without merge key",
            json!({"spec": {"containers": [{"$patch": "delete"}]}}),
            Invalid("does not contain declared merge key: name"),
        ),
        (
            "scalar in a keyed list",
            json!({"spec": {"containers": ["a"]}}),
            Invalid("not an object"),
        ),
        (
            "$setElementOrder contradicting its list",
            json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "b"}, {"name": "a"}]}}),
            Invalid("doesn't match $setElementOrder list"),
        ),
        (
            "$setElementOrder entry without merge key",
            json!({"spec": {"$setElementOrder/containers": [{"image": "x"}]}}),
            Invalid("does not contain declared merge key"),
        ),
        (
            "$setElementOrder not a list",
            json!({"spec": {"$setElementOrder/containers": {"name": "a"}}}),
            Malformed("invalid patch format of setElementOrder list"),
        ),
        (
            "$setElementOrder next to a non-list",
            json!({"spec": {"$setElementOrder/containers": [], "containers": {"name": "a"}}}),
            Invalid("expected a list"),
        ),
        (
            "$retainKeys not a list",
            json!({"spec": {"$retainKeys": "type"}}),
            Malformed("invalid patch format of retainKeys"),
        ),
        (
            "patch key outside $retainKeys",
            json!({"spec": {"$retainKeys": ["a"], "nodeName": "n"}}),
            Malformed("invalid patch format of retainKeys"),
        ),
        (
            "$deleteFromPrimitiveList not a list",
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "f"}}),
            Malformed("invalid patch format of primitive list"),
        ),
        (
            "unknown directive",
            json!({"metadata": {"$frobnicate": true}}),
            Invalid("unknown patch directive \"$frobnicate\""),
        ),
        (
            "$patch: delete in a primitive list",
            json!({"metadata": {"finalizers": [{"$patch": "delete"}]}}),
            Invalid("$deleteFromPrimitiveList"),
        ),
        (
            "object in a primitive list",
            json!({"metadata": {"finalizers": [{"a": 1}]}}),
            Invalid("cannot merge lists without merge key"),
        ),
    ];
    for (name, patch, want) in cases {
        let err = strategic_merge_patch("Pod", &pod, &patch).expect_err(name);
        match (&err, want) {
            (PatchError::Malformed(msg), Malformed(part))
            | (PatchError::Invalid(msg), Invalid(part)) => {
                assert!(msg.contains(part), "{name}: {msg:?} lacks {part:?}");
            }
            _ => panic!("{name}: wrong error kind: {err:?}"),
        }
    }
}

#[test]
fn inputs_are_not_modified() {
    let original = deployment(1, json!([nginx_container("nginx")]));
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"$patch":"delete","name":"my-nginx"}]}}}});
    let (original_before, patch_before) = (original.clone(), patch.clone());
    strategic_merge_patch("Deployment", &original, &patch).unwrap();
    assert_eq!((original, patch), (original_before, patch_before));
}
