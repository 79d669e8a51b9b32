#!/usr/bin/env node
// Write a mock-only copy of the Azure OpenAI v1 spec
// (contracts/specs/azure-v1-v1-generated.json) for Stoplight Prism.
//
// Usage: node prepare_azure_v1.js <input spec.json> <output spec.json>
//
// The vendored spec itself is never modified. Every change below is mechanical and
// keeps the set of valid requests the same; each one exists because Prism 5.16 would
// otherwise serve the wrong URLs, refuse to load the file, or silently stop
// validating request bodies.
//
//  A. Base path. The spec's only server is "{endpoint}/openai/v1" and its paths are
//     relative to it ("/chat/completions"). Prism routes on the paths alone, so we
//     prepend "/openai/v1" to every path and replace `servers` with a plain
//     loopback URL. Result: POST http://127.0.0.1:4012/openai/v1/chat/completions.
//
//  B. `nullable` next to no `type` (14 places, e.g. chat `reasoning_effort` and
//     `stop`, which are {allOf: [$ref], nullable: true}). Ajv, which Prism uses,
//     refuses to compile `nullable` without `type`; Prism then skips body validation
//     for the whole operation. nullable:true becomes anyOf [<the schema>, {type:null}];
//     nullable:false is simply dropped. A schema that holds only annotations besides
//     `nullable` already accepts anything, so only the keyword is removed.
//
//  C. `x-ms-examples` (AutoRest extension). Its values are $refs to
//     ./examples/*.yaml files that are not vendored; Prism tries to resolve them and
//     exits at startup ("fatal: Error opening file .../examples/chat_completions.yaml").
//     They are removed from every operation.
//
//  D. `discriminator` without `oneOf` (35 schemas). The spec models polymorphism the
//     OpenAPI-3.0 way: a base schema (e.g. OpenAI.ChatCompletionRequestMessage) carries
//     `discriminator.mapping` to subtypes, and each subtype is allOf[base]. Ajv ignores
//     `discriminator`, so only the base is checked: a `tool` message without
//     `tool_call_id`, or response_format json_schema without `json_schema.name`, would
//     pass. Where the discriminator property is a closed enum whose every value is in
//     the mapping (so a bare base object can never be valid), a reference to the base
//     is pointed at a new schema anyOf[the mapped subtypes]. The subtypes still include
//     the base through their allOf, so nothing the spec allows is rejected. Bases with
//     an open discriminator (anyOf[string, enum], or enum values without a mapping) are
//     left alone. This is done on "<name>__Req" copies used by request bodies only (see
//     the code for why); the rewritten bases are printed.
//
// (The spec has no `example`/`examples` values, so no example-type coercion is needed.)
'use strict';
const fs = require('fs');

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: prepare_azure_v1.js <input spec.json> <output spec.json>');
  process.exit(2);
}

const doc = JSON.parse(fs.readFileSync(input, 'utf8'));
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// Keys that describe a schema without constraining values; they stay on the outer
// schema when (B) wraps the constraining keys into anyOf.
const ANNOTATIONS = new Set(['title', 'description', 'default', 'example', 'examples', 'deprecated', 'readOnly', 'writeOnly', 'externalDocs', 'xml']);

// --- A: base path ---------------------------------------------------------------
function serverBasePath(spec) {
  const url = spec.servers && spec.servers[0] && spec.servers[0].url;
  if (!url) return '';
  // Drop a scheme+host ("https://h") or a leading server variable ("{endpoint}").
  const rest = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').replace(/^\{[^}]+\}/, '');
  return rest.replace(/\/+$/, '');
}
const base = serverBasePath(doc);
if (base) {
  const moved = {};
  for (const [p, item] of Object.entries(doc.paths)) moved[base + p] = item;
  doc.paths = moved;
}
doc.servers = [{ url: 'http://127.0.0.1' }];

// --- C: x-ms-examples -------------------------------------------------------------
let msExamples = 0;
for (const item of Object.values(doc.paths)) {
  for (const m of HTTP_METHODS) {
    if (item[m] && item[m]['x-ms-examples'] !== undefined) {
      delete item[m]['x-ms-examples'];
      msExamples++;
    }
  }
}

// --- B: nullable without type -------------------------------------------------------
let nullableRewritten = 0;
function rewriteNullable(node) {
  if (Array.isArray(node)) return node.forEach(rewriteNullable);
  if (node === null || typeof node !== 'object') return;
  Object.values(node).forEach(rewriteNullable); // children first
  if (typeof node.nullable !== 'boolean' || 'type' in node) return;
  const wasNullable = node.nullable;
  delete node.nullable;
  nullableRewritten++;
  if (!wasNullable) return;
  const constraining = {};
  for (const key of Object.keys(node)) {
    if (ANNOTATIONS.has(key) || key.startsWith('x-')) continue;
    constraining[key] = node[key];
    delete node[key];
  }
  if (Object.keys(constraining).length === 0) return;
  node.anyOf = [constraining, { type: 'null' }];
}
rewriteNullable(doc);

