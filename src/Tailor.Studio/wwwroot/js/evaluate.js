// Evaluate: the current model on the test set — accuracy, loss, per-label accuracy, a confusion matrix whose cells
// open their photos, and a per-photo table (wrong ones first) with relabel and move-to-training actions.
import { h, replace, attempt, announce, fixed, percent, plural } from './dom.js';
import { api } from './api.js';
import { guidance } from './guidance.js';

export async function render(view, context) {
  const page = new EvaluatePage(view, context);
  page.build();
  await page.evaluate();
  return () => {};
}

/** The confusion matrix as rows of { count, exampleIds } from whatever shape the server sends. */
function matrixOf(confusion, labels) {
  const cells = confusion?.cells ?? confusion?.matrix ?? confusion;
  if (!Array.isArray(cells)) return [];
  return cells.map(row => row.map(cell => {
    if (typeof cell === 'number') return { count: cell, exampleIds: [] };
    const ids = cell?.exampleIds ?? cell?.examples ?? [];
    return { count: cell?.count ?? ids.length, exampleIds: ids };
  })).slice(0, labels.length);
}

class EvaluatePage {
  constructor(view, context) {
    this.view = view;
    this.context = context;
    this.project = context.project;
  }

  build() {
    this.summary = h('div', { class: 'figures', 'data-testid': 'eval-summary' });
    this.perLabel = h('div', { 'data-testid': 'per-label' });
    this.matrix = h('div', { class: 'scroll', 'data-testid': 'confusion' });
    this.cellView = h('div', { class: 'cell-view', 'data-testid': 'cell-images', 'aria-live': 'polite' });
    this.rows = h('tbody', { 'data-testid': 'eval-rows' });
    this.again = h('button', { type: 'button', class: 'primary', 'data-testid': 'evaluate', text: 'Evaluate again', onclick: () => this.evaluate() });
    this.changes = h('p', { class: 'muted', 'data-testid': 'eval-changes' });
    replace(this.view,
      h('section', { class: 'panel', 'aria-labelledby': 'eval-title' },
        h('div', { class: 'spread' }, h('h1', { id: 'eval-title', text: 'Evaluate' }), this.again),
        h('p', { class: 'muted', text: 'The current model on the test set. Fix a wrong label here, or move a photo to the training set, then train and evaluate again.' }),
        this.summary),
      h('div', { class: 'columns' },
        h('section', { class: 'panel', 'aria-labelledby': 'per-label-title' }, h('h2', { id: 'per-label-title', text: 'Per label' }), this.perLabel),
        h('section', { class: 'panel', 'aria-labelledby': 'confusion-title' },
          h('h2', { id: 'confusion-title', text: 'Confusion matrix' }),
          h('p', { class: 'muted', text: 'Rows: true label; columns: predicted. Open a cell to see its photos.' }),
          this.matrix, this.cellView)),
      h('section', { class: 'panel', 'aria-labelledby': 'rows-title' },
        h('h2', { id: 'rows-title', text: 'Photos, wrong ones first' }), this.changes,
        h('div', { class: 'scroll' }, h('table', { class: 'eval', 'data-testid': 'eval-table' },
          h('thead', {}, h('tr', {}, ['photo', 'true label', 'predicted', 'probability', 'p(true label)', 'fix']
            .map(t => h('th', { scope: 'col', text: t })))),
          this.rows))));
    // An empty test set is said in the summary (with a link to Collect): not twice.
    this.guidance = guidance(this.view, this.project, 'evaluate', { hide: item => item.code === 'no-test-set' && !!this.summary.querySelector('[data-testid=no-test-set]') });
  }

  async evaluate() {
    if (this.project.labels.every(l => l.testCount === 0)) {
      replace(this.summary, h('p', { class: 'muted', 'data-testid': 'no-test-set' }, 'The test set is empty: add test photos on ',
        h('a', { href: `#/p/${this.project.id}/collect`, text: 'Collect' }), ' to evaluate the model.'));
      return;
    }
    this.again.disabled = true;
    replace(this.summary, h('p', { class: 'muted', text: 'Evaluating…' }));
    const [project, result] = await Promise.all([api.project(this.project.id).catch(() => this.project), attempt(() => api.evaluate(this.project.id))]);
    this.again.disabled = false;
    if (this.context.stale()) return;
    this.project = project;
    if (!result) { replace(this.summary); return; }
    this.result = result;
    this.show(result);
  }

