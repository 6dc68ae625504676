"""Parses a dashboard with Grafana's own typed models (grafana-foundation-sdk, the 11.6 schema)
and encodes it again; exits 1 naming every key the round trip dropped or changed.

    python3 -m venv .venv && .venv/bin/pip install 'grafana-foundation-sdk==1769699379!11.6.0'
    .venv/bin/python check_dashboard.py recovery-engine.json
"""
import json
import sys

from grafana_foundation_sdk.models.dashboard import Dashboard


def differences(original, encoded, path=""):
    if isinstance(original, dict):
        if not isinstance(encoded, dict):
            return [f"{path}: no longer an object"]
        found = []
        for key, value in original.items():
            if key not in encoded:
                found.append(f"{path}/{key}: dropped")
            else:
                found += differences(value, encoded[key], f"{path}/{key}")
        return found
    if isinstance(original, list):
        if not isinstance(encoded, list) or len(original) != len(encoded):
            return [f"{path}: list changed"]
        return [d for i, (a, b) in enumerate(zip(original, encoded)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if original == encoded else [f"{path}: {original!r} became {encoded!r}"]


def main():
    with open(sys.argv[1]) as f:
        original = json.load(f)
    model = Dashboard.from_json(original)
    encoded = json.loads(json.dumps(model.to_json(), default=lambda o: o.to_json()))
    problems = differences(original, encoded)
    print(json.dumps({"title": model.title, "panels": len(model.panels or []), "problems": problems}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
