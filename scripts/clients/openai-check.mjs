// openai-check.mjs: drives quotatui's OpenAI routes with the official
// openai SDK: chat completions (text, stream with include_usage, a
// three-turn tool loop), the Responses API (text, stream with a function
// call and its output), the model list and a 404.
//
//   node openai-check.mjs
//
// Environment: QUOTATUI_PROXY (default http://127.0.0.1:18045; /v1 is
// appended), QUOTATUI_PROXY_API_KEY (sent as the bearer key), MODEL
// (default gpt-4o, mapped by the alias table), TOOL_MODEL (default
// gemini-3-flash). Exits non-zero when a check fails.
import OpenAI from 'openai';
import { check, must, finish } from './check.mjs';

const baseURL = (process.env.QUOTATUI_PROXY ?? 'http://127.0.0.1:18045') + '/v1';
const client = new OpenAI({ baseURL, apiKey: process.env.QUOTATUI_PROXY_API_KEY ?? 'anything', maxRetries: 0 });
const model = process.env.MODEL ?? 'gpt-4o';
const toolModel = process.env.TOOL_MODEL ?? 'gemini-3-flash';


const tools = [{
  type: 'function',
  function: {
    name: 'read_file', description: 'Read a file', strict: true,
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'], additionalProperties: false },
  },
}];

await check('chat.completions.create (text)', async () => {
  const r = await client.chat.completions.create({ model, messages: [{ role: 'system', content: 'terse' }, { role: 'user', content: 'Say hi' }] });
  const c = r.choices[0];
  must(r.object === 'chat.completion' && r.model === model && c.message.content.length > 0 && c.finish_reason === 'stop', JSON.stringify(r).slice(0, 200));
  must(r.usage.prompt_tokens > 0 && r.usage.total_tokens >= r.usage.prompt_tokens, JSON.stringify(r.usage));
  return `${r.usage.total_tokens} tokens`;
});

await check('chat stream with include_usage', async () => {
  const stream = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Count' }] });
  let text = '', finish = null, usage = null, chunks = 0;
  for await (const ch of stream) {
    chunks++;
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) {
      text += c.delta.content ?? '';
      finish = c.finish_reason ?? finish;
    }
  }
  must(text.length > 0 && finish === 'stop' && usage?.completion_tokens > 0, `text ${text.length} finish ${finish} usage ${JSON.stringify(usage)}`);
  return `${chunks} chunks`;
});

await check('chat tool loop, 3 turns (runTools helper shape)', async () => {
  const messages = [{ role: 'user', content: 'Read /etc/hostname' }];
  const finishes = [];
  for (let turn = 0; turn < 3; turn++) {
    const stream = client.chat.completions.stream({ model: toolModel, tools, messages });
    const r = await stream.finalChatCompletion();
    const c = r.choices[0];
    finishes.push(c.finish_reason);
    messages.push(c.message);
    if (!c.message.tool_calls?.length) break;
    for (const call of c.message.tool_calls) {
      must(call.function.name === 'read_file' && JSON.parse(call.function.arguments).path, JSON.stringify(call));
      messages.push({ role: 'tool', tool_call_id: call.id, content: 'quotatui' });
    }
  }
  must(finishes.join(',') === 'tool_calls,tool_calls,stop', `finish reasons ${finishes}`);
  return finishes.join(' → ');
});

await check('responses.create (text)', async () => {
  const r = await client.responses.create({ model, instructions: 'terse', input: 'Say hi' });
  must(r.status === 'completed' && r.output_text.length > 0 && r.usage.input_tokens > 0, JSON.stringify(r).slice(0, 300));
  return r.output_text.slice(0, 40);
});

await check('responses stream with a function call, then its output', async () => {
  const rtools = [{ type: 'function', name: 'shell', description: 'Run', strict: false,
    parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } }, required: ['command'] } }];
  const stream = await client.responses.create({ model: toolModel, stream: true, input: [{ role: 'user', content: 'ls' }], tools: rtools });
  const types = [];
  let done;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'response.completed') done = ev.response;
  }
  const call = done?.output.find((o) => o.type === 'function_call');
  must(call && call.name === 'shell', `events ${types.join(',')}`);
  must(types.includes('response.function_call_arguments.done') && types.includes('response.output_item.added'), types.join(','));
  const r2 = await client.responses.create({ model: toolModel, tools: rtools, input: [
    { role: 'user', content: 'ls' },
    { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
    { type: 'function_call_output', call_id: call.call_id, output: 'a.go' },
  ] });
  must(r2.status === 'completed' && r2.output.length > 0, JSON.stringify(r2).slice(0, 300));
  return `${types.length} events, then ${r2.output[0].type}`;
});

await check('models.list / retrieve', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  must(ids.includes('gemini-3-flash'), `ids ${ids}`);
  const m = await client.models.retrieve('gpt-4o');
  must(m.id === 'gpt-4o' && m.object === 'model', JSON.stringify(m));
  return `${ids.length} models`;
});

await check('unknown model → NotFoundError', async () => {
  try {
    await client.chat.completions.create({ model: 'llama-3-70b', messages: [{ role: 'user', content: 'x' }] });
  } catch (err) {
    must(err instanceof OpenAI.NotFoundError && err.code === 'model_not_found', `${err.constructor.name} ${err.code}`);
    return err.message.slice(0, 80);
  }
  throw new Error('no error');
});

finish();
