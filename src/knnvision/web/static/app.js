// The draw-a-digit page: a canvas of strokes, sent as a PNG to /api/predict after each stroke.
"use strict";

const BRUSH_WIDTH = 20; // about MNIST's stroke width relative to a digit drawn 200 px tall

const canvas = document.getElementById("pad");
const context = canvas.getContext("2d");
const strokes = []; // each stroke is a list of [x, y] points in canvas pixels
let currentStroke = null;
let requestInFlight = false;
let queuedImage = null; // the newest image waiting while a request runs
let imagesBeingEncoded = 0;
let clearedTimes = 0; // answers to requests sent before the last clear are not shown
const results = document.querySelector(".result");

// aria-busy tells assistive technology, the style sheet and tests that an answer is coming.
function updateBusy() {
  const busy = requestInFlight || queuedImage !== null || imagesBeingEncoded > 0;
  results.setAttribute("aria-busy", String(busy));
}

function redraw() {
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
  strokes.forEach(drawStroke);
}

function drawStroke(points) {
  context.strokeStyle = "#fff";
  context.fillStyle = "#fff";
  context.lineWidth = BRUSH_WIDTH;
  context.lineCap = "round";
  context.lineJoin = "round";
  if (points.length === 1) { // a tap is a dot
    context.beginPath();
    context.arc(points[0][0], points[0][1], BRUSH_WIDTH / 2, 0, 2 * Math.PI);
    context.fill();
    return;
  }
  context.beginPath();
  context.moveTo(points[0][0], points[0][1]);
  points.slice(1).forEach(([x, y]) => context.lineTo(x, y));
  context.stroke();
}

function canvasPoint(event) {
  const box = canvas.getBoundingClientRect();
  return [
    (event.clientX - box.left) * (canvas.width / box.width),
    (event.clientY - box.top) * (canvas.height / box.height),
  ];
}

canvas.addEventListener("pointerdown", (event) => {
  canvas.setPointerCapture(event.pointerId);
  currentStroke = [canvasPoint(event)];
  strokes.push(currentStroke);
  drawStroke(currentStroke);
});

canvas.addEventListener("pointermove", (event) => {
  if (!currentStroke) return;
  currentStroke.push(canvasPoint(event));
  drawStroke(currentStroke.slice(-2));
});

function endStroke() {
  if (!currentStroke) return;
  currentStroke = null;
  predictDrawing();
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

document.getElementById("undo").addEventListener("click", () => {
  strokes.pop();
  redraw();
  strokes.length ? predictDrawing() : showNothing();
});

document.getElementById("clear").addEventListener("click", () => {
  strokes.length = 0;
  redraw();
  showNothing();
});

document.getElementById("upload").addEventListener("change", (event) => {
  const file = event.target.files[0];
  event.target.value = ""; // choosing the same file again still fires "change"
  if (!file) return;
  strokes.length = 0;
  redraw();
  send(file, file.name);
});

function predictDrawing() {
  imagesBeingEncoded += 1;
  updateBusy();
  const drawnAfterClear = clearedTimes;
  canvas.toBlob((blob) => {
    imagesBeingEncoded -= 1;
    if (drawnAfterClear === clearedTimes) send(blob, "drawing.png");
    updateBusy();
  }, "image/png");
}

async function send(image, name) {
  if (requestInFlight) { // only the newest drawing matters
    queuedImage = [image, name];
    return;
  }
  requestInFlight = true;
  updateBusy();
  const sentAfterClear = clearedTimes;
  try {
    const form = new FormData();
    form.append("file", image, name);
    const response = await fetch("/api/predict?images=true", { method: "POST", body: form });
    const body = await response.json();
    if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : response.statusText);
    if (sentAfterClear === clearedTimes) showPrediction(body);
  } catch (error) {
    if (sentAfterClear === clearedTimes) showError(error.message);
  } finally {
    requestInFlight = false;
    if (queuedImage) {
      const [nextImage, nextName] = queuedImage;
      queuedImage = null;
      send(nextImage, nextName);
    }
    updateBusy();
  }
}

