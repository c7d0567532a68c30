#!/usr/bin/env python3
"""Renders a kustomize overlay of deploy/k8s the way `kustomize build` does for the features we use
(resources, namespace, images, labels with selectors, JSON 6902 patches), so the test command can
validate every region's manifests without a kustomize binary. Writes one YAML file per object."""
import copy
import os
import sys

import jsonpatch
import yaml


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def build(directory):
    kustomization = load(os.path.join(directory, "kustomization.yaml"))[0]
    objects = []
    for resource in kustomization.get("resources", []):
        path = os.path.join(directory, resource)
        objects += build(path) if os.path.isdir(path) else load(path)
    for label in kustomization.get("labels", []):
        for obj in objects:
            add_labels(obj, label["pairs"], label.get("includeSelectors", False))
    if "namespace" in kustomization:
        for obj in objects:
            obj["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for obj in objects:
            for container in containers(obj):
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f'{image.get("newName", image["name"])}:{image["newTag"]}'
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        ops = yaml.safe_load(patch["patch"])
        matched = [o for o in objects if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]]
        if not matched:
            sys.exit(f"{directory}: patch target {target} matches nothing")
        for obj in matched:
            obj.update(jsonpatch.apply_patch(obj, ops))
    return objects


def containers(obj):
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return pod.get("containers", []) + pod.get("initContainers", [])


def add_labels(obj, pairs, selectors):
    obj["metadata"].setdefault("labels", {}).update(pairs)
    spec = obj.get("spec", {})
    if "template" in spec:
        spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
    if selectors:
        if obj["kind"] == "Service":
            spec.setdefault("selector", {}).update(pairs)
        elif "selector" in spec and "matchLabels" in spec["selector"]:
            spec["selector"]["matchLabels"].update(pairs)


def main():
    overlay, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for obj in build(overlay):
        name = f'{obj["kind"].lower()}-{obj["metadata"]["name"]}.yaml'
        with open(os.path.join(out, name), "w") as f:
            yaml.safe_dump(copy.deepcopy(obj), f, sort_keys=False)


if __name__ == "__main__":
    main()
