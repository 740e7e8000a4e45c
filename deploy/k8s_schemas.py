"""Vendor the JSON schemas that `kubeconform` checks `deploy/k8s/` against, offline.

Kubernetes publishes its API as OpenAPI v3 documents (`api/openapi-spec/v3/` of the `k8s.io/kubernetes`
module) and the operators their resources as CustomResourceDefinitions; kubeconform wants one standalone
JSON schema per kind and version. This turns both into such schemas, for the kinds the manifests use only,
strict (an unknown field is an error, as with `kubeconform -strict`) and without descriptions (they carry no
rule and are most of the bytes). Files are named `<kind>-<group's first word>-<version>.json`, the
`{{ .ResourceKind }}{{ .KindSuffix }}.json` of kubeconform's `-schema-location`.

    python -m deploy.k8s_schemas --kubernetes <module dir>/api/openapi-spec/v3 --crd <crd.yaml> ... \
        --out deploy/k8s/schemas deploy/k8s/*.yaml

deploy/k8s/schemas/README.md has the versions and licences of what is vendored.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]
# Types the API serialises as strings but that manifests may write as numbers (`cpu: 1`, `port: 8080`).
_NUMBER_OR_STRING = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": ["string", "number"],
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": ["string", "integer"],
}
_DROPPED_KEYS = {"description", "x-kubernetes-group-version-kind", "x-kubernetes-list-map-keys",
                 "x-kubernetes-list-type", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy",
                 "x-kubernetes-map-type", "x-kubernetes-unions", "x-kubernetes-validations", "default"}
# Kinds in deploy/k8s/ that kustomize reads and never sends to the API server.
NOT_RESOURCES = frozenset({("kustomize.config.k8s.io/v1beta1", "Kustomization")})


def schema_file_name(api_version: str, kind: str) -> str:
    """kubeconform's name for a kind's schema: `deployment-apps-v1.json`, `service-v1.json`, `kafka-kafka-v1.json`."""
    group, _, version = api_version.rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind}{suffix}.json".lower()


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever the fields are listed and none else are allowed,
    `nullable` as a null type, int-or-string as both types, and the descriptive keys left out."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items() if key not in _DROPPED_KEYS | {"properties"}}
    if "properties" in schema:  # field names, not schema keys: a field may be called `default`
        out["properties"] = {name: strict(value) for name, value in schema["properties"].items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("format", None)
        out["type"] = ["string", "integer"]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserves_unknown = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserves_unknown:
        out["additionalProperties"] = False
    return out


def inline_refs(schema: Any, definitions: dict[str, Schema], seen: tuple[str, ...] = ()) -> Any:
    """The schema with every `$ref` to `#/components/schemas/<name>` replaced by that definition, so the file
    stands alone; a reference that recurses (no kind used here has one) is left open (`{}`)."""
    if isinstance(schema, list):
        return [inline_refs(item, definitions, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "allOf" in schema and len(schema["allOf"]) == 1 and "$ref" in schema["allOf"][0]:
        # OpenAPI v3 wraps a reference in allOf to give it a description or default: the wrapper adds no rule.
        schema = {**{key: value for key, value in schema.items() if key != "allOf"}, **schema["allOf"][0]}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in _NUMBER_OR_STRING:
            return {"type": _NUMBER_OR_STRING[name]}
        if name in seen:
            return {}
        return inline_refs(definitions[name], definitions, (*seen, name))
    return {key: inline_refs(value, definitions, seen) for key, value in schema.items()}


def kubernetes_schemas(openapi_dir: Path, wanted: set[tuple[str, str]]) -> Iterator[tuple[str, Schema]]:
    """(file name, schema) for each wanted (apiVersion, kind) that Kubernetes' OpenAPI v3 documents define."""
    for document_path in sorted(openapi_dir.glob("*_openapi.json")):
        definitions = json.loads(document_path.read_text()).get("components", {}).get("schemas", {})
        for definition in definitions.values():
            for gvk in definition.get("x-kubernetes-group-version-kind", []):
                api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                if (api_version, gvk["kind"]) in wanted and len(definition["x-kubernetes-group-version-kind"]) == 1:
                    yield schema_file_name(api_version, gvk["kind"]), strict(inline_refs(definition, definitions))


def crd_schemas(crd_paths: Iterable[Path], wanted: set[tuple[str, str]]) -> Iterator[tuple[str, Schema]]:
    """(file name, schema) for each wanted (apiVersion, kind) the CustomResourceDefinitions serve."""
    for path in crd_paths:
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                api_version = f"{group}/{version['name']}"
                if (api_version, kind) in wanted and version.get("served", True):
                    yield schema_file_name(api_version, kind), strict(version["schema"]["openAPIV3Schema"])


def kinds_in(manifest_paths: Iterable[Path]) -> set[tuple[str, str]]:
    """The (apiVersion, kind) of every resource the manifests send to the API server."""
    return {(document["apiVersion"], document["kind"]) for path in manifest_paths
            for document in yaml.safe_load_all(path.read_text()) if document} - NOT_RESOURCES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubernetes", type=Path, required=True, help="api/openapi-spec/v3 of k8s.io/kubernetes")
    parser.add_argument("--crd", type=Path, action="append", default=[], help="a CustomResourceDefinition file")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("manifests", type=Path, nargs="+")
    args = parser.parse_args(argv)
    wanted = kinds_in(args.manifests)
    written = dict(kubernetes_schemas(args.kubernetes, wanted)) | dict(crd_schemas(args.crd, wanted))
    missing = {schema_file_name(*kind) for kind in wanted} - set(written)
    if missing:
        raise SystemExit(f"no schema found for {', '.join(sorted(missing))}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in sorted(written.items()):
        (args.out / name).write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
        print(f"{args.out / name}: {(args.out / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
