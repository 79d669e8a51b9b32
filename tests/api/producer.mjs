// A producer in another language: Node.js 20, nothing but `fetch`.
//
// Lists the operations the API offers, submits one job of each with a payload written
// here, long-polls each until it is final, and shows that a refused payload comes back
// as a problem document naming the field. With OPENAI_WORKER_WEBHOOK_SECRET set, it also
// listens on 127.0.0.1, gives one more job that address as its callback_url and checks
// the webhook it receives by the README's three lines. Prints one JSON summary on
// stdout; exits 0 when every job succeeded and every check held, 1 otherwise.
//
//   OPENAI_WORKER_API_URL=http://127.0.0.1:8088 OPENAI_WORKER_API_TOKEN=owk_… \
//   node producer.mjs CONFIGURATION

import crypto from "node:crypto";
import http from "node:http";

const base = process.env.OPENAI_WORKER_API_URL ?? "http://127.0.0.1:8088";
const token = process.env.OPENAI_WORKER_API_TOKEN;
const configuration = process.argv[2] ?? "main";
const headers = { "Content-Type": "application/json" };
if (token) headers.Authorization = `Bearer ${token}`;

const payloads = {
  chat_completions_without_history: { model: "gpt-4o-mini", user_prompt: "Say hello" },
  chat_completions_with_history: {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Say hello" },
    ],
  },
  chat_completions_advanced: {
    request: { model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }], seed: 7 },
  },
  responses: { request: { model: "gpt-5-mini", input: "Say hello" } },
  chat_completions_multiple: { model: "gpt-4o-mini", prompts: ["One", "Two"] },
  summarize_text: { model: "gpt-4o-mini", text: "A long text about otters." },
  configuration_test: { model: "gpt-4o-mini" },
  image_generations_single: { model: "dall-e-3", prompt: "An otter", response_format: "b64_json" },
  image_generations_advanced: {
    request: { model: "dall-e-3", prompt: "An otter", response_format: "b64_json" },
  },
  embeddings_single_input: { model: "text-embedding-3-small", input: "otter" },
  embeddings_list_input: {
    model: "text-embedding-3-small",
    chunks: [
      { input: "otter", key: "a" },
      { input: "beaver", key: 2 },
    ],
  },
  embeddings_advanced: { request: { model: "text-embedding-3-small", input: ["otter", "beaver"] } },
  raw_request: { method: "GET", path: "models" },
};

async function call(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get("content-type"), body: await response.json() };
}

const problems = [];
const summary = { operations: {}, refused: null, problems };

const listed = await call("GET", "/v1/operations");
if (listed.status !== 200) {
  problems.push(`GET /v1/operations answered ${listed.status}`);
} else {
  const names = listed.body.operations.map((operation) => operation.name);
  for (const name of names.filter((name) => !(name in payloads))) {
    problems.push(`no payload written here for ${name}`);
  }
  // Submit every job first, then wait for each: they run side by side.
  const submitted = [];
  for (const name of names.filter((name) => name in payloads)) {
    const job = {
      operation: name,
      payload: { configuration, ...payloads[name] },
      idempotency_key: `node-${name}-${process.pid}`,
    };
    const answer = await call("POST", "/v1/jobs", job);
    if (answer.status !== 202) problems.push(`${name}: POST /v1/jobs answered ${answer.status}`);
    else submitted.push([name, answer.body.id]);
  }
  for (const [name, id] of submitted) {
    let record = null;
    for (let poll = 0; poll < 4 && !(record && ["succeeded", "failed"].includes(record.status)); poll++) {
      record = (await call("GET", `/v1/jobs/${id}?wait=30`)).body;
    }
    summary.operations[name] = {
      id,
      status: record.status,
      output: record.output === null ? null : Object.keys(record.output).sort(),
      error: record.error,
    };
    if (record.status !== "succeeded") problems.push(`${name}: ${record.status}`);
  }
}

const refused = await call("POST", "/v1/jobs", {
  operation: "summarize_text",
  payload: { configuration, text: 42 },
});
summary.refused = { status: refused.status, type: refused.type, errors: refused.body.errors };
if (refused.status !== 422 || refused.type !== "application/problem+json") {
  problems.push(`a refused payload answered ${refused.status} ${refused.type}`);
}

// The README's verification, with the secret, the three headers and the raw body.
function verified(secret, id, ts, sig, rawBody) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = "v1," + crypto.createHmac("sha256", key).update(`${id}.${ts}.${rawBody}`).digest("base64");
  return Math.abs(Date.now() / 1000 - ts) < 300 && sig.split(" ").some((s) => s.length === expected.length && crypto.timingSafeEqual(Buffer.from(s), Buffer.from(expected)));
}

const secret = process.env.OPENAI_WORKER_WEBHOOK_SECRET;
if (secret) {
  const received = [];
  let heard;
  const heardOne = new Promise((resolve) => (heard = resolve));
  const server = http.createServer((request, response) => {
    let rawBody = "";
    request.setEncoding("utf8");
    request.on("data", (chunk) => (rawBody += chunk));
    request.on("end", () => {
      const [id, ts, sig] = ["webhook-id", "webhook-timestamp", "webhook-signature"].map(
        (name) => request.headers[name] ?? "",
      );
      received.push({ id, verified: verified(secret, id, Number(ts), sig, rawBody), event: JSON.parse(rawBody) });
      response.writeHead(204).end();
      heard();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const callback_url = `http://127.0.0.1:${server.address().port}/hook`;
  const answer = await call("POST", "/v1/jobs", {
    operation: "summarize_text",
    payload: { configuration, model: "gpt-4o-mini", text: "Otters hold hands." },
    callback_url,
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, 60_000));
  await Promise.race([heardOne, timeout]);
  server.close();
  const [first] = received;
  summary.webhook = first
    ? { job: answer.body.id, verified: first.verified, type: first.event.type, id: first.event.data.job_id, status: first.event.data.status }
    : null;
  if (!first) problems.push("no webhook within 60 s");
  else if (!first.verified) problems.push("a webhook whose signature does not verify");
  else if (first.event.data.job_id !== answer.body.id) problems.push("a webhook for another job");
}

process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
process.exit(problems.length ? 1 : 0);
