// Try it: the current model on the webcam, live, and on a dropped, pasted or chosen image (issue 12, item 3).
// Frames are the model's crop (as the Collect camera cuts them), sent as JPEG one at a time: the next goes when the
// answer is back (no queue), at most 10 a second, and none while the tab is hidden or after the screen is left. A frame
// whose top probability is under the threshold is flagged; a label's number key (1–9) adds the frame on show to that
// label's training set.
import { h, replace, announce, showError, plural, percent } from './dom.js';
import { api, ApiError } from './api.js';
import { inputSpec, openCamera, drawCropOverlay, grabFrame } from './camera.js';

const MIN_FRAME_MS = 100;          // at most 10 frames a second: the rest of the machine (a run, say) keeps its cores
const THRESHOLD_KEY = 'tailor.try.threshold';

export async function render(view, { project, stale }) {
  const options = await api.options(project.id);
  if (stale()) return () => {};
  const screen = new TryScreen(project, inputSpec(options));
  replace(view, screen.element);
  await screen.ready();
  return () => screen.dispose();
}

class TryScreen {
  constructor(project, spec) {
    this.project = project;
    this.spec = spec;
    this.stream = null;
    this.running = false;
    this.loop = null;
    this.answered = 0;
    this.times = [];               // when the last answers came (for the rate)
    this.frame = null;             // { blob, name, source } on show: what a number key adds
    this.image = null;             // the dropped/pasted/chosen image on show
    const saved = Number(localStorage.getItem(THRESHOLD_KEY));
    this.threshold = saved > 0 && saved < 1 ? saved : 0.6;

    this.video = h('video', { muted: true, playsInline: true, autoplay: true, 'data-testid': 'try-video', 'aria-label': 'Camera view' });
    this.overlay = h('canvas', { class: 'overlay', 'aria-hidden': 'true' });
    this.stage = h('div', { class: 'stage', hidden: true }, this.video, this.overlay);
    this.startButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'try-camera', text: 'Start camera', onclick: () => this.toggle() });
    this.thresholdInput = h('input', {
      type: 'range', id: 'try-threshold', min: 0.05, max: 0.95, step: 0.05, value: this.threshold, 'data-testid': 'try-threshold',
      'aria-describedby': 'try-threshold-value', oninput: () => this.setThreshold(Number(this.thresholdInput.value)),
    });
    this.thresholdValue = h('output', { id: 'try-threshold-value', for: 'try-threshold', text: percent(this.threshold) });
    this.state = h('p', { class: 'muted', 'data-testid': 'try-state', text: 'Start the camera to see what the model says, live.' });
    this.flag = h('p', { class: 'unsure-flag', hidden: true, 'data-testid': 'try-unsure' });
    this.message = h('p', { class: 'try-message', hidden: true, 'data-testid': 'try-message' });
    this.liveList = h('ol', { class: 'predictions', 'data-testid': 'live-predictions', 'aria-label': 'Live prediction: probability of each label' });
    this.live = h('section', { class: 'panel camera try-live', 'aria-labelledby': 'try-live-title', 'data-testid': 'try-live', 'data-answered': '0' },
      h('div', { class: 'spread' }, h('h2', { id: 'try-live-title', text: 'Camera' }), this.startButton),
      h('div', { class: 'try-columns' },
        this.stage,
        h('div', {},
          this.liveList,
          this.flag,
          h('div', { class: 'row' }, h('label', { for: 'try-threshold', text: 'Flag frames below' }), this.thresholdInput, this.thresholdValue),
          this.state)),
      h('p', { class: 'muted', text: 'Press a label’s number key to add the frame on show to that label’s training photos — most useful on a flagged frame the model is unsure of.' }));

    this.fileInput = h('input', {
      type: 'file', accept: 'image/*', class: 'visually-hidden', tabindex: -1, 'aria-hidden': 'true', 'data-testid': 'try-file',
      onchange: () => { const file = this.fileInput.files?.[0]; this.fileInput.value = ''; if (file) this.predictImage(file, 'upload'); },
    });
    this.preview = h('img', { class: 'try-preview', alt: '', hidden: true, 'data-testid': 'try-image' });
    this.imageTop = h('p', { class: 'image-top', 'data-testid': 'try-image-top' });
    this.imageList = h('ol', { class: 'predictions', 'data-testid': 'image-predictions', 'aria-label': 'The image’s prediction: probability of each label' });
    this.imagePanel = h('section', { class: 'panel try-drop', 'aria-labelledby': 'try-image-title', 'data-testid': 'try-drop' },
      h('div', { class: 'spread' }, h('h2', { id: 'try-image-title', text: 'An image' }),
        h('button', { type: 'button', 'data-testid': 'try-choose', text: 'Choose an image…', onclick: () => this.fileInput.click() }),
        this.fileInput),
      h('p', { class: 'muted', text: 'Drop an image anywhere on this screen, paste one (Ctrl+V), or choose a file: the current model predicts it. Nothing is stored unless you press a label’s number key.' }),
      h('div', { class: 'try-columns' }, this.preview, h('div', {}, this.imageTop, this.imageList)));

    this.element = h('section', { class: 'try', 'data-testid': 'try-screen' },
      h('div', { class: 'spread' }, h('h1', { text: 'Try it' }), h('p', { class: 'muted', 'data-testid': 'try-version' })),
      this.message, this.live, this.imagePanel);
    this.version = this.element.querySelector('[data-testid=try-version]');
    this.renderList(this.liveList, null);
    this.renderList(this.imageList, null);

    this.onKeyDown = event => this.key(event);
    this.onPaste = event => {
      const file = [...(event.clipboardData?.files ?? [])].find(f => f.type.startsWith('image/'));
      if (!file) return;
      event.preventDefault();
      this.predictImage(file, 'paste');
    };
    this.onDragOver = event => {
      if (![...(event.dataTransfer?.types ?? [])].includes('Files')) return;
      event.preventDefault();
      this.imagePanel.classList.add('drop');
    };
    this.onDragLeave = event => { if (!event.relatedTarget) this.imagePanel.classList.remove('drop'); };
    this.onDrop = event => {
      const file = [...(event.dataTransfer?.files ?? [])].find(f => f.type.startsWith('image/') || !f.type);
      this.imagePanel.classList.remove('drop');
      if (!event.dataTransfer?.files?.length) return;
      event.preventDefault();   // never let the browser open the file instead of the studio
      if (file) this.predictImage(file, 'upload');
      else showError('That is not an image: drop a JPEG, PNG, GIF, BMP or WebP file.');
    };
    this.onVisibility = () => {
      if (document.hidden) this.pause();
      else if (this.stream) this.resume();
    };
    this.onResize = () => drawCropOverlay(this.overlay, this.video, this.spec);
    document.addEventListener('keydown', this.onKeyDown);
    document.addEventListener('paste', this.onPaste);
    document.addEventListener('dragover', this.onDragOver);
    document.addEventListener('dragleave', this.onDragLeave);
    document.addEventListener('drop', this.onDrop);
    document.addEventListener('visibilitychange', this.onVisibility);
    window.addEventListener('resize', this.onResize);
  }

  dispose() {
    this.stopCamera();
    document.removeEventListener('keydown', this.onKeyDown);
    document.removeEventListener('paste', this.onPaste);
    document.removeEventListener('dragover', this.onDragOver);
    document.removeEventListener('dragleave', this.onDragLeave);
    document.removeEventListener('drop', this.onDrop);
    document.removeEventListener('visibilitychange', this.onVisibility);
    window.removeEventListener('resize', this.onResize);
    if (this.preview.src) URL.revokeObjectURL(this.preview.src);
  }

  /** The labels a number key can take: the project's, in slot order (1 for the first … 9). */
  get labels() {
    return [...this.project.labels].sort((a, b) => a.slot - b.slot);
  }

  setThreshold(value) {
    this.threshold = value;
    this.thresholdValue.textContent = percent(value);
    localStorage.setItem(THRESHOLD_KEY, String(value));
  }

  /** Asks whether the current model can predict; when it cannot, says why in place. True when it can. */
  async ready() {
    let readiness;
    try {
      readiness = await api.predictReadiness(this.project.id);
    } catch (error) {
      showError(error);
      return false;
    }
    this.version.textContent = `Model version ${readiness.versionId}`;
    this.version.dataset.version = String(readiness.versionId);
    if (readiness.ready) {
      this.message.hidden = true;
      return true;
    }
    this.message.hidden = false;
    this.message.replaceChildren(readiness.message + ' ', h('a', { href: `#/p/${this.project.id}/train`, text: 'Go to Train' }));
    announce(readiness.message);
    return false;
  }

  // ---- the camera --------------------------------------------------------------------------------------------

  async toggle() {
    if (this.stream) {
      this.stopCamera();
      announce('Camera stopped');
      return;
    }
    if (!await this.ready()) return;
    this.stage.hidden = false;
    this.stream = await openCamera(this.video);
    if (!this.stream) { this.stage.hidden = true; return; }
    this.startButton.textContent = 'Stop camera';
    drawCropOverlay(this.overlay, this.video, this.spec);
    announce('Camera started: predicting live');
    this.resume();
  }

  stopCamera() {
    this.pause();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
    this.stage.hidden = true;
    this.startButton.textContent = 'Start camera';
    if (this.frame?.source === 'camera') this.frame = null;
    delete this.live.dataset.running;
  }

  pause() {
    this.running = false;
    delete this.live.dataset.running;
  }

  resume() {
    if (this.running || !this.stream || document.hidden) return;
    this.running = true;
    this.live.dataset.running = 'true';
    this.times = [];
    // One loop at a time: a resume while the last one is still waiting for its answer waits for that one to end.
    const previous = this.loop ?? Promise.resolve();
    this.loop = previous.then(() => this.predictLoop());
  }

  async predictLoop() {
    while (this.running && this.stream) {
      const started = performance.now();
      const frameTime = this.video.currentTime;
      const blob = await grabFrame(this.video, this.spec);
      if (!blob) { await wait(MIN_FRAME_MS); continue; }
      let answer;
      try {
        answer = await api.predict(this.project.id, blob, 'camera.jpg');
      } catch (error) {
        this.running = false;
        delete this.live.dataset.running;
        this.failed(error);
        return;
      }
      if (!this.running || !this.stream) return;   // left, stopped or hidden meanwhile: the answer is stale
      this.answered++;
      const now = performance.now();
      this.times.push(now);
      if (this.times.length > 10) this.times.shift();
      const rate = this.times.length > 1 ? (this.times.length - 1) * 1000 / (now - this.times[0]) : 0;
      this.live.dataset.answered = String(this.answered);
      this.live.dataset.frame = frameTime.toFixed(3);
      this.live.dataset.rate = rate.toFixed(1);
      this.frame = { blob, name: `camera-${Date.now()}.jpg`, source: 'camera' };
      this.showAnswer(answer);
      const top = answer.top[0];
      const unsure = !top || top.probability < this.threshold;
      this.live.classList.toggle('unsure', unsure);
      this.live.dataset.unsure = String(unsure);
      this.flag.hidden = !unsure;
      this.flag.textContent = unsure
        ? `Unsure: ${top ? `${top.label} at ${percent(top.probability)}` : 'no label'}, under ${percent(this.threshold)}. Press a label’s number to add this frame to it.`
        : '';
      this.lastLive = answer;
      this.renderList(this.liveList, answer, unsure);
      this.state.textContent = `${rate ? `${rate.toFixed(1)} predictions a second · ` : ''}${answer.ms} ms in the model`;
      const rest = MIN_FRAME_MS - (performance.now() - started);
      if (rest > 0) await wait(rest);
    }
  }

  /** A failed prediction: an untrained model is said in place (not an error); anything else is shown once. */
  failed(error) {
    if (error instanceof ApiError && error.status === 409) {
      this.message.hidden = false;
      this.message.replaceChildren(error.message + ' ', h('a', { href: `#/p/${this.project.id}/train`, text: 'Go to Train' }));
      announce(error.message);
    } else {
      showError(error);
    }
  }

  showAnswer(answer) {
    this.message.hidden = true;
    this.version.textContent = `Model version ${answer.versionId}`;
    this.version.dataset.version = String(answer.versionId);
  }

  // ---- an image --------------------------------------------------------------------------------------------------

  async predictImage(file, source) {
    if (!await this.ready()) return;
    if (this.preview.src) URL.revokeObjectURL(this.preview.src);
    this.preview.src = URL.createObjectURL(file);
    this.preview.hidden = false;
    this.preview.alt = file.name ? `The image ${file.name}` : 'The pasted image';
    this.imageTop.textContent = 'Predicting…';
    delete this.imagePanel.dataset.label;
    let answer;
    try {
      answer = await api.predict(this.project.id, file, file.name || 'pasted.png');
    } catch (error) {
      this.imageTop.textContent = '';
      this.failed(error);
      return;
    }
    this.image = { blob: file, name: file.name || `pasted-${Date.now()}.png`, source };
    if (!this.stream) this.frame = this.image;
    this.showAnswer(answer);
    const top = answer.top[0];
    const unsure = !top || top.probability < this.threshold;
    this.imagePanel.dataset.label = top?.label ?? '';
    this.imageTop.textContent = top ? `${top.label} — ${percent(top.probability)}${unsure ? ' (unsure)' : ''}` : 'No label';
    this.lastImage = answer;
    this.renderList(this.imageList, answer, unsure);
    announce(top ? `The image: ${top.label}, ${percent(top.probability)}` : 'The image: no label');
  }

  // ---- the labels: probabilities, number keys ---------------------------------------------------------------------

  /** One row per label (slot order, so a number key always means the same label), its probability as a bar. */
  renderList(list, answer, unsure = false) {
    const probability = new Map((answer?.top ?? []).map(t => [t.label, t.probability]));
    const best = answer?.top?.[0]?.label;
    const labels = this.labels;
    if (labels.length === 0) {
      replace(list, h('li', { class: 'muted', text: 'This project has no labels yet: add some on the Collect screen.' }));
      return;
    }
    replace(list, labels.map((label, i) => {
      const p = probability.get(label.name);
      return h('li', { class: `prediction${label.name === best ? ' top' : ''}${label.name === best && unsure ? ' unsure' : ''}`, 'data-testid': 'prediction', 'data-label': label.name },
        i < 9 ? h('kbd', { title: `Press ${i + 1} to add the photo on show to ${label.name}`, text: String(i + 1) }) : h('span', { class: 'nokey' }),
        h('span', { class: 'name', text: label.name }),
        h('span', { class: 'bar', 'aria-hidden': 'true' }, bar(p ?? 0)),
        h('span', { class: 'probability', 'data-testid': 'probability', text: p === undefined ? '–' : percent(p) }),
        h('span', { class: 'muted count', 'data-testid': 'train-count', text: plural(label.trainCount, 'photo') }));
    }));
  }

  key(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || !/^[1-9]$/.test(event.key)) return;
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type !== 'range' || target instanceof HTMLTextAreaElement
      || target instanceof HTMLSelectElement || target?.isContentEditable) return;
    const label = this.labels[Number(event.key) - 1];
    if (!label) return;
    event.preventDefault();
    this.capture(label);
  }

  /** Adds the frame (or image) on show to a label's training photos. */
  async capture(label) {
    const subject = this.frame;
    if (!subject) {
      announce('Nothing to add yet: start the camera or drop an image first.');
      return;
    }
    const file = new File([subject.blob], subject.name, { type: subject.blob.type || 'image/jpeg' });
    let result;
    try {
      result = await api.upload(this.project.id, label.id, 'train', subject.source, [file]);
    } catch (error) {
      showError(error);
      return;
    }
    if (result.refused?.length) { showError(result.refused[0].error); return; }
    const fresh = await api.project(this.project.id).catch(() => null);
    if (fresh) this.project = fresh;
    const count = this.labels.find(l => l.id === label.id)?.trainCount;
    announce(result.duplicates?.length
      ? `That ${subject.source === 'camera' ? 'frame' : 'image'} is already in the project (${result.duplicates[0].label}); not added again.`
      : `Added to ${label.name}: ${plural(count ?? 0, 'training photo')}.`);
    this.renderList(this.liveList, this.lastLive, false);
    this.renderList(this.imageList, this.lastImage, false);
  }
}

/** A bar's filled part (its width set through the CSSOM: the page's CSP allows no inline style attribute). */
function bar(probability) {
  const fill = h('span');
  fill.style.width = `${(probability * 100).toFixed(1)}%`;
  return fill;
}

function wait(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}
