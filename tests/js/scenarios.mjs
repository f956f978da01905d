// The JS clients' scenarios, driven by tests/test_js_clients.py against a real `lambdarouter serve` whose
// upstream is the fake the test scripted. One process serves the whole test session (the SDKs load once): each
// line on stdin is a JSON request {client, scenario, input: {url, key, adminKey, model, host, ...}}, answered
// by one line on stdout: {ok: what the client saw} or {error: the client's own error (a failed validation
// included)}.
import { OpenRouter } from "@openrouter/sdk";
import * as orErrors from "@openrouter/sdk/models/errors";
import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import { APICallError, embed, generateImage, generateObject, generateText, jsonSchema, stepCountIs, streamText,
  tool } from "ai";
import OpenAI from "openai";

import { createInterface } from "node:readline";

let input = {};  // the current scenario's input (one scenario runs at a time)
const ASK = [{ role: "user", content: "Weather in Paris?" }];
const WEATHER_PARAMETERS = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
const WEATHER = { type: "function", function: { name: "get_weather", description: "Weather in a city.",
  parameters: WEATHER_PARAMETERS } };
const SCHEMA = { type: "object", properties: { city: { type: "string" }, celsius: { type: "integer" } },
  required: ["city", "celsius"], additionalProperties: false };
const RESULT = '{"sky": "sunny", "celsius": 21}';
const pinned = () => ({ model: input.model, provider: { only: [input.host] } });

// A chat stream's text, last finish reason and usage (`finishOf`: the SDK's name for the finish reason).
async function fold(stream, finishOf) {
  let text = "", finish = null, usage = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      finish = finishOf(choice) ?? finish;
    }
    usage = chunk.usage ?? usage;
  }
  return { text, finish, usage };
}

async function expectError(call) {
  try {
    await call();
  } catch (error) {
    const status = error.statusCode ?? error.status ?? error.data$?.error?.code;
    return { name: error.constructor.name, status, message: String(error.message).slice(0, 300) };
  }
  throw new Error("expected an error, the call succeeded");
}

// --- OpenRouter's TypeScript SDK -----------------------------------------------------------------------------

const openrouterSdk = (key = input.key) => new OpenRouter({ apiKey: key, serverURL: input.url });