function showPrediction(result) {
  document.getElementById("error").hidden = true;
  document.getElementById("label").textContent = result.label;
  const seen = document.getElementById("seen");
  seen.hidden = !result.input_image;
  if (result.input_image) seen.src = result.input_image;
  showBars(result.probabilities, result.label);
  showNeighbors(result.neighbors);
}

function showBars(probabilities, best) {
  const rows = Object.entries(probabilities).map(([name, share]) => {
    const row = element("div", name === best ? "bar-row best" : "bar-row");
    const track = element("div", "bar-track");
    const fill = element("div", "bar-fill");
    fill.style.width = `${(share * 100).toFixed(1)}%`;
    track.append(fill);
    row.append(element("span", "bar-name", name), track,
               element("span", "bar-value", `${Math.round(share * 100)}%`));
    return row;
  });
  document.getElementById("bars").replaceChildren(...rows);
}

function showNeighbors(neighbors) {
  const figures = neighbors.map((neighbor) => {
    const figure = element("figure");
    const description = `training image ${neighbor.index}, a ${neighbor.label}`;
    let image;
    if (neighbor.image) {
      image = element("img");
      image.src = neighbor.image;
      image.alt = description;
    } else { // the model compares features that are not images (PCA, gradient histograms)
      image = element("div", "no-image", `#${neighbor.index}`);
      image.setAttribute("role", "img");
      image.setAttribute("aria-label", description);
      image.title = "This model compares features, not pixels: no image to show.";
    }
    const caption = element("figcaption");
    caption.append(element("strong", "", neighbor.label), " ",
                   element("span", "distance", neighbor.distance.toFixed(1)));
    figure.append(image, caption);
    return figure;
  });
  document.getElementById("neighbors").replaceChildren(...figures);
}

function showNothing() {
  queuedImage = null;
  clearedTimes += 1; // an answer still on its way is for a drawing that is gone
  document.getElementById("label").textContent = "–";
  document.getElementById("seen").hidden = true;
  document.getElementById("bars").replaceChildren();
  document.getElementById("neighbors").replaceChildren();
  document.getElementById("error").hidden = true;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
}

function element(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

async function showModelInfo() {
  const info = document.getElementById("model-info");
  try {
    const model = await (await fetch("/api/model")).json();
    const { metric, p, distortion, n_candidates: candidates, features } = model.params;
    let metricName = metric !== "minkowski" ? metric
      : { 1: "manhattan", 2: "euclidean" }[p] || `minkowski p=${p}`;
    if (features === "hog") metricName = `${metricName} on gradient histograms`;
    if (distortion && distortion !== "none") { // a re-ranking classifier
      metricName = `${candidates} ${metricName} candidates re-ranked by ${distortion}`;
    }
    const steps = model.steps.slice(0, -1).map((step) => step.name);
    info.textContent = (steps.length ? `${steps.join(" → ")} → ` : "") +
      `k = ${model.params.n_neighbors}, ${model.params.weights} weights, ${metricName}; ` +
      `${model.n_train.toLocaleString("en")} training images` +
      (model.dataset ? ` (${model.dataset})` : "") + (model.color ? ", in colour" : "");
    if (model.color) showColourHint(model.image_shape);
  } catch (error) {
    info.textContent = `The model could not be described: ${error.message}`;
  }
}

// A colour model compares RGB photos: the drawing is still sent, as the white-on-black
// picture it is, and (like an upload) only resized to the model's size, never framed.
function showColourHint([height, width]) {
  document.getElementById("hint").textContent =
    `This model was trained on ${height}x${width} colour images: upload a photo. ` +
    "A drawing is sent as a white-on-black picture, resized to that size.";
}

redraw();
updateBusy();
showModelInfo();