// --- D: closed discriminators -> anyOf of the mapped subtypes (request side only) ----
const schemas = doc.components.schemas;
const REF = '#/components/schemas/';
const nameOf = (ref) => (typeof ref === 'string' && ref.startsWith(REF) ? ref.slice(REF.length) : null);
const REQ = '__Req';
const POLY = '__Polymorphic';

function forEachRef(node, fn) {
  if (Array.isArray(node)) return node.forEach((n) => forEachRef(n, fn));
  if (node === null || typeof node !== 'object') return;
  if (typeof node.$ref === 'string') fn(node);
  Object.values(node).forEach((v) => forEachRef(v, fn));
}

// The enum values of a discriminator property, or null when the set is open/unknown.
function closedEnum(prop, seen = new Set()) {
  if (!prop || typeof prop !== 'object') return null;
  if (prop.$ref) {
    const n = nameOf(prop.$ref);
    if (!n || seen.has(n)) return null;
    seen.add(n);
    return closedEnum(schemas[n], seen);
  }
  if (Array.isArray(prop.allOf) && prop.allOf.length === 1) return closedEnum(prop.allOf[0], seen);
  if (prop.type === 'string' && Array.isArray(prop.enum) && !prop.anyOf && !prop.oneOf) return prop.enum;
  return null;
}

// Bases whose discriminator is closed and fully mapped: name -> mapped subtype names.
const closedBases = new Map();
for (const [name, s] of Object.entries(schemas)) {
  const d = s && s.discriminator;
  if (!d || !d.mapping || s.oneOf || s.anyOf) continue;
  const values = closedEnum(s.properties && s.properties[d.propertyName]);
  if (!values || !values.every((v) => Object.prototype.hasOwnProperty.call(d.mapping, v))) continue;
  const targets = [...new Set(Object.values(d.mapping).map(nameOf))];
  if (targets.some((t) => !t || !schemas[t])) continue;
  closedBases.set(name, targets);
}

// Request bodies only. Prism builds its mock answers from the response schemas and
// checks them against the same schemas; pointing response schemas at these anyOf
// wrappers made it generate answers it then rejected (500 for POST /responses). So
// every component schema reachable from a request body (including mapped subtypes)
// gets a "<name>__Req" copy, the request bodies point at the copies, and only the
// copies are rewritten. Response schemas stay exactly as in the spec.
const requestBodies = [];
for (const item of Object.values(doc.paths)) {
  for (const m of HTTP_METHODS) {
    const content = item[m] && item[m].requestBody && item[m].requestBody.content;
    if (content) for (const media of Object.values(content)) if (media.schema) requestBodies.push(media.schema);
  }
}
const reachable = new Set();
const queue = [];
const visit = (node) =>
  forEachRef(node, (r) => {
    const n = nameOf(r.$ref);
    if (n && schemas[n] && !reachable.has(n)) {
      reachable.add(n);
      queue.push(n);
    }
  });
requestBodies.forEach(visit);
while (queue.length) {
  const n = queue.shift();
  visit(schemas[n]);
  for (const t of closedBases.get(n) || []) visit({ $ref: REF + t });
}
const polymorphic = [...reachable].filter((n) => closedBases.has(n));
const target = (n) => REF + n + REQ + (closedBases.has(n) ? POLY : '');

for (const n of reachable) {
  const copy = JSON.parse(JSON.stringify(schemas[n]));
  const subtypeOf = new Set([...closedBases].filter(([, ts]) => ts.includes(n)).map(([b]) => b));
  // A subtype keeps its own allOf[base] pointing at the plain base copy.
  const keep = new Set((copy.allOf || []).filter((p) => subtypeOf.has(nameOf(p.$ref))));
  forEachRef(copy, (r) => {
    const m = nameOf(r.$ref);
    if (m) r.$ref = keep.has(r) ? REF + m + REQ : target(m);
  });
  schemas[n + REQ] = copy;
}
requestBodies.forEach((schema) =>
  forEachRef(schema, (r) => {
    const m = nameOf(r.$ref);
    if (m) r.$ref = target(m);
  }),
);
for (const b of polymorphic) {
  schemas[b + REQ + POLY] = {
    description: `Mock-only: one of the subtypes mapped by ${b}.discriminator.`,
    anyOf: closedBases.get(b).map((t) => ({ $ref: target(t) })),
  };
}

fs.writeFileSync(output, JSON.stringify(doc) + '\n');
console.log(
  `prepare_azure_v1: ${input} -> ${output}: base path '${base}', ` +
    `${Object.keys(doc.paths).length} paths, nullable rewritten ${nullableRewritten}, ` +
    `x-ms-examples removed ${msExamples}, closed discriminators made polymorphic ` +
    `${polymorphic.length} (${polymorphic.join(', ')}), request-side schema copies ${reachable.size}`,
);
