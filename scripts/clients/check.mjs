// check.mjs: the tiny harness the *-check.mjs scripts share: run a named
// check, print ok/FAIL with its duration, count failures, exit with them.
let failed = 0;

export async function check(name, fn) {
  const t0 = Date.now();
  try {
    const note = await fn();
    console.log(`ok    ${name} (${Date.now() - t0} ms)${note ? ': ' + note : ''}`);
  } catch (err) {
    failed++;
    console.log(`FAIL  ${name}: ${err?.status ?? ''} ${err?.message ?? err}`);
  }
}

export function must(cond, what) {
  if (!cond) throw new Error(what);
}

// finish prints the summary and exits non-zero when a check failed.
export function finish() {
  console.log(failed ? `${failed} check(s) failed` : 'all checks passed');
  process.exit(failed ? 1 : 0);
}
