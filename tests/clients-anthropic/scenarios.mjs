// The Anthropic TypeScript SDK (@anthropic-ai/sdk) against lambdarouter's /messages.
// Driven by tests/test_messages_js.py: one JSON line in ({scenario, input}), one JSON line out ({ok} or {error}),
// so one node process serves every scenario of a test run.
import Anthropic from "@anthropic-ai/sdk";
import { createInterface } from "node:readline";

function client(input) {
  return new Anthropic({ baseURL: input.baseURL, apiKey: input.apiKey, maxRetries: 0, timeout: 20000 });
}

function request(input, extra = {}) {
  return { model: input.model, max_tokens: input.max_tokens ?? 256, messages: input.messages, ...input.params, ...extra };
}

const scenarios = {
  // messages.create, and the response's x-generation-id (the SDK hands the body on as parsed: usage.cost is kept).
  async create(input) {
    const { data, response } = await client(input).messages.create(request(input)).withResponse();
    return { message: data, generationId: response.headers.get("x-generation-id") };
  },
  // The messages.stream helper: its events in order, the text it assembled and the final message.
  async stream(input) {
    const stream = client(input).messages.stream(request(input));
    const events = [];
    let text = "";
    stream.on("text", (delta) => { text += delta; });
    for await (const event of stream) events.push(event);
    const message = await stream.finalMessage();
    const { response } = await stream.withResponse();
    return { events, text, message, generationId: response.headers.get("x-generation-id") };
  },
  async count(input) {
    return client(input).messages.countTokens({ model: input.model, messages: input.messages, ...input.params });
  },
  // A failed call: which of the SDK's error classes it raised, and what it read from the body.
  async error(input) {
    try {
      const run = input.stream
        ? client(input).messages.stream(request(input)).finalMessage()
        : client(input).messages.create(request(input));
      await run;
      return { raised: null };
    } catch (err) {
      return { raised: err.constructor.name, status: err.status ?? null, type: err.error?.error?.type ?? null,
               message: err.error?.error?.message ?? String(err.message) };
    }
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const { scenario, input } = JSON.parse(line);
  try {
    const ok = await scenarios[scenario](input);
    process.stdout.write(JSON.stringify({ ok }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: `${err?.constructor?.name}: ${err?.stack ?? err}` }) + "\n");
  }
}
