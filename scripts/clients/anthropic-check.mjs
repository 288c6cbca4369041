// anthropic-check.mjs: drives quotatui's /v1/messages with the official
// @anthropic-ai/sdk (the client Claude Code is built on) and checks each
// answer: text, streaming, a three-turn tool loop, thinking replayed
// across turns, count_tokens, the model list and a 404.
//
//   node anthropic-check.mjs
//   node anthropic-check.mjs --drain     # then send until the pool is spent: expect RateLimitError 429
//
// Environment: QUOTATUI_PROXY (default http://127.0.0.1:18045),
// QUOTATUI_PROXY_API_KEY (sent as x-api-key; any value when the proxy has
// none), MODEL (default claude-sonnet-4-6; try a dated name such as claude-sonnet-4-5-20250929 to go through the alias
// table), THINKING_MODEL (default claude-opus-4-8). Exits non-zero when a
// check fails.
import Anthropic from '@anthropic-ai/sdk';
import { check, must, finish } from './check.mjs';

const baseURL = process.env.QUOTATUI_PROXY ?? 'http://127.0.0.1:18045';
const client = new Anthropic({ baseURL, apiKey: process.env.QUOTATUI_PROXY_API_KEY ?? 'anything', maxRetries: 0 });
const model = process.env.MODEL ?? 'claude-sonnet-4-6';
const thinkingModel = process.env.THINKING_MODEL ?? 'claude-opus-4-8';


const tools = [{
  name: 'Bash',
  description: 'Run a shell command',
  input_schema: {
    $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', additionalProperties: false,
    properties: { command: { type: 'string', maxLength: 1000 }, timeout: { type: 'number', exclusiveMinimum: 0 } },
    required: ['command'],
  },
  cache_control: { type: 'ephemeral' },
}];

await check('messages.create (text)', async () => {
  const m = await client.messages.create({ model, max_tokens: 256, system: 'You are terse.', messages: [{ role: 'user', content: 'Say hi' }] });
  must(m.type === 'message' && m.role === 'assistant' && m.model === model, `shape ${JSON.stringify(m).slice(0, 200)}`);
  must(m.content[0]?.type === 'text' && m.content[0].text.length > 0, 'no text');
  must(m.stop_reason === 'end_turn' && m.usage.input_tokens > 0 && m.usage.output_tokens > 0, `stop ${m.stop_reason} usage ${JSON.stringify(m.usage)}`);
  return `${m.usage.input_tokens} in, ${m.usage.output_tokens} out`;
});

await check('messages.stream (text)', async () => {
  const events = [];
  const stream = client.messages.stream({ model, max_tokens: 256, messages: [{ role: 'user', content: 'Count to three' }] });
  stream.on('streamEvent', (e) => events.push(e.type));
  const m = await stream.finalMessage();
  must(events[0] === 'message_start' && events.at(-1) === 'message_stop', `events ${events.join(',')}`);
  must(m.content[0].type === 'text' && m.content[0].text.length > 0 && m.stop_reason === 'end_turn', JSON.stringify(m).slice(0, 200));
  return `${events.length} events`;
});

await check('tool loop, 3 turns, streamed', async () => {
  const messages = [{ role: 'user', content: 'Run the Bash tool once with the command: echo hi' }];
  const stops = [];
  for (let turn = 0; turn < 3; turn++) {
    const m = await client.messages.stream({ model, max_tokens: 1024, tools, messages }).finalMessage();
    stops.push(m.stop_reason);
    messages.push({ role: 'assistant', content: m.content });
    const calls = m.content.filter((b) => b.type === 'tool_use');
    if (calls.length === 0) break;
    must(calls[0].name === 'Bash' && typeof calls[0].input.command === 'string', `call ${JSON.stringify(calls[0])}`);
    messages.push({ role: 'user', content: calls.map((c) => ({ type: 'tool_result', tool_use_id: c.id, content: 'hi\n', is_error: false })) });
  }
  must(stops.join(',') === 'tool_use,tool_use,end_turn', `stop reasons ${stops}`);
  return stops.join(' → ');
});

await check('thinking across turns', async () => {
  const messages = [{ role: 'user', content: 'Think, then use Bash.' }];
  const req = { model: thinkingModel, max_tokens: 16000, thinking: { type: 'enabled', budget_tokens: 4096 }, tools };
  const m1 = await client.messages.create({ ...req, messages });
  const th = m1.content.find((b) => b.type === 'thinking');
  must(th && th.signature.length > 0 && th.thinking.length > 0, `no signed thinking: ${JSON.stringify(m1.content).slice(0, 300)}`);
  const call = m1.content.find((b) => b.type === 'tool_use');
  must(call, 'no tool call');
  messages.push({ role: 'assistant', content: m1.content });
  messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'ok' }] });
  const m2 = await client.messages.stream({ ...req, messages }).finalMessage();
  must(m2.content[0].type === 'thinking' && m2.content[0].signature, `turn 2 ${JSON.stringify(m2.content).slice(0, 300)}`);
  return `signature ${th.signature.slice(0, 12)}…, replayed`;
});

await check('messages.countTokens', async () => {
  const r = await client.messages.countTokens({ model, system: 'You are terse.', messages: [{ role: 'user', content: 'How many tokens is this?' }] });
  must(r.input_tokens > 0, JSON.stringify(r));
  return `${r.input_tokens} tokens`;
});

await check('models.list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  must(ids.some((id) => id.includes('claude')), `ids ${ids}`);
  return ids.join(', ');
});

await check('unknown model → NotFoundError', async () => {
  try {
    await client.messages.create({ model: 'llama-3-70b', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
  } catch (err) {
    must(err instanceof Anthropic.NotFoundError && err.error?.error?.type === 'not_found_error', `${err.constructor.name} ${JSON.stringify(err.error)}`);
    return err.message.slice(0, 80);
  }
  throw new Error('no error');
});

if (process.argv.includes('--drain')) {
  await check('pool spent → RateLimitError with retry-after', async () => {
    for (let i = 0; i < 500; i++) {
      try {
        await client.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: `drain ${i}` }] });
      } catch (err) {
        must(err instanceof Anthropic.RateLimitError, `${err.constructor.name} ${err.status} ${err.message}`);
        const ra = err.headers?.get?.('retry-after') ?? err.headers?.['retry-after'];
        must(/^\d+$/.test(ra ?? ''), `retry-after ${ra}`);
        must(err.error?.error?.type === 'rate_limit_error', JSON.stringify(err.error));
        return `after ${i} requests: retry-after ${ra} s, "${err.error.error.message.slice(0, 90)}"`;
      }
    }
    throw new Error('the pool never ran out');
  });
}

finish();