  show(r) {
    const labels = this.project.labels.map(l => l.name);
    const rows = r.rows ?? [];
    const correct = rows.filter(x => x.correct).length;
    replace(this.summary,
      figure('Accuracy', percent(r.accuracy), 'accuracy'),
      figure('Right', `${correct} / ${r.count ?? rows.length}`, 'right'),
      figure('Loss', fixed(r.loss), 'loss'),
      (r.skipped?.length ?? 0) > 0 ? figure('Skipped', String(r.skipped.length), 'skipped') : null);
    announce(`Accuracy ${percent(r.accuracy)}: ${correct} of ${rows.length} test photos right.`);

    const per = r.perLabel ?? [];
    replace(this.perLabel, h('table', { class: 'compact' },
      h('thead', {}, h('tr', {}, ['label', 'right', 'accuracy'].map(t => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, per.map(p => h('tr', { 'data-testid': 'per-label-row' },
        h('th', { scope: 'row', text: p.label ?? p.name }),
        h('td', { text: `${p.correct ?? Math.round((p.accuracy ?? 0) * (p.count ?? 0))} / ${p.count ?? p.total ?? '–'}` }),
        h('td', { text: percent(p.accuracy) }))))));

    const matrixLabels = r.confusionLabels ?? r.confusion?.labels ?? labels;
    const cells = matrixOf(r.confusion, matrixLabels);
    replace(this.matrix, h('table', { class: 'confusion' },
      h('thead', {}, h('tr', {}, h('td', {}), matrixLabels.map(name => h('th', { scope: 'col', text: name })))),
      h('tbody', {}, cells.map((row, i) => h('tr', {},
        h('th', { scope: 'row', text: matrixLabels[i] }),
        row.map((cell, j) => h('td', { class: i === j ? 'diag' : cell.count ? 'off' : '' },
          cell.count
            ? h('button', {
              type: 'button', class: 'cell', 'data-testid': 'confusion-cell', 'data-true': matrixLabels[i], 'data-predicted': matrixLabels[j],
              'aria-label': `${cell.count} ${matrixLabels[i]} predicted as ${matrixLabels[j]}: show the photos`,
              text: String(cell.count), onclick: () => this.openCell(matrixLabels[i], matrixLabels[j], cell),
            })
            : h('span', { class: 'muted', text: '0' }))))))));
    replace(this.cellView);

    replace(this.rows, rows.map(row => this.row(row)));
    replace(this.changes);
  }

  openCell(trueLabel, predicted, cell) {
    const ids = cell.exampleIds.length ? cell.exampleIds
      : (this.result.rows ?? []).filter(r => r.trueLabel === trueLabel && r.predictedLabel === predicted).map(r => r.exampleId);
    replace(this.cellView,
      h('h3', { tabindex: -1, text: `${plural(ids.length, 'photo')}: ${trueLabel} predicted as ${predicted}` }),
      h('ul', { class: 'thumbs' }, ids.map(id => h('li', { class: 'thumb', 'data-testid': 'cell-image' },
        h('a', { href: api.imageUrl(id), target: '_blank', rel: 'noopener' },
          h('img', { src: api.thumbnailUrl(id), loading: 'lazy', width: 96, height: 96, alt: `${trueLabel} photo ${id}, predicted ${predicted}` }))))));
    this.cellView.querySelector('h3').focus();
  }

  row(row) {
    const label = h('select', { 'aria-label': `True label of photo ${row.exampleId}`, 'data-testid': 'relabel' },
      this.project.labels.map(l => h('option', { value: l.id, text: l.name, selected: l.name === row.trueLabel })));
    const tr = h('tr', { class: row.correct ? 'right' : 'wrong', 'data-testid': 'eval-row', 'data-correct': String(!!row.correct), 'data-example-id': row.exampleId },
      h('td', {}, h('a', { href: api.imageUrl(row.exampleId), target: '_blank', rel: 'noopener' },
        h('img', { src: api.thumbnailUrl(row.exampleId), loading: 'lazy', width: 64, height: 64, alt: `photo ${row.exampleId}` }))),
      h('td', { 'data-testid': 'true-label', text: row.trueLabel }),
      h('td', {}, h('span', { class: row.correct ? 'ok' : 'bad', text: `${row.correct ? '✓' : '✗'} ${row.predictedLabel}` })),
      h('td', { text: percent(row.predictedProbability) }),
      h('td', { text: percent(row.trueLabelProbability) }),
      h('td', { class: 'fix' },
        label,
        h('button', {
          type: 'button', 'data-testid': 'apply-relabel', text: 'Relabel',
          onclick: async () => {
            const labelId = Number(label.value);
            const name = label.selectedOptions[0]?.textContent;
            if (await attempt(() => api.moveExample(this.project.id, row.exampleId, { labelId })) === undefined) return;
            this.changed(tr, `Photo ${row.exampleId} is now labelled ${name}.`);
          },
        }),
        h('button', {
          type: 'button', 'data-testid': 'move-to-training', text: 'Move to training',
          onclick: async () => {
            if (await attempt(() => api.moveExample(this.project.id, row.exampleId, { set: 'train' })) === undefined) return;
            this.changed(tr, `Photo ${row.exampleId} moved to the training set.`);
          },
        })));
    return tr;
  }

  changed(tr, text) {
    tr.classList.add('changed');
    tr.dataset.changed = 'true';
    for (const control of tr.querySelectorAll('.fix select, .fix button')) control.disabled = true;
    tr.querySelector('.fix').append(h('span', { class: 'muted', text: ' done' }));
    this.changes.textContent = `${text} Train again and evaluate to see the effect.`;
    this.guidance.refresh();
    announce(text);
  }
}

function figure(name, value, id) {
  return h('div', { class: 'figure', 'data-testid': `eval-${id}` }, h('span', { class: 'value', text: value }), h('span', { class: 'muted', text: name }));
}

