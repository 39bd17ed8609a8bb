// @kiln/tf2onnx has no API yet: it arrives with issue 8 (see README.md). Nothing here pretends.
export {};
