// Train: the head, the layers, hyperparameters within the model's allowed values, 1 / 10 / 50 / custom epochs,
// Start and Stop, a learning-rate slider that changes the rate from the next epoch on while a run goes, the live
// chart and per-epoch table from the run's event stream. Training itself runs on the server.
import { h, replace, attempt, announce, fixed, percent, confirmDialog, showError } from './dom.js';
import { api } from './api.js';
import { guidance } from './guidance.js';

/** uPlot, the chart library (a classic script): loaded the first time a chart is drawn, so the other screens (the
 *  Collect screen first) do not wait for it. */
let uPlotLoading = null;
function loadUPlot() {
  if (window.uPlot) return Promise.resolve();
  uPlotLoading ??= new Promise((resolve, reject) => {
    const script = h('script', { src: '/lib/uPlot.iife.min.js' });
    script.addEventListener('load', () => resolve());
    script.addEventListener('error', () => {
      uPlotLoading = null;
      reject(new Error('The chart library (/lib/uPlot.iife.min.js) could not be loaded: reload the page.'));
    });
    document.head.append(script);
  });
  return uPlotLoading;
}

const HEADS = [
  { value: 'neuralNetwork', key: 'nn', name: 'Neural network' },
  { value: 'logisticRegression', key: 'logreg', name: 'Logistic regression' },
  { value: 'knn', key: 'knn', name: 'k-nearest neighbours' },
];
const LAYERS = [
  { value: 'default', key: 'default', name: 'Default fine-tuning' },
  { value: 'classifierOnly', key: 'classifier', name: 'Classifier only' },
  { value: 'chosen', key: 'chosen', name: 'Chosen layers' },
];
const STATES = ['Preparing', 'Training', 'Finished', 'Stopped', 'Failed'];

/** A run state's name from a string or the enum's number. */
export function stateName(value) {
  if (typeof value === 'number') return STATES[value] ?? String(value);
  const text = String(value ?? '');
  return text ? text[0].toUpperCase() + text.slice(1) : '';
}
const headOf = value => HEADS.find(x => x.value === value) ?? HEADS[0];
const layersOf = value => LAYERS.find(x => x.value === value) ?? LAYERS[0];
const isActive = state => /^(preparing|training)$/i.test(stateName(state));

/** An allowed range from /options: { min, max, default } under options[name] or options.hyperparameters[name]. */
function range(options, names, fallback) {
  for (const name of names) {
    const r = options?.[name] ?? options?.hyperparameters?.[name];
    if (r && typeof r === 'object') {
      const min = r.min ?? r.minimum ?? r.allowed?.min ?? fallback.min;
      const max = r.max ?? r.maximum ?? r.allowed?.max ?? fallback.max;
      const def = r.default ?? r.defaultValue ?? r.value ?? fallback.default;
      return { min, max, default: def, values: r.values ?? r.allowedValues ?? null };
    }
  }
  return { ...fallback, values: null };
}

/** The epoch record from an epoch event (the record itself, or wrapped). */
function recordOf(data) {
  if (data?.record) return data.record;
  if (data?.epoch && typeof data.epoch === 'object') return data.epoch;
  return data;
}

export async function render(view, context) {
  const page = new TrainPage(view, context);
  await page.load();
  return () => page.dispose();
}

class TrainPage {
  constructor(view, context) {
    this.view = view;
    this.context = context;
    this.project = context.project;
    this.history = [];
    this.source = null;
    this.running = false;
  }

  dispose() {
    this.disposed = true;
    this.source?.close();
    this.chart?.destroy();
    window.removeEventListener('resize', this.onResize);
  }

