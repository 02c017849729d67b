//! Table-driven tests of pod validation.

use super::resources::parse_quantity;
use super::*;
use crate::defaults::ApplyDefaults;
use crate::k8s::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EnvVar, HTTPGetAction, Probe,
    ResourceRequirements, Toleration, Volume, VolumeMount,
};
use crate::k8s::apimachinery::pkg::api::resource::Quantity;
use crate::validation::tests::{assert_errors, meta, strs};

fn container(name: &str, image: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        ..Default::default()
    }
}

/// A defaulted, valid pod.
fn pod() -> Pod {
    let mut pod = Pod {
        metadata: meta("default", "web"),
        spec: Some(PodSpec {
            containers: vec![Container {
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 80,
                    ..Default::default()
                }]),
                ..container("nginx", "nginx:1.27")
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    pod.apply_defaults();
    pod
}

/// The valid pod with a change made after defaulting.
fn with_spec(f: impl FnOnce(&mut PodSpec)) -> Pod {
    let mut p = pod();
    f(p.spec.as_mut().unwrap());
    p
}

/// The valid pod with a change made before defaulting.
fn defaulted(f: impl FnOnce(&mut PodSpec)) -> Pod {
    let mut p = pod();
    f(p.spec.as_mut().unwrap());
    p.apply_defaults();
    p
}

#[test]
fn pod_create_cases() {
    let label_msg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    let cases: Vec<(&str, Pod, Vec<String>)> = vec![
        ("valid", pod(), vec![]),
        (
            "no containers",
            with_spec(|s| s.containers.clear()),
            strs(&["spec.containers: Required value"]),
        ),
        (
            "bad container name",
            with_spec(|s| s.containers[0].name = "Nginx".into()),
            vec![format!(
                "spec.containers[0].name: Invalid value: \"Nginx\": {label_msg}"
            )],
        ),
        (
            "duplicate container names",
            with_spec(|s| {
                let c = s.containers[0].clone();
                s.containers.push(Container { ports: None, ..c });
            }),
            strs(&["spec.containers[1].name: Duplicate value: \"nginx\""]),
        ),
        (
            "missing image",
            with_spec(|s| s.containers[0].image = None),
            strs(&["spec.containers[0].image: Required value"]),
        ),
        (
            "padded image",
            with_spec(|s| s.containers[0].image = Some(" nginx".into())),
            strs(&[
                "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace",
            ]),
        ),
        (
            "container port out of range",
            with_spec(|s| s.containers[0].ports.as_mut().unwrap()[0].container_port = 70000),
            strs(&[
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ]),
        ),
        (
            "port name too long",
            with_spec(|s| {
                s.containers[0].ports.as_mut().unwrap()[0].name =
                    Some("a-very-long-port-name".into())
            }),
            strs(&[
                "spec.containers[0].ports[0].name: Invalid value: \"a-very-long-port-name\": must be no more than 15 characters",
            ]),
        ),
        (
            "duplicate port names",
            with_spec(|s| {
                let ports = s.containers[0].ports.as_mut().unwrap();
                ports.push(ContainerPort {
                    container_port: 81,
                    ..ports[0].clone()
                });
            }),
            strs(&["spec.containers[0].ports[1].name: Duplicate value: \"http\""]),
        ),
        (
            "bad protocol",
            with_spec(|s| {
                s.containers[0].ports.as_mut().unwrap()[0].protocol = Some("HTTP".into())
            }),
            strs(&[
                "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ]),
        ),
        (
            "bad restart policy",
            with_spec(|s| s.restart_policy = Some("Sometimes".into())),
            strs(&[
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ]),
        ),
        (
            "bad dns policy",
            with_spec(|s| s.dns_policy = Some("Google".into())),
            strs(&[
                "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ]),
        ),
        (
            "hostname with dots",
            with_spec(|s| s.hostname = Some("a.b".into())),
            strs(&["spec.hostname: Invalid value: \"a.b\": must not contain dots"]),
        ),
        (
            "bad subdomain",
            with_spec(|s| s.subdomain = Some("Sub".into())),
            vec![format!(
                "spec.subdomain: Invalid value: \"Sub\": {label_msg}"
            )],
        ),
        (
            "bad node name",
            with_spec(|s| s.node_name = Some("Node_1".into())),
            strs(&[
                "spec.nodeName: Invalid value: \"Node_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ]),
        ),
        (
            "undefaulted grace period",
            with_spec(|s| s.termination_grace_period_seconds = None),
            strs(&["spec.terminationGracePeriodSeconds: Required value"]),
        ),
        (
            "liveness probe without handler",
            with_spec(|s| {
                s.containers[0].liveness_probe = Some(Probe {
                    success_threshold: Some(1),
                    ..Default::default()
                })
            }),
            strs(&[
                "spec.containers[0].livenessProbe: Required value: must specify a handler type",
            ]),
        ),
        (
            "liveness probe success threshold",
            with_spec(|s| {
                s.containers[0].liveness_probe = Some(Probe {
                    http_get: Some(HTTPGetAction {
                        path: Some("/".into()),
                        port: IntOrString::Int(80),
                        scheme: Some("HTTP".into()),
                        ..Default::default()
                    }),
                    success_threshold: Some(2),
                    ..Default::default()
                })
            }),
            strs(&[
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            ]),
        ),
        (
            "requests above limits",
            with_spec(|s| {
                s.containers[0].resources = Some(ResourceRequirements {
                    limits: Some([("cpu".to_string(), Quantity("500m".into()))].into()),
                    requests: Some([("cpu".to_string(), Quantity("1".into()))].into()),
                    ..Default::default()
                })
            }),
            strs(&[
                "spec.containers[0].resources.requests: Invalid value: \"1\": must be less than or equal to cpu limit of 500m",
            ]),
        ),
        (
            "unknown resource",
            with_spec(|s| {
                s.containers[0].resources = Some(ResourceRequirements {
                    limits: Some([("gpu".to_string(), Quantity("1".into()))].into()),
                    ..Default::default()
                })
            }),
            strs(&[
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            ]),
        ),
        (
            "volume without source",
            with_spec(|s| {
                s.volumes = Some(vec![Volume {
                    name: "data".into(),
                    ..Default::default()
                }])
            }),
            strs(&["spec.volumes[0]: Required value: must specify a volume type"]),
        ),
        (
            "configMap volume without name",
            with_spec(|s| {
                s.volumes = Some(vec![Volume {
                    name: "cfg".into(),
                    config_map: Some(ConfigMapVolumeSource {
                        default_mode: Some(0o644),
                        ..Default::default()
                    }),
                    ..Default::default()
                }])
            }),
            strs(&["spec.volumes[0].configMap.name: Required value"]),
        ),
        (
            "duplicate mount paths",
            with_spec(|s| {
                s.volumes = Some(vec![Volume {
                    name: "a".into(),
                    empty_dir: Some(Default::default()),
                    ..Default::default()
                }]);
                let m = VolumeMount {
                    name: "a".into(),
                    mount_path: "/data".into(),
                    ..Default::default()
                };
                s.containers[0].volume_mounts = Some(vec![m.clone(), m]);
            }),
            strs(&[
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique",
            ]),
        ),
        (
            "toleration without key",
            with_spec(|s| {
                s.tolerations = Some(vec![Toleration {
                    operator: Some("Equal".into()),
                    ..Default::default()
                }])
            }),
            strs(&[
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ]),
        ),
        (
            "ephemeral containers on create",
            with_spec(|s| {
                s.ephemeral_containers = Some(vec![crate::k8s::api::core::v1::EphemeralContainer {
                    name: "debug".into(),
                    image: Some("busybox".into()),
                    ..Default::default()
                }])
            }),
            strs(&["spec.ephemeralContainers: Forbidden: cannot be set on create"]),
        ),
        (
            "env var with two sources",
            with_spec(|s| {
                s.containers[0].env = Some(vec![EnvVar {
                    name: "X".into(),
                    value: Some("v".into()),
                    value_from: Some(crate::k8s::api::core::v1::EnvVarSource {
                        field_ref: Some(crate::k8s::api::core::v1::ObjectFieldSelector {
                            api_version: Some("v1".into()),
                            field_path: "metadata.name".into(),
                        }),
                        ..Default::default()
                    }),
                }])
            }),
            strs(&[
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
            ]),
        ),
        (
            "init container with restart policy Never",
            defaulted(|s| {
                let mut c = container("init", "busybox");
                c.restart_policy = Some("Never".into());
                s.init_containers = Some(vec![c]);
            }),
            strs(&[
                "spec.initContainers[0].restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            ]),
        ),
        (
            "init container named like a container",
            defaulted(|s| s.init_containers = Some(vec![container("nginx", "busybox")])),
            strs(&["spec.initContainers[0].name: Duplicate value: \"nginx\""]),
        ),
        (
            "host network with a different host port",
            with_spec(|s| {
                s.host_network = Some(true);
                s.containers[0].ports.as_mut().unwrap()[0].host_port = Some(8080);
            }),
            strs(&[
                "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true",
            ]),
        ),
        (
            "dns policy None without config",
            with_spec(|s| s.dns_policy = Some("None".into())),
            strs(&[
                "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
            ]),
        ),
        (
            "active deadline zero",
            with_spec(|s| s.active_deadline_seconds = Some(0)),
            strs(&[
                "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            ]),
        ),
        (
            "sub path escaping the volume",
            with_spec(|s| {
                s.volumes = Some(vec![Volume {
                    name: "a".into(),
                    empty_dir: Some(Default::default()),
                    ..Default::default()
                }]);
                s.containers[0].volume_mounts = Some(vec![VolumeMount {
                    name: "a".into(),
                    mount_path: "/data".into(),
                    sub_path: Some("../etc".into()),
                    ..Default::default()
                }]);
            }),
            strs(&[
                "spec.containers[0].volumeMounts.subPath: Invalid value: \"../etc\": must not contain '..'",
            ]),
        ),
        (
            "two probe handlers",
            with_spec(|s| {
                s.containers[0].readiness_probe = Some(Probe {
                    exec: Some(crate::k8s::api::core::v1::ExecAction {
                        command: Some(vec!["true".into()]),
                    }),
                    tcp_socket: Some(crate::k8s::api::core::v1::TCPSocketAction {
                        port: IntOrString::Int(80),
                        host: None,
                    }),
                    ..Default::default()
                })
            }),
            strs(&[
                "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            ]),
        ),
        (
            "bad toleration effect",
            with_spec(|s| {
                s.tolerations = Some(vec![Toleration {
                    key: Some("k".into()),
                    operator: Some("Exists".into()),
                    effect: Some("NoRun".into()),
                    ..Default::default()
                }])
            }),
            strs(&[
                "spec.tolerations[0].effect: Unsupported value: \"NoRun\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            ]),
        ),
    ];
    for (name, p, want) in cases {
        assert_errors(name, &p.validate(None), &want);
    }
}

#[test]
fn pod_update_cases() {
    let old = pod();
    let cases: Vec<(&str, Pod, Vec<String>)> = vec![
        ("unchanged", pod(), vec![]),
        (
            "new image",
            with_spec(|s| s.containers[0].image = Some("nginx:1.28".into())),
            vec![],
        ),
        (
            "added toleration",
            with_spec(|s| {
                s.tolerations = Some(vec![Toleration {
                    key: Some("k".into()),
                    operator: Some("Exists".into()),
                    ..Default::default()
                }])
            }),
            vec![],
        ),
        (
            "added container",
            defaulted(|s| s.containers.push(container("sidecar", "busybox"))),
            strs(&["spec.containers: Forbidden: pod updates may not add or remove containers"]),
        ),
        (
            "removed image",
            with_spec(|s| s.containers[0].image = None),
            strs(&["spec.containers[0].image: Required value"]),
        ),
        (
            "deadline set",
            with_spec(|s| s.active_deadline_seconds = Some(20)),
            vec![],
        ),
    ];
    for (name, p, want) in cases {
        assert_errors(name, &p.validate(Some(&old)), &want);
    }

    let changed = with_spec(|s| s.hostname = Some("other".into()));
    let errs = changed.validate(Some(&old));
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "spec");
    assert!(
        errs[0].message.starts_with(
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
        ),
        "{}",
        errs[0].message
    );

    let old_deadline = with_spec(|s| s.active_deadline_seconds = Some(10));
    let raised = with_spec(|s| s.active_deadline_seconds = Some(20));
    assert_errors(
        "raised deadline",
        &raised.validate(Some(&old_deadline)),
        &[
            "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value",
        ],
    );
}

#[test]
fn pod_template_labels_live_under_the_template_path() {
    let mut template = PodTemplateSpec {
        metadata: Some(crate::k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            labels: Some([("app".to_string(), "-bad".to_string())].into()),
            ..Default::default()
        }),
        spec: pod().spec,
    };
    template.spec.as_mut().unwrap().enable_service_links = None;
    let errs = validate_pod_template_spec(&template, &Path::new("spec.template"));
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "spec.template.labels");
}

#[test]
fn quantities() {
    assert_eq!(parse_quantity(&Quantity("500m".into())), Some(0.5));
    assert_eq!(parse_quantity(&Quantity("1Gi".into())), Some(1073741824.0));
    assert_eq!(parse_quantity(&Quantity("2e3".into())), Some(2000.0));
    assert_eq!(parse_quantity(&Quantity("1X".into())), None);
}
