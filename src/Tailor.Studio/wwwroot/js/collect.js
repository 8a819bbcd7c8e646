// Collect: per-label galleries of the training and the test set; upload (many files, drag and drop, paste), the
// webcam, move examples between labels and sets, add/rename/delete labels; capacity and free slots; duplicates.
// Big sets: a gallery shows one page of PAGE examples at a time (Previous/Next; counts come from the server), so the
// page holds at most PAGE thumbnails per gallery whatever the set's size; each gallery scrolls within its box.
// Thumbnails: those of the first screen are asked for as soon as their gallery's page is shown (no observer to wait
// for: an IntersectionObserver answers only after the next frame's layout); every other one when it comes near view —
// one IntersectionObserver on the window, whose scrollMargin widens each gallery's box by a row. So the galleries below
// the first screen, and the rows below a box's visible part, wait until scrolled near.
// Galleries below the first screen fetch their page at once but build its items later — when the browser is idle
// after the first screen (one gallery at a time), or sooner when scrolled near — so that the first screen does not wait
// for hundreds of examples' elements; their boxes keep the height their page will take, so nothing moves.
import { h, replace, attempt, confirmDialog, promptDialog, chooseDialog, plural, showError, announce } from './dom.js';
import { api, setName } from './api.js';
import { Camera, inputSpec } from './camera.js';
import { importIntoControl } from './projects.js';
import { guidance } from './guidance.js';

const PAGE = 60;
const NEAR_WINDOW = 200; // px: a thumbnail this close to the window's visible part is asked for (scrolling the page)…
const NEAR_BOX = 100;    // …and this close to its gallery box's (scrolling the box: about a row)
const THUMB = 96, GAP = 6.4; // px: a thumbnail's side and the gap between two (.thumb and .thumbs in app.css)
const setTitle = { train: 'Training', test: 'Test' };

export async function render(view, context) {
  const page = new CollectPage(view, context);
  await page.load();
  return () => page.dispose();
}

class CollectPage {
  constructor(view, context) {
    this.view = view;
    this.context = context;
    this.project = context.project;
    this.target = null; // { labelId, set }: where a paste (and the camera by default) goes
    this.offsets = new Map(); // `${labelId}:${set}` → the offset of the page shown, kept across reloads
    this.onPaste = event => this.paste(event);
    document.addEventListener('paste', this.onPaste);
    // It watches a thumbnail's list item, whose box is always laid out (what is inside may not be: content-visibility).
    this.observer = new IntersectionObserver(entries => {
      for (const e of entries) if (e.isIntersecting) this.showThumb(e.target);
    }, { rootMargin: `${NEAR_WINDOW}px 0px`, scrollMargin: `${NEAR_BOX}px 0px` });
    // Galleries whose items are not built yet: built when they come near view (or when the browser is idle).
    this.pending = new IntersectionObserver(entries => {
      for (const e of entries) if (e.isIntersecting) this.build(this.galleries?.find(g => g.box === e.target));
    }, { rootMargin: `${NEAR_WINDOW}px 0px` });
    this.perRow = 0; // thumbnails a gallery's row holds, once a gallery was laid out (to keep an unbuilt gallery's height)
    this.renders = 0;
  }

  dispose() {
    document.removeEventListener('paste', this.onPaste);
    this.camera?.stop();
    this.observer.disconnect();
    this.pending.disconnect();
  }

