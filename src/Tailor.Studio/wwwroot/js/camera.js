// The webcam: a live view with the part of the frame the model sees drawn over it, and a burst capture while the
// Capture button or Space is held, at a chosen rate. Each frame is cut to that part (the model's input aspect) and
// uploaded as a JPEG to the chosen label and set.
import { h, replace, attempt, announce, plural } from './dom.js';
import { api } from './api.js';

/** The model's input preprocessing from /options: { width, height, resize } (Stretch | CenterCrop | Pad). */
export function inputSpec(options) {
  const spec = options?.preprocessing ?? options?.input ?? options?.image ?? options ?? {};
  return { width: spec.width ?? 224, height: spec.height ?? 224, resize: String(spec.resize ?? 'Stretch') };
}

/** The part of a frame the model sees, in frame pixels: the centred rectangle of the model's aspect ratio (a stretch
 *  of anything else would distort the photo; a centre crop keeps exactly this); Pad keeps the whole frame. */
export function cropOf(frameWidth, frameHeight, spec) {
  if (/pad/i.test(spec.resize)) return { x: 0, y: 0, width: frameWidth, height: frameHeight };
  const aspect = spec.width / spec.height;
  let width = frameWidth, height = Math.round(frameWidth / aspect);
  if (height > frameHeight) { height = frameHeight; width = Math.round(frameHeight * aspect); }
  return { x: Math.floor((frameWidth - width) / 2), y: Math.floor((frameHeight - height) / 2), width, height };
}

export class Camera {
  constructor({ project, options, target, onCaptured, onBurstEnd }) {
    this.project = project;
    this.spec = inputSpec(options);
    this.getTarget = target;
    this.onCaptured = onCaptured;
    this.onBurstEnd = onBurstEnd;
    this.stream = null;
    this.timer = null;
    this.pending = Promise.resolve();
    this.captured = 0;

    this.video = h('video', { muted: true, playsInline: true, autoplay: true, 'data-testid': 'camera-video', 'aria-label': 'Camera view' });
    this.overlay = h('canvas', { class: 'overlay', 'aria-hidden': 'true', 'data-testid': 'camera-overlay' });
    this.startButton = h('button', { type: 'button', 'data-testid': 'camera-start', text: 'Start camera', onclick: () => this.toggle() });
    this.label = h('select', { id: 'camera-label', 'data-testid': 'camera-label' });
    this.set = h('select', { id: 'camera-set', 'data-testid': 'camera-set' },
      h('option', { value: 'train', text: 'Training' }), h('option', { value: 'test', text: 'Test' }));
    this.rate = h('select', { id: 'camera-rate', 'data-testid': 'camera-rate' },
      [1, 2, 5, 10].map(n => h('option', { value: n, text: `${n} per second`, selected: n === 5 })));
    this.capture = h('button', {
      type: 'button', class: 'primary capture', disabled: true, 'data-testid': 'camera-capture',
      'aria-describedby': 'camera-help', text: 'Hold to capture',
    });
    this.count = h('span', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'camera-count' });
    this.stage = h('div', { class: 'stage', hidden: true }, this.video, this.overlay);
    this.element = h('section', { class: 'panel camera', 'aria-labelledby': 'camera-title', 'data-testid': 'camera' },
      h('div', { class: 'spread' }, h('h2', { id: 'camera-title', text: 'Camera' }), this.startButton),
      this.stage,
      h('div', { class: 'row' },
        h('label', { for: 'camera-label', text: 'Label' }), this.label,
        h('label', { for: 'camera-set', text: 'Set' }), this.set,
        h('label', { for: 'camera-rate', text: 'Rate' }), this.rate,
        this.capture, this.count),
      h('p', { class: 'muted', id: 'camera-help', text: `Hold the button (or Space) to take photos; the bright frame is what the model sees (${this.spec.width}×${this.spec.height}).` }));

