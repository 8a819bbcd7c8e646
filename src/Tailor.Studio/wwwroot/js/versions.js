// Model versions side by side on the test set, and the history of every run (both shown on the Models screen).
import { h, replace, attempt, announce, percent, plural } from './dom.js';
import { api } from './api.js';

const HEADS = { neuralNetwork: 'network', logisticRegression: 'logistic regression', knn: 'k-NN' };
const LAYERS = { default: 'default layers', classifierOnly: 'classifier only', chosen: 'chosen layers' };

/** 'network' | 'logistic regression' | 'k-NN' from a RunRequest's head. */
export function headName(head) {
  return HEADS[head] ?? String(head);
}

const orDefault = value => value === null || value === undefined ? 'default' : String(value);

/** A run's settings in a line: what its head uses (null settings took the model's defaults). */
export function settingsText(request, epochsTrained) {
  if (request.head === 'knn') return `k ${orDefault(request.k)}, seed ${orDefault(request.seed)}`;
  if (request.head === 'logisticRegression') return `L2 ${orDefault(request.l2)}, seed ${orDefault(request.seed)}`;
  const epochs = epochsTrained === null || epochsTrained === undefined || epochsTrained === request.epochs
    ? plural(request.epochs, 'epoch') : `${epochsTrained} of ${plural(request.epochs, 'epoch')}`;
  const layers = request.layers === 'chosen' && request.chosenLayers?.length ? `layers ${request.chosenLayers.join(', ')}` : LAYERS[request.layers] ?? request.layers;
  return `${layers}, ${epochs}, learning rate ${orDefault(request.learningRate)}, batch ${orDefault(request.batchSize)}, seed ${orDefault(request.seed)}`;
}

function versionName(v) {
  const what = v.settings ? headName(v.settings.head) : v.kind === 'base' ? 'pretrained base' : v.kind === 'reset' ? 'empty classifier' : v.kind;
  return `version ${v.id}: ${what}${v.accuracy !== null && v.accuracy !== undefined ? `, ${percent(v.accuracy)}` : ''}${v.isCurrent ? ' (current)' : ''}`;
}

const FILTERS = [
  { key: 'all', text: 'All', keep: () => true },
  { key: 'disagree', text: 'Disagreements', keep: r => r.disagree },
  { key: 'wrong-a', text: 'Wrong in A', keep: r => r.a && !r.a.correct },
  { key: 'wrong-b', text: 'Wrong in B', keep: r => r.b && !r.b.correct },
];

function prediction(p, which) {
  if (!p) return h('td', { 'data-testid': `prediction-${which}`, class: 'muted', text: 'not read' });
  return h('td', { 'data-testid': `prediction-${which}`, 'data-label': p.label, class: p.correct ? 'ok' : 'bad' },
    h('span', { text: p.label }), ` ${percent(p.probability)} `, h('span', { text: p.correct ? '✓ right' : '✗ wrong' }));
}

