"""The Kubernetes manifests against the Kubernetes, Strimzi, ECK and KEDA schemas vendored in
deploy/k8s/schemas/, with kubeconform (the Go tool `make test` installs): offline, strict."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from deploy.k8s_schemas import NOT_RESOURCES, inline_refs, kinds_in, schema_file_name, strict
from newsstream.settings import PROJECT_ROOT
from tests.deploy.test_k8s_manifests import documents

K8S = PROJECT_ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
KUBECONFORM = PROJECT_ROOT / ".tools" / "bin" / "kubeconform"
MANIFESTS = sorted(K8S.glob("*.yaml"))


def kubeconform(*paths: Path) -> list[dict]:
    """kubeconform's verdict per resource: dicts with `filename`, `kind`, `name`, `status`, `msg`."""
    if not KUBECONFORM.exists():
        pytest.skip("kubeconform is not installed: `make test` installs it (make .tools/bin/kubeconform)")
    completed = subprocess.run(
        [str(KUBECONFORM), "-strict", "-summary", "-output", "json", "-verbose",
         "-skip", ",".join(kind for _, kind in NOT_RESOURCES),
         "-schema-location", f"{SCHEMAS}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json", *map(str, paths)],
        capture_output=True, text=True, timeout=120, check=False)
    return json.loads(completed.stdout)["resources"]


def test_every_kind_the_manifests_use_has_a_vendored_schema() -> None:
    assert {schema_file_name(*kind) for kind in kinds_in(MANIFESTS)} == {path.name for path in SCHEMAS.glob("*.json")}


def test_every_manifest_is_valid_against_the_vendored_schemas() -> None:
    verdicts = kubeconform(*MANIFESTS)
    resources = [(path.name, document["kind"]) for path in MANIFESTS for document in documents(path)
                 if (document["apiVersion"], document["kind"]) not in NOT_RESOURCES]
    assert [verdict for verdict in verdicts if verdict["status"] not in ("statusValid", "statusSkipped")] == []
    assert sorted((Path(v["filename"]).name, v["kind"]) for v in verdicts if v["status"] == "statusValid") \
        == sorted(resources)


@pytest.mark.parametrize(("manifest", "refused"), [
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  replicas: two\n"
     "  selector: {matchLabels: {app: w}}\n  template:\n    metadata: {labels: {app: w}}\n"
     "    spec: {containers: [{name: w, image: w, resources: {requests: {cpu: 1}}, envv: []}]}\n",
     ["/spec/replicas", "'envv' not allowed"]),
    ("apiVersion: kafka.strimzi.io/v1\nkind: KafkaTopic\nmetadata: {name: t}\nspec: {partitions: '12', replica: 3}\n",
     ["/spec/partitions", "'replica' not allowed"]),
    ("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\n"
     "spec: {scaleTargetRef: {name: w}, triggers: [{type: kafka, metadata: {topic: a}}], maxReplicas: 4}\n",
     ["'maxReplicas' not allowed"]),
])
def test_the_schemas_refuse_what_the_api_server_would(tmp_path: Path, manifest: str, refused: list[str]) -> None:
    (tmp_path / "bad.yaml").write_text(manifest)
    [verdict] = kubeconform(tmp_path / "bad.yaml")
    assert verdict["status"] == "statusInvalid"
    assert all(part in verdict["msg"] for part in refused), verdict["msg"]


def test_schema_file_names_are_kubeconforms() -> None:
    assert schema_file_name("apps/v1", "Deployment") == "deployment-apps-v1.json"
    assert schema_file_name("v1", "Service") == "service-v1.json"
    assert schema_file_name("elasticsearch.k8s.elastic.co/v1", "Elasticsearch") == "elasticsearch-elasticsearch-v1.json"


def test_strict_refuses_unknown_fields_except_where_the_api_keeps_them() -> None:
    schema = {"type": "object", "description": "why", "properties": {
        "default": {"type": "string", "description": "a field called default"},
        "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "template": {"type": "object", "properties": {"a": {"type": "string"}},
                     "x-kubernetes-preserve-unknown-fields": True},
        "note": {"type": "string", "nullable": True},
    }}
    assert strict(schema) == {"type": "object", "additionalProperties": False, "properties": {
        "default": {"type": "string"},
        "port": {"type": ["string", "integer"], "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "template": {"type": "object", "properties": {"a": {"type": "string"}}},
        "note": {"type": ["string", "null"]},
    }}


def test_inline_refs_makes_a_standalone_schema() -> None:
    ref = "#/components/schemas/"
    definitions = {
        "Spec": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "cpu": {"$ref": f"{ref}io.k8s.apimachinery.pkg.api.resource.Quantity"},
            "child": {"allOf": [{"$ref": f"{ref}Spec"}], "default": {}},
        }},
        "Kind": {"type": "object", "properties": {"spec": {"allOf": [{"$ref": f"{ref}Spec"}]}}},
    }
    assert inline_refs(definitions["Kind"], definitions) == {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {"replicas": {"type": "integer"}, "cpu": {"type": ["string", "number"]},
                                         "child": {}}}}}
