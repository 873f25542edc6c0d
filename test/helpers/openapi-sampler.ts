// Reads the emulator's own OpenAPI document and makes requests from it: the operation catalogue the
// fuzz tests walk, and a valid-looking example for any JSON schema (which the fuzzer then mutates).
export interface Operation {
  method: string;
  /** OpenAPI path template, e.g. /jobs/{jobId}. */
  path: string;
  pathParams: string[];
  queryParams: { name: string; schema: any; required: boolean }[];
  /** Request body media types → schema. */
  body: Record<string, any>;
  bodyRequired: boolean;
}

export function operations(doc: any): Operation[] {
  const out: Operation[] = [];
  for (const [p, item] of Object.entries<any>(doc.paths ?? {})) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (!["get", "post", "put", "delete", "patch"].includes(method)) continue;
      const params: any[] = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((x) => deref(doc, x));
      out.push({
        method: method.toUpperCase(),
        path: p,
        pathParams: [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
        queryParams: params.filter((x) => x.in === "query").map((x) => ({ name: x.name, schema: x.schema ?? {}, required: !!x.required })),
        body: Object.fromEntries(Object.entries<any>(deref(doc, op.requestBody)?.content ?? {}).map(([k, v]) => [k, v.schema ?? {}])),
        bodyRequired: !!deref(doc, op.requestBody)?.required,
      });
    }
  }
  return out;
}

export function deref(doc: any, node: any, depth = 0): any {
  if (!node || typeof node !== "object" || !("$ref" in node) || depth > 20) return node;
  const target = String(node.$ref)
    .replace(/^#\//, "")
    .split("/")
    .reduce((o: any, k) => o?.[k], doc);
  return deref(doc, target, depth + 1);
}

/** A deterministic, schema-valid-looking example (patterns are not solved; ids get a safe shape). */
export function sample(doc: any, schema: any, depth = 0): unknown {
  const s = deref(doc, schema);
  if (!s || depth > 8) return null;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if ("example" in s) return s.example;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  if (s.default !== undefined) return s.default;
  const alt = s.oneOf ?? s.anyOf;
  if (Array.isArray(alt) && alt.length) return sample(doc, alt.find((a: any) => deref(doc, a)?.type !== "null") ?? alt[0], depth + 1);
  if (Array.isArray(s.allOf) && s.allOf.length) return Object.assign({}, ...s.allOf.map((a: any) => sample(doc, a, depth + 1)));
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  switch (type) {
    case "object":
    case undefined: {
      if (!s.properties) return type === "object" ? {} : "x";
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries<any>(s.properties)) out[k] = sample(doc, v, depth + 1);
      return out;
    }
    case "array":
      return [sample(doc, s.items ?? {}, depth + 1)];
    case "integer":
      return typeof s.minimum === "number" ? s.minimum : 1;
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 0.5;
    case "boolean":
      return true;
    case "string":
      if (s.format === "uri" || s.format === "url") return "http://127.0.0.1:9/hook";
      return "sample-1";
    default:
      return null;
  }
}