/** The compare section: pick versions A and B, see the counts, filter the test photos. */
export function renderCompare(project, context) {
  const pickA = h('select', { id: 'compare-a', 'data-testid': 'compare-a' });
  const pickB = h('select', { id: 'compare-b', 'data-testid': 'compare-b' });
  const result = h('div', { 'data-testid': 'compare-result', 'aria-live': 'off' });
  const go = h('button', { type: 'submit', class: 'primary', 'data-testid': 'compare-run', text: 'Compare on the test set' });
  let shown = null;
  let filter = 'all';

  const rowsBody = h('tbody', { 'data-testid': 'compare-rows' });
  const showRows = () => {
    const keep = FILTERS.find(f => f.key === filter).keep;
    const rows = shown.rows.filter(keep);
    replace(rowsBody, rows.length === 0 ? h('tr', {}, h('td', { colspan: 4, class: 'muted', text: 'No test photo matches.' })) : rows.map(r =>
      h('tr', {
        'data-testid': 'compare-row', 'data-example-id': r.exampleId, 'data-disagree': String(r.disagree),
        'data-a-correct': String(!!r.a?.correct), 'data-b-correct': String(!!r.b?.correct), class: r.disagree ? 'disagree' : '',
      },
        h('td', {}, h('img', { src: api.thumbnailUrl(r.exampleId), alt: `test photo ${r.exampleId}`, loading: 'lazy', width: 64, height: 64 })),
        h('th', { scope: 'row', 'data-testid': 'true-label', text: r.trueLabel }),
        prediction(r.a, 'a'), prediction(r.b, 'b'))));
    return rows.length;
  };

  const show = view => {
    shown = view;
    filter = 'all';
    const figure = (testid, label, value) => h('div', { class: 'figure' }, h('span', { class: 'muted', text: label }), h('span', { class: 'value', 'data-testid': testid, text: String(value) }));
    const unknown = (list, which) => list.length === 0 ? null
      : h('p', { class: 'notice', 'data-testid': `unknown-${which}` }, `Version ${which === 'a' ? view.versionA : view.versionB} was made without ${list.map(l => `'${l}'`).join(', ')} (added since): it cannot predict ${list.length === 1 ? 'it' : 'them'}, so ${list.length === 1 ? 'its' : 'their'} test photos count as wrong for it.`);
    const radios = h('fieldset', { class: 'filters', 'data-testid': 'compare-filters' },
      h('legend', { text: 'Show' }),
      FILTERS.map(f => h('label', {},
        h('input', {
          type: 'radio', name: 'compare-filter', value: f.key, 'data-testid': `filter-${f.key}`, checked: f.key === 'all',
          onchange: () => {
            filter = f.key;
            const n = showRows();
            announce(`${f.text}: ${plural(n, 'test photo')}.`);
          },
        }), ` ${f.text} (${view.rows.filter(f.keep).length})`)));
    replace(result,
      h('div', { class: 'figures', 'data-testid': 'compare-summary' },
        figure('accuracy-a', `accuracy of A (version ${view.versionA})`, percent(view.accuracyA)),
        figure('accuracy-b', `accuracy of B (version ${view.versionB})`, percent(view.accuracyB)),
        figure('count-both-right', 'both right', view.bothRight),
        figure('count-only-a', 'only A right', view.onlyARight),
        figure('count-only-b', 'only B right', view.onlyBRight),
        figure('count-both-wrong', 'both wrong', view.bothWrong),
        figure('count-disagree', 'disagreements', view.disagreements)),
      unknown(view.unknownToA, 'a'), unknown(view.unknownToB, 'b'),
      view.skipped.length ? h('p', { class: 'muted', text: `${plural(view.skipped.length, 'test photo')} could not be read and ${view.skipped.length === 1 ? 'is' : 'are'} left out.` }) : null,
      radios,
      h('div', { class: 'scroll' }, h('table', { class: 'eval compare', 'data-testid': 'compare-table' },
        h('caption', { class: 'muted', text: `Test photos, disagreements first: what version A (${view.versionA}) and version B (${view.versionB}) predicted.` }),
        h('thead', {}, h('tr', {}, ['photo', 'true label', `A: version ${view.versionA}`, `B: version ${view.versionB}`].map(t => h('th', { scope: 'col', text: t })))),
        rowsBody)));
    showRows();
  };

  const form = h('form', {
    class: 'compare-pick',
    onsubmit: async event => {
      event.preventDefault();
      const a = Number(pickA.value);
      const b = Number(pickB.value);
      if (!a || !b) return;
      go.disabled = true;
      announce(`Comparing version ${a} and version ${b} on the test set…`);
      const view = await attempt(() => api.compare(project.id, a, b));
      go.disabled = false;
      if (!view || context.stale()) return;
      show(view);
      announce(`Compared: both right ${view.bothRight}, only A right ${view.onlyARight}, only B right ${view.onlyBRight}, both wrong ${view.bothWrong}.`);
    },
  },
  h('label', { for: 'compare-a', text: 'Version A' }), pickA,
  h('label', { for: 'compare-b', text: 'Version B' }), pickB,
  go);

  const element = h('section', { class: 'panel', 'aria-labelledby': 'compare-title', 'data-testid': 'compare' },
    h('h2', { id: 'compare-title', text: 'Compare two versions' }),
    h('p', { class: 'muted', text: 'Which test photos each version gets right and wrong, and where they disagree. A version evaluated before on the same test set is not run again.' }),
    form, result);

  const update = async details => {
    const keepA = pickA.value;
    const keepB = pickB.value;
    const option = v => h('option', { value: String(v.id), text: versionName(v) });
    replace(pickA, details.map(option));
    replace(pickB, details.map(option));
    const ids = details.map(d => String(d.id));
    // Default: the two newest versions, the older as A.
    pickB.value = ids.includes(keepB) ? keepB : ids[0] ?? '';
    pickA.value = ids.includes(keepA) ? keepA : ids[1] ?? ids[0] ?? '';
    go.disabled = details.length < 2;
  };
  return { element, update };
}

/** The history section: every run of the project, newest first. */
export function renderHistory(project, context) {
  const body = h('tbody', { 'data-testid': 'history-rows' });
  const element = h('section', { class: 'panel', 'aria-labelledby': 'history-title', 'data-testid': 'history' },
    h('h2', { id: 'history-title', text: 'Run history' }),
    h('div', { class: 'scroll' }, h('table', { 'data-testid': 'history-table' },
      h('thead', {}, h('tr', {}, ['run', 'head', 'settings', 'started', 'duration', 'state', 'test accuracy', 'version'].map(t => h('th', { scope: 'col', text: t })))),
      body)));
  const duration = s => s === null || s === undefined ? 'going on' : s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  const update = async () => {
    const runs = await attempt(() => api.history(project.id));
    if (!runs || context.stale()) return;
    replace(body, runs.length === 0 ? h('tr', {}, h('td', { colspan: 8, class: 'muted', text: 'No run yet: train on the Train screen.' })) : runs.map(r =>
      h('tr', { 'data-testid': 'history-row', 'data-run-id': r.runId, 'data-state': r.state, 'data-head': r.settings.head },
        h('th', { scope: 'row', text: String(r.runId) }),
        h('td', { 'data-testid': 'history-head', text: headName(r.settings.head) }),
        h('td', { 'data-testid': 'history-settings', text: settingsText(r.settings, r.settings.head === 'neuralNetwork' ? r.epochsDone : null) }),
        h('td', { text: new Date(r.started).toLocaleString() }),
        h('td', { text: duration(r.seconds) }),
        h('td', { 'data-testid': 'history-state', title: r.reason ?? '', text: r.reason ? `${r.state}: ${r.reason}` : r.state }),
        h('td', { 'data-testid': 'history-accuracy', text: percent(r.testAccuracy) }),
        h('td', { 'data-testid': 'history-version', text: r.modelVersionId ? `version ${r.modelVersionId}` : '–' }))));
  };
  return { element, update };
}