  async load() {
    // The galleries first: /options reads the model's update spec on the server, so the camera's model input size is
    // asked for once the galleries' first pages are in (until then the camera assumes 224×224).
    // The project as the router fetched it a moment ago (not asked for twice before the first gallery can be).
    this.options = null;
    this.report = h('div', { class: 'report', 'aria-live': 'polite', 'data-testid': 'upload-report' });
    this.summary = h('p', { class: 'summary', 'data-testid': 'capacity' });
    this.labels = h('div', { class: 'labels', 'data-testid': 'labels' });
    const name = h('input', { type: 'text', id: 'label-name', required: true, maxLength: 200, 'data-testid': 'label-name', autocomplete: 'off' });
    this.addButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'add-label', text: 'Add label' });
    this.camera = new Camera({
      project: () => this.project,
      options: this.options,
      target: () => this.target,
      onCaptured: () => this.refreshCounts(),
      onBurstEnd: () => this.reloadAll(),
    });
    replace(this.view,
      h('section', { class: 'panel', 'aria-labelledby': 'collect-title' },
        h('div', { class: 'spread' },
          h('h1', { id: 'collect-title', text: 'Collect' }),
          this.summary),
        h('form', {
          class: 'row', 'data-testid': 'add-label-form',
          onsubmit: async event => {
            event.preventDefault();
            const label = await attempt(() => api.addLabel(this.project.id, name.value.trim()));
            if (!label) return;
            name.value = '';
            announce(`Label ${label.name} added`);
            await this.reloadAll();
            name.focus();
          },
        }, h('label', { for: 'label-name', text: 'New label' }), name, this.addButton,
          importIntoControl(this.project.id, () => this.reloadAll())),
        h('p', { class: 'muted', text: 'Drop photos on a gallery, choose them with “Add photos”, or paste an image (Ctrl+V) into the selected gallery. Photos are checked by content; a photo already in the project is reported, not added twice.' }),
        this.report),
      this.camera.element,
      this.labels);
    this.guidance = guidance(this.view, this.project, 'collect');
    this.renderLabels();
    Promise.all((this.galleries ?? []).map(g => g.loading))
      .then(() => api.options(this.project.id))
      .then(options => {
        if (!options || this.context.stale()) return;
        this.options = options;
        this.camera.spec = inputSpec(options);
        const help = this.camera.element.querySelector('#camera-help');
        if (help) help.textContent = help.textContent.replace(/\d+×\d+/, `${this.camera.spec.width}×${this.camera.spec.height}`);
      })
      .catch(() => {});
  }

  updateSummary() {
    const p = this.project;
    const train = p.labels.reduce((s, l) => s + l.trainCount, 0);
    const test = p.labels.reduce((s, l) => s + l.testCount, 0);
    this.summary.textContent = `${plural(p.labels.length, 'label')} · ${p.freeSlots} of ${p.capacity} slots free · ${train} training, ${test} test examples`;
    this.addButton.disabled = p.freeSlots <= 0;
    this.addButton.title = p.freeSlots <= 0 ? `All ${p.capacity} slots are used: delete a label to free one` : '';
  }

  renderLabels() {
    this.updateSummary();
    this.camera.setLabels(this.project.labels);
    if (this.project.labels.length === 0) {
      replace(this.labels, h('p', { class: 'panel muted', 'data-testid': 'no-labels', text: 'No labels yet: add one above (any text, emoji welcome).' }));
      return;
    }
    if (!this.target || !this.project.labels.some(l => l.id === this.target.labelId)) {
      this.target = { labelId: this.project.labels[0].id, set: 'train' };
      this.camera.setTarget(this.target);
    }
    this.observer.disconnect();
    this.pending.disconnect();
    this.galleries = [];
    replace(this.labels, this.project.labels.map(label => this.labelSection(label)));
    this.markTarget();
    this.place(this.galleries, ++this.renders);
  }

  /** Shows the first screen's thumbnails gallery by gallery in the page's order, each once its page is in and those
   *  above it are (so its place is final: a gallery still empty above would move it down). */
  async place(galleries, render) {
    // The hints box goes above the galleries: placed first (it answers in milliseconds; half a second at most is waited
    // for), it does not push the first screen's thumbnails down after they were asked for.
    await Promise.race([this.guidance?.ready, new Promise(r => setTimeout(r, 500))]);
    let below = false;
    const later = [];
    for (const g of galleries) {
      await g.loading;
      if (render !== this.renders || this.context.stale()) return;
      g.placed = true;
      // Once a gallery is below the window, so are those after it: no layout asked for theirs, and their items wait.
      if (!below) below = g.box.getBoundingClientRect().top >= window.innerHeight + NEAR_WINDOW;
      if (below && !g.built) {
        this.reserve(g.grid, g.page.items.length);
        later.push(g);
        this.pending.observe(g.box);
        continue;
      }
      this.build(g, below);
    }
    // The others once the browser is idle, one gallery at a time (each is a few milliseconds of work).
    const next = () => {
      if (render !== this.renders || this.context.stale()) return;
      const g = later.shift();
      if (!g) return;
      this.build(g, true);
      if (later.length) requestIdleCallback(next, { timeout: 1000 });
    };
    if (later.length) requestIdleCallback(next, { timeout: 1000 });
  }

  /** Builds a gallery's items from its page (once it is placed and its page is in), and asks for the thumbnails in
   *  view. `below`: the gallery is known to be below the window (no layout asked for). */
  build(entry, below = false) {
    if (!entry || !entry.placed || !entry.page || entry.built) return;
    this.pending.unobserve(entry.box);
    entry.built = true;
    for (const li of entry.grid.children) this.observer.unobserve(li);
    // A gallery in view builds the rows its box shows first (the box scrolls past 21rem: four rows at most are seen
    // before scrolling it), the rest of its page once the browser is idle.
    const page = entry.page, items = page.items;
    if (!below) this.perRow = Math.max(1, Math.floor((entry.grid.clientWidth + GAP) / (THUMB + GAP)));
    const first = below || !this.perRow ? items.length : Math.min(items.length, 4 * this.perRow);
    replace(entry.grid, items.slice(0, first).map(example => this.thumb(example)));
    entry.grid.style.minHeight = '';
    // Another page shows from its top (setting scrollTop lays the page out: not for a gallery's first page, at 0 already).
    if (entry.shown) entry.grid.scrollTop = 0;
    entry.shown = true;
    this.showVisible(entry, below);
    if (first < items.length)
      requestIdleCallback(() => {
        if (entry.page !== page || !this.galleries.includes(entry) || this.context.stale()) return;
        entry.grid.append(...items.slice(first).map(example => this.thumb(example)));
        this.showVisible(entry, true);
      }, { timeout: 1000 });
  }

  /** Keeps the height `count` thumbnails will take in a gallery not built yet (rows, up to the box's scrolling height). */
  reserve(grid, count) {
    if (!this.perRow || count <= 0) return;
    const rows = Math.ceil(Math.min(count, PAGE) / this.perRow);
    grid.style.minHeight = `min(21rem, ${rows * THUMB + (rows - 1) * GAP}px)`;
  }

  /** Asks for the thumbnails of a gallery's page that are in view now (one layout, unless the gallery is known to be
   *  below the window); the observer takes the others. Returns whether the gallery is below the window. */
  showVisible(entry, below = false) {
    const pending = [...entry.grid.children].filter(li => li.querySelector('img[data-src]'));
    if (!below) {
      const box = entry.grid.getBoundingClientRect();
      below = box.top >= window.innerHeight;
      const top = Math.max(box.top, 0), bottom = Math.min(box.bottom, window.innerHeight);
      for (const li of below ? [] : pending) {
        const r = li.getBoundingClientRect();
        if (r.bottom > top && r.top < bottom && r.height > 0) this.showThumb(li);
      }
    }
    for (const li of pending) if (li.querySelector('img[data-src]')) this.observer.observe(li);
    return below;
  }

  /** A thumbnail's list item near view: its picture is asked for. */
  showThumb(li) {
    this.observer.unobserve(li);
    const img = li.querySelector('img[data-src]');
    if (img) { img.src = img.dataset.src; delete img.dataset.src; }
  }

  labelSection(label) {
    const section = h('section', { class: 'panel label', 'data-testid': 'label', 'data-label': label.name, 'data-label-id': label.id, 'aria-label': `Label ${label.name}` },
      h('div', { class: 'spread' },
        h('h2', {}, h('span', { class: 'label-name', 'data-testid': 'label-title', text: label.name }),
          h('span', { class: 'muted slot', text: ` slot ${label.slot}` })),
        h('div', { class: 'buttons' },
          h('button', { type: 'button', 'data-testid': 'rename-label', text: 'Rename…', onclick: () => this.rename(label) }),
          h('button', { type: 'button', class: 'danger', 'data-testid': 'delete-label', text: 'Delete…', onclick: () => this.deleteLabel(label) }))),
      h('div', { class: 'sets' }, ['train', 'test'].map(set => this.gallery(label, set))));
    return section;
  }

  gallery(label, set) {
    const count = set === 'train' ? label.trainCount : label.testCount;
    const grid = h('ul', { class: 'thumbs', 'data-testid': 'thumbs' });
    const range = h('span', { class: 'muted', 'data-testid': 'page-range', 'aria-live': 'off' });
    const prev = h('button', { type: 'button', 'data-testid': 'page-prev', text: '‹ Previous', 'aria-label': `Previous page of ${label.name}, ${setTitle[set].toLowerCase()} set` });
    const next = h('button', { type: 'button', 'data-testid': 'page-next', text: 'Next ›', 'aria-label': `Next page of ${label.name}, ${setTitle[set].toLowerCase()} set` });
    const pager = h('div', { class: 'pager', hidden: true, 'data-testid': 'pager' }, prev, range, next);
    const input = h('input', { type: 'file', accept: 'image/*', multiple: true, class: 'visually-hidden', 'data-testid': 'file-input', id: `files-${label.id}-${set}` });
    input.addEventListener('change', async () => {
      const files = [...input.files];
      input.value = '';
      await this.upload(label.id, set, 'upload', files);
    });
    const heading = h('h3', {}, `${setTitle[set]} `, h('span', { class: 'count', 'data-testid': 'count', text: String(count) }));
    const box = h('div', {
      class: 'gallery', tabindex: 0, 'data-testid': `gallery-${set}`, 'data-set': set, 'data-label-id': label.id,
      role: 'group', 'aria-label': `${label.name}, ${setTitle[set].toLowerCase()} set: ${plural(count, 'example')}; paste here with Ctrl+V`,
      onfocus: () => this.select(label.id, set),
      onclick: () => this.select(label.id, set),
      ondragover: event => { event.preventDefault(); box.classList.add('drop'); },
      ondragleave: () => box.classList.remove('drop'),
      ondrop: async event => {
        event.preventDefault();
        box.classList.remove('drop');
        this.select(label.id, set);
        const files = [...(event.dataTransfer?.files ?? [])];
        if (files.length) await this.upload(label.id, set, 'upload', files);
      },
    },
    h('div', { class: 'spread' }, heading,
      h('label', { class: 'button', for: input.id, text: 'Add photos…', 'data-testid': 'add-photos' })),
    input, grid, pager,
    h('p', { class: 'muted empty', text: 'Drop photos here' }));
    const key = `${label.id}:${set}`;
    const entry = { label, set, box, grid, pager, range, prev, next, heading, key, offset: this.offsets.get(key) ?? 0, total: count, request: 0, placed: false, built: false, page: null };
    // A gallery re-made (after a change) keeps the height its page took, until its items are built again.
    this.reserve(grid, count > entry.offset ? count - entry.offset : count);
    prev.addEventListener('click', () => this.loadPage(entry, entry.offset - PAGE, true));
    next.addEventListener('click', () => this.loadPage(entry, entry.offset + PAGE, true));
    this.galleries.push(entry);
    entry.loading = this.loadPage(entry, entry.offset, false);
    return box;
  }

  async loadPage(entry, offset, announced) {
    const request = ++entry.request;
    offset = Math.max(0, offset);
    let page = await attempt(() => api.examples(this.project.id, { label: entry.label.id, set: entry.set, offset, limit: PAGE }));
    if (page && offset > 0 && page.items.length === 0 && page.total > 0) {
      // The set shrank below this page (examples moved or deleted): show its last page.
      offset = Math.floor((page.total - 1) / PAGE) * PAGE;
      page = await attempt(() => api.examples(this.project.id, { label: entry.label.id, set: entry.set, offset, limit: PAGE }));
    }
    if (!page || this.context.stale() || request !== entry.request) return;
    entry.total = page.total;
    entry.offset = offset;
    entry.page = page;
    entry.built = false;
    this.offsets.set(entry.key, offset);
    const last = offset + page.items.length;
    entry.pager.hidden = page.total <= PAGE;
    entry.range.textContent = page.items.length ? `${offset + 1}–${last} of ${page.total}` : `0 of ${page.total}`;
    entry.prev.disabled = offset === 0;
    entry.next.disabled = last >= page.total;
    entry.box.classList.toggle('has-items', entry.total > 0);
    // The first page waits for place() (the galleries above it); a later one (Previous/Next) is in its place already.
    if (entry.placed) this.build(entry);
    if (announced) announce(`${entry.label.name}, ${setTitle[entry.set].toLowerCase()} set: examples ${entry.range.textContent}`);
  }

  thumb(example) {
    const set = setName(example.set);
    // Light controls (two buttons, shown on hover or focus): a gallery page holds up to 60 of them, and a <select> per
    // thumbnail made its first screen's style and layout several times slower. Label and set are chosen in a dialog.
    const moveButton = h('button', {
      type: 'button', 'data-testid': 'move', text: 'Move…', title: 'Move to another label or set',
      'aria-label': `Move example ${example.id} to another label or set`,
      onclick: async () => {
        const chosen = await chooseDialog(`Move example ${example.id}`, [
          { label: 'Label', testId: 'dialog-label', value: String(example.labelId), options: this.project.labels.map(l => ({ value: String(l.id), text: l.name })) },
          { label: 'Set', testId: 'dialog-set', value: set, options: [{ value: 'train', text: 'Training' }, { value: 'test', text: 'Test' }] },
        ], 'Move');
        if (!chosen) return;
        const change = {};
        if (Number(chosen[0]) !== example.labelId) change.labelId = Number(chosen[0]);
        if (chosen[1] !== set) change.set = chosen[1];
        if (Object.keys(change).length) await this.move(example, change);
      },
    });
    const picture = example.corrupt
      ? h('div', { class: 'corrupt', 'data-testid': 'corrupt', tabindex: 0, title: example.corruptReason ?? '', text: `Unreadable: ${example.corruptReason ?? 'not an image'}` })
      : h('a', { href: api.imageUrl(example.id), target: '_blank', rel: 'noopener', title: 'Open the photo' },
        h('img', { 'data-src': api.thumbnailUrl(example.id), decoding: 'async', width: 96, height: 96, alt: `${example.label} ${setTitle[set].toLowerCase()} example ${example.id}` }));
    return h('li', { class: 'thumb', 'data-testid': 'example', 'data-example-id': example.id },
      picture,
      h('div', { class: 'actions' },
        moveButton,
        h('button', {
          type: 'button', class: 'danger', 'data-testid': 'delete-example', 'aria-label': `Delete example ${example.id}`, text: '✕',
          onclick: async () => {
            if (!await confirmDialog('Delete this example?', `The photo is removed from “${example.label}” (${setTitle[set].toLowerCase()} set).`)) return;
            if (await attempt(() => api.deleteExample(this.project.id, example.id)) !== undefined) await this.reloadAll();
          },
        })));
  }

  /** The gallery chosen by a click or focus: pastes go there, and the camera follows the choice. */
  select(labelId, set) {
    this.target = { labelId, set };
    this.markTarget();
    this.camera.setTarget(this.target);
  }

  markTarget() {
    for (const g of this.galleries ?? [])
      g.box.classList.toggle('selected', g.label.id === this.target?.labelId && g.set === this.target?.set);
  }

  async paste(event) {
    const files = [...(event.clipboardData?.files ?? [])].filter(f => f.type.startsWith('image/'));
    if (files.length === 0 || !this.target) return;
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement) return;
    event.preventDefault();
    await this.upload(this.target.labelId, this.target.set, 'paste', files);
  }

  async upload(labelId, set, source, files) {
    if (files.length === 0) return;
    const label = this.project.labels.find(l => l.id === labelId);
    replace(this.report, h('p', { text: `Adding ${plural(files.length, 'photo')} to ${label?.name} (${set})…` }));
    const result = await attempt(() => api.upload(this.project.id, labelId, set, source, files));
    if (!result) { replace(this.report); return; }
    this.showReport(result, label, set);
    await this.reloadAll();
  }

  showReport(result, label, set) {
    const added = result.added?.length ?? 0;
    const duplicates = result.duplicates ?? [];
    const refused = result.refused ?? [];
    const parts = [h('p', { 'data-testid': 'upload-summary', text: `${label?.name ?? ''} (${set}): ${plural(added, 'photo')} added${duplicates.length ? `, ${plural(duplicates.length, 'duplicate')} not added again` : ''}${refused.length ? `, ${refused.length} refused` : ''}.` })];
    if (duplicates.length)
      parts.push(h('ul', { class: 'muted', 'data-testid': 'duplicates' }, duplicates.map(d =>
        h('li', { text: `${d.name ?? d.originalName ?? 'photo'}: already in the project${d.existing?.label ? ` as ${d.existing.label} (${setName(d.existing.set)})` : d.label ? ` as ${d.label} (${setName(d.set)})` : ''}` }))));
    if (refused.length)
      parts.push(h('ul', { class: 'error-list', 'data-testid': 'refused' }, refused.map(r => h('li', { text: `${r.name}: ${r.error}` }))));
    replace(this.report, parts);
    announce(parts[0].textContent);
  }

  async move(example, change) {
    if (await attempt(() => api.moveExample(this.project.id, example.id, change)) !== undefined) await this.reloadAll();
  }

  async rename(label) {
    const name = await promptDialog(`Rename “${label.name}”`, 'New name', label.name);
    if (!name || name === label.name) return;
    if (await attempt(() => api.renameLabel(this.project.id, label.id, name)) !== undefined) await this.reloadAll();
  }

  async deleteLabel(label) {
    const count = label.trainCount + label.testCount;
    if (!await confirmDialog(`Delete the label “${label.name}”?`, `Its ${plural(count, 'example')} are deleted too and its slot is freed. This cannot be undone.`)) return;
    if (await attempt(() => api.deleteLabel(this.project.id, label.id)) !== undefined) await this.reloadAll();
  }

  async refreshCounts() {
    const project = await api.project(this.project.id).catch(() => null);
    if (!project || this.context.stale()) return;
    this.project = project;
    this.updateSummary();
    for (const g of this.galleries ?? []) {
      const label = project.labels.find(l => l.id === g.label.id);
      if (label) g.heading.querySelector('.count').textContent = String(g.set === 'train' ? label.trainCount : label.testCount);
    }
  }

  async reloadAll() {
    const focusedTestId = document.activeElement?.closest?.('[data-label-id]')?.dataset.labelId;
    const project = await api.project(this.project.id).catch(error => { showError(error); return null; });
    if (!project || this.context.stale()) return;
    this.project = project;
    this.renderLabels();
    this.guidance.refresh();
    if (focusedTestId) this.labels.querySelector(`.gallery[data-label-id="${focusedTestId}"][data-set="${this.target?.set}"]`)?.focus({ preventScroll: true });
  }
}