const orsdk = {
  async chat() {
    const result = await openrouterSdk().chat.send({ chatRequest: { ...pinned(), messages: ASK } });
    const choice = result.choices[0];
    return { text: choice.message.content, finish: choice.finishReason, usage: result.usage, id: result.id };
  },
  async stream() {
    const stream = await openrouterSdk().chat.send({ chatRequest: { ...pinned(), messages: ASK, stream: true } });
    return fold(stream, (choice) => choice.finishReason);
  },
  async tools() {
    const client = openrouterSdk();
    const first = await client.chat.send({ chatRequest: { ...pinned(), messages: ASK, tools: [WEATHER] } });
    const [call] = first.choices[0].message.toolCalls;
    const history = [...ASK, { role: "assistant", content: null, toolCalls: [call] },
      { role: "tool", toolCallId: call.id, content: RESULT }];
    const second = await client.chat.send({ chatRequest: { ...pinned(), messages: history, tools: [WEATHER] } });
    return { name: call.function.name, arguments: JSON.parse(call.function.arguments),
      finish: first.choices[0].finishReason, text: second.choices[0].message.content };
  },
  async structured() {
    const result = await openrouterSdk().chat.send({ chatRequest: { ...pinned(), messages: ASK,
      responseFormat: { type: "json_schema", jsonSchema: { name: "weather", strict: true, schema: SCHEMA } } } });
    return { object: JSON.parse(result.choices[0].message.content) };
  },
  async fallback() {
    const result = await openrouterSdk().chat.send({ chatRequest: { model: input.model, models: input.models,
      provider: { only: input.hosts }, messages: ASK } });
    return { text: result.choices[0].message.content, model: result.model };
  },
  async errors() {
    return {
      unauthorized: await expectError(() => openrouterSdk("sk-lr-v1-not-a-key").chat.send({ chatRequest: {
        model: "openai/gpt-4o", messages: ASK } })),
      badRequest: await expectError(() => openrouterSdk().chat.send({ chatRequest: { model: "nobody/nothing",
        messages: ASK } })),
      paymentRequired: await expectError(() => openrouterSdk(input.brokeKey).chat.send({ chatRequest: {
        model: "openai/gpt-4o", messages: ASK } })),
      typed: [orErrors.UnauthorizedResponseError, orErrors.BadRequestResponseError,
        orErrors.PaymentRequiredResponseError].map((type) => type.name),
    };
  },
  async catalog() {
    const client = openrouterSdk();
    const page = await client.models.list();
    const listed = page.result;
    const one = await client.models.get({ author: "anthropic", slug: "claude-sonnet-4.5" });
    const endpoints = await client.endpoints.list({ author: "anthropic", slug: "claude-sonnet-4.5" });
    const providers = await client.providers.list();
    const count = await client.models.count();
    return { listed: listed.data.length, totalCount: listed.totalCount, count: count.data.count, one: one.data.id,
      promptPrice: one.data.pricing.prompt, tags: endpoints.data.endpoints.map((e) => e.tag),
      providers: providers.data.map((p) => p.slug) };
  },
  async account() {
    const client = openrouterSdk();
    const streamed = await client.chat.send({ chatRequest: { ...pinned(), messages: ASK, stream: true } });
    let id = null;
    for await (const chunk of streamed) id = chunk.id;
    const current = await client.apiKeys.getCurrentKeyMetadata();
    const admin = openrouterSdk(input.adminKey);
    const created = await admin.apiKeys.create({ requestBody: { name: "js-made", limit: 5 } });
    const listed = await admin.apiKeys.list();
    const updated = await admin.apiKeys.update({ hash: created.data.hash, requestBody: { disabled: true } });
    const deleted = await admin.apiKeys.delete({ hash: created.data.hash });
    const credits = await admin.credits.getCredits();
    return { id, limit: current.data.limit, usage: current.data.usage, createdLimit: created.data.limit,
      listed: listed.data.some((k) => k.hash === created.data.hash), disabled: updated.data.disabled,
      deleted: deleted.deleted, totalUsage: credits.data.totalUsage };
  },
  async generation() {
    const generation = await openrouterSdk().generations.getGeneration({ id: input.generationId });
    return { id: generation.data.id, cost: generation.data.totalCost, streamed: generation.data.streamed,
      provider: generation.data.providerName };
  },
  async embeddings() {
    const result = await openrouterSdk().embeddings.generate({ requestBody: { model: input.model,
      input: "bonjour" } });
    return { embedding: result.data[0].embedding, cost: result.usage.cost };
  },
  async images() {
    const result = await openrouterSdk().images.generate({ imageGenerationRequest: { model: input.model,
      prompt: "a red dot" } });
    return { b64: result.data[0].b64Json, mediaType: result.data[0].mediaType };
  },
};

// --- The Vercel AI SDK with OpenRouter's provider ------------------------------------------------------------

const provider = () => createOpenRouter({ baseURL: input.url, apiKey: input.key,
  extraBody: { provider: { only: [input.host] } } });
const weatherTool = tool({ description: "Weather in a city.", inputSchema: jsonSchema(WEATHER_PARAMETERS),
  execute: async () => JSON.parse(RESULT) });

const vercel = {
  async chat() {
    const result = await generateText({ model: provider()(input.model), prompt: "Weather in Paris?" });
    return { text: result.text, finish: result.finishReason, usage: result.usage,
      cost: result.providerMetadata?.openrouter?.usage?.cost };
  },
  async stream() {
    const result = streamText({ model: provider()(input.model), prompt: "Weather in Paris?",
      onError: ({ error }) => { throw error; } });
    let text = "";
    for await (const piece of result.textStream) text += piece;
    return { text, finish: await result.finishReason, usage: await result.usage };
  },
  async tools() {
    const result = await generateText({ model: provider()(input.model), prompt: "Weather in Paris?",
      tools: { get_weather: weatherTool }, stopWhen: stepCountIs(4) });
    const calls = result.steps.flatMap((step) => step.toolCalls);
    return { steps: result.steps.length, text: result.text, finish: result.finishReason,
      calls: calls.map((c) => ({ name: c.toolName, input: c.input })) };
  },
  async streamTools() {
    const result = streamText({ model: provider()(input.model), prompt: "Weather in Paris?",
      tools: { get_weather: weatherTool }, stopWhen: stepCountIs(4), onError: ({ error }) => { throw error; } });
    let text = "";
    for await (const piece of result.textStream) text += piece;
    const steps = await result.steps;
    return { steps: steps.length, text, calls: steps.flatMap((s) => s.toolCalls).map((c) => c.toolName) };
  },
  async fallback() {
    const model = createOpenRouter({ baseURL: input.url, apiKey: input.key })(input.model,
      { models: input.models, extraBody: { provider: { only: input.hosts } } });
    const result = await generateText({ model, prompt: "Weather in Paris?" });
    return { text: result.text, model: result.response.modelId };
  },
  async structured() {
    const result = await generateObject({ model: provider()(input.model), prompt: "Weather in Paris?",
      schema: jsonSchema(SCHEMA) });
    return { object: result.object };
  },
  async errors() {
    const call = (key, model) => generateText({ model: createOpenRouter({ baseURL: input.url, apiKey: key })(model),
      prompt: "hi", maxRetries: 0 });
    const statuses = [];
    for (const [key, model] of [["sk-lr-v1-not-a-key", "openai/gpt-4o"], [input.key, "nobody/nothing"],
      [input.brokeKey, "openai/gpt-4o"]]) {
      const error = await expectError(() => call(key, model));
      statuses.push(error.status);
    }
    return { statuses, apiCallError: APICallError.name };
  },
  async embeddings() {
    const result = await embed({ model: provider().textEmbeddingModel(input.model), value: "bonjour" });
    return { embedding: result.embedding };
  },
  async images() {
    const result = await generateImage({ model: provider().imageModel(input.model), prompt: "a red dot" });
    return { b64: result.image.base64, mediaType: result.image.mediaType };
  },
};

