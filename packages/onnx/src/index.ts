// @kiln/onnx has no API yet: it arrives with issue 3 (see README.md). Nothing here pretends.
export {};