  async load() {
    const id = this.project.id;
    const [options, status, interrupted] = await Promise.all([api.options(id).catch(() => null), api.run(id).catch(() => null),
      api.interruptedRun(id).catch(() => null)]);
    this.options = options ?? {};
    this.lr = range(this.options, ['learningRate', 'learning_rate'], { min: 0.00001, max: 1, default: 0.001 });
    this.batch = range(this.options, ['batchSize', 'batch_size', 'miniBatchSize'], { min: 1, max: 256, default: 8 });
    this.k = range(this.options, ['k', 'numberOfNeighbors'], { min: 1, max: 50, default: 3 });
    // The custom count starts at the model's default epochs (40 for the embedded ResNet18: what `tailor train` runs).
    this.epochs = range(this.options, ['epochs'], { min: 1, max: 1000, default: 10 });
    this.l2 = range(this.options, ['l2'], { min: 0, max: 1, default: 0.0001 });
    this.build();
    if (status && isActive(status.state)) {
      this.setHistory(status.history ?? status.epochs ?? []);
      this.showStatus(status);
      this.follow();
    } else if (interrupted) {
      this.setHistory([...await this.priorHistory(), ...(interrupted.epochs ?? [])]);
      this.showInterrupted(interrupted);
    } else if (status && status.modelVersionId === this.project.currentVersionId) {
      // The last run made the current model: its history is the model's.
      this.setHistory(status.history ?? []);
      this.finished(status);
    } else {
      this.setHistory(await this.priorHistory());
      this.setState('Idle', this.history.length ? `${this.history.length} epochs trained on the current model.` : 'Not trained yet.');
    }
  }

  /** The epochs trained on the current model: the latest runs whose numbering continues one another, back to the
   *  last reset (a run that starts again at epoch 1), shown only while the current model is the latest run's. */
  async priorHistory() {
    const runs = await api.runs(this.project.id).catch(() => []);
    // An interrupted run made no model: the history is that of the runs before it (its own epochs come with it).
    const sorted = [...runs].filter(r => String(r.state) !== 'interrupted').sort((a, b) => a.id - b.id);
    const latest = sorted.at(-1);
    if (!latest || latest.modelVersionId !== this.project.currentVersionId) return [];
    const epochs = [];
    for (let i = sorted.length - 1; i >= 0; i--) {
      const runEpochs = sorted[i].epochs ?? [];
      if (runEpochs.length === 0) { if (i === sorted.length - 1) continue; break; }
      if (epochs.length && runEpochs.at(-1).epoch !== epochs[0].epoch - 1) break;
      epochs.unshift(...runEpochs);
      if (runEpochs[0].epoch === 1) break;
    }
    return epochs;
  }

