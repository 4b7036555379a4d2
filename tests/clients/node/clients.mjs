// Real Node clients against PAIS: `node clients.mjs <scenario> <base-url>` (base URL also from PAIS_BASE_URL,
// e.g. http://127.0.0.1:8000/v1). Prints one JSON object with what the client saw.
import { createOpenResponses } from '@ai-sdk/open-responses';
import { generateText, jsonSchema, Output, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';

const [scenario, baseArg] = process.argv.slice(2);
const baseURL = baseArg ?? process.env.PAIS_BASE_URL;
if (!scenario || !baseURL) {
  console.error('usage: node clients.mjs <scenario> <base-url>');
  process.exit(2);
}

const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });
const vercel = createOpenResponses({ name: 'pais', url: `${baseURL}/responses` });
const orderSchema = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };
const ran = []; // arguments of every call the client's own tool ran with

function lookupOrder({ id }) {
  ran.push({ id });
  return `order ${id} shipped Monday`;
}

// The text of a response's message items (streamed events carry no `output_text` convenience).
function outputText(response) {
  const parts = response.output.flatMap((item) => (item.type === 'message' ? item.content : []));
  return parts.filter((part) => part.type === 'output_text').map((part) => part.text).join('');
}

const scenarios = {
  async 'openai-responses'() {
    const response = await client.responses.create({ model: 'm', input: 'Capital of France?', instructions: 'Be brief.' });
    return { id: response.id, status: response.status, text: response.output_text, usage: response.usage };
  },

  async 'openai-responses-stream'() {
    const stream = await client.responses.create({ model: 'm', input: 'go', stream: true });
    const types = [];
    let text = '';
    let completed = null;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = outputText(event.response);
    }
    return { types, text, completed };
  },

  async 'openai-responses-tool'() {
    const tools = [{ type: 'function', name: 'lookup_order', parameters: orderSchema, strict: false }];
    const paused = await client.responses.create({ model: 'm', input: 'Where is order 42?', tools });
    const outputs = paused.output
      .filter((item) => item.type === 'function_call')
      .map((call) => ({ type: 'function_call_output', call_id: call.call_id, output: lookupOrder(JSON.parse(call.arguments)) }));
    const resumed = await client.responses.create({ model: 'm', previous_response_id: paused.id, input: outputs, tools });
    return { ran, text: resumed.output_text };
  },

  async 'openai-chat-tool'() {
    const tools = [{ type: 'function', function: { name: 'lookup_order', parameters: orderSchema } }];
    const messages = [{ role: 'user', content: 'Where is order 42?' }];
    const finishes = [];
    for (;;) {
      const completion = await client.chat.completions.create({ model: 'm', messages, tools });
      const [choice] = completion.choices;
      finishes.push(choice.finish_reason);
      if (choice.finish_reason !== 'tool_calls') return { ran, finishes, text: choice.message.content };
      messages.push(choice.message);
      for (const call of choice.message.tool_calls) {
        const content = lookupOrder(JSON.parse(call.function.arguments));
        messages.push({ role: 'tool', tool_call_id: call.id, content });
      }
    }
  },

  async 'openai-chat-run-tools-stream'() {
    // The package's own tool loop, streamed: it assembles `delta.tool_calls`, runs the function, sends the result.
    const runner = client.chat.completions.runTools({
      model: 'm',
      messages: [{ role: 'user', content: 'Where is order 42?' }],
      tools: [{ type: 'function', function: { name: 'lookup_order', function: lookupOrder, parse: JSON.parse, parameters: orderSchema } }],
      stream: true,
    });
    const deltas = [];
    runner.on('content', (delta) => deltas.push(delta));
    const text = await runner.finalContent();
    return { ran, text, streamedText: deltas.join('') };
  },

  async 'ai-sdk-text'() {
    const result = await generateText({ model: vercel('m'), prompt: 'Capital of France?' });
    return { text: result.text, finishReason: result.finishReason, usage: result.usage };
  },

  async 'ai-sdk-stream'() {
    const result = streamText({ model: vercel('m'), prompt: 'go' });
    const parts = [];
    for await (const part of result.textStream) parts.push(part);
    return { parts, text: await result.text, finishReason: await result.finishReason };
  },

  async 'ai-sdk-tool'() {
    const result = await generateText({
      model: vercel('m'),
      prompt: 'Where is order 42?',
      tools: { lookup_order: tool({ inputSchema: jsonSchema(orderSchema), execute: async (input) => lookupOrder(input) }) },
      stopWhen: stepCountIs(3),
    });
    return { ran, text: result.text, steps: result.steps.map((step) => step.finishReason) };
  },

  async 'ai-sdk-stream-tool'() {
    const result = streamText({
      model: vercel('m'),
      prompt: 'Where is order 42?',
      tools: { lookup_order: tool({ inputSchema: jsonSchema(orderSchema), execute: async (input) => lookupOrder(input) }) },
      stopWhen: stepCountIs(3),
    });
    const parts = [];
    for await (const part of result.textStream) parts.push(part);
    const steps = await result.steps;
    return { ran, text: parts.join(''), steps: steps.map((step) => step.finishReason) };
  },

  async 'ai-sdk-object'() {
    const city = { type: 'object', properties: { name: { type: 'string' }, population: { type: 'integer' } }, required: ['name', 'population'] };
    const result = await generateText({
      model: vercel('m'),
      prompt: 'Describe Paris.',
      output: Output.object({ schema: jsonSchema(city), name: 'city' }),
    });
    return { output: result.output };
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}; one of ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify(await run()));
