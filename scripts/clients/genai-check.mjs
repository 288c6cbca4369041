// genai-check.mjs: drives quotatui's proxy with the official @google/genai
// SDK and checks every call the SDK makes through it.
//
//   node genai-check.mjs                 # the calls a tool makes
//   node genai-check.mjs --drain         # then send until the pool is spent: expect ApiError 429
//
// Environment: QUOTATUI_PROXY (default http://127.0.0.1:18045),
// QUOTATUI_PROXY_API_KEY (sent as the SDK's API key; any value when the
// proxy has none). Exits non-zero when a check fails.
import { GoogleGenAI, ApiError, Type } from '@google/genai';
import { check, must, finish } from './check.mjs';

const baseUrl = process.env.QUOTATUI_PROXY ?? 'http://127.0.0.1:18045';
const ai = new GoogleGenAI({
  apiKey: process.env.QUOTATUI_PROXY_API_KEY ?? 'anything',
  httpOptions: { baseUrl },
});


// A request with everything a coding tool sends: system instruction,
// generation config with thinking, tools, a multi-turn history.
const rich = {
  contents: [
    { role: 'user', parts: [{ text: 'What is the weather in Paris?' }] },
    { role: 'model', parts: [{ text: 'Let me check.' }] },
    { role: 'user', parts: [{ text: 'Answer in one word.' }] },
  ],
  config: {
    systemInstruction: 'You are terse.',
    temperature: 0.2,
    maxOutputTokens: 256,
    thinkingConfig: { thinkingBudget: 128, includeThoughts: true },
    tools: [{
      functionDeclarations: [{
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING } }, required: ['city'] },
      }],
    }],
    httpOptions: { headers: { 'x-session-id': 'genai-check-rich' } },
  },
};

for (const model of ['gemini-3-flash', 'claude-sonnet-4-6-thinking']) {
  await check(`generateContent ${model}`, async () => {
    const r = await ai.models.generateContent({ model, contents: 'Say hi' });
    must(typeof r.text === 'string' && r.text.length > 0, `no text in ${JSON.stringify(r).slice(0, 200)}`);
    must(r.usageMetadata?.totalTokenCount > 0, 'no usageMetadata.totalTokenCount');
    return JSON.stringify(r.text.slice(0, 40));
  });
}

await check('generateContent with systemInstruction, generationConfig, tools, history', async () => {
  const r = await ai.models.generateContent({ model: 'gemini-3-flash', ...rich });
  must(r.candidates?.length > 0, 'no candidates');
  must((r.text ?? '').length > 0 || r.functionCalls?.length > 0, 'neither text nor a function call');
  return `account ${r.sdkHttpResponse?.headers?.['x-quotatui-account'] ?? '?'}`;
});

for (const model of ['gemini-3-flash', 'claude-sonnet-4-6-thinking']) {
  await check(`generateContentStream ${model}`, async () => {
    const stream = await ai.models.generateContentStream({ model, contents: 'Write a long story' });
    let n = 0, text = '', last;
    for await (const chunk of stream) {
      n++;
      text += chunk.text ?? '';
      last = chunk;
    }
    must(n >= 2, `only ${n} chunk(s)`);
    must(text.length > 0, 'no text');
    must(last?.usageMetadata?.totalTokenCount > 0, 'no usageMetadata in the last chunk');
    return `${n} chunks, ${text.length} chars, ${last.usageMetadata.totalTokenCount} tokens`;
  });
}

await check('countTokens', async () => {
  const r = await ai.models.countTokens({ model: 'gemini-3-flash', contents: 'How many tokens is this?' });
  must(r.totalTokens > 0, `totalTokens ${r.totalTokens}`);
  return `${r.totalTokens} tokens`;
});

await check('models.list', async () => {
  const pager = await ai.models.list();
  const names = [];
  for await (const m of pager) names.push(m.name);
  must(names.includes('models/gemini-3-flash'), `gemini-3-flash missing from ${names}`);
  return `${names.length} models`;
});

await check('models.get', async () => {
  const m = await ai.models.get({ model: 'gemini-3-flash' });
  must(m.name === 'models/gemini-3-flash', `name ${m.name}`);
  return m.displayName;
});

await check('models.get unknown model is ApiError 404', async () => {
  try {
    await ai.models.get({ model: 'no-such-model' });
  } catch (err) {
    must(err instanceof ApiError, `not an ApiError: ${err}`);
    must(err.status === 404, `status ${err.status}`);
    return err.message.slice(0, 80);
  }
  throw new Error('no error');
});

await check('chat (two turns, one session)', async () => {
  const chat = ai.chats.create({ model: 'gemini-3-flash' });
  const a = await chat.sendMessage({ message: 'Remember the number 7.' });
  const b = await chat.sendMessage({ message: 'Which number?' });
  must(a.text && b.text, 'a turn had no text');
  must(chat.getHistory().length === 4, `history ${chat.getHistory().length}`);
  return 'ok';
});

if (process.argv.includes('--drain')) {
  await check('drain the pool: ApiError 429, then Retry-After and Google details', async () => {
    for (let i = 0; i < 5000; i++) {
      try {
        await ai.models.generateContent({ model: 'claude-sonnet-4-6-thinking', contents: `drain ${i}` });
      } catch (err) {
        must(err instanceof ApiError, `not an ApiError: ${err}`);
        must(err.status === 429, `status ${err.status}: ${err.message}`);
        must(/RESOURCE_EXHAUSTED/.test(err.message), `message ${err.message}`);
        // The SDK's ApiError keeps no headers: ask once more by hand for
        // Retry-After and the details Gemini CLI reads.
        const r = await fetch(`${baseUrl}/v1beta/models/claude-sonnet-4-6-thinking:generateContent`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-goog-api-key': process.env.QUOTATUI_PROXY_API_KEY ?? 'anything' },
          body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'one more' }] }] }),
        });
        const body = await r.json();
        const info = body.error?.details?.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo');
        must(r.status === 429 && Number(r.headers.get('retry-after')) > 0, `status ${r.status}, Retry-After ${r.headers.get('retry-after')}`);
        must(info?.reason === 'QUOTA_EXHAUSTED' || info?.reason === 'RATE_LIMIT_EXCEEDED', `ErrorInfo ${JSON.stringify(info)}`);
        return `after ${i} requests, Retry-After ${r.headers.get('retry-after')} s, ${info.reason}: ${err.message.slice(0, 120)}`;
      }
    }
    throw new Error('no 429 after 5000 requests');
  });
}

finish();