// --- The `openai` JS SDK --------------------------------------------------------------------------------------

const openaiSdk = (key = input.key) => new OpenAI({ baseURL: input.url, apiKey: key, maxRetries: 0 });

const openai = {
  async chat() {
    const result = await openaiSdk().chat.completions.create({ ...pinned(), messages: ASK });
    return { text: result.choices[0].message.content, finish: result.choices[0].finish_reason, usage: result.usage };
  },
  async stream() {
    const stream = await openaiSdk().chat.completions.create({ ...pinned(), messages: ASK, stream: true });
    return fold(stream, (choice) => choice.finish_reason);
  },
  async tools() {
    const client = openaiSdk();
    const runner = client.chat.completions.runTools({ ...pinned(), messages: ASK, tools: [{ type: "function",
      function: { ...WEATHER.function, function: async () => RESULT, parse: JSON.parse } }] });
    const text = await runner.finalContent();
    const calls = runner.messages.flatMap((m) => m.tool_calls ?? []);
    return { text, calls: calls.map((c) => ({ name: c.function.name, arguments: JSON.parse(c.function.arguments) })) };
  },
  async structured() {
    const result = await openaiSdk().chat.completions.parse({ ...pinned(), messages: ASK,
      response_format: { type: "json_schema", json_schema: { name: "weather", strict: true, schema: SCHEMA } } });
    return { object: result.choices[0].message.parsed };
  },
  async fallback() {
    const result = await openaiSdk().chat.completions.create({ model: input.model, models: input.models,
      provider: { only: input.hosts }, messages: ASK });
    return { text: result.choices[0].message.content, model: result.model };
  },
  async errors() {
    const names = {};
    for (const [label, key, model] of [["unauthorized", "sk-lr-v1-not-a-key", "openai/gpt-4o"],
      ["badRequest", input.key, "nobody/nothing"], ["paymentRequired", input.brokeKey, "openai/gpt-4o"]]) {
      names[label] = await expectError(() => openaiSdk(key).chat.completions.create({ model, messages: ASK }));
    }
    return names;
  },
  async catalog() {
    const client = openaiSdk();
    const listed = [];
    for await (const model of client.models.list()) listed.push(model.id);
    const one = await client.models.retrieve("anthropic/claude-sonnet-4.5");
    return { listed: listed.length, one: one.id, object: one.object, ownedBy: one.owned_by };
  },
  async embeddings() {
    const result = await openaiSdk().embeddings.create({ model: input.model, input: "bonjour" });
    return { embedding: result.data[0].embedding, usage: result.usage };
  },
  async images() {
    const result = await openaiSdk().images.generate({ model: input.model, prompt: "a red dot" });
    return { b64: result.data[0].b64_json, url: result.data[0].url ?? null };
  },
};

const clients = { orsdk, vercel, openai };

async function answer(line) {
  const request = JSON.parse(line);
  const run = clients[request.client]?.[request.scenario];
  if (!run) return { error: `no scenario ${request.client} ${request.scenario}` };
  input = request.input;
  try {
    return { ok: await run() };
  } catch (error) {
    const parts = [`${error?.constructor?.name}: ${error?.message}`];
    if (error?.cause) parts.push(`cause: ${error.cause?.message ?? error.cause}`);
    if (error?.responseBody) parts.push(`response body: ${String(error.responseBody).slice(0, 2000)}`);
    return { error: parts.join("\n") };
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) process.stdout.write(JSON.stringify(await answer(line)) + "\n");
}
