// DB (Differentiable Binarization) post-processing, the step that turns PP-OCR's probability map
// into text boxes, following the DB paper and PaddleOCR's DBPostProcess: threshold the map, take
// each connected region, keep it when the map is confident over it, fit the smallest rotated
// rectangle around it (lines in a photo are rarely level), and grow that back to the text's
// full extent (DB is trained on text regions shrunk by a margin, so its regions are smaller
// than the text).

/**
 * Text boxes in a height x width probability map (row-major Float32Array), in map pixels, top
 * to bottom: { corners: [[x, y] x 4], score }.
 * threshold: a pixel is text above it; boxThreshold: a region's mean probability must reach it;
 * unclipRatio: how far a box grows (PaddleOCR's default 1.5); minSize: smallest side kept.
 */
export function detectBoxes(
  map,
  width,
  height,
  { threshold = 0.3, boxThreshold = 0.6, unclipRatio = 1.5, minSize = 3 } = {},
) {
  const boxes = [];
  for (const { outline, score } of regions(map, width, height, threshold)) {
    if (score < boxThreshold) continue;
    const rect = minAreaRect(convexHull(outline));
    if (Math.min(rect.length, rect.breadth) < minSize) continue;
    // Offsetting by area * ratio / perimeter, as the DB paper and PaddleOCR do.
    const d = (rect.length * rect.breadth * unclipRatio) / (2 * (rect.length + rect.breadth));
    const grown = { ...rect, length: rect.length + 2 * d, breadth: rect.breadth + 2 * d };
    boxes.push({ corners: corners(grown), score });
  }
  const top = (b) => Math.min(...b.corners.map(([, y]) => y));
  return boxes.sort((a, b) => top(a) - top(b));
}

/**
 * The 8-connected regions of pixels above `threshold`, each as its outline (the centres of its
 * leftmost and rightmost pixel in every row: all a convex hull needs) and its score (the mean
 * probability over the region: PaddleOCR's "slow" score, which suits curved lines better than
 * the mean over a rectangle that also covers the background beside a curve).
 */
function regions(map, width, height, threshold) {
  const seen = new Uint8Array(width * height);
  const stack = new Int32Array(width * height);
  const found = [];
  for (let start = 0; start < map.length; start++) {
    if (seen[start] || map[start] <= threshold) continue;
    const rows = new Map(); // y -> [leftmost x, rightmost x]
    let sum = 0;
    let count = 0;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const p = stack[--top];
      const x = p % width;
      const y = (p - x) / width;
      sum += map[p];
      count++;
      const row = rows.get(y);
      if (!row) rows.set(y, [x, x]);
      else if (x < row[0]) row[0] = x;
      else if (x > row[1]) row[1] = x;
      for (let ny = Math.max(0, y - 1); ny <= Math.min(height - 1, y + 1); ny++) {
        for (let nx = Math.max(0, x - 1); nx <= Math.min(width - 1, x + 1); nx++) {
          const q = ny * width + nx;
          if (!seen[q] && map[q] > threshold) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
      }
    }
    const outline = [];
    for (const [y, [l, r]] of rows) outline.push([l + 0.5, y + 0.5], [r + 0.5, y + 0.5]);
    found.push({ outline, score: sum / count });
  }
  return found;
}

/** The convex hull of points, counter-clockwise (Andrew's monotone chain). */
function convexHull(points) {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list) => {
    const chain = [];
    for (const p of list) {
      while (chain.length >= 2 && cross(chain.at(-2), chain.at(-1), p) <= 0) chain.pop();
      chain.push(p);
    }
    chain.pop();
    return chain;
  };
  return [...half(sorted), ...half(sorted.reverse())];
}

/**
 * The smallest-area rectangle around a convex polygon: one of its sides lies on a hull edge,
 * so try each edge's direction. Returns its centre, unit axis along `length`, and both sides.
 */
function minAreaRect(hull) {
  let best;
  for (let i = 0; i < hull.length; i++) {
    const [x0, y0] = hull[i];
    const [x1, y1] = hull[(i + 1) % hull.length];
    const norm = Math.hypot(x1 - x0, y1 - y0);
    if (norm === 0) continue;
    const u = [(x1 - x0) / norm, (y1 - y0) / norm];
    let [minU, maxU, minV, maxV] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const [x, y] of hull) {
      const pu = x * u[0] + y * u[1];
      const pv = -x * u[1] + y * u[0];
      [minU, maxU, minV, maxV] = [
        Math.min(minU, pu),
        Math.max(maxU, pu),
        Math.min(minV, pv),
        Math.max(maxV, pv),
      ];
    }
    const area = (maxU - minU) * (maxV - minV);
    if (!best || area < best.area) {
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = {
        area,
        center: [cu * u[0] - cv * u[1], cu * u[1] + cv * u[0]],
        axis: u,
        length: maxU - minU,
        breadth: maxV - minV,
      };
    }
  }
  return best;
}

/** The four corners of a rectangle from minAreaRect. */
function corners({ center: [cx, cy], axis: [ux, uy], length, breadth }) {
  const [a, b] = [length / 2, breadth / 2];
  return [
    [-a, -b],
    [a, -b],
    [a, b],
    [-a, b],
  ].map(([s, t]) => [cx + s * ux - t * uy, cy + s * uy + t * ux]);
}
