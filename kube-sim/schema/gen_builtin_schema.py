#!/usr/bin/env python3
"""Generate kube-sim/schema/builtin.json from the k8s-openapi 0.29.0 sources (src/v1_33).

Usage: gen_builtin_schema.py [K8S_OPENAPI_SRC_V1_33_DIR] [-o OUTPUT]

Reads, per type file, the schemars `json_schema!` block (declared fields and their
types), the `DeepMerge` impl (how lists and maps merge: list::map/set/atomic,
map::granular/atomic) and the serde field names (Rust snake_case -> JSON names),
plus `impl crate::Resource` (GROUP/VERSION/KIND) for the kinds.

Output format (see kube-sim/src/schema.rs):
  kinds:          "group/Kind" -> type name (preferred version when a kind has several)
  kindsByVersion: "group/version/Kind" -> type name (every version)
  types:          type name -> {"atomic"?: true, "fields": {json name: field type}}
  keyDefaults:    list-map key -> value assumed when an element omits it
Field types: {"scalar": "string"|"integer"|"number"|"boolean"|"any"}, {"ref": name},
{"list": "map"|"set"|"atomic", "keys": [...], "items": ft}, {"map": "granular"|"atomic",
"values": ft}, {"opaque": true} (any value, no schema below).

Special wrapper types (never emitted as types, inlined as):
  io.k8s.apimachinery.pkg.util.intstr.IntOrString  -> {"scalar": "any"}
  io.k8s.apimachinery.pkg.api.resource.Quantity    -> {"scalar": "any"}
  io.k8s.apimachinery.pkg.apis.meta.v1.Time        -> {"scalar": "string"}
  io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime   -> {"scalar": "string"}
  io.k8s.apimachinery.pkg.runtime.RawExtension     -> {"opaque": true}
  io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1    -> {"opaque": true}
  ...apiextensions.v1.JSON, JSONSchemaProps, JSONSchemaPropsOrArray/OrBool/OrStringArray
                                                   -> {"opaque": true}

Overrides applied on top of k8s-openapi. k8s-openapi derives its merge strategies for
strategic-merge-patch: a `x-kubernetes-patch-merge-key` replaces the list-map keys and a
`patchStrategy=merge` turns even `x-kubernetes-list-type: atomic` lists into maps/sets, and it
drops struct-level `x-kubernetes-map-type: atomic`. kube-apiserver's server-side apply uses the
`+listType` / `+listMapKey` / `+structType` markers instead. The corrections below were checked
against client-go's applyconfigurations/internal/internal.go (the SSA schema kube-apiserver
uses); every list strategy k8s-openapi produces was compared with it:
  * struct-atomic types (ATOMIC_TYPES):
      meta.v1.LabelSelector, meta.v1.OwnerReference;
      core.v1.ObjectReference, LocalObjectReference, TypedLocalObjectReference, SecretReference,
      ConfigMapKeySelector, SecretKeySelector, ObjectFieldSelector, ResourceFieldSelector,
      NodeSelector, NodeSelectorTerm, TopologySelectorTerm, ScopeSelector, EndpointAddress,
      EndpointPort;
      discovery.v1.EndpointPort; rbac.v1.RoleRef, rbac.v1.Subject;
      autoscaling.v1.CrossVersionObjectReference (autoscaling.v2's is NOT atomic);
      admissionregistration.{v1,v1beta1,v1alpha1}.MatchResources, NamedRuleWithOperations,
      ParamKind, ParamRef; admissionregistration.{v1,v1beta1}.Variable.
    Not atomic (granular), despite the name: core.v1.TypedObjectReference,
    PersistentVolumeClaimTemplate, NodeSelectorRequirement, LabelSelectorRequirement,
    ConfigMapEnvSource/SecretEnvSource, networking IngressClassParametersReference.
  * core.v1.PersistentVolumeSpec.claimRef is `+structType=granular` although ObjectReference is
    atomic: it refs a non-atomic copy named "io.k8s.api.core.v1.ObjectReference+granular".
  * list-map keys reduced to the patch merge key (LIST_KEYS):
      core.v1.Container.ports, EphemeralContainer.ports -> ["containerPort", "protocol"]
      core.v1.ServiceSpec.ports                        -> ["port", "protocol"]
      core.v1.PodSpec.topologySpreadConstraints        -> ["topologyKey", "whenUnsatisfiable"]
    with keyDefaults {"protocol": "TCP"} (the server defaults protocol before merging);
  * `+listType=atomic` lists k8s-openapi turns into maps (ATOMIC_LISTS):
      apps.v1.StatefulSetSpec.volumeClaimTemplates (k8s-openapi: keyed by metadata.name),
      core.v1.PodStatus.hostIPs (k8s-openapi: keyed by ip),
      batch.v1.JobStatus.conditions (k8s-openapi: keyed by type);
  * ObjectMeta: finalizers set, ownerReferences map keyed by uid, managedFields atomic
    (asserted, and forced), and `metadata` of every kind refs ObjectMeta (asserted).
Any other list-map whose key is not a plain field of the element becomes atomic (warned).
Types newer than that internal.go (e.g. resource.k8s.io v1beta1/v1beta2, admissionregistration
v1alpha1 MutatingAdmissionPolicy) carry k8s-openapi's strategies unchanged.
"""

