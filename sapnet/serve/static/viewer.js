// A before/after viewer: the rainy photo and the derained one stacked, the derained one shown
// right of a movable divider, both zoomed and panned together.
//
// Both images keep their natural size and are placed by one CSS transform (translate, then
// scale), so 1:1 means one image pixel per CSS pixel. The divider clips the derained layer in
// the viewer's own coordinates, so it stays where it is while the photos are zoomed or panned.

const MAX_SCALE = 8;   // times the image's own size
const MAX_FIT = 4;     // a small photo is enlarged at most this much to fit the viewer
const STEP = 1.5;      // one press of + or −

export class BeforeAfter {
  constructor(card) {
    this.viewer = card.querySelector(".viewer");
    this.before = card.querySelector("img.before");
    this.after = card.querySelector("img.after");
    this.afterLayer = card.querySelector(".after-layer");
    this.divider = card.querySelector(".divider");
    this.afterTag = card.querySelector(".tag-after");
    this.split = card.querySelector("input.split");
    this.zoomLevel = card.querySelector(".zoom-level");
    this.state = { scale: 1, fit: 1, x: 0, y: 0, split: 50, zoomed: false };

    this.split.addEventListener("input", () => this.setSplit(Number(this.split.value)));
    card.querySelectorAll("[data-zoom]").forEach((button) =>
      button.addEventListener("click", () => this.zoomCommand(button.dataset.zoom)));
    this.viewer.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    this.viewer.addEventListener("dblclick", (event) => this.onDoubleClick(event));
    this.viewer.addEventListener("pointerdown", (event) => this.onPointerDown(event));
    this.before.addEventListener("load", () => this.layout());
    // only a change of width calls for a new layout: the height is the layout's own doing
    let width = 0;
    new ResizeObserver(() => {
      if (this.viewer.clientWidth !== width) {
        width = this.viewer.clientWidth;
        this.layout();
      }
    }).observe(this.viewer);
  }

  /** Show the derained image (a URL) over the rainy one, split in the middle. */
  showResult(url) {
    this.after.src = url;
    this.afterLayer.hidden = false;
    this.divider.hidden = false;
    this.afterTag.hidden = false;
    this.split.disabled = false;
    this.setSplit(Number(this.split.value));
  }

  get naturalSize() {
    return { width: this.before.naturalWidth, height: this.before.naturalHeight };
  }

  /** Fit the photo to the viewer's width and at most 70 % of the window's height, and make the
   * viewer as tall as the fitted photo. */
  layout() {
    const { width, height } = this.naturalSize;
    if (!width || !height) return;
    const tallest = Math.max(240, window.innerHeight * 0.7);
    const fit = Math.min(this.viewer.clientWidth / width, tallest / height, MAX_FIT);
    this.viewer.style.height = `${Math.round(height * fit)}px`;
    const relative = this.state.scale / this.state.fit;
    this.state.fit = fit;
    this.state.scale = fit * relative;
    this.clampPan();
    this.apply();
  }

  /** Whether the zoomed photo is larger than the viewer, so that dragging pans it. */
  get pannable() {
    const { width, height } = this.naturalSize;
    return width * this.state.scale > this.viewer.clientWidth + 0.5
      || height * this.state.scale > this.viewer.clientHeight + 0.5;
  }

  /** Keep the photo covering the viewer (or centred where it is smaller than the viewer). */
  clampPan() {
    const { width, height } = this.naturalSize;
    const clamp = (offset, box, size) =>
      size <= box ? (box - size) / 2 : Math.min(0, Math.max(box - size, offset));
    this.state.x = clamp(this.state.x, this.viewer.clientWidth, width * this.state.scale);
    this.state.y = clamp(this.state.y, this.viewer.clientHeight, height * this.state.scale);
  }

  apply() {
    const { x, y, scale } = this.state;
    const transform = `translate(${x}px, ${y}px) scale(${scale})`;
    this.before.style.transform = transform;
    this.after.style.transform = transform;
    this.zoomLevel.textContent = this.state.zoomed ? `${Math.round(scale * 100)} %` : "fit";
    this.viewer.classList.toggle("pannable", this.pannable);
    this.viewer.classList.toggle("magnified", scale >= 2); // show the pixels themselves
  }

  setSplit(percent) {
    this.state.split = Math.min(100, Math.max(0, percent));
    this.split.value = String(this.state.split);
    this.afterLayer.style.clipPath = `inset(0 0 0 ${this.state.split}%)`;
    this.divider.style.left = `${this.state.split}%`;
  }

  /** Zoom to ``scale`` keeping the image point under (cx, cy) of the viewer in place. */
  zoomTo(scale, cx = this.viewer.clientWidth / 2, cy = this.viewer.clientHeight / 2) {
    const target = Math.min(MAX_SCALE, Math.max(Math.min(this.state.fit, 1), scale));
    const ratio = target / this.state.scale;
    this.state.x = cx - (cx - this.state.x) * ratio;
    this.state.y = cy - (cy - this.state.y) * ratio;
    this.state.scale = target;
    this.state.zoomed = Math.abs(target - this.state.fit) > this.state.fit * 1e-4;
    this.clampPan();
    this.apply();
  }

  zoomCommand(command) {
    const { scale, fit } = this.state;
    if (command === "in") this.zoomTo(scale * STEP);
    else if (command === "out") this.zoomTo(scale / STEP);
    else if (command === "fit") this.zoomTo(fit);
    else if (command === "actual") this.zoomTo(1);
  }

  point(event) {
    const box = this.viewer.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top, width: box.width };
  }

  // the wheel zooms only with Ctrl (or a trackpad pinch, which sends it), so that scrolling
  // the page over a photo still scrolls the page
  onWheel(event) {
    if (!event.ctrlKey) return;
    event.preventDefault();
    const { x, y } = this.point(event);
    this.zoomTo(this.state.scale * Math.exp(-event.deltaY / 300), x, y);
  }

  onDoubleClick(event) {
    const { x, y } = this.point(event);
    this.zoomTo(this.state.zoomed ? this.state.fit : Math.max(1, this.state.fit * 2), x, y);
  }

  // Dragging moves the divider, or pans the photos while they are larger than the viewer (the
  // divider's own handle still moves the divider then).
  onPointerDown(event) {
    if (event.button !== 0 || !this.naturalSize.width) return;
    const panning = this.pannable && event.target !== this.divider;
    if (!panning && this.divider.hidden) return;
    event.preventDefault();
    this.viewer.setPointerCapture(event.pointerId);
    let last = this.point(event);
    if (!panning) this.setSplit((100 * last.x) / last.width);
    const move = (moveEvent) => {
      const now = this.point(moveEvent);
      if (panning) {
        this.state.x += now.x - last.x;
        this.state.y += now.y - last.y;
        this.clampPan();
        this.apply();
      } else {
        this.setSplit((100 * now.x) / now.width);
      }
      last = now;
    };
    const stop = () => {
      this.viewer.removeEventListener("pointermove", move);
      this.viewer.removeEventListener("pointerup", stop);
      this.viewer.removeEventListener("pointercancel", stop);
    };
    this.viewer.addEventListener("pointermove", move);
    this.viewer.addEventListener("pointerup", stop);
    this.viewer.addEventListener("pointercancel", stop);
  }
}
