// The rules docs/export.md promises for every Chrome export ("Rules the export keeps"), whatever the
// trace: checked on every fuzzed export. Returns the problems found (none is the expectation).
const METADATA = new Set(['process_name', 'process_sort_index', 'thread_name', 'thread_sort_index']);
const PHASES = new Set(['B', 'E', 'X', 'b', 'e', 'n', 'i', 's', 'f', 'C', 'M']);

export function chromeRuleProblems(doc) {
  const problems = [];
  const add = (message) => {
    if (problems.length < 5) problems.push(message);
  };
  const stacks = new Map();
  const lastTs = new Map();
  const asyncEvents = new Map();
  const begins = new Set();
  const flowStarts = new Map(); // open arrows (s without f yet) by id: an id may be used again once its f came
  const flowEnds = [];
  const xs = new Map();
  doc.traceEvents.forEach((e, index) => {
    const at = () => `event ${index} ${JSON.stringify(e).slice(0, 160)}`;
    for (const [key, type] of [['ph', 'string'], ['name', 'string'], ['cat', 'string'], ['ts', 'number'], ['pid', 'number'], ['tid', 'number']]) {
      if (typeof e[key] !== type) add(`${at()}: ${key} is not a ${type}`);
    }
    if (e.name === '') add(`${at()}: empty name`);
    if (!Number.isFinite(e.ts) || e.ts < 0) add(`${at()}: bad ts`);
    if (!PHASES.has(e.ph)) add(`${at()}: phase ${e.ph} is not one the export uses`);
    const thread = `${e.pid}/${e.tid}`;
    if (e.ph === 'B' || e.ph === 'E') {
      if (e.ts < (lastTs.get(thread) ?? 0)) add(`${at()}: B/E time goes backwards on ${thread}`);
      lastTs.set(thread, e.ts);
      let stack = stacks.get(thread);
      if (!stack) stacks.set(thread, (stack = []));
      if (e.ph === 'B') {
        stack.push(e);
        begins.add(`${thread}/${e.ts}/${e.cat}`);
      } else {
        const open = stack.pop();
        if (!open) add(`${at()}: E without an open B on ${thread}`);
        else if (open.name !== e.name || open.cat !== e.cat) add(`${at()}: E "${e.name}" closes B "${open.name}"`);
      }
    } else if (e.ph === 'X') {
      if (typeof e.dur !== 'number' || !(e.dur >= 0)) add(`${at()}: X without dur`);
      if (!xs.has(thread)) xs.set(thread, []);
      xs.get(thread).push(e);
    } else if (e.ph === 'b' || e.ph === 'e' || e.ph === 'n') {
      if (typeof e.id2?.local !== 'string' || !/^0x[0-9a-f]+$/.test(e.id2.local)) add(`${at()}: async event without id2.local`);
      const key = `${e.pid}/${e.cat}/${e.id2?.local}`;
      if (!asyncEvents.has(key)) asyncEvents.set(key, []);
      asyncEvents.get(key).push(e);
    } else if (e.ph === 'i') {
      if (e.s !== 't' && e.s !== 'p') add(`${at()}: instant scope ${e.s}`);
    } else if (e.ph === 's') {
      const key = `${e.cat}/${e.name}/${e.id}`;
      if (flowStarts.has(key)) add(`${at()}: s while an s of the same id has no f yet`);
      flowStarts.set(key, e);
    } else if (e.ph === 'f') {
      if (e.bp !== 'e') add(`${at()}: f without bp "e"`);
      const key = `${e.cat}/${e.name}/${e.id}`;
      flowEnds.push([flowStarts.get(key), e]);
      flowStarts.delete(key);
    } else if (e.ph === 'C') {
      if (!e.args || Object.values(e.args).some((v) => typeof v !== 'number' || !Number.isFinite(v))) add(`${at()}: counter without numeric args`);
    } else if (e.ph === 'M' && !METADATA.has(e.name)) {
      add(`${at()}: metadata "${e.name}" is not one every viewer knows`);
    }
  });
  for (const [thread, stack] of stacks) if (stack.length > 0) add(`${thread}: ${stack.length} B without E`);
  for (const [key, events] of asyncEvents) {
    const open = [];
    for (const e of [...events].sort((a, b) => a.ts - b.ts)) {
      if (e.ph === 'b') open.push(e.name);
      else if (e.ph === 'e' && open.pop() !== e.name) add(`${key}: e "${e.name}" does not close the open b`);
    }
    if (open.length > 0) add(`${key}: b without e`);
  }
  for (const [s, f] of flowEnds) {
    if (!s) add(`flow ${f.name} ${f.id}: f without s`);
    else if (s.ts > f.ts) add(`flow ${f.name} ${f.id}: s after f`);
    for (const end of [s, f]) {
      if (end && !begins.has(`${end.pid}/${end.tid}/${end.ts}/${end.cat}`)) add(`flow ${f.name} ${f.id}: ${end.ph} is not at the ts, tid and cat of a B`);
    }
  }
  if (flowStarts.size > 0) add(`${flowStarts.size} flow starts without a flow end`);
  // ts + dur is a floating-point sum, and JSON.parse rounds a ts to a double: past 2^43 µs or so (uptimes of
  // months) it may be off by a last digit where one slice ends exactly where the next begins, and a damaged
  // header's clock origin can make every ts huge (1e18 µs: doubles 128 µs apart). The slack is 2 ns, or a
  // few units in the last place of the times compared, whichever is more.
  const slack = (t) => Math.max(0.002, Math.abs(t) * 2 ** -50);
  for (const [thread, slices] of xs) {
    const sorted = [...slices].sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      const prevEnd = prev.ts + prev.dur;
      const SLACK = slack(prevEnd);
      if (sorted[i].ts < prevEnd - SLACK && sorted[i].ts + sorted[i].dur > prevEnd + SLACK) add(`${thread}: X slices overlap`);
    }
  }
  return problems;
}