  build() {
    const field = (label, input, help) => h('label', { class: 'field' }, h('span', { text: label }), input, help ? h('small', { class: 'muted', text: help }) : null);
    this.head = h('select', { 'data-testid': 'head' }, HEADS.map(x => h('option', { value: x.value, text: x.name, selected: x.key === this.options.head })));
    this.headNotice = h('p', { class: 'notice', hidden: true, 'data-testid': 'head-notice',
      text: 'The current model has a k-NN head, which learns by storing examples, not by epochs: the network trains from the pretrained base (the k-NN version stays in Models).' });
    this.layers = h('select', { 'data-testid': 'layers' }, LAYERS.map(x => h('option', { value: x.value, text: x.name })));
    const updatable = this.options.layers ?? this.options.updatableLayers ?? [];
    const layerNames = updatable.map(l => typeof l === 'string' ? l : l.name);
    this.chosen = h('fieldset', { class: 'choices', hidden: true, 'data-testid': 'chosen-layers' },
      h('legend', { text: 'Layers to train' }),
      layerNames.length ? layerNames.map(name => h('label', {}, h('input', { type: 'checkbox', value: name, checked: true }), ` ${name}`))
        : h('p', { class: 'muted', text: 'The model names no layers to choose from.' }));
    this.batchInput = this.batch.values
      ? h('select', { 'data-testid': 'batch-size' }, this.batch.values.map(v => h('option', { value: v, text: String(v), selected: v === this.batch.default })))
      : h('input', { type: 'number', min: this.batch.min, max: this.batch.max, step: 1, value: this.batch.default, 'data-testid': 'batch-size' });
    this.kInput = h('input', { type: 'number', min: this.k.min, max: this.k.max, step: 1, value: this.k.default, 'data-testid': 'k' });
    this.l2Input = h('input', { type: 'number', min: this.l2.min, max: this.l2.max, step: 'any', value: this.l2.default, 'data-testid': 'l2' });
    this.seedInput = h('input', { type: 'number', min: 0, step: 1, placeholder: 'default', 'data-testid': 'seed' });
    this.customEpochs = h('input', { type: 'number', min: this.epochs.min, max: this.epochs.max, step: 1, value: this.epochs.default, 'data-testid': 'custom-epochs', 'aria-label': 'Custom number of epochs' });

    // The slider moves on a log scale between the allowed bounds (a learning rate spans decades).
    const lo = Math.log10(Math.max(this.lr.min, this.lr.max / 1e6, 1e-8)), hi = Math.log10(this.lr.max);
    this.lrToSlider = value => Math.round(((Math.log10(Math.max(value, 10 ** lo)) - lo) / (hi - lo)) * 1000);
    this.sliderToLr = position => Number((10 ** (lo + (position / 1000) * (hi - lo))).toPrecision(2));
    this.lrValue = h('output', { 'data-testid': 'learning-rate-value', for: 'learning-rate' });
    this.lrSlider = h('input', {
      type: 'range', id: 'learning-rate', min: 0, max: 1000, step: 1, value: this.lrToSlider(this.lr.default), 'data-testid': 'learning-rate',
      'aria-describedby': 'lr-help',
    });
    const showLr = () => {
      const value = this.sliderToLr(Number(this.lrSlider.value));
      this.lrValue.textContent = String(value);
      this.lrSlider.setAttribute('aria-valuetext', `learning rate ${value}`);
      return value;
    };
    this.lrSlider.addEventListener('input', showLr);
    this.lrSlider.addEventListener('change', async () => {
      const value = showLr();
      if (!this.running) return;
      // The run's learningRate event says from which epoch on (noted when it comes).
      await attempt(() => api.setLearningRate(this.project.id, value));
    });
    showLr();

    this.startButtons = h('div', { class: 'buttons', role: 'group', 'aria-label': 'Start training' },
      [1, 10, 50].map(n => h('button', { type: 'button', class: 'primary', 'data-testid': `train-${n}`, text: n === 1 ? '1 epoch' : `${n} epochs`, onclick: () => this.start(n) })),
      h('span', { class: 'custom' }, this.customEpochs,
        h('button', { type: 'button', 'data-testid': 'train-custom', text: 'epochs', onclick: () => this.start(Number(this.customEpochs.value)) })));
    this.trainOnce = h('button', { type: 'button', class: 'primary', 'data-testid': 'train-head', text: 'Train', onclick: () => this.start(1) });
    this.stopButton = h('button', { type: 'button', class: 'danger', disabled: true, 'data-testid': 'stop', text: 'Stop', onclick: () => this.stop() });
    this.interruptedBox = h('div', { class: 'notice interrupted', hidden: true, 'data-testid': 'interrupted' });

    this.stateBadge = h('span', { class: 'badge', 'data-testid': 'run-state', text: 'Idle' });
    this.message = h('p', { class: 'muted', 'data-testid': 'run-message' });
    this.progress = h('progress', { max: 1, value: 0, hidden: true, 'data-testid': 'run-progress' });
    this.notes = h('p', { class: 'muted', 'data-testid': 'run-note' });
    this.chartBox = h('div', { class: 'chart', 'data-testid': 'chart', role: 'img', 'aria-label': 'Training loss, validation loss and validation accuracy per epoch' });
    this.tableBody = h('tbody', { 'data-testid': 'epoch-rows' });
    this.table = h('table', { class: 'epochs', 'data-testid': 'epoch-table' },
      h('caption', { class: 'visually-hidden', text: 'Per-epoch results' }),
      h('thead', {}, h('tr', {}, ['epoch', 'tr.loss (mean)', 'tr.loss (last batch)', 'tr.acc', 'val.loss', 'val.acc', 'learning rate', 'seconds']
        .map(t => h('th', { scope: 'col', text: t })))),
      this.tableBody);

    this.nnOnly = h('div', { class: 'grid' },
      field('Layers', this.layers), field('Batch size', this.batchInput, this.batch.values ? 'the values the model allows' : `${this.batch.min}–${this.batch.max}`));
    this.knnOnly = h('div', { class: 'grid', hidden: true }, field('k (neighbours)', this.kInput, `${this.k.min}–${this.k.max}`));
    this.logregOnly = h('div', { class: 'grid', hidden: true }, field('L2 regularization', this.l2Input, `${this.l2.min}–${this.l2.max}`));
    this.lrRow = h('div', { class: 'lr' },
      h('label', { for: 'learning-rate', text: 'Learning rate' }), this.lrSlider, this.lrValue,
      h('small', { class: 'muted', id: 'lr-help', text: `${this.lr.min}–${this.lr.max}; while a run goes, a change applies from the next epoch on.` }));

    // The loss chart and the epoch table belong to the network: k-NN and logistic regression fit in one step, without
    // epochs, so with those heads chosen the two panels are hidden rather than shown empty (or showing an older run).
    this.chartPanel = h('section', { class: 'panel', 'aria-labelledby': 'chart-title', 'data-testid': 'chart-panel' },
      h('h2', { id: 'chart-title', text: 'Loss and accuracy' }), this.chartBox);
    this.tablePanel = h('section', { class: 'panel', 'aria-labelledby': 'table-title', 'data-testid': 'epoch-panel' },
      h('h2', { id: 'table-title', text: 'Epochs' }), h('div', { class: 'scroll' }, this.table));
    const sync = () => {
      const head = headOf(this.head.value).key;
      const epochsShown = !this.chartPanel.hidden;
      this.chartPanel.hidden = this.tablePanel.hidden = head !== 'nn';
      if (!epochsShown && !this.chartPanel.hidden) this.onResize?.();
      this.nnOnly.hidden = head !== 'nn';
      this.lrRow.hidden = head !== 'nn';
      this.knnOnly.hidden = head !== 'knn';
      this.logregOnly.hidden = head !== 'logreg';
      this.startButtons.hidden = head !== 'nn';
      this.trainOnce.hidden = head === 'nn';
      this.trainOnce.textContent = head === 'knn' ? 'Train k-NN' : 'Train logistic regression';
      this.chosen.hidden = head !== 'nn' || layersOf(this.layers.value).key !== 'chosen';
      this.headNotice.hidden = !this.needsBase();
    };
    this.sync = sync;
    this.head.addEventListener('change', sync);
    this.layers.addEventListener('change', sync);

    replace(this.view,
      h('section', { class: 'panel', 'aria-labelledby': 'train-title' },
        h('div', { class: 'spread' }, h('h1', { id: 'train-title', text: 'Train' }),
          h('div', { class: 'status' }, this.stateBadge, this.progress)),
        h('div', { class: 'grid' }, field('Head', this.head), field('Seed', this.seedInput, 'same seed, same result')),
        this.headNotice,
        this.nnOnly, this.chosen, this.knnOnly, this.logregOnly, this.lrRow,
        this.interruptedBox,
        h('div', { class: 'spread controls' }, h('div', { class: 'buttons' }, this.startButtons, this.trainOnce), this.stopButton),
        this.message, this.notes),
      this.chartPanel,
      this.tablePanel);
    this.guidance = guidance(this.view, this.project, 'train', { hide: item => this.message.textContent.includes(item.message) });
    sync();
    this.makeChart();
  }

