"""Static checks of terraform/ where no Terraform binary can run.

Parses every .tf file (HCL syntax), then checks that every reference names
something declared (variables, locals, resources, data sources), that every
variable is used and described, that example.tfvars sets only declared
variables and every required non-secret one, and that the Helm values the
module sets are the chart's own (values.yaml).

Usage: python3 .ci/check-terraform.py [terraform-dir]
"""

import pathlib
import re
import sys

import hcl2
import yaml


def unquote(s):
    return s.strip('"')


def main(root):
    root = pathlib.Path(root)
    problems = []
    texts = {}
    variables, locals_, resources, data = {}, set(), set(), set()
    for tf in sorted(root.glob("*.tf")):
        text = tf.read_text()
        texts[tf.name] = text
        try:
            doc = hcl2.loads(text)
        except Exception as e:  # the parser's errors have no common base
            problems.append(f"{tf.name}: not valid HCL: {e}")
            continue
        for block in doc.get("variable", []):
            for name, body in block.items():
                variables[unquote(name)] = body
        for block in doc.get("locals", []):
            locals_.update(k for k in block if not k.startswith("__"))
        for block in doc.get("resource", []):
            for kind, named in block.items():
                for name in named:
                    resources.add(f"{unquote(kind)}.{unquote(name)}")
        for block in doc.get("data", []):
            for kind, named in block.items():
                for name in named:
                    data.add(f"{unquote(kind)}.{unquote(name)}")
    if problems:
        return problems

    code = "\n".join(
        re.sub(r"#[^\n]*", "", t) for t in texts.values()
    )
    used_vars = set(re.findall(r"\bvar\.([a-z_][a-z0-9_]*)", code))
    for v in sorted(used_vars - variables.keys()):
        problems.append(f"var.{v} is used but not declared")
    for v in sorted(variables.keys() - used_vars):
        problems.append(f"variable {v} is declared but never used")
    for name, body in variables.items():
        if not body.get("description"):
            problems.append(f"variable {name} has no description")
    for l in sorted(set(re.findall(r"\blocal\.([a-z_][a-z0-9_]*)", code)) - locals_):
        problems.append(f"local.{l} is used but not declared")
    for d in sorted(set(re.findall(r"\bdata\.([a-z0-9_]+\.[a-z0-9_]+)", code)) - data):
        problems.append(f"data.{d} is used but not declared")
    providers = ("aws_", "kubernetes_", "helm_", "random_")
    refs = set(
        m
        for m in re.findall(r"(?<![\w.\"])([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.", code)
        if m.startswith(providers)
    )
    for r in sorted(refs - resources):
        problems.append(f"{r} is referenced but not declared")

    tfvars = root / "example.tfvars"
    if tfvars.exists():
        given = hcl2.loads(tfvars.read_text())
        for k in sorted(given.keys() - variables.keys()):
            if not k.startswith("__"):
                problems.append(f"example.tfvars sets undeclared variable {k}")
        for name, body in variables.items():
            if "default" not in body and not body.get("sensitive") and name not in given:
                problems.append(f"example.tfvars lacks required variable {name}")

    chart_values = root.parent / "charts" / "startales" / "values.yaml"
    if chart_values.exists():
        values = yaml.safe_load(chart_values.read_text())
        match = re.search(r"yamlencode\(\{(.*?)\}\)\]", code, re.S)
        if not match:
            problems.append("main.tf sets no Helm values with yamlencode({...})")
        else:
            set_keys = parse_keys(match.group(1))
            for path in sorted(set_keys):
                node = values
                for part in path.split("."):
                    if not isinstance(node, dict) or part not in node:
                        problems.append(f"Helm value {path} is not in the chart's values.yaml")
                        break
                    node = node[part]
    return problems


def parse_keys(body):
    """Dotted key paths of an HCL object literal `a = { b = ... }`."""
    keys, stack = set(), []
    for line in body.splitlines():
        line = line.strip()
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\{)?", line)
        if m:
            path = ".".join(stack + [m.group(1)])
            if m.group(2):
                stack.append(m.group(1))
            else:
                keys.add(path)
        elif line.startswith("}") and stack:
            stack.pop()
    return keys


if __name__ == "__main__":
    found = main(sys.argv[1] if len(sys.argv) > 1 else "terraform")
    for p in found:
        print(f"terraform: {p}", file=sys.stderr)
    if found:
        sys.exit(1)
    print("terraform: syntax, references, variables and chart values check out")
