#!/usr/bin/env python3
"""Checks deploy/observability: the dashboard is Grafana JSON with Prometheus queries, the alert
rules are a valid rule file shape, and every scimgate metric either uses is one the code emits
(its name appears in crates/), so a renamed metric cannot leave a silent panel or alert."""
import json
import os
import re
import sys

import yaml

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
here = os.path.join(root, "deploy", "observability")
errors = []

dashboard = json.load(open(os.path.join(here, "grafana-dashboard.json")))
exprs = []
for panel in dashboard.get("panels", []):
    if not panel.get("targets"):
        errors.append(f"panel {panel.get('title')!r} has no query")
    exprs += [t["expr"] for t in panel.get("targets", [])]

rules = yaml.safe_load(open(os.path.join(here, "prometheus-alerts.yaml")))
for group in rules["groups"]:
    for rule in group["rules"]:
        for key in ("alert", "expr", "labels", "annotations"):
            if key not in rule:
                errors.append(f"rule {rule.get('alert')!r} lacks {key}")
        if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            errors.append(f"rule {rule.get('alert')!r}: severity must be critical, warning or info")
        if "summary" not in rule.get("annotations", {}):
            errors.append(f"rule {rule.get('alert')!r} lacks a summary")
        exprs.append(rule.get("expr", ""))

source = ""
for dirpath, _, files in os.walk(os.path.join(root, "crates")):
    for name in files:
        if name.endswith(".rs") and "/tests" not in dirpath:
            source += open(os.path.join(dirpath, name)).read()

used = set()
for expr in exprs:
    for name in re.findall(r"\bscimgate_[a-z0-9_]+", expr):
        used.add(re.sub(r"_(bucket|sum|count)$", "", name))
for name in sorted(used):
    if f'"{name}"' not in source:
        errors.append(f"metric {name} is not emitted by the code")

if errors:
    sys.exit("[observability] " + "\n[observability] ".join(errors))
print(f"[observability] dashboard {len(dashboard['panels'])} panels, "
      f"{sum(len(g['rules']) for g in rules['groups'])} alert rules, {len(used)} metrics, all emitted")
