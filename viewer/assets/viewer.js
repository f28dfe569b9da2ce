// tstrace view: the page. Plain browser JavaScript, no framework, no CDN; it reads the JSON API of
// viewer/model.ts. Pages are routed by the URL hash: #/ (overview), #/tasks?…, #/task/ID,
// #/regions, #/regions/list?group=N, #/logs?…, #/timeline?from=&to=.
'use strict';

(() => {
  const app = document.getElementById('app');

  // ---- helpers ---------------------------------------------------------------------------------

  /** A source location of the API (`{ file, line, column, function }` or null) as the CLI prints it: `file:line:column function`. */
  function formatLocation(where) {
    if (!where) return '';
    const at = `${where.file}:${where.line}:${where.column}`;
    return where.function ? `${at} ${where.function}` : at;
  }

  /** A duration in ns for people, as the CLI prints it: 850ns, 12.3µs, 1.23ms, 4s. */
  function formatDuration(ns) {
    if (!Number.isFinite(ns)) return String(ns);
    const sign = ns < 0 ? '-' : '';
    const abs = Math.abs(ns);
    if (abs === 0) return '0s';
    /** @type {[limit: number, divisor: number, suffix: string][]} */
    const units = [[1e3, 1, 'ns'], [1e6, 1e3, 'µs'], [1e9, 1e6, 'ms']];
    for (const [limit, divisor, suffix] of units) {
      if (abs < limit) return sign + significant(abs / divisor, limit / divisor, suffix, divisor === 1);
    }
    return sign + significant(abs / 1e9, Infinity, 's', false);
  }
  function significant(value, limit, suffix, whole) {
    const digits = whole || value >= 100 ? 0 : value >= 10 ? 1 : 2;
    const rounded = Number(value.toFixed(digits));
    if (rounded >= limit) return formatDuration(rounded * ({ 'µs': 1e3, ms: 1e6, s: 1e9 }[suffix] || 1));
    return rounded + suffix;
  }

  /** "1.5ms", "20us", "3s", "1200" (ns) → ns; null when empty or not a duration. */
  function parseDuration(text) {
    const match = /^\s*([\d.]+)\s*(ns|us|µs|ms|s)?\s*$/.exec(text || '');
    if (!match) return null;
    const factor = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 }[match[2] || 'ns'];
    const value = Number(match[1]) * factor;
    return Number.isFinite(value) ? Math.round(value) : null;
  }

  /** Creates an element: h('td', { class: 'num' }, 'text', child, …). */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  async function api(path) {
    const response = await fetch(path);
    if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.json().catch(() => ({}))).error || ''}`);
    return response.json();
  }

  function table(columns, rows, attributes) {
    return h('table', attributes || {},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.title)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell, i) => h('td', { class: columns[i].num ? 'num' : null }, cell))))));
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== '') search.set(name, value);
    const text = search.toString();
    return text ? `?${text}` : '';
  }

  const typeName = (type) => (type === '' ? '(unknown type)' : type);
  /** A task's state in a list; one a flight-recorder snapshot carried over is marked as begun before the trace. */
  const taskState = (t) => (t.complete ? 'complete' : t.beganBefore != null ? 'incomplete, began before the trace' : 'incomplete');

  /** A latency histogram: one bar per bucket, clickable (→ `link(bucket)`). */
  function histogram(buckets, link) {
    if (buckets.length === 0) return h('p', { class: 'muted' }, 'No complete ones.');
    const first = buckets[0].bucket;
    const last = buckets[buckets.length - 1].bucket;
    const counts = new Map(buckets.map((b) => [b.bucket, b]));
    const max = Math.max(...buckets.map((b) => b.count));
    const bars = [];
    const labels = [];
    for (let b = first; b <= last; b++) {
      const bucket = counts.get(b);
      const count = bucket ? bucket.count : 0;
      const lower = bucket ? bucket.lowerBound : null;
      const title = bucket ? `${count} in [${formatDuration(bucket.lowerBound)}, ${formatDuration(bucket.upperBound)})` : '';
      bars.push(h('a', {
        class: 'bucket',
        href: bucket ? link(bucket) : null,
        'data-bucket': b,
        'data-count': count,
        'data-label': count === 0 ? '' : String(count),
        title,
        style: `height:${count === 0 ? 0 : Math.max(2, Math.round((80 * count) / max))}px`,
      }));
      labels.push(h('span', { title }, lower === null ? '' : formatDuration(lower)));
    }
    return h('div', { class: 'histogram-block' }, h('div', { class: 'histogram' }, bars), h('div', { class: 'histogram-axis' }, labels));
  }

  /**
   * "Showing 201–400 of 1234" with links to the previous and next pages: the page's hash with another
   * `offset` (`params` are the page's parameters; `size` the page size asked of the API).
   */
  function pager(result, params, base, size, noun) {
    const offset = result.offset;
    const shown = result.items.length;
    const link = (to) => {
      const next = new URLSearchParams(params);
      if (to > 0) next.set('offset', String(to));
      else next.delete('offset');
      const text = next.toString();
      return `${base}${text ? `?${text}` : ''}`;
    };
    return h('p', { class: 'pager' },
      h('span', { id: `${noun}-count` }, String(result.total)), ` ${noun}${result.total === 1 ? '' : 's'}`,
      result.total > shown || offset > 0 ? h('span', { class: 'muted', 'data-range': `${offset + 1}-${offset + shown}` }, `  showing ${shown === 0 ? 0 : offset + 1}–${offset + shown}`) : null,
      offset > 0 ? h('a', { href: link(Math.max(0, offset - size)), id: `${noun}-prev` }, '  ‹ previous') : null,
      offset + shown < result.total ? h('a', { href: link(offset + size), id: `${noun}-next` }, '  next ›') : null);
  }

  /** min/p50/p90/p99/max; percentiles from the sketch (more than 65,536 durations) are marked ~ (exact below 2048 ns). */
  function statsText(label, stats) {
    const about = (d) => (stats.exact || d < 2048 ? '' : '~') + formatDuration(d);
    return `${label}  min ${formatDuration(stats.min)}  p50 ${about(stats.p50)}  p90 ${about(stats.p90)}  p99 ${about(stats.p99)}  max ${formatDuration(stats.max)}`;
  }

  const PAGE = 500;

  // ---- pages -----------------------------------------------------------------------------------

  async function overviewPage() {
    const [summary, taskTypes] = await Promise.all([api('/api/summary'), api('/api/task-types')]);
    const s = summary.summary;
    const facts = [
      ['Duration', formatDuration(s.duration)],
      ['Events', String(s.events)],
      ['Dropped events', String(s.dropped)],
      ['Problems', String(summary.problems.length + summary.problemsLeftOut)],
      ['Tasks', String(s.tasks)],
      ['Regions', String(s.regions)],
      ['Logs', String(s.logs)],
      ['GC', `${s.gcCount} collections, ${formatDuration(s.gcTime)} in total`],
      ['Read status', summary.status.complete ? 'complete' : summary.status.problem ? `${summary.status.problem.kind} at offset ${summary.status.problem.offset}: ${summary.status.problem.reason}` : 'no footer'],
    ];
    if (s.startTime) facts.push(['Started', `${s.startTime}  pid ${s.pid}  node ${s.nodeVersion}`]);
    if (s.commandLine) facts.push(['Command', s.commandLine]);
    return [
      h('h1', {}, 'Overview'),
      h('table', { class: 'facts', id: 'summary' }, h('tbody', {}, facts.map(([name, value]) => h('tr', { 'data-fact': name }, h('td', {}, name), h('td', { class: name === 'Dropped events' && s.dropped > 0 ? 'bad' : null }, value))))),
      h('h2', {}, 'Task types'),
      taskTypes.length === 0 ? h('p', { class: 'muted' }, 'No tasks.') : null,
      taskTypes.map((t) => taskTypeCard(t)),
      h('h2', {}, `Problems (${summary.problems.length + summary.problemsLeftOut})`),
      summary.problemsLeftOut > 0 ? h('p', { class: 'muted' }, `The first ${summary.problems.length} are listed.`) : null,
      summary.problems.length === 0
        ? h('p', { class: 'muted' }, 'None.')
        : table([{ title: 'TIME', num: true }, { title: 'KIND' }, { title: 'FLOW', num: true }, { title: 'LOCATION' }, { title: 'MESSAGE' }],
          summary.problems.map((p) => [formatDuration(p.ts), p.kind, p.flow === null ? '' : String(p.flow), formatLocation(p.location), p.message]), { id: 'problems' }),
    ];
  }

  function taskTypeCard(t) {
    const stats = t.latency;
    return h('div', { class: 'card task-type', 'data-type': t.type },
      h('div', {}, h('a', { href: `#/tasks${query({ type: t.type })}` }, h('strong', {}, typeName(t.type))), `  ${t.count} tasks, ${t.complete} complete`),
      stats ? h('div', { class: 'muted' }, statsText('latency', stats)) : null,
      histogram(t.histogram, (b) => `#/tasks${query({ type: t.type, bucket: b.bucket })}`));
  }

  async function tasksPage(params) {
    const taskTypes = await api('/api/task-types');
    const filters = {
      type: params.get('type') ?? '',
      complete: params.get('complete') ?? '',
      min: params.get('min') ?? '',
      max: params.get('max') ?? '',
      log: params.get('log') ?? '',
      bucket: params.get('bucket') ?? '',
    };
    const apiQuery = {
      type: filters.type === '' && !params.has('type') ? null : filters.type,
      complete: filters.complete,
      min: parseDuration(filters.min),
      max: parseDuration(filters.max),
      log: filters.log,
      bucket: filters.bucket,
      offset: params.get('offset'),
      limit: PAGE,
    };
    const result = await api(`/api/tasks${query(apiQuery)}`);
    // The form the user acted on, even if a re-render has replaced it meanwhile (its values are theirs).
    const apply = (form) => {
      const values = Object.fromEntries(new FormData(form).entries());
      const next = { type: values.type === '*' ? null : values.type, complete: values.complete, min: values.min, max: values.max, log: values.log };
      location.hash = `#/tasks${query(next)}`;
    };
    let timer = null;
    const later = (e) => {
      const form = e.target.form;
      clearTimeout(timer);
      timer = setTimeout(() => apply(form), 300);
    };
    const bucketNote = filters.bucket !== '' ? bucketDescription(taskTypes, filters.type, Number(filters.bucket)) : null;
    return [
      h('h1', {}, 'Tasks'),
      h('form', { class: 'filters', id: 'task-filters', onsubmit: (e) => { e.preventDefault(); apply(e.target); } },
        h('label', {}, 'Type', h('select', { name: 'type', onchange: (e) => apply(e.target.form) },
          h('option', { value: '*', selected: !params.has('type') }, '(all)'),
          taskTypes.map((t) => h('option', { value: t.type, selected: params.has('type') && t.type === filters.type }, typeName(t.type))))),
        h('label', {}, 'Complete', h('select', { name: 'complete', onchange: (e) => apply(e.target.form) },
          h('option', { value: '', selected: filters.complete === '' }, '(all)'),
          h('option', { value: 'true', selected: filters.complete === 'true' }, 'complete'),
          h('option', { value: 'false', selected: filters.complete === 'false' }, 'incomplete'))),
        h('label', {}, 'Latency ≥', h('input', { name: 'min', value: filters.min, placeholder: 'e.g. 1ms', oninput: later })),
        h('label', {}, 'Latency <', h('input', { name: 'max', value: filters.max, placeholder: 'e.g. 50ms', oninput: later })),
        h('label', {}, 'Log text', h('input', { name: 'log', value: filters.log, placeholder: 'a log message contains', oninput: later })),
        h('button', { type: 'submit' }, 'Filter')),
      bucketNote ? h('p', { id: 'bucket-note' }, bucketNote, ' ', h('a', { href: `#/tasks${query({ type: filters.type })}` }, 'show all of the type')) : null,
      pager(result, params, '#/tasks', PAGE, 'task'),
      table([{ title: 'ID', num: true }, { title: 'TYPE' }, { title: 'STATE' }, { title: 'START', num: true }, { title: 'LATENCY', num: true }, { title: 'REGIONS', num: true }, { title: 'LOGS', num: true }, { title: 'CHILDREN', num: true }],
        result.items.map((t) => [h('a', { href: `#/task/${t.id}` }, String(t.id)), typeName(t.type), taskState(t), formatDuration(t.start), (t.complete ? '' : '≥') + formatDuration(t.latency), String(t.regions), String(t.logs), String(t.children.length)]),
        { id: 'task-list' }),
    ];
  }

  function bucketDescription(taskTypes, type, bucket) {
    const t = taskTypes.find((x) => x.type === type);
    const b = t && t.histogram.find((x) => x.bucket === bucket);
    return b ? `Complete tasks of type ${typeName(type)} with latency in [${formatDuration(b.lowerBound)}, ${formatDuration(b.upperBound)}) (histogram bucket ${bucket}).` : `Histogram bucket ${bucket}.`;
  }

  async function taskPage(id) {
    const task = await api(`/api/task/${id}`);
    const margin = Math.max(1, (task.end - task.start) * 0.02);
    const timeline = h('div', { id: 'task-timeline' });
    const page = [
      h('h1', {}, `Task ${task.id} `, h('span', { class: 'muted' }, typeName(task.type))),
      h('table', { class: 'facts' }, h('tbody', {},
        [['State', task.complete ? 'complete' : task.beganBefore != null ? `incomplete (began ${formatDuration(task.beganBefore)} before the trace${task.ended ? '' : ', never ended'})` : `incomplete (${!task.created ? 'created before the trace' : 'never ended'})`],
          ['Parent', task.parent === null ? 'unknown' : task.parent === 0 ? '0 (background)' : h('a', { href: `#/task/${task.parent}` }, `${task.parent} ${typeName(task.parentType || '')}`)],
          ['Start', formatDuration(task.start)], ['End', formatDuration(task.end)],
          ['Latency', (task.complete ? '' : '≥') + formatDuration(task.latency)], ['Flows', task.flows.join(', ') || '-'],
          ...(task.traceId ? [['Trace id', h('code', { id: 'task-trace-id' }, task.traceId)], ['Parent span', task.parentSpanId ? h('code', {}, task.parentSpanId) : "its parent task's"]] : [])]
          .map(([name, value]) => h('tr', {}, h('td', {}, name), h('td', {}, value))))),
      task.time ? timeSection(task.time) : null,
      h('h2', {}, 'Flows'),
      timeline,
      h('h2', {}, `Events (${task.events.length})`),
      h('pre', { class: 'events', id: 'task-events' }, task.text),
      h('h2', {}, `Child tasks (${task.childTasks.length})`),
      task.childTasks.length === 0 ? h('p', { class: 'muted' }, 'None.') : table([{ title: 'ID', num: true }, { title: 'TYPE' }, { title: 'STATE' }, { title: 'LATENCY', num: true }],
        task.childTasks.map((t) => [h('a', { href: `#/task/${t.id}` }, String(t.id)), typeName(t.type), taskState(t), formatDuration(t.latency)]), { id: 'child-tasks' }),
    ];
    afterRender.push(() => {
      if (task.flows.length > 0) new Timeline(timeline, { from: task.start - margin, to: task.end + margin, flows: task.flows, height: Math.min(400, 60 + task.flows.length * 40) });
    });
    return page;
  }

  /**
   * Where a task's time went (a trace with scheduling events): a bar of its wall time split into running,
   * queued and waiting, and the runs that held the thread while it was queued.
   */
  function timeSection(time) {
    const parts = [['running', time.running, '#16a34a'], ['queued', time.queued, '#dc2626'], ['waiting', time.waiting, '#cbd5e1']];
    const wall = Math.max(1, time.wall);
    const percent = (ns) => `${Math.round((100 * ns) / wall)} %`;
    return h('div', { id: 'task-time' },
      h('h2', {}, 'Where the time went'),
      h('div', { class: 'time-bar', title: `wall ${formatDuration(time.wall)}` },
        parts.map(([name, ns, color]) => h('span', { class: `time-${name}`, style: `width: ${(100 * ns) / wall}%; background: ${color}`, title: `${name} ${formatDuration(ns)}` }))),
      h('table', { class: 'facts' }, h('tbody', {},
        [...parts.map(([name, ns, color]) => [h('span', {}, h('span', { class: 'swatch', style: `background: ${color}` }), name), `${formatDuration(ns)} (${percent(ns)})`]),
          ['Runs', `${time.runs}${time.readinessUnknown > 0 ? ` (${time.readinessUnknown} after I/O: readiness unknown, their queued time counts as waiting)` : ''}`]]
          .map(([name, value]) => h('tr', {}, h('td', {}, name), h('td', {}, value))))),
      h('h2', {}, `Blocked by (${time.blockers.length})`),
      time.blockers.length === 0 ? h('p', { class: 'muted' }, 'Nothing held the thread while it was queued.') :
        table([{ title: 'TASK' }, { title: 'TYPE' }, { title: 'REGION' }, { title: 'LOCATION' }, { title: 'DELAYED', num: true }, { title: 'RUN', num: true }, { title: 'AT', num: true }, { title: 'RESUMED FROM' }],
          time.blockers.map((b) => [b.task === 0 ? '0 (background)' : h('a', { href: `#/task/${b.task}` }, String(b.task)), typeName(b.taskType), b.region ?? '-', b.where || '-', formatDuration(b.delayed), formatDuration(b.duration), formatDuration(b.start), b.resumed || '-']),
          { id: 'task-blockers' }),
      // What it waited on (the resource its runs resumed from, and where it was created), most waiting first.
      h('h2', {}, `Waited on (${time.waits.length})`),
      time.waits.length === 0 ? h('p', { class: 'muted' }, 'No waiting ended by a run of its own.') :
        table([{ title: 'RESOURCE' }, { title: 'WAITING', num: true }, { title: 'RUNS', num: true }],
          time.waits.map((w) => [w.text, formatDuration(w.waiting), String(w.runs)]), { id: 'task-waits' }));
  }

  async function regionGroupsPage() {
    const groups = await api('/api/region-groups');
    return [
      h('h1', {}, 'Regions by type and location'),
      groups.length === 0 ? h('p', { class: 'muted' }, 'No regions.') : null,
      groups.map((g) => h('div', { class: 'card region-group', 'data-type': g.type },
        h('div', {}, h('a', { href: `#/regions/list${query({ group: g.index })}` }, h('strong', {}, g.type)), '  ', h('span', { class: 'muted' }, formatLocation(g.location) || '(no location)'), `  ${g.count} regions, ${g.complete} complete`),
        g.duration ? h('div', { class: 'muted' }, statsText('duration', g.duration)) : null,
        histogram(g.histogram, (b) => `#/regions/list${query({ group: g.index, bucket: b.bucket })}`))),
    ];
  }

  async function regionListPage(params) {
    const bucket = params.get('bucket');
    const [result, groups] = await Promise.all([
      api(`/api/regions${query({ group: params.get('group'), type: params.get('type'), bucket, offset: params.get('offset'), limit: PAGE })}`),
      api('/api/region-groups'),
    ]);
    const group = params.has('group') ? groups[Number(params.get('group'))] : null;
    const b = group && bucket !== null ? group.histogram.find((x) => x.bucket === Number(bucket)) : null;
    return [
      h('h1', {}, 'Regions', group ? h('span', { class: 'muted' }, ` ${group.type} ${formatLocation(group.location) || '(no location)'}`) : null),
      b ? h('p', { id: 'bucket-note' }, `Complete regions with duration in [${formatDuration(b.lowerBound)}, ${formatDuration(b.upperBound)}) (histogram bucket ${b.bucket}). `, h('a', { href: `#/regions/list${query({ group: params.get('group') })}` }, 'show all of the group')) : null,
      pager(result, params, '#/regions/list', PAGE, 'region'),
      table([{ title: 'ID', num: true }, { title: 'TYPE' }, { title: 'TASK', num: true }, { title: 'FLOW', num: true }, { title: 'PARENT', num: true }, { title: 'START', num: true }, { title: 'DURATION', num: true }, { title: 'LOCATION' }],
        result.items.map((r) => [String(r.id), r.type, r.task === 0 ? '0' : h('a', { href: `#/task/${r.task}` }, String(r.task)), String(r.flow), r.parent === null ? '' : String(r.parent), formatDuration(r.start), (r.complete ? '' : '≥') + formatDuration(r.duration), formatLocation(r.location)]),
        { id: 'region-list' }),
    ];
  }

  async function logsPage(params) {
    const summary = await api('/api/summary');
    const category = params.get('category') ?? '';
    const text = params.get('text') ?? '';
    const result = await api(`/api/logs${query({ category, text, offset: params.get('offset'), limit: PAGE })}`);
    // The form the user acted on, even if a re-render has replaced it meanwhile.
    const apply = (form) => {
      const values = Object.fromEntries(new FormData(form).entries());
      location.hash = `#/logs${query(values)}`;
    };
    let timer = null;
    return [
      h('h1', {}, 'Logs'),
      h('form', { class: 'filters', id: 'log-filters', onsubmit: (e) => { e.preventDefault(); apply(e.target); } },
        h('label', {}, 'Category', h('select', { name: 'category', onchange: (e) => apply(e.target.form) },
          h('option', { value: '', selected: category === '' }, '(all)'),
          summary.logCategories.map((c) => h('option', { value: c.category, selected: c.category === category }, `${c.category} (${c.count})`)))),
        h('label', {}, 'Message contains', h('input', { name: 'text', value: text, oninput: (e) => { const form = e.target.form; clearTimeout(timer); timer = setTimeout(() => apply(form), 300); } })),
        h('button', { type: 'submit' }, 'Search')),
      pager(result, params, '#/logs', PAGE, 'log'),
      table([{ title: 'TIME', num: true }, { title: 'TASK', num: true }, { title: 'FLOW', num: true }, { title: 'CATEGORY' }, { title: 'MESSAGE' }, { title: 'LOCATION' }],
        result.items.map((l) => [formatDuration(l.ts), l.task === 0 ? '0' : h('a', { href: `#/task/${l.task}` }, String(l.task)), String(l.flow), l.category, l.message, formatLocation(l.location)]),
        { id: 'log-list' }),
    ];
  }

  async function timelinePage(params) {
    const container = h('div', { id: 'trace-timeline' });
    const from = params.has('from') ? Number(params.get('from')) : null;
    const to = params.has('to') ? Number(params.get('to')) : null;
    afterRender.push(() => new Timeline(container, { from, to, height: Math.max(300, window.innerHeight - 160) }));
    return [h('h1', {}, 'Timeline'), h('p', { class: 'muted' }, 'Wheel or W/S: zoom at the pointer. Drag or A/D: pan (drag also scrolls). Shift+wheel: scroll. Click a task, region or log: its task.'), container];
  }

  // ---- the timeline ----------------------------------------------------------------------------

  /** Runs (scheduling events): when a flow ran; at least this long, a long run (as the Chrome export's "long runs" track). */
  const LONG_RUN_NS = 10e6;
  const RUN_COLOR = '#16a34a';
  const RUN_LONG = '#ea580c';
  /** Height in pixels of a flow's runs strip. */
  const RUN_STRIP = 3;

  /** The hover text and click target of a run (`run`: its mark when it is a single one). */
  function runHit(run, count, x, y, w, h, start, end) {
    if (!run) return { x, y, w, h, task: null, text: `${count} runs\n${formatDuration(start)} – ${formatDuration(end)}` };
    const queued = run.queued === null ? 'queued: unknown (after I/O)' : `queued ${formatDuration(run.queued)}`;
    const task = run.task === 0 ? 'background' : `task ${run.task} ${typeName(run.taskType)}`;
    return {
      x, y, w, h,
      task: run.task !== 0 ? run.task : null,
      text: `run of ${task} on flow ${run.flow}\n${formatDuration(run.duration)} at ${formatDuration(run.start)}\nwaited on ${run.waitedOn || '-'}; ${queued}`,
    };
  }

  const LABEL_WIDTH = 110;
  const ROW = 16;
  const LANE_GAP = 8;
  const AXIS = 22;
  const HEAP = 44;

  function typeColor(name, merged) {
    let hash = 0;
    for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0;
    const hue = ((hash % 360) + 360) % 360;
    return merged ? `hsl(${hue} 25% 62%)` : `hsl(${hue} 60% 70%)`;
  }

  /**
   * A canvas over `/api/timeline`: asks for what is visible at the canvas's width, draws it, and asks
   * again when zoomed (wheel) or panned (drag). Exposes its state on the element (data-from, data-to,
   * data-items) and on window.tstraceTimeline for tests.
   */
  class Timeline {
    constructor(container, options) {
      this.container = container;
      this.flows = options.flows || null;
      this.toolbar = h('div', { class: 'toolbar' },
        h('button', { type: 'button', id: 'zoom-in', onclick: () => this.zoom(0.5, 0.5) }, 'Zoom in'),
        h('button', { type: 'button', id: 'zoom-out', onclick: () => this.zoom(2, 0.5) }, 'Zoom out'),
        h('button', { type: 'button', id: 'zoom-reset', onclick: () => this.reset() }, 'Reset zoom'),
        this.flows ? null : this.lanesButton = h('button', { type: 'button', id: 'lanes-toggle', onclick: () => this.toggleLanes() }, 'Lanes…'),
        h('input', { id: 'highlight', type: 'search', placeholder: 'highlight a type', title: 'Regions and tasks whose type contains this stay bright; the rest fade', oninput: (e) => this.highlightText(e.target.value) }),
        this.rangeText = h('span', { class: 'range' }, ''));
      this.highlight = '';
      this.canvas = h('canvas', { class: 'timeline-canvas' });
      this.tip = h('div', { class: 'tip' });
      this.element = h('div', { class: 'timeline' }, this.toolbar, this.canvas, this.tip);
      container.replaceChildren(this.element);
      this.height = options.height || 500;
      this.data = null;
      this.scrollY = 0;
      this.sequence = 0;
      this.hits = [];
      this.from = options.from;
      this.to = options.to;
      this.initial = [options.from, options.to];
      // Flows get a lane each, or share lanes (`packed`); `auto` lets the server choose by their number.
      this.lanesMode = 'auto';
      /** @type {any} */ (window).tstraceTimeline = this; // for tests
      this.bind();
      this.resize();
      this.fetch();
    }

    get width() {
      return Math.max(100, this.canvas.clientWidth - LABEL_WIDTH);
    }

    resize() {
      const ratio = window.devicePixelRatio || 1;
      this.canvas.style.height = `${this.height}px`;
      this.canvas.width = Math.round(this.canvas.clientWidth * ratio);
      this.canvas.height = Math.round(this.height * ratio);
      this.ratio = ratio;
    }

    /** Regions and tasks whose type contains `text` stay bright, the others fade; '' shows all alike. */
    highlightText(text) {
      this.highlight = text.trim();
      this.draw();
    }

    /** One lane per flow, or flows packed into shared lanes: a new layout, from its top. */
    toggleLanes() {
      this.lanesMode = this.lanesMode === 'packed' ? 'flow' : 'packed';
      this.scrollY = 0;
      this.changed();
    }

    reset() {
      this.from = this.initial[0] ?? 0;
      this.to = this.initial[1] ?? (this.data ? this.data.duration : 1);
      this.scrollY = 0;
      this.changed();
    }

    /** Zooms by `factor` (< 1: in) around the point at `at` (0..1 of the width). */
    zoom(factor, at) {
      const span = this.to - this.from;
      const center = this.from + span * at;
      const next = Math.max(span * factor, 1000); // at most 1µs across the canvas
      this.from = center - next * at;
      this.to = this.from + next;
      this.changed();
    }

    changed() {
      this.draw();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.fetch(), 60);
    }

    /** The counters drawn above the lanes: heap after GC, event-loop utilization. */
    counters(data) {
      const counters = [];
      if (data.heap) counters.push({ label: 'heap', hue: 150, series: data.heap, text: `heap after GC: up to ${(data.heap.max / 1048576).toFixed(1)} MiB over the trace` });
      if (data.eventLoop) counters.push({ label: 'event loop', hue: 280, series: data.eventLoop, text: 'event-loop utilization (0–100%) per sampling interval' });
      return counters;
    }

    /** Height of the counter blocks above the lanes (before the first answer: as if there were two). */
    get heapBlock() {
      return (this.data ? this.counters(this.data).length : 2) * (HEAP + LANE_GAP);
    }

    async fetch() {
      const sequence = ++this.sequence;
      // Only the rows in view (and a screenful around them) are asked for: a trace may have 100,000 flows.
      const screen = Math.ceil(this.height / ROW);
      const top = Math.max(0, Math.floor((this.scrollY - this.heapBlock) / ROW) - screen);
      const params = { px: Math.round(this.width), from: this.from, to: this.to, flows: this.flows ? this.flows.join(',') : null, lanes: this.flows ? null : this.lanesMode, top, rows: 3 * screen };
      const data = await api(`/api/timeline${query(params)}`);
      if (sequence !== this.sequence) return; // a newer view was asked for
      this.data = data;
      this.lanesMode = data.lanesMode;
      if (this.lanesButton) this.lanesButton.textContent = data.lanesMode === 'packed' ? 'Lanes: flows packed' : 'Lanes: one per flow';
      if (this.from === null || this.from === undefined) this.from = data.from;
      if (this.to === null || this.to === undefined) this.to = data.to;
      this.loaded = { from: data.from, to: data.to };
      this.draw();
    }

    /**
     * Listens on `target` while the canvas is in the page: a listener on window outlives the page that
     * added it, so the first event after the canvas is gone removes them all.
     */
    listen(target, type, handler, options) {
      const listener = (event) => {
        if (!this.canvas.isConnected) this.unbind();
        else handler(event);
      };
      target.addEventListener(type, listener, options);
      this.listeners.push([target, type, listener, options]);
    }

    unbind() {
      for (const [target, type, listener, options] of this.listeners) target.removeEventListener(type, listener, options);
      this.listeners = [];
    }

    bind() {
      this.listeners = [];
      this.pointerAt = 0.5;
      this.listen(this.canvas, 'wheel', (event) => {
        event.preventDefault();
        const rect = this.canvas.getBoundingClientRect();
        const at = Math.min(1, Math.max(0, (event.clientX - rect.left - LABEL_WIDTH) / this.width));
        if (event.shiftKey) this.scroll(event.deltaY);
        else this.zoom(event.deltaY < 0 ? 0.8 : 1.25, at);
      }, { passive: false });
      let drag = null;
      this.listen(this.canvas, 'mousedown', (event) => {
        drag = { x: event.clientX, y: event.clientY, from: this.from, to: this.to, scrollY: this.scrollY, moved: false };
      });
      this.listen(window, 'mousemove', (event) => {
        const rect = this.canvas.getBoundingClientRect();
        if (event.clientY >= rect.top && event.clientY <= rect.bottom) this.pointerAt = Math.min(1, Math.max(0, (event.clientX - rect.left - LABEL_WIDTH) / this.width));
        if (drag) {
          const dx = event.clientX - drag.x;
          const dy = event.clientY - drag.y;
          if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
          if (drag.moved) {
            const shift = (dx / this.width) * (drag.to - drag.from);
            this.from = drag.from - shift;
            this.to = drag.to - shift;
            this.scrollY = this.clampScroll(drag.scrollY - dy);
            this.changed();
          }
          return;
        }
        this.hover(event);
      });
      this.listen(window, 'mouseup', (event) => {
        if (drag && !drag.moved) this.click(event);
        drag = null;
      });
      this.listen(window, 'resize', () => {
        this.resize();
        this.changed();
      });
      // W/S zoom in/out at the pointer, A/D pan, as in Perfetto and chrome://tracing.
      this.listen(window, 'keydown', (event) => {
        const target = /** @type {HTMLElement} */ (event.target);
        if (event.ctrlKey || event.metaKey || event.altKey || (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName))) return;
        const span = this.to - this.from;
        switch (event.key.toLowerCase()) {
          case 'w':
            return this.zoom(0.8, this.pointerAt);
          case 's':
            return this.zoom(1.25, this.pointerAt);
          case 'a':
            this.from -= span * 0.2;
            this.to -= span * 0.2;
            return this.changed();
          case 'd':
            this.from += span * 0.2;
            this.to += span * 0.2;
            return this.changed();
        }
      });
    }

    scroll(delta) {
      this.scrollY = this.clampScroll(this.scrollY + delta);
      this.changed();
    }

    clampScroll(y) {
      const content = this.data ? AXIS + 4 + this.heapBlock + this.data.layoutRows * ROW : 0;
      return Math.max(0, Math.min(y, content - this.height + 2 * ROW));
    }

    hitAt(event) {
      const rect = this.canvas.getBoundingClientRect();
      const x = event.clientX - rect.left;
      const y = event.clientY - rect.top;
      if (x < 0 || y < 0 || x > rect.width || y > rect.height) return null;
      for (let i = this.hits.length - 1; i >= 0; i--) {
        const hit = this.hits[i];
        if (x >= hit.x && x <= hit.x + hit.w && y >= hit.y && y <= hit.y + hit.h) return { hit, x, y };
      }
      return null;
    }

    hover(event) {
      const found = this.hitAt(event);
      if (!found) {
        this.tip.style.display = 'none';
        return;
      }
      this.tip.textContent = found.hit.text;
      this.tip.style.display = 'block';
      this.tip.style.left = `${Math.min(found.x + 12, this.canvas.clientWidth - 200)}px`;
      this.tip.style.top = `${found.y + this.toolbar.offsetHeight + 14}px`;
    }

    async click(event) {
      const found = this.hitAt(event);
      if (!found) return;
      if (found.hit.task) location.hash = `#/task/${found.hit.task}`;
      else if (found.hit.region) {
        const region = await api(`/api/region/${found.hit.region}`);
        if (region.task !== 0) location.hash = `#/task/${region.task}`;
      }
    }

    draw() {
      const context = this.canvas.getContext('2d');
      const ratio = this.ratio;
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      const width = this.canvas.clientWidth;
      context.clearRect(0, 0, width, this.height);
      context.font = '11px system-ui, sans-serif';
      context.textBaseline = 'middle';
      this.hits = [];
      const data = this.data;
      if (!data || this.from === null || this.from === undefined) {
        context.fillStyle = '#687280';
        context.fillText('Loading…', LABEL_WIDTH + 8, 40);
        return;
      }
      const from = this.from;
      const to = this.to;
      const scale = this.width / (to - from);
      const xOf = (t) => LABEL_WIDTH + (t - from) * scale;
      this.rangeText.textContent = `${formatDuration(from)} – ${formatDuration(to)}  (${formatDuration(to - from)} shown)`;
      this.canvas.dataset.from = String(from);
      this.canvas.dataset.to = String(to);
      let items = 0;

      // The lanes, below the axis, scrolled by scrollY; only the rows in view are drawn.
      const y0 = AXIS + 4 - this.scrollY;
      let y = y0;
      const bottom = this.height;
      context.save();
      context.beginPath();
      context.rect(0, AXIS, width, this.height - AXIS);
      context.clip();
      for (const counter of this.counters(data)) {
        if (y + HEAP > AXIS && y < bottom) {
          this.label(context, counter.label, y + HEAP / 2);
          context.fillStyle = `hsl(${counter.hue} 45% 75%)`;
          const points = counter.series.points;
          const max = counter.series.max || 1;
          context.beginPath();
          context.moveTo(points.length > 0 ? Math.max(LABEL_WIDTH, xOf(points[0][0])) : LABEL_WIDTH, y + HEAP);
          for (let i = 0; i < points.length; i++) {
            const [ts, , high] = points[i];
            const next = i + 1 < points.length ? points[i + 1][0] : data.to;
            const x0 = Math.max(LABEL_WIDTH, xOf(ts));
            const x1 = Math.min(width, xOf(next));
            const top = y + HEAP - (HEAP - 4) * (high / max);
            context.lineTo(x0, top);
            context.lineTo(Math.max(x0, x1), top);
          }
          context.lineTo(Math.min(width, xOf(data.to)), y + HEAP);
          context.closePath();
          context.fill();
          items += points.length;
          this.hits.push({ x: LABEL_WIDTH, y, w: width - LABEL_WIDTH, h: HEAP, text: counter.text });
        }
        y += HEAP + LANE_GAP;
      }
      let lanesDrawn = 0;
      let highlighted = 0;
      for (const lane of data.lanes) {
        const laneHeight = Math.max(1, lane.rows.length) * ROW;
        y = y0 + this.heapBlock + lane.top * ROW;
        if (y + laneHeight > AXIS && y < bottom) {
          lanesDrawn++;
          this.label(context, lane.label, y + ROW / 2);
          lane.rows.forEach((row, depth) => {
            const top = y + depth * ROW;
            if (top + ROW < AXIS || top > bottom) return;
            for (const [start, end, id, count, type] of row) {
              const x0 = Math.max(LABEL_WIDTH, xOf(start));
              const x1 = Math.min(width, xOf(end));
              const w = Math.max(1, x1 - x0);
              const run = lane.kind === 'runs' && count === 1 ? data.runMarks[id] : null;
              const name = lane.kind === 'gc' ? 'GC' : lane.kind === 'runs' ? (type >= 0 ? data.types[type] : 'background') : data.types[type];
              const faded = this.highlight !== '' && lane.kind !== 'gc' && !name.includes(this.highlight);
              context.globalAlpha = faded ? 0.2 : 1;
              context.fillStyle = lane.kind === 'gc' ? '#f59e0b' : lane.kind === 'runs' ? (count > 1 ? '#9a3412' : RUN_LONG) : typeColor(name, count > 1);
              context.fillRect(x0, top + 1, w, ROW - 2);
              items++;
              if (this.highlight !== '' && !faded && lane.kind !== 'gc') highlighted++;
              if (w > 30 && count === 1) {
                context.fillStyle = '#1d232a';
                context.save();
                context.beginPath();
                context.rect(x0, top, w, ROW);
                context.clip();
                context.fillText(lane.kind === 'tasks' ? `${name} ${id}` : run ? `${name} ${run.task}` : name, x0 + 3, top + ROW / 2);
                context.restore();
              }
              context.globalAlpha = 1;
              if (lane.kind === 'runs') {
                this.hits.push(runHit(run, count, x0, top, w, ROW, start, end));
                continue;
              }
              const what = lane.kind === 'gc' ? 'GC' : lane.kind === 'tasks' ? `task ${id} ${name}` : `region ${id} ${name}`;
              this.hits.push({
                x: x0, y: top, w, h: ROW,
                task: lane.kind === 'tasks' ? id : null,
                region: lane.kind === 'flow' && count === 1 ? id : null,
                text: count > 1 ? `${count} ${lane.kind === 'tasks' ? 'tasks' : lane.kind === 'gc' ? 'GCs' : 'regions'} (first: ${what})\n${formatDuration(start)} – ${formatDuration(end)}` : `${what}\n${formatDuration(end - start)} at ${formatDuration(start)}`,
              });
            }
          });
          for (const [start, end, id, count] of lane.runs || []) {
            // When the flow ran: a thin strip along the bottom of the lane's first row (long runs darker).
            const x0 = Math.max(LABEL_WIDTH, xOf(start));
            const x1 = Math.min(width, xOf(end));
            if (x1 < LABEL_WIDTH || x0 > width) continue;
            const w = Math.max(1, x1 - x0);
            context.fillStyle = end - start >= LONG_RUN_NS ? RUN_LONG : count > 1 ? '#15803d' : RUN_COLOR;
            context.fillRect(x0, y + ROW - RUN_STRIP, w, RUN_STRIP);
            items++;
            this.hits.push(runHit(count === 1 ? data.runMarks[id] : null, count, x0, y + ROW - RUN_STRIP - 1, w, RUN_STRIP + 1, start, end));
          }
          for (const [ts, , log, count] of lane.logs || []) {
            // A log: a small dark triangle at the top of the lane (hovering shows its message).
            const x = xOf(ts);
            if (x < LABEL_WIDTH || x > width) continue;
            context.fillStyle = count > 1 ? '#4b5563' : '#111827';
            context.beginPath();
            context.moveTo(x - 4, y);
            context.lineTo(x + 4, y);
            context.lineTo(x, y + 6);
            context.closePath();
            context.fill();
            items++;
            const mark = count === 1 ? data.logMarks[log] : null;
            this.hits.push({
              x: x - 4, y, w: 8, h: 7,
              task: mark && mark.task !== 0 ? mark.task : null,
              text: mark ? `log ${mark.text}\nat ${formatDuration(ts)}` : `${count} logs from ${formatDuration(ts)}`,
            });
          }
        }
      }
      context.restore();
      this.contentHeight = AXIS + 4 + this.heapBlock + data.layoutRows * ROW;
      this.drawScrollThumb(context, width);
      this.canvas.dataset.lanes = String(lanesDrawn);
      this.canvas.dataset.highlighted = String(highlighted);
      this.canvas.dataset.layoutRows = String(data.layoutRows);
      this.canvas.dataset.lanesMode = data.lanesMode;
      this.canvas.dataset.scrollY = String(this.scrollY);
      this.drawAxis(context, width, from, to, xOf);
      this.canvas.dataset.items = String(items);
    }

    /** Where the view is in the lanes, which may be hundreds of thousands of rows tall. */
    drawScrollThumb(context, width) {
      const track = this.height - AXIS;
      if (this.contentHeight <= this.height) return;
      const size = Math.max(12, (track * this.height) / this.contentHeight);
      const top = AXIS + ((track - size) * this.scrollY) / Math.max(1, this.contentHeight - this.height);
      context.fillStyle = 'rgba(104, 114, 128, 0.45)';
      context.fillRect(width - 6, top, 4, size);
    }

    label(context, text, y) {
      context.fillStyle = '#687280';
      context.fillText(text, 6, y);
    }

    drawAxis(context, width, from, to, xOf) {
      context.fillStyle = '#f4f6f9';
      context.fillRect(0, 0, width, AXIS);
      context.strokeStyle = '#dde2e8';
      context.fillStyle = '#687280';
      const span = to - from;
      const target = span / Math.max(1, this.width / 110);
      const step = [1, 2, 5].map((m) => m * 10 ** Math.floor(Math.log10(target))).concat(10 ** Math.ceil(Math.log10(target))).find((s) => s >= target);
      context.beginPath();
      for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
        const x = xOf(t);
        context.moveTo(x, AXIS - 6);
        context.lineTo(x, AXIS);
        context.fillText(formatDuration(t), x + 3, AXIS / 2);
      }
      context.stroke();
    }
  }

  // ---- routing ---------------------------------------------------------------------------------

  /** Run once the page is in the document (what needs its size: the timeline). */
  let afterRender = [];
  let rendering = 0;
  async function route() {
    afterRender = [];
    const hash = location.hash.replace(/^#/, '') || '/';
    const [path, search] = hash.split('?');
    const params = new URLSearchParams(search || '');
    const section = path.split('/')[1] || 'overview';
    const links = /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-nav]'));
    for (const link of links) link.classList.toggle('active', link.dataset.nav === (section === 'task' ? 'tasks' : section));
    const current = ++rendering;
    document.body.dataset.ready = 'false';
    let content;
    try {
      const task = /^\/task\/(\d+)$/.exec(path);
      if (task) content = await taskPage(Number(task[1]));
      else if (path === '/tasks') content = await tasksPage(params);
      else if (path === '/regions') content = await regionGroupsPage();
      else if (path === '/regions/list') content = await regionListPage(params);
      else if (path === '/logs') content = await logsPage(params);
      else if (path === '/timeline') content = await timelinePage(params);
      else content = await overviewPage();
    } catch (error) {
      content = [h('h1', {}, 'Error'), h('p', { class: 'bad' }, String(error && error.message ? error.message : error))];
    }
    if (current !== rendering) return;
    app.replaceChildren(...[content].flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
    for (const mount of afterRender) mount();
    document.body.dataset.ready = 'true';
    document.body.dataset.page = path;
  }

  window.addEventListener('hashchange', route);
  route();
})();
