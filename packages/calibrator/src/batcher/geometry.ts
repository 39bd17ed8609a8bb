import { expectInteger } from '@kiln/core';
import type { FitMode } from './options';

/**
 * Where a source image lands in the output: it is resized to resizedWidth x resizedHeight and
 * placed with its top-left corner at (offsetX, offsetY) of the output. A source point (x, y)
 * maps to (x * scaleX + offsetX, y * scaleY + offsetY); letterbox offsets are >= 0 (padding),
 * cover offsets are <= 0 (cropped away), stretch offsets are 0.
 */
export interface FitGeometry {
  /** Horizontal scale from source to output pixels. */
  scaleX: number;
  /** Vertical scale from source to output pixels. */
  scaleY: number;
  /** Width of the resized image before padding or cropping. */
  resizedWidth: number;
  /** Height of the resized image before padding or cropping. */
  resizedHeight: number;
  /** Output column of the resized image's left edge. */
  offsetX: number;
  /** Output row of the resized image's top edge. */
  offsetY: number;
}

/**
 * The geometry of fitting a sourceWidth x sourceHeight image into width x height.
 * letterbox: scale = min(width/sw, height/sh), resized sides rounded (at least 1, at most the
 * output), centred with floor((out - resized) / 2) on the top / left. cover: scale = max(...),
 * resized sides rounded (at least the output), centre crop at floor((resized - out) / 2).
 */
export function fitGeometry(
  fit: FitMode,
  sourceWidth: number,
  sourceHeight: number,
  width: number,
  height: number,
): FitGeometry {
  expectInteger('sourceWidth', sourceWidth, 1);
  expectInteger('sourceHeight', sourceHeight, 1);
  expectInteger('width', width, 1);
  expectInteger('height', height, 1);
  if (fit === 'stretch') {
    return {
      scaleX: width / sourceWidth,
      scaleY: height / sourceHeight,
      resizedWidth: width,
      resizedHeight: height,
      offsetX: 0,
      offsetY: 0,
    };
  }
  const sx = width / sourceWidth;
  const sy = height / sourceHeight;
  const scale = fit === 'letterbox' ? Math.min(sx, sy) : Math.max(sx, sy);
  // The side that decides the scale matches the output exactly; rounding only touches the other.
  let rw = scale === sx ? width : Math.round(sourceWidth * scale);
  let rh = scale === sy ? height : Math.round(sourceHeight * scale);
  if (fit === 'letterbox') {
    rw = Math.min(Math.max(rw, 1), width);
    rh = Math.min(Math.max(rh, 1), height);
    return {
      scaleX: rw / sourceWidth,
      scaleY: rh / sourceHeight,
      resizedWidth: rw,
      resizedHeight: rh,
      offsetX: Math.floor((width - rw) / 2),
      offsetY: Math.floor((height - rh) / 2),
    };
  }
  rw = Math.max(rw, width);
  rh = Math.max(rh, height);
  return {
    scaleX: rw / sourceWidth,
    scaleY: rh / sourceHeight,
    resizedWidth: rw,
    resizedHeight: rh,
    // `|| 0` keeps a zero offset +0 rather than -0.
    offsetX: -Math.floor((rw - width) / 2) || 0,
    offsetY: -Math.floor((rh - height) / 2) || 0,
  };
}