    const start = event => { event.preventDefault(); this.startBurst(); };
    const stop = () => this.stopBurst();
    this.capture.addEventListener('pointerdown', start);
    this.capture.addEventListener('pointerup', stop);
    this.capture.addEventListener('pointerleave', stop);
    this.capture.addEventListener('pointercancel', stop);
    this.onKeyDown = event => {
      if (event.code !== 'Space' || !this.stream || !this.isFree(event.target)) return;
      event.preventDefault();
      if (!event.repeat) this.startBurst();
    };
    this.onKeyUp = event => {
      if (event.code !== 'Space' || !this.timer) return;
      event.preventDefault();
      this.stopBurst();
    };
    this.onResize = () => this.drawOverlay();
  }

  /** Space captures unless focus is in a field or on another control that Space operates. */
  isFree(target) {
    if (target === this.capture) return true;
    return !(target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
      || target instanceof HTMLButtonElement || target?.isContentEditable);
  }

  setLabels(labels) {
    const chosen = Number(this.label.value);
    replace(this.label, labels.map(l => h('option', { value: l.id, text: l.name, selected: l.id === chosen })));
    this.capture.disabled = !this.stream || labels.length === 0;
  }

  setTarget(target) {
    if (!target || this.timer) return;
    this.label.value = String(target.labelId);
    this.set.value = target.set;
  }

  async toggle() {
    if (this.stream) { this.stop(); return; }
    this.stage.hidden = false;
    this.stream = await openCamera(this.video);
    if (!this.stream) { this.stage.hidden = true; return; }
    this.startButton.textContent = 'Stop camera';
    this.capture.disabled = this.label.options.length === 0;
    document.addEventListener('keydown', this.onKeyDown);
    document.addEventListener('keyup', this.onKeyUp);
    window.addEventListener('resize', this.onResize);
    this.drawOverlay();
    this.element.dataset.ready = 'true';
  }

  stop() {
    this.stopBurst();
    document.removeEventListener('keydown', this.onKeyDown);
    document.removeEventListener('keyup', this.onKeyUp);
    window.removeEventListener('resize', this.onResize);
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
    this.stage.hidden = true;
    this.startButton.textContent = 'Start camera';
    this.capture.disabled = true;
    delete this.element.dataset.ready;
  }

  drawOverlay() {
    drawCropOverlay(this.overlay, this.video, this.spec);
  }

  startBurst() {
    if (this.timer || !this.stream || this.capture.disabled) return;
    this.captured = 0;
    this.count.textContent = '0 photos captured';
    this.burstTarget = { labelId: Number(this.label.value), set: this.set.value };
    this.capture.classList.add('active');
    this.capture.setAttribute('aria-pressed', 'true');
    this.grab();
    this.timer = setInterval(() => this.grab(), 1000 / Number(this.rate.value));
  }

  async stopBurst() {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.capture.classList.remove('active');
    this.capture.setAttribute('aria-pressed', 'false');
    await this.pending;
    announce(`${plural(this.captured, 'photo')} captured`);
    await this.onBurstEnd?.();
  }

  grab() {
    const blob = grabFrame(this.video, this.spec);
    if (!blob) return;
    const target = this.burstTarget;
    const project = this.project();
    // Uploads go one after another so the order of the burst is kept and the server is never flooded.
    this.pending = this.pending.then(async () => {
      const file = new File([await blob], `camera-${Date.now()}.jpg`, { type: 'image/jpeg' });
      const result = await attempt(() => api.upload(project.id, target.labelId, target.set, 'camera', [file]));
      if (result?.added?.length) {
        this.captured += result.added.length;
        this.count.textContent = `${plural(this.captured, 'photo')} captured`;
        await this.onCaptured?.();
      }
    });
  }
}

// ---- shared with the Try it screen (try.js) ----

/** Asks for the webcam and shows it in <video>; resolves the stream once the video has its size, or null (said why). */
export async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    announce('This browser gives the page no camera (it needs localhost or https).');
    return null;
  }
  const stream = await attempt(() => navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false }));
  if (!stream) return null;
  video.srcObject = stream;
  await video.play().catch(() => {});
  if (!video.videoWidth) await new Promise(resolve => video.addEventListener('loadedmetadata', resolve, { once: true }));
  return stream;
}

/** Draws over the video (on a canvas laid over it) the part of the frame the model sees, the rest dimmed. */
export function drawCropOverlay(canvas, video, spec) {
  const { videoWidth: vw, videoHeight: vh } = video;
  if (!vw) return;
  canvas.width = vw;
  canvas.height = vh;
  const g = canvas.getContext('2d');
  const crop = cropOf(vw, vh, spec);
  g.clearRect(0, 0, vw, vh);
  g.fillStyle = 'rgba(0, 0, 0, 0.55)';
  g.fillRect(0, 0, vw, vh);
  g.clearRect(crop.x, crop.y, crop.width, crop.height);
  g.strokeStyle = '#ffd84d';
  g.lineWidth = Math.max(2, vw / 320);
  g.strokeRect(crop.x, crop.y, crop.width, crop.height);
  g.fillStyle = '#ffd84d';
  g.font = `${Math.round(vh / 24)}px system-ui, sans-serif`;
  g.fillText(`model input ${spec.width}×${spec.height}`, crop.x + 8, crop.y + vh / 20);
}

/** The current frame cut to the model's crop, as a JPEG: a promise of a Blob, or null when the video has no frame yet.
 *  At most 512 px on the long side: well above the model's input, a fraction of a full frame's bytes. */
export function grabFrame(video, spec, longSide = 512) {
  const { videoWidth: vw, videoHeight: vh } = video;
  if (!vw) return null;
  const crop = cropOf(vw, vh, spec);
  const scale = Math.min(1, longSide / Math.max(crop.width, crop.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(crop.width * scale);
  canvas.height = Math.round(crop.height * scale);
  canvas.getContext('2d').drawImage(video, crop.x, crop.y, crop.width, crop.height, 0, 0, canvas.width, canvas.height);
  return new Promise(resolve => canvas.toBlob(resolve, 'image/jpeg', 0.9));
}