  makeChart() {
    if (!window.uPlot) {
      loadUPlot().then(() => { if (!this.disposed) this.makeChart(); }, showError);
      return;
    }
    const width = () => Math.max(320, this.chartBox.clientWidth || 800);
    const opts = {
      width: width(), height: 280,
      scales: { x: { time: false }, acc: { range: [0, 1] } },
      axes: [
        { label: 'epoch', stroke: '#c9d1d9', grid: { stroke: '#30363d' }, ticks: { stroke: '#30363d' }, incrs: [1, 2, 5, 10, 20, 50, 100] },
        { label: 'loss', stroke: '#c9d1d9', grid: { stroke: '#30363d' }, ticks: { stroke: '#30363d' } },
        { label: 'val.acc', scale: 'acc', side: 1, stroke: '#c9d1d9', grid: { show: false }, values: (u, v) => v.map(x => `${Math.round(x * 100)}%`) },
      ],
      series: [
        { label: 'epoch' },
        { label: 'tr.loss (mean)', stroke: '#58a6ff', width: 2, points: { show: true } },
        { label: 'tr.loss (last batch)', stroke: '#8b949e', width: 1, dash: [4, 4] },
        { label: 'val.loss', stroke: '#f0883e', width: 2, points: { show: true } },
        { label: 'val.acc', stroke: '#3fb950', width: 2, scale: 'acc', value: (u, v) => v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%` },
      ],
    };
    this.chart = new window.uPlot(opts, this.chartData(), this.chartBox);
    this.onResize = () => this.chart.setSize({ width: width(), height: 280 });
    window.addEventListener('resize', this.onResize);
  }

  chartData() {
    const e = this.history;
    return [e.map(r => r.epoch), e.map(r => r.trainLossMean), e.map(r => r.trainLossLastBatch),
      e.map(r => r.validationLoss ?? null), e.map(r => r.validationAccuracy ?? null)];
  }

  setHistory(records) {
    this.history = [...records].sort((a, b) => a.epoch - b.epoch);
    replace(this.tableBody, this.history.map(r => this.row(r)));
    this.chart?.setData(this.chartData());
    this.chartBox.dataset.points = String(this.history.length);
  }

  addEpoch(record) {
    const at = this.history.findIndex(r => r.epoch === record.epoch);
    if (at >= 0) { this.history[at] = record; this.setHistory(this.history); return; }
    this.history.push(record);
    this.tableBody.append(this.row(record));
    this.chart?.setData(this.chartData());
    this.chartBox.dataset.points = String(this.history.length);
    this.tableBody.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  }

  row(r) {
    return h('tr', { 'data-testid': 'epoch-row', 'data-epoch': r.epoch },
      h('th', { scope: 'row', text: String(r.epoch) }),
      h('td', { text: fixed(r.trainLossMean) }), h('td', { text: fixed(r.trainLossLastBatch) }),
      h('td', { text: percent(r.trainAccuracy) }), h('td', { text: fixed(r.validationLoss) }),
      h('td', { 'data-testid': 'val-acc', text: percent(r.validationAccuracy) }),
      h('td', { 'data-testid': 'epoch-lr', text: String(Number(Number(r.learningRate).toPrecision(3))) }),
      h('td', { text: fixed(r.seconds, 2) }));
  }

  request(epochs) {
    const head = this.head.value;
    const seed = this.seedInput.value.trim();
    const request = { head, epochs };
    if (headOf(head).key === 'nn') {
      request.layers = this.layers.value;
      if (layersOf(request.layers).key === 'chosen')
        request.chosenLayers = [...this.chosen.querySelectorAll('input:checked')].map(i => i.value);
      request.learningRate = this.sliderToLr(Number(this.lrSlider.value));
      request.batchSize = Number(this.batchInput.value);
    } else if (headOf(head).key === 'knn') request.k = Number(this.kInput.value);
    else request.l2 = Number(this.l2Input.value);
    if (seed !== '') request.seed = Number(seed);
    return request;
  }

  async start(epochs) {
    for (const input of [this.batchInput, this.kInput, this.l2Input, this.customEpochs, this.seedInput]) {
      if (!input.closest('[hidden]') && !input.reportValidity()) return;
    }
    if (this.needsBase()) {
      if (!await confirmDialog('Train the network from the pretrained base?', this.headNotice.textContent, 'Reset and train')) return;
      const models = await attempt(() => api.models(this.project.id));
      const base = models?.filter(v => String(v.kind).toLowerCase() === 'base').sort((a, b) => a.id - b.id)[0];
      if (!base || await attempt(() => api.makeCurrent(this.project.id, base.id)) === undefined) return;
      this.options.head = 'nn';
      this.setHistory([]);
      this.sync();
    }
    const status = await attempt(() => api.startRun(this.project.id, this.request(epochs)));
    if (!status) return;
    this.interruptedBox.hidden = true;
    this.showStatus(status);
    this.follow();
  }

  /** A run the studio was stopped during (killed, the machine down): Resume continues it from its last checkpointed
   *  epoch, numbering on; a k-NN or logistic-regression run (seconds) is run again. */
  showInterrupted(run) {
    const done = run.epochsDone ?? 0;
    const head = headOf(run.request?.head);
    const what = head.key === 'nn'
      ? `Run ${run.runId} was interrupted: the studio stopped during it, after ${done} of ${run.request?.epochs ?? '?'} epochs.`
      : `Run ${run.runId} (${head.name}) was interrupted: the studio stopped during it.`;
    const button = run.resumable
      ? h('button', { type: 'button', class: 'primary', 'data-testid': 'resume', text: done ? `Resume from epoch ${done}` : 'Resume',
        onclick: () => this.resume(run) })
      : h('button', { type: 'button', class: 'primary', 'data-testid': 'run-again', text: 'Run again', onclick: () => this.runAgain(run) });
    const changed = run.resumable && run.trainingSetChanged
      ? h('p', { class: 'muted', 'data-testid': 'interrupted-changed', text: 'The training photos or labels changed since this run began: resumed, it trains on them as they are now, so it will not end where the uninterrupted run would have.' })
      : null;
    replace(this.interruptedBox, h('p', { 'data-testid': 'interrupted-message', text: run.resumable ? what : `${what} ${run.whyNot ?? ''}`.trim() }), changed, button);
    this.interruptedBox.hidden = false;
    this.setRunning(false);
    this.progress.hidden = true;
    this.setState('Interrupted', what);
  }

  async resume(run) {
    const status = await attempt(() => api.resumeRun(this.project.id, run.runId));
    if (!status) return;
    this.interruptedBox.hidden = true;
    this.showStatus(status);
    this.follow();
  }

  async runAgain(run) {
    const status = await attempt(() => api.startRun(this.project.id, run.request));
    if (!status) return;
    this.interruptedBox.hidden = true;
    this.showStatus(status);
    this.follow();
  }

  /** The event stream dropped during a run: once the studio answers again, either the run goes on (the stream
   *  reconnects by itself) or the studio was restarted and the run is interrupted — then it is shown with Resume. */
  async watchForRestart() {
    if (this.watching) return;
    this.watching = true;
    try {
      while (this.running && !this.disposed) {
        await new Promise(resolve => setTimeout(resolve, 1000));
        let status;
        try { status = await api.run(this.project.id); } catch { continue; }   // not answering yet
        if (status && isActive(status.state)) return;   // the same studio: the stream reconnects
        const run = await api.interruptedRun(this.project.id).catch(() => null);
        if (!this.running) return;
        this.source?.close();
        if (run) { this.setHistory([...await this.priorHistory(), ...(run.epochs ?? [])]); this.showInterrupted(run); }
        else if (status) { this.setHistory(status.history ?? []); this.finished(status); }
        return;
      }
    } finally {
      this.watching = false;
    }
  }

  async stop() {
    this.stopButton.disabled = true;
    this.note('Stopping after the epoch in progress: the last finished epoch is kept.');
    if (await attempt(() => api.stopRun(this.project.id)) === undefined) { this.stopButton.disabled = !this.running; return; }
    // The event stream reports the end; should it be lost (a dropped connection), the run's status still tells it.
    for (let i = 0; i < 240 && this.running; i++) {
      await new Promise(resolve => setTimeout(resolve, 500));
      const status = await api.run(this.project.id).catch(() => null);
      if (this.running && status && !isActive(status.state)) {
        this.source?.close();
        this.setHistory(status.history ?? []);
        this.finished(status);
      }
    }
  }

  /** Follows the run's event stream: first its state so far (all epochs), then live events. */
  follow() {
    this.source?.close();
    const source = new EventSource(api.runEventsUrl(this.project.id));
    this.source = source;
    const on = (kind, handler) => source.addEventListener(kind, event => handler(JSON.parse(event.data)));
    on('state', data => {
      const status = data.status ?? data;
      this.began({ ...status, kind: 'state' });
      if (!isActive(status.state)) { this.running = false; source.close(); if (status.state) this.finished(status); }
    });
    on('began', data => this.began(data));
    on('features', data => this.features(data));
    on('batch', data => this.batchEvent(data));
    on('epoch', data => this.epochEvent(data));
    on('learningRate', data => this.learningRateEvent(data));
    on('finished', data => { this.finished(data); source.close(); });
    source.onmessage = event => {
      const data = JSON.parse(event.data);
      ({ began: this.began, features: this.features, batch: this.batchEvent, epoch: this.epochEvent, learningRate: this.learningRateEvent, finished: this.finished })[data.kind]?.call(this, data);
      if (data.kind === 'finished') source.close();
    };
    source.onerror = () => {
      // The server ends the stream after a run; a dropped connection reconnects by itself (and replays the state).
      if (!this.running) source.close();
      else this.watchForRestart();
    };
  }

  began(data) {
    if (Array.isArray(data.history)) this.setHistory(data.history);
    if (data.kind === 'state') { this.showStatus(data); return; }
    this.setRunning(true);
    if (data.epochs) this.runEpochs = data.epochs;
    if (data.learningRate) this.showLearningRate(data.learningRate);
    this.setState('Training', `Training ${data.epochs ?? ''} epochs${data.batches ? ` of ${data.batches} batches` : ''}.`);
  }

  showLearningRate(value) {
    if (document.activeElement === this.lrSlider) return;
    this.lrSlider.value = this.lrToSlider(value);
    this.lrSlider.dispatchEvent(new Event('input'));
  }

  features(data) {
    this.setRunning(true);
    this.progress.hidden = false;
    this.progress.max = data.total || 1;
    this.progress.value = data.done ?? 0;
    // Announced once when preparing begins; the count goes on in the visible message only (not per photo).
    const text = `Computing features: ${data.done} of ${data.total} photos.`;
    if (this.stateBadge.dataset.state === 'preparing') this.message.textContent = text; else this.setState('Preparing', text);
  }

  batchEvent(data) {
    this.setRunning(true);
    this.progress.hidden = false;
    this.progress.max = data.batches || 1;
    this.progress.value = data.batch ?? 0;
    this.message.textContent = `Epoch ${data.epoch}${this.lastEpoch ? ` of ${this.lastEpoch}` : ''}: batch ${data.batch} of ${data.batches}, loss ${fixed(data.loss)}.`;
  }

  epochEvent(data) {
    const record = recordOf(data);
    this.setRunning(true);
    this.addEpoch(record);
    const acc = record.validationAccuracy === null || record.validationAccuracy === undefined ? '' : `, validation accuracy ${percent(record.validationAccuracy)}`;
    this.setState('Training', `Epoch ${record.epoch}${this.lastEpoch ? ` of ${this.lastEpoch}` : ''} done: loss ${fixed(record.trainLossMean)}${acc}.`);
  }

  learningRateEvent(data) {
    const value = data.learningRate ?? data.value;
    if (value === undefined) return;
    this.showLearningRate(value);
    this.note(`Learning rate ${value} from epoch ${data.epoch ?? 'the next'} on.`);
  }

  /** A network run on a model whose head is k-NN starts from the pretrained base. */
  needsBase() {
    return headOf(this.head.value).key === 'nn' && this.options.head === 'knn';
  }

  finished(data) {
    this.setRunning(false);
    if (data.modelVersionId) {
      // The committed model's head is the run's (a k-NN run makes a k-NN model).
      const key = headOf(data.request?.head ?? this.head.value).key;
      this.options.head = key;
      this.sync?.();
    }
    this.progress.hidden = true;
    const state = stateName(data.state);
    const parts = [];
    if (data.accuracy !== null && data.accuracy !== undefined) parts.push(`test accuracy ${percent(data.accuracy)}`);
    if (data.reason ?? data.message) parts.push(data.reason ?? data.message);
    const said = `${state || 'Finished'}${parts.length ? `: ${parts.join('; ')}` : ''}`;
    this.setState(state || 'Finished', /[.!?]$/.test(said) ? said : `${said}.`);
    this.stateBadge.dataset.accuracy = data.accuracy ?? '';
    this.guidance.refresh();
  }

  showStatus(status) {
    const state = stateName(status.state);
    const active = isActive(state);
    this.lastEpoch = status.epochs && status.firstEpoch ? status.firstEpoch + status.epochs - 1 : null;
    this.setRunning(active);
    if (status.learningRate) this.showLearningRate(status.learningRate);
    const message = status.message ?? (active ? `Epoch ${(status.firstEpoch ?? 1) + Math.max(0, (status.epoch ?? 1) - 1)}${this.lastEpoch ? ` of ${this.lastEpoch}` : ''}.` : '');
    this.setState(state || 'Idle', message);
  }

  setRunning(running) {
    this.running = running;
    for (const button of [...this.startButtons.querySelectorAll('button'), this.trainOnce]) button.disabled = running;
    this.stopButton.disabled = !running;
    this.head.disabled = running;
    this.view.querySelector('.status')?.setAttribute('aria-busy', String(running));
  }

  setState(state, message) {
    this.stateBadge.textContent = state;
    this.stateBadge.dataset.state = state.toLowerCase();
    if (message) this.message.textContent = message;
    this.message.classList.toggle('alert', state === 'Failed');
    // Announced once per change of state or epoch, not per batch.
    announce(`${state}. ${message ?? ''}`.trim());
  }

  note(text) {
    this.notes.textContent = text;
  }
}