import argparse
import glob
import json
import os
import re
import sys

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."

SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"scalar": "any"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"scalar": "any"},
    META + "Time": {"scalar": "string"},
    META + "MicroTime": {"scalar": "string"},
    META + "FieldsV1": {"opaque": True},
    "io.k8s.apimachinery.pkg.runtime.RawExtension": {"opaque": True},
    APIEXT + "JSON": {"opaque": True},
    APIEXT + "JSONSchemaProps": {"opaque": True},
    APIEXT + "JSONSchemaPropsOrArray": {"opaque": True},
    APIEXT + "JSONSchemaPropsOrBool": {"opaque": True},
    APIEXT + "JSONSchemaPropsOrStringArray": {"opaque": True},
}

# Types kube-apiserver treats as atomic structs (`+structType=atomic`, i.e.
# "x-kubernetes-map-type": "atomic" on the definition). Missing names are ignored.
ATOMIC_TYPES = [
    META + "LabelSelector",
    META + "OwnerReference",
    CORE + "ObjectReference",
    CORE + "LocalObjectReference",
    CORE + "TypedLocalObjectReference",
    CORE + "SecretReference",
    CORE + "ConfigMapKeySelector",
    CORE + "SecretKeySelector",
    CORE + "ObjectFieldSelector",
    CORE + "ResourceFieldSelector",
    CORE + "NodeSelector",
    CORE + "NodeSelectorTerm",
    CORE + "TopologySelectorTerm",
    CORE + "ScopeSelector",
    CORE + "EndpointAddress",
    CORE + "EndpointPort",
    "io.k8s.api.discovery.v1.EndpointPort",
    "io.k8s.api.rbac.v1.RoleRef",
    "io.k8s.api.rbac.v1.Subject",
    "io.k8s.api.autoscaling.v1.CrossVersionObjectReference",
] + [
    f"io.k8s.api.admissionregistration.{v}.{t}"
    for v in ("v1", "v1beta1", "v1alpha1")
    for t in ("MatchResources", "NamedRuleWithOperations", "ParamKind", "ParamRef")
] + [
    "io.k8s.api.admissionregistration.v1.Variable",
    "io.k8s.api.admissionregistration.v1beta1.Variable",
]

# (type, field) -> list-map keys.
LIST_KEYS = {
    (CORE + "Container", "ports"): ["containerPort", "protocol"],
    (CORE + "EphemeralContainer", "ports"): ["containerPort", "protocol"],
    (CORE + "ServiceSpec", "ports"): ["port", "protocol"],
    (CORE + "PodSpec", "topologySpreadConstraints"): ["topologyKey", "whenUnsatisfiable"],
}

