// The openai JS SDK's responses API against the gateway, for tests/test_responses_js.py. One node process serves
// the whole test module: each stdin line {"baseURL", "apiKey", "mode": "create" | "stream" | "parse", "params"}
// is one SDK call, answered by one stdout line {response, output_text, output_parsed, events} (events: the
// streamed event types) or {error: {status, message}}.
import OpenAI from 'openai';
import { createInterface } from 'node:readline';

async function call({ baseURL, apiKey, mode, params }) {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 15000 });
  if (mode === 'stream') {
    const events = [];
    const stream = client.responses.stream(params);
    for await (const event of stream) events.push(event.type);
    return { response: await stream.finalResponse(), events };
  }
  const response = mode === 'parse' ? await client.responses.parse(params) : await client.responses.create(params);
  return { response, events: [] };
}

for await (const line of createInterface({ input: process.stdin })) {
  let out;
  try {
    const { response, events } = await call(JSON.parse(line));
    out = { response, output_text: response.output_text, output_parsed: response.output_parsed ?? null, events };
  } catch (error) {
    out = { error: { status: error.status ?? null, message: String(error.message) } };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