# (type, field) -> list kind forced to atomic.
ATOMIC_LISTS = [
    ("io.k8s.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates"),
    (CORE + "PodStatus", "hostIPs"),
    ("io.k8s.api.batch.v1.JobStatus", "conditions"),
]

# (type, field) -> referenced type made granular (`+structType=granular` on the field).
GRANULAR_REFS = [
    (CORE + "PersistentVolumeSpec", "claimRef"),
]

KEY_DEFAULTS = {"protocol": "TCP"}

warnings = []


def warn(msg):
    warnings.append(msg)


# ---------------------------------------------------------------------------
# Scanning Rust source


def skip_string(text, i):
    """text[i] is a '"'; return the index after the closing quote."""
    i += 1
    while True:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        else:
            i += 1


def match_close(text, i):
    """text[i] is an opening bracket; return the index of its closing bracket."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[i]]]
    i += 1
    while stack:
        c = text[i]
        if c == '"':
            i = skip_string(text, i)
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if c != stack.pop():
                raise ValueError(f"unbalanced bracket at {i}")
            if not stack:
                return i
        i += 1
    raise ValueError("unreachable")


def rust_unescape(s):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            n = s[i + 1]
            if n == "u" and s[i + 2] == "{":
                j = s.index("}", i)
                out.append(chr(int(s[i + 3:j], 16)))
                i = j + 1
                continue
            out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


SUBSCHEMA_RE = re.compile(r"subschema_for::<([\w:]+)>\(\)")


class JsonMacroParser:
    """Parses the JSON-like body of `json_schema!({...})`. Parenthesised Rust
    expressions become {"$rust": path} when they are `__gen.subschema_for::<path>()`."""

    def __init__(self, text):
        self.t = text
        self.i = 0

    def ws(self):
        t = self.t
        while self.i < len(t):
            if t[self.i].isspace():
                self.i += 1
            elif t.startswith("//", self.i):
                self.i = t.index("\n", self.i)
            else:
                break

    def value(self):
        self.ws()
        t = self.t
        c = t[self.i]
        if c == "{":
            self.i += 1
            obj = {}
            while True:
                self.ws()
                if t[self.i] == "}":
                    self.i += 1
                    return obj
                key = self.string()
                self.ws()
                assert t[self.i] == ":", t[self.i:self.i + 80]
                self.i += 1
                obj[key] = self.value()
                self.ws()
                if t[self.i] == ",":
                    self.i += 1
        if c == "[":
            self.i += 1
            arr = []
            while True:
                self.ws()
                if t[self.i] == "]":
                    self.i += 1
                    return arr
                arr.append(self.value())
                self.ws()
                if t[self.i] == ",":
                    self.i += 1
        if c == '"':
            return self.string()
        if c == "(":
            j = match_close(t, self.i)
            expr = t[self.i:j + 1]
            self.i = j + 1
            m = SUBSCHEMA_RE.search(expr)
            if not m:
                raise ValueError(f"unsupported rust expression: {expr[:200]}")
            return {"$rust": m.group(1)}
        m = re.compile(r"__gen\.subschema_for::<([\w:]+)>\(\)").match(t, self.i)
        if m:
            self.i = m.end()
            return {"$rust": m.group(1)}
        m = re.compile(r"-?[0-9][0-9.eE+-]*|true|false|null").match(t, self.i)
        if m:
            self.i = m.end()
            return json.loads(m.group(0))
        raise ValueError(f"unexpected token: {t[self.i:self.i + 200]}")

    def string(self):
        assert self.t[self.i] == '"', self.t[self.i:self.i + 80]
        j = skip_string(self.t, self.i)
        s = rust_unescape(self.t[self.i + 1:j - 1])
        self.i = j
        return s


def parse_merge_stmt(text, i):
    """Parses one merge statement starting at text[i]. Returns (rust_field or None, strategy, end).
    strategy: ("default",) | ("list", kind, keys, inner) | ("map", kind, inner)."""
    m = re.compile(r"crate::(DeepMerge::merge_from|merge_strategies::(list|map)::(\w+))\(").match(text, i)
    if not m:
        raise ValueError(f"unsupported merge statement: {text[i:i + 200]}")
    open_i = m.end() - 1
    close_i = match_close(text, open_i)
    args = split_args(text[open_i + 1:close_i])
    end = close_i + 1
    if text[end] == ";":
        end += 1
    target = args[0].strip()
    fm = re.fullmatch(r"&mut self\.(\w+)", target)
    field = fm.group(1) if fm else None
    if m.group(1) == "DeepMerge::merge_from":
        return field, ("default",), end
    family, kind = m.group(2), m.group(3)
    if family == "list":
        keys = None
        inner = ("default",)
        if kind == "map":
            keys = []
            for cl in re.findall(r"\|lhs, rhs\|\s*([^,\]]+?)\s*==", args[2]):
                km = re.fullmatch(r"lhs\.(\w+)", cl.strip())
                keys.append(km.group(1) if km else None)
            inner = closure_inner(args[3])
        return field, ("list", kind, keys, inner), end
    inner = closure_inner(args[2]) if kind == "granular" else ("default",)
    return field, ("map", kind, inner), end


def closure_inner(closure):
    body = closure[closure.index("{") + 1:closure.rindex("}")].strip()
    _, strat, _ = parse_merge_stmt(body, 0)
    return strat


def split_args(s):
    args, depth, cur, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c == '"':
            i = skip_string(s, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "|" and depth == 0:
            i = s.index("|", i + 1) + 1  # closure parameters `|a, b|`
            continue
        elif c == "," and depth == 0:
            args.append(s[cur:i])
            cur = i + 1
        i += 1
    if s[cur:].strip():
        args.append(s[cur:])
    return args


def parse_deep_merge(src, struct):
    m = re.search(r"impl crate::DeepMerge for " + struct + r" \{\s*fn merge_from\(&mut self, other: Self\) \{", src)
    if not m:
        return None
    body_open = m.end() - 1
    body_close = match_close(src, body_open)
    body = src[body_open + 1:body_close]
    out = {}
    i = 0
    while True:
        while i < len(body) and body[i].isspace():
            i += 1
        if i >= len(body):
            break
        if not body.startswith("crate::", i):
            # enums / hand-written impls (e.g. `match` / `*self = other`)
            return None
        field, strat, i = parse_merge_stmt(body, i)
        if field:
            out[field] = strat
    return out


# ---------------------------------------------------------------------------


def load(src_dir):
    types = {}  # rust path -> info
    for path in sorted(glob.glob(os.path.join(src_dir, "**", "*.rs"), recursive=True)):
        rel = os.path.relpath(path, src_dir)
        if os.path.basename(rel) == "mod.rs":
            continue
        with open(path, encoding="utf-8") as f:
            src = f.read()
        for m in re.finditer(r"impl crate::schemars::JsonSchema for (\w+) \{", src):
            struct = m.group(1)
            moddir = os.path.dirname(rel).replace(os.sep, "::")
            rust_path = "crate::" + (moddir + "::" if moddir else "") + struct
            impl_close = match_close(src, m.end() - 1)
            impl = src[m.start():impl_close]
            nm = re.search(r'fn schema_name\(\)[^{]*\{\s*"([^"]+)"\.into\(\)', impl)
            jm = re.search(r"crate::schemars::json_schema!\(", impl)
            schema = None
            if jm:
                open_i = jm.end() - 1
                body = impl[open_i + 1:match_close(impl, open_i)]
                schema = JsonMacroParser(body).value()
            serde = {}
            for fm in re.finditer(r'"([^"\\]+)" => Field::Key_(\w+),', src):
                serde[fm.group(2)] = fm.group(1)
            res = None
            rm = re.search(r"impl crate::Resource for " + struct + r" \{(.*?)\n\}", src, re.S)
            if rm:
                consts = dict(re.findall(r'const (\w+): &\'static str = "([^"]*)";', rm.group(1)))
                if {"GROUP", "KIND", "VERSION"} <= consts.keys():
                    res = consts
            types[rust_path] = {
                "name": nm.group(1) if nm else None,
                "schema": schema,
                "merge": parse_deep_merge(src, struct),
                "serde": serde,
                "resource": res,
                "file": rel,
            }
    return types


def convert(schema, strat, types, where):
    """JSON schema of a property + DeepMerge strategy -> field type."""
    if "$rust" in schema:
        target = types.get(schema["$rust"])
        if target is None or target["name"] is None:
            raise ValueError(f"{where}: unknown type {schema['$rust']}")
        name = target["name"]
        if name in SPECIAL:
            return dict(SPECIAL[name])
        if "properties" not in (target["schema"] or {}):
            # an object without declared fields (StorageVersionSpec,
            # CustomResourceSubresourceStatus, Patch): any value, as kube-apiserver's
            # untyped/deduced schema
            return {"opaque": True}
        return {"ref": name}
    ty = schema.get("type")
    if ty in ("string", "integer", "number", "boolean"):
        return {"scalar": ty}
    if ty == "array":
        inner = strat[3] if strat and strat[0] == "list" else ("default",)
        items = convert(schema["items"], inner, types, where + "[]")
        kind = strat[1] if strat and strat[0] == "list" else "atomic"
        out = {"list": kind, "items": items}
        if kind == "map":
            out["keys"] = strat[2]
        return out
    if ty == "object" and "additionalProperties" in schema:
        inner = strat[2] if strat and strat[0] == "map" else ("default",)
        values = convert(schema["additionalProperties"], inner, types, where + "{}")
        kind = strat[1] if strat and strat[0] == "map" else "granular"
        return {"map": kind, "values": values}
    warn(f"{where}: no usable schema ({sorted(schema)}), opaque")
    return {"opaque": True}


def version_priority(v):
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (-1, 0, 0)
    stage = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    return (stage, int(m.group(1)), int(m.group(3) or 0))


def generate(src_dir):
    types = load(src_dir)
    out_types = {}
    kinds_by_version = {}
    for rust_path, info in types.items():
        name = info["name"]
        if name is None or name in SPECIAL:
            continue
        schema = info["schema"]
        props = (schema or {}).get("properties")
        if props is None:
            continue  # inlined as {"opaque": true} where used
        merge = info["merge"] or {}
        json_to_rust = {j: r for r, j in info["serde"].items()}
        fields = {}
        for jname, pschema in props.items():
            rname = json_to_rust.get(jname)
            strat = merge.get(rname) if rname else None
            fields[jname] = convert(pschema, strat, types, f"{name}.{jname}")
            ft = fields[jname]
            if ft.get("list") == "map":
                # map Rust key names to JSON names of the item type
                item_rust = None
                items_schema = pschema.get("items", {})
                if "$rust" in items_schema:
                    item_rust = types[items_schema["$rust"]]
                keys = []
                for k in ft["keys"]:
                    jk = item_rust["serde"].get(k) if (item_rust and k) else None
                    if jk is None:
                        keys = None
                        break
                    keys.append(jk)
                if not keys:
                    if (name, jname) not in ATOMIC_LISTS:
                        warn(f"{name}.{jname}: list-map key not a plain item field, made atomic")
                    ft["list"] = "atomic"
                    del ft["keys"]
                else:
                    ft["keys"] = keys
        out_types[name] = {"fields": fields}
        res = info["resource"]
        if res:
            kinds_by_version[f"{res['GROUP']}/{res['VERSION']}/{res['KIND']}"] = name

    # --- overrides -------------------------------------------------------
    for t in ATOMIC_TYPES:
        if t in out_types:
            out_types[t]["atomic"] = True
        else:
            warn(f"atomic override: {t} not found")
    for (t, f), keys in LIST_KEYS.items():
        ft = out_types.get(t, {}).get("fields", {}).get(f)
        if ft is None or "list" not in ft:
            warn(f"list-key override: {t}.{f} not found")
            continue
        ft["list"] = "map"
        ft["keys"] = keys
    for t, f in ATOMIC_LISTS:
        ft = out_types.get(t, {}).get("fields", {}).get(f)
        if ft is None or "list" not in ft:
            warn(f"atomic-list override: {t}.{f} not found")
            continue
        ft["list"] = "atomic"
        ft.pop("keys", None)
    for t, f in GRANULAR_REFS:
        ft = out_types.get(t, {}).get("fields", {}).get(f)
        if ft is None or "ref" not in ft:
            warn(f"granular-ref override: {t}.{f} not found")
            continue
        copy_name = ft["ref"] + "+granular"
        out_types[copy_name] = {"fields": dict(out_types[ft["ref"]]["fields"])}
        ft["ref"] = copy_name
    om = out_types[META + "ObjectMeta"]["fields"]
    expect = {
        "finalizers": {"list": "set", "items": {"scalar": "string"}},
        "ownerReferences": {"list": "map", "keys": ["uid"], "items": {"ref": META + "OwnerReference"}},
        "managedFields": {"list": "atomic", "items": {"ref": META + "ManagedFieldsEntry"}},
    }
    for f, ft in expect.items():
        if om.get(f) != ft:
            warn(f"ObjectMeta.{f} was {om.get(f)}, forced to {ft}")
            om[f] = ft

    # --- kinds -----------------------------------------------------------
    kinds = {}
    best = {}
    for gvk, name in kinds_by_version.items():
        group, version, kind = gvk.split("/")
        key = f"{group}/{kind}"
        if key not in best or version_priority(version) > version_priority(best[key]):
            best[key] = version
            kinds[key] = name
        fields = out_types[name]["fields"]
        if name != META + "Status" and "metadata" in fields and fields["metadata"] != {"ref": META + "ObjectMeta"}:
            warn(f"{name}.metadata is {fields['metadata']}")
        if "apiVersion" not in fields or "kind" not in fields:
            warn(f"{name}: kind without apiVersion/kind fields")

    # --- dangling refs ---------------------------------------------------
    def walk(ft, where):
        if "ref" in ft and ft["ref"] not in out_types:
            warn(f"{where}: dangling ref {ft['ref']}")
        for sub in ("items", "values"):
            if sub in ft:
                walk(ft[sub], where)
    for name, t in out_types.items():
        for f, ft in t["fields"].items():
            walk(ft, f"{name}.{f}")

    return {
        "kinds": kinds,
        "kindsByVersion": kinds_by_version,
        "types": out_types,
        "keyDefaults": KEY_DEFAULTS,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", nargs="?", help="k8s-openapi-0.29.0/src/v1_33 directory")
    ap.add_argument("-o", "--output", default=os.path.join(here, "builtin.json"))
    args = ap.parse_args()
    src = args.src
    if src is None:
        found = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/k8s-openapi-0.29.0/src/v1_33")))
        if not found:
            sys.exit("k8s-openapi-0.29.0 not found in ~/.cargo/registry; pass its src/v1_33 directory")
        src = found[0]
    result = generate(src)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    for w in warnings:
        print("warning:", w, file=sys.stderr)
    print(f"{args.output}: {len(result['kinds'])} kinds, {len(result['types'])} types", file=sys.stderr)


if __name__ == "__main__":
    main()
